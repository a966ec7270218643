/**
 * Turns a scan request's targets into a TargetPlan: the exact, policy-checked addresses a scan will
 * connect to. Resolution happens once, here; the job connects to the planned IP literals.
 */
import { PortcullisError, type ErrorDetail } from '../shared/errors.js';
import { familyMax, formatIp, parseIpRaw } from './address.js';
import { describeDenial, type ScopePolicy } from './policy.js';
import { countAddresses, iterateAddresses, normalizeRanges, subtractRanges } from './ranges.js';
import { formatRange, parseIp, parseTarget, quote } from './targets.js';
import type { AddressFamily, AddressRange, Denial, ParsedTarget, Resolver, SerializedPlan, TargetPlan } from './types.js';

export interface PlanOptions {
  exclude?: string[] | undefined;
  resolver: Resolver;
  policy: ScopePolicy;
  /** The most addresses one scan may cover (config scope.maxAddressesPerScan). */
  maxAddresses: number;
  /** How many names are resolved at once. Default 16. */
  resolveConcurrency?: number;
}

const DEFAULT_RESOLVE_CONCURRENCY = 16;

interface Located {
  target: ParsedTarget;
  field: string;
}

/** Runs `fn` over `items` with at most `limit` calls in flight; rejects with the first failure. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i] as T);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** The user's text, and what it denotes when that differs (`0xa9fea9fe` → `"0xa9fea9fe" (= 169.254.169.254)`). */
function shownTarget(target: ParsedTarget): string {
  if (target.range === undefined) return quote(target.input);
  const canonical = formatRange(target.range);
  return canonical === target.input ? canonical : `${quote(target.input)} (= ${canonical})`;
}

function denied(denial: Denial, message: string, detail: ErrorDetail): PortcullisError {
  return new PortcullisError('scope.denied', message, { ...detail, rule: denial.rule, reason: denial.reason });
}

function parseList(values: unknown, key: 'targets' | 'exclude'): Located[] {
  if (!Array.isArray(values)) {
    throw new PortcullisError('target.invalid', `${key} must be a list of strings`, { field: key });
  }
  return values.map((value, i) => {
    const field = `${key}[${i}]`;
    if (typeof value !== 'string') {
      throw new PortcullisError('target.invalid', `${field} must be a string`, { field, value: String(value) });
    }
    return { target: parseTarget(value, field), field };
  });
}

/**
 * Parses, resolves and policy-checks a scan's targets. Throws target.invalid, target.unresolvable,
 * scope.denied or target.too-large; never expands a range (a /64 is refused at once).
 */
export async function planTargets(targets: string[], opts: PlanOptions): Promise<TargetPlan> {
  const { resolver, policy, maxAddresses } = opts;
  if (!Number.isSafeInteger(maxAddresses) || maxAddresses < 1) {
    throw new PortcullisError('config.invalid', `scope.maxAddressesPerScan must be a positive whole number, not ${String(maxAddresses)}`, {
      field: 'scope.maxAddressesPerScan',
    });
  }
  if (Array.isArray(targets) && targets.length === 0) {
    throw new PortcullisError('target.invalid', 'no targets given: list at least one IP, CIDR, range or host name', { field: 'targets' });
  }
  const included = parseList(targets, 'targets');
  const excluded = parseList(opts.exclude ?? [], 'exclude');

  // 1. Everything that needs no I/O: host names against the deny-list, addresses against the policy.
  // Address targets are checked minus the address exclusions, so `100.100.100.0/24` with
  // `100.100.100.200` excluded is fine: exactly the addresses that remain are checked.
  const staticExcludes = excluded.flatMap(({ target }) => (target.range === undefined ? [] : [target.range]));
  for (const { target, field } of included) {
    if (target.kind === 'hostname') {
      const denial = policy.checkHostname(target.hostname as string);
      if (denial !== undefined) {
        throw denied(denial, `${field} ${quote(target.input)} may not be scanned: ${describeDenial(denial)}`, { value: target.input, field });
      }
    } else {
      for (const piece of subtractRanges([target.range as AddressRange], staticExcludes)) {
        const denial = policy.checkRange(piece);
        if (denial !== undefined) {
          throw denied(denial, `${field} ${shownTarget(target)} may not be scanned: ${describeDenial(denial)}`, { value: target.input, field });
        }
      }
    }
  }

  // 2. Resolve every distinct name once (targets and exclusions), a bounded number at a time.
  const names = new Map<string, string>(); // hostname → field of its first occurrence
  for (const { target, field } of [...included, ...excluded]) {
    if (target.kind === 'hostname' && !names.has(target.hostname as string)) names.set(target.hostname as string, field);
  }
  const nameList = [...names.keys()];
  const answers = await mapLimit(nameList, Math.max(1, opts.resolveConcurrency ?? DEFAULT_RESOLVE_CONCURRENCY), async (name) => {
    try {
      return await resolver.resolve(name);
    } catch (err) {
      const field = names.get(name) as string;
      if (err instanceof PortcullisError) {
        throw new PortcullisError(err.code, err.message, { ...err.detail, value: err.detail.value ?? name, field });
      }
      throw new PortcullisError('target.unresolvable', `cannot resolve ${quote(name)}: ${err instanceof Error ? err.message : String(err)}`, {
        value: name,
        field,
      });
    }
  });
  const resolved = new Map<string, string[]>();
  nameList.forEach((name, i) => {
    const canonical: string[] = [];
    for (const a of answers[i] ?? []) {
      const ip = parseIp(a);
      if (ip === undefined) {
        throw new PortcullisError('target.unresolvable', `cannot resolve ${quote(name)}: the resolver returned ${quote(String(a))}, which is not an IP address`, {
          value: name,
          field: names.get(name) as string,
        });
      }
      const text = formatIp(ip.family, ip.value);
      if (!canonical.includes(text)) canonical.push(text);
    }
    if (canonical.length === 0) {
      throw new PortcullisError('target.unresolvable', `cannot resolve ${quote(name)}: it has no addresses`, { value: name, field: names.get(name) as string });
    }
    resolved.set(name, canonical);
  });

  // 3. Every address a target name resolved to must pass, not just the first (DNS rebinding, mixed answers).
  const includeRanges: AddressRange[] = [];
  const hostnamesOf = new Map<string, string[]>();
  for (const { target, field } of included) {
    if (target.kind !== 'hostname') {
      includeRanges.push(target.range as AddressRange);
      continue;
    }
    const name = target.hostname as string;
    for (const ip of resolved.get(name) ?? []) {
      const denial = policy.checkResolved(ip, name);
      if (denial !== undefined) {
        throw denied(denial, `${field} ${quote(target.input)} resolves to ${ip}, which may not be scanned: ${describeDenial(denial)}`, {
          value: target.input,
          field,
          address: ip,
        });
      }
      const parsed = parseIp(ip) as { family: AddressFamily; value: bigint };
      includeRanges.push({ family: parsed.family, start: parsed.value, end: parsed.value });
      const list = hostnamesOf.get(ip) ?? [];
      if (!list.includes(name)) list.push(name);
      hostnamesOf.set(ip, list);
    }
  }

  // 4. Exclusions (addresses, ranges and the addresses of excluded names), then the size limit.
  const excludeRanges: AddressRange[] = [];
  for (const { target } of excluded) {
    if (target.range !== undefined) excludeRanges.push(target.range);
    else {
      for (const ip of resolved.get(target.hostname as string) ?? []) {
        const parsed = parseIp(ip) as { family: AddressFamily; value: bigint };
        excludeRanges.push({ family: parsed.family, start: parsed.value, end: parsed.value });
      }
    }
  }
  const ranges = subtractRanges(normalizeRanges(includeRanges), excludeRanges);
  const count = countAddresses(ranges);
  if (count > BigInt(maxAddresses)) {
    throw new PortcullisError(
      'target.too-large',
      `the targets cover ${count.toLocaleString('en-US')} addresses, more than the limit of ${maxAddresses.toLocaleString('en-US')} per scan; ` +
        'split the scan, narrow the targets or add exclusions, or raise the limit with config scope.maxAddressesPerScan (env PORTCULLIS_MAX_ADDRESSES)',
      { field: 'targets', value: count.toString(), count: count.toString(), limit: maxAddresses },
    );
  }
  if (count === 0n) {
    throw new PortcullisError('target.invalid', 'no addresses are left to scan once the exclusions are removed', { field: 'exclude' });
  }

  // 5. Host names of the addresses that remain.
  const hostnames: Record<string, string[]> = {};
  for (const [ip, names] of hostnamesOf) {
    const parsed = parseIp(ip) as { family: AddressFamily; value: bigint };
    if (ranges.some((r) => r.family === parsed.family && r.start <= parsed.value && parsed.value <= r.end)) hostnames[ip] = names;
  }
  return { ranges, hostnames, addressCount: Number(count) };
}

/** Every planned address, lazily, in plan order (IPv4 first, ascending). */
export function planAddresses(plan: TargetPlan): Iterable<string> {
  return { [Symbol.iterator]: () => iterateAddresses(plan.ranges) };
}

/** JSON-safe form: range bounds as canonical IP literals. */
export function serializePlan(plan: TargetPlan): SerializedPlan {
  return {
    ranges: plan.ranges.map((r) => ({ family: r.family, start: formatIp(r.family, r.start), end: formatIp(r.family, r.end) })),
    hostnames: Object.fromEntries(Object.entries(plan.hostnames).map(([ip, names]) => [ip, [...names]])),
    addressCount: plan.addressCount,
  };
}

function invalidPlan(problem: string): never {
  throw new PortcullisError('internal', `stored target plan is invalid: ${problem}`);
}

/** Validates a stored plan and restores it. Throws PortcullisError('internal') when it is malformed. */
export function deserializePlan(s: SerializedPlan): TargetPlan {
  if (s === null || typeof s !== 'object') invalidPlan('not an object');
  if (!Array.isArray(s.ranges)) invalidPlan('"ranges" is not a list');
  const ranges: AddressRange[] = s.ranges.map((r, i) => {
    if (r === null || typeof r !== 'object') invalidPlan(`ranges[${i}] is not an object`);
    if (r.family !== 4 && r.family !== 6) invalidPlan(`ranges[${i}].family must be 4 or 6`);
    const bound = (text: unknown, which: string): bigint => {
      const ip = typeof text === 'string' ? parseIpRaw(text) : undefined;
      if (ip === undefined || ip.family !== r.family || ip.value > familyMax(r.family)) {
        invalidPlan(`ranges[${i}].${which} is not an IPv${r.family} address`);
      }
      return ip.value;
    };
    const start = bound(r.start, 'start');
    const end = bound(r.end, 'end');
    if (start > end) invalidPlan(`ranges[${i}] ends before it starts`);
    return { family: r.family, start, end };
  });
  for (let i = 1; i < ranges.length; i++) {
    const prev = ranges[i - 1] as AddressRange;
    const cur = ranges[i] as AddressRange;
    if (prev.family > cur.family || (prev.family === cur.family && prev.end >= cur.start)) {
      invalidPlan(`ranges[${i}] is out of order or overlaps ranges[${i - 1}]`);
    }
  }
  if (s.hostnames === null || typeof s.hostnames !== 'object' || Array.isArray(s.hostnames)) invalidPlan('"hostnames" is not an object');
  const hostnames: Record<string, string[]> = {};
  for (const [ip, names] of Object.entries(s.hostnames)) {
    if (parseIp(ip) === undefined) invalidPlan(`hostnames key ${quote(ip)} is not an IP address`);
    if (!Array.isArray(names) || names.some((n) => typeof n !== 'string')) invalidPlan(`hostnames[${quote(ip)}] is not a list of names`);
    hostnames[ip] = [...names];
  }
  const count = countAddresses(ranges);
  if (typeof s.addressCount !== 'number' || !Number.isSafeInteger(s.addressCount) || BigInt(s.addressCount) !== count) {
    invalidPlan(`addressCount ${String(s.addressCount)} does not match the ${count} addresses of its ranges`);
  }
  if (count === 0n) invalidPlan('it has no addresses');
  return { ranges, hostnames, addressCount: s.addressCount };
}
