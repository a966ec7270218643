/**
 * The scope policy: which addresses and names a scan may touch. Pure; resolution happens elsewhere and
 * every resolved address is checked again here (checkResolved), so DNS cannot smuggle a forbidden
 * address past the policy.
 */
import { PortcullisError } from '../shared/errors.js';
import { IPV4_MAX, cidrRange, parseIp, parseIpRaw } from './address.js';
import { coveredBy, intersectRange, normalizeRanges, rangeContains, rangeSize, rangesOverlap, subtractRanges } from './ranges.js';
import { formatRange, normalizeHostname, parseTarget, quote } from './targets.js';
import type { AddressRange, Denial } from './types.js';

export interface ScopePolicyOptions {
  /** IPs, CIDRs, ranges or domains. Empty: everything not denied is allowed. */
  allow: string[];
  /** IPs, CIDRs, ranges or domains never to scan, on top of the built-in list. */
  deny: string[];
}

export interface ScopePolicy {
  /** Why an IP, CIDR or range may not be scanned, or undefined when it may. */
  checkRange(range: AddressRange): Denial | undefined;
  /** Why a host name may not be scanned (before resolution), or undefined. */
  checkHostname(name: string): Denial | undefined;
  /** Why `ip`, resolved from `hostname`, may not be scanned, or undefined. */
  checkResolved(ip: string, hostname: string): Denial | undefined;
}

/** Denial.reason of an address outside a non-empty allow-list. */
export const OUTSIDE_ALLOW_LIST = 'outside allow-list';
/** Denial.reason of an operator deny-list (scope.deny) entry. */
export const DENY_LIST = 'deny-list';
/** Denial.rule of an address outside the allow-list: the configuration key. */
export const ALLOW_LIST_RULE = 'scope.allow';

interface RangeRule {
  range: AddressRange;
  /** As shown to users: canonical CIDR for built-ins, the entry as written for configured ones. */
  text: string;
  reason: string;
  builtIn: boolean;
}

interface DomainRule {
  /** Normalised domain, without `*.`. */
  domain: string;
  /** `*.example.com`: subdomains only. */
  subdomainsOnly: boolean;
  text: string;
  reason: string;
  builtIn: boolean;
}

const BUILT_IN_RANGES: ReadonlyArray<readonly [string, string]> = [
  ['0.0.0.0/8', 'this network'],
  ['169.254.0.0/16', 'IPv4 link-local'],
  ['169.254.169.254/32', 'cloud metadata (AWS, GCP, Azure, OpenStack)'],
  ['169.254.170.2/32', 'cloud metadata (AWS ECS task metadata)'],
  ['100.100.100.200/32', 'cloud metadata (Alibaba Cloud)'],
  ['192.0.0.192/32', 'cloud metadata (Oracle Cloud)'],
  ['224.0.0.0/4', 'IPv4 multicast'],
  ['240.0.0.0/4', 'reserved'],
  ['255.255.255.255/32', 'broadcast'],
  ['::/128', 'unspecified address'],
  ['fe80::/10', 'IPv6 link-local'],
  ['fd00:ec2::254/128', 'cloud metadata (AWS IPv6 instance metadata)'],
  ['ff00::/8', 'IPv6 multicast'],
];

const BUILT_IN_DOMAINS: ReadonlyArray<readonly [string, string]> = [
  ['metadata.google.internal', 'cloud metadata (GCP)'],
  ['metadata.goog', 'cloud metadata (GCP)'],
];

/**
 * IPv6 blocks that carry an IPv4 address a connection may end up at, through the host's own stack, a
 * translator or a tunnel: the IPv4 address is the 32 bits from bit `low` up (counting from the least
 * significant bit), flipped for Teredo clients. An address there is checked as the IPv4 address it
 * carries, on top of the IPv6 rules.
 *
 * NAT64: the well-known prefix 64:ff9b::/96 (RFC 6052) and the local-use block 64:ff9b:1::/48
 * (RFC 8215) read with the /96 layout, the usual one. A local translator using a shorter prefix
 * stores the IPv4 address in the middle of the address; such a prefix belongs in scope.deny.
 */
interface Embedding {
  name: string;
  block: AddressRange;
  low: bigint;
  inverted?: boolean;
}

function v6Block(text: string): AddressRange {
  const [base, prefix] = text.split('/') as [string, string];
  const ip = parseIpRaw(base);
  if (ip === undefined) throw new Error(`bad built-in block ${text}`);
  return cidrRange(6, ip.value, Number(prefix));
}

const EMBEDDINGS: readonly Embedding[] = [
  { name: 'IPv4-mapped, ::ffff:0:0/96', block: v6Block('::ffff:0:0/96'), low: 0n },
  { name: 'IPv4-translated (SIIT), ::ffff:0:0:0/96', block: v6Block('::ffff:0:0:0/96'), low: 0n },
  { name: 'NAT64, 64:ff9b::/96', block: v6Block('64:ff9b::/96'), low: 0n },
  { name: 'NAT64 local-use, 64:ff9b:1::/48', block: v6Block('64:ff9b:1::/48'), low: 0n },
  { name: '6to4, 2002::/16', block: v6Block('2002::/16'), low: 80n },
  { name: 'Teredo server, 2001::/32', block: v6Block('2001::/32'), low: 64n },
  { name: 'Teredo client, 2001::/32', block: v6Block('2001::/32'), low: 0n, inverted: true },
  // Deprecated IPv4-compatible ::a.b.c.d; :: and ::1 are the unspecified and loopback addresses.
  { name: 'IPv4-compatible, ::/96', block: { family: 6, start: 2n, end: IPV4_MAX }, low: 0n },
];

/** The IPv4 addresses the IPv6 addresses of `part` (inside `e.block`) carry. */
function carriedRange(e: Embedding, part: AddressRange): AddressRange {
  const above = e.low + 32n;
  // A range that crosses a change in the bits above the field wraps the field round: every IPv4 address.
  if (part.start >> above !== part.end >> above) return { family: 4, start: 0n, end: IPV4_MAX };
  const start = (part.start >> e.low) & IPV4_MAX;
  const end = (part.end >> e.low) & IPV4_MAX;
  return e.inverted === true ? { family: 4, start: IPV4_MAX ^ end, end: IPV4_MAX ^ start } : { family: 4, start, end };
}

function builtInRangeRules(): RangeRule[] {
  return BUILT_IN_RANGES.map(([text, reason]) => {
    const t = parseTarget(text);
    const range = t.range as AddressRange;
    return { range, text: formatRange(range), reason, builtIn: true };
  });
}

function builtInDomainRules(): DomainRule[] {
  return BUILT_IN_DOMAINS.map(([domain, reason]) => ({ domain, subdomainsOnly: false, text: domain, reason, builtIn: true }));
}

function compileEntries(entries: string[], key: 'scope.allow' | 'scope.deny'): { ranges: RangeRule[]; domains: DomainRule[] } {
  if (!Array.isArray(entries)) {
    throw new PortcullisError('config.invalid', `${key} must be a list of IPs, CIDRs and domains`, { field: key });
  }
  const ranges: RangeRule[] = [];
  const domains: DomainRule[] = [];
  entries.forEach((entry, i) => {
    const field = `${key}[${i}]`;
    const bad = (problem: string): never => {
      throw new PortcullisError('config.invalid', `${field} ${quote(String(entry))} is invalid: ${problem}`, { field, value: String(entry) });
    };
    if (typeof entry !== 'string') bad('it is not a string');
    const subdomainsOnly = entry.startsWith('*.');
    if (subdomainsOnly) {
      const domain = normalizeHostname(entry.slice(2));
      if (domain === undefined) bad('"*." must be followed by a domain name');
      domains.push({ domain: domain as string, subdomainsOnly, text: entry, reason: DENY_LIST, builtIn: false });
      return;
    }
    let target;
    try {
      target = parseTarget(entry);
    } catch (err) {
      bad(err instanceof Error ? err.message.replace(/^target "[^"]*" is invalid: /, '') : String(err));
    }
    if (target?.kind === 'hostname') {
      domains.push({ domain: target.hostname as string, subdomainsOnly: false, text: entry, reason: DENY_LIST, builtIn: false });
    } else if (target?.range !== undefined) {
      ranges.push({ range: target.range, text: entry, reason: DENY_LIST, builtIn: false });
    }
  });
  return { ranges, domains };
}

function domainMatches(rule: DomainRule, name: string): boolean {
  if (name === rule.domain) return !rule.subdomainsOnly;
  return name.endsWith(`.${rule.domain}`);
}

/** Among the rules that overlap `range`: the most specific one that contains it, else the first broadest overlap. */
function pickRule(rules: readonly RangeRule[], range: AddressRange): RangeRule | undefined {
  let containing: RangeRule | undefined;
  let overlapping: RangeRule | undefined;
  for (const rule of rules) {
    if (!rangesOverlap(rule.range, range)) continue;
    if (rangeContains(rule.range, range)) {
      if (containing === undefined || rangeSize(rule.range) < rangeSize(containing.range)) containing = rule;
    } else if (
      overlapping === undefined ||
      rule.range.start < overlapping.range.start ||
      (rule.range.start === overlapping.range.start && rule.range.end > overlapping.range.end)
    ) {
      overlapping = rule;
    }
  }
  return containing ?? overlapping;
}

/** The IPv4 addresses an IPv6 range carries through each embedding it overlaps. */
export function embeddedIpv4(range: AddressRange): Array<{ embedding: string; range: AddressRange }> {
  if (range.family !== 6) return [];
  const out: Array<{ embedding: string; range: AddressRange }> = [];
  for (const e of EMBEDDINGS) {
    const part = intersectRange(range, e.block);
    if (part === undefined) continue;
    out.push({ embedding: e.name, range: carriedRange(e, part) });
  }
  return out;
}

export function createScopePolicy(options: ScopePolicyOptions): ScopePolicy {
  const allow = compileEntries(options.allow ?? [], 'scope.allow');
  const deny = compileEntries(options.deny ?? [], 'scope.deny');
  const denyRanges = [...builtInRangeRules(), ...deny.ranges];
  const denyDomains = [...builtInDomainRules(), ...deny.domains];
  const allowRanges = normalizeRanges(allow.ranges.map((r) => r.range));
  const allowListActive = allow.ranges.length > 0 || allow.domains.length > 0;

  const denyFor = (range: AddressRange, value: string): Denial | undefined => {
    const direct = pickRule(denyRanges, range);
    if (direct !== undefined) return { value, rule: direct.text, reason: direct.reason };
    for (const { range: v4 } of embeddedIpv4(range)) {
      const rule = pickRule(denyRanges, v4);
      if (rule !== undefined) return { value, rule: rule.text, reason: rule.reason };
    }
    return undefined;
  };

  const checkHostname = (name: string): Denial | undefined => {
    const normalized = normalizeHostname(name);
    if (normalized === undefined) return { value: name, rule: 'host name syntax', reason: 'not a valid host name' };
    for (const rule of denyDomains) {
      if (domainMatches(rule, normalized)) return { value: normalized, rule: rule.text, reason: rule.reason };
    }
    return undefined;
  };

  return {
    checkRange(range: AddressRange): Denial | undefined {
      const value = formatRange(range);
      const denied = denyFor(range, value);
      if (denied !== undefined) return denied;
      if (allowListActive && !coveredBy(range, allowRanges)) {
        const outside = subtractRanges([range], allowRanges);
        const first = outside[0];
        const whole = outside.length === 1 && first !== undefined && first.start === range.start && first.end === range.end;
        const reason = whole || first === undefined
          ? OUTSIDE_ALLOW_LIST
          : `${OUTSIDE_ALLOW_LIST}: ${formatRange(first)}${outside.length > 1 ? ' and more' : ''} not covered`;
        return { value, rule: ALLOW_LIST_RULE, reason };
      }
      return undefined;
    },

    checkHostname,

    checkResolved(ip: string, hostname: string): Denial | undefined {
      const parsed = parseIp(ip);
      if (parsed === undefined) return { value: ip, rule: 'address syntax', reason: 'not an IP address' };
      const byName = checkHostname(hostname);
      if (byName !== undefined) return byName;
      const range: AddressRange = { family: parsed.family, start: parsed.value, end: parsed.value };
      const value = formatRange(range);
      const denied = denyFor(range, value);
      if (denied !== undefined) return denied;
      if (allowListActive) {
        const name = normalizeHostname(hostname);
        const byDomain = name !== undefined && allow.domains.some((rule) => domainMatches(rule, name));
        if (!byDomain && !coveredBy(range, allowRanges)) return { value, rule: ALLOW_LIST_RULE, reason: OUTSIDE_ALLOW_LIST };
      }
      return undefined;
    },
  };
}

/**
 * One sentence explaining a denial, e.g. `169.0.0.0/8 overlaps 169.254.0.0/16 (IPv4 link-local),
 * which scans may never include`.
 */
export function describeDenial(denial: Denial): string {
  const { value, rule, reason } = denial;
  if (reason.startsWith(OUTSIDE_ALLOW_LIST)) {
    const detail = reason.slice(OUTSIDE_ALLOW_LIST.length).replace(/^: /, '');
    // The rule names whose allow-list it is: the server's (scope.allow) or the calling key's.
    if (detail === '') return `${value} is outside the scope allow-list (${rule}), so it may not be scanned`;
    return `${value} is not entirely inside the scope allow-list (${rule}): ${detail}, so it may not be scanned`;
  }
  const userDeny = reason === DENY_LIST;
  const ruleRange = rangeOf(rule);
  if (ruleRange === undefined) {
    // A domain rule, or a syntax problem.
    if (rule === 'host name syntax' || rule === 'address syntax') return `${quote(value)} is ${reason}`;
    return userDeny
      ? `${value} matches ${rule}, which is on the scope deny-list (scope.deny)`
      : `${value} matches ${rule} (${reason}), which scans may never include`;
  }
  const subject = rangeOf(value);
  if (subject === undefined) return `${value} is denied by ${rule} (${reason})`;
  if (subject.family !== ruleRange.family) {
    const carried = embeddedIpv4(subject).find((e) => rangesOverlap(e.range, ruleRange));
    if (carried !== undefined) {
      const inner = formatRange(carried.range);
      return `${value} carries the IPv4 ${inner} (${carried.embedding}); ${relation(inner, carried.range, ruleRange, rule, reason, userDeny)}`;
    }
  }
  return relation(value, subject, ruleRange, rule, reason, userDeny);
}

function relation(subjectText: string, subject: AddressRange, ruleRange: AddressRange, rule: string, reason: string, userDeny: boolean): string {
  const exact = subject.start === ruleRange.start && subject.end === ruleRange.end;
  if (userDeny) {
    if (exact) return `${subjectText} is on the scope deny-list (scope.deny)`;
    const verb = rangeContains(ruleRange, subject) ? 'is in' : 'overlaps';
    return `${subjectText} ${verb} ${rule}, which is on the scope deny-list (scope.deny)`;
  }
  if (exact && subject.start === subject.end) return `${subjectText} is a built-in denied address: ${reason}; scans may never include it`;
  const verb = rangeContains(ruleRange, subject) ? 'is in' : 'overlaps';
  return `${subjectText} ${verb} ${rule} (${reason}), which scans may never include`;
}

function rangeOf(text: string): AddressRange | undefined {
  try {
    return parseTarget(text).range;
  } catch {
    return undefined;
  }
}
