/**
 * Parses one scan target as a user types it: an IP, a CIDR block, a dash range or a hostname. Pure.
 */
import { domainToASCII } from 'node:url';
import { decodePunycode } from './punycode.js';
import { PortcullisError } from '../shared/errors.js';
import {
  IPV4_MAX,
  cidrRange,
  endsInNumber,
  formatIp,
  isIpv4Mapped,
  parseInetAton,
  parseIpRaw,
  rangePrefix,
} from './address.js';
import type { AddressRange, ParsedTarget } from './types.js';

export { canonicalIp, formatIp, parseIp } from './address.js';
export type { IpAddress } from './address.js';

const MAX_INPUT = 255;
const MAX_HOSTNAME = 253;
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** `10.0.0.7`, `10.0.0.0/24` when the range is exactly one block, else `10.0.0.1-10.0.0.20`. */
export function formatRange(range: AddressRange): string {
  const start = formatIp(range.family, range.start);
  if (range.start === range.end) return start;
  const prefix = rangePrefix(range);
  if (prefix !== undefined) return `${start}/${prefix}`;
  return `${start}-${formatIp(range.family, range.end)}`;
}

/** A range that lies wholly in ::ffff:0:0/96 is an IPv4 range: that is where connections to it go. */
function unmapRange(range: AddressRange): AddressRange {
  if (range.family === 6 && isIpv4Mapped(range.start) && isIpv4Mapped(range.end)) {
    return { family: 4, start: range.start & IPV4_MAX, end: range.end & IPV4_MAX };
  }
  return range;
}

class TargetError {
  readonly problem: string;
  constructor(problem: string) {
    this.problem = problem;
  }
}

function fail(problem: string): never {
  throw new TargetError(problem);
}

/**
 * Parses one target. Throws PortcullisError('target.invalid', …, {value, field}) naming the value and
 * what is wrong with it. `field` says where the value came from, e.g. `targets[3]`.
 */
export function parseTarget(input: string, field?: string): ParsedTarget {
  try {
    return parseUnchecked(input);
  } catch (err) {
    if (!(err instanceof TargetError)) throw err;
    const where = field === undefined ? 'target' : field;
    throw new PortcullisError('target.invalid', `${where} ${quote(input)} is invalid: ${err.problem}`, {
      value: input,
      ...(field === undefined ? {} : { field }),
    });
  }
}

/** The value for a message: JSON-quoted (control characters escaped) and cut to a readable length. */
export function quote(value: string): string {
  const shown = value.length > 80 ? `${value.slice(0, 80)}…` : value;
  return JSON.stringify(shown);
}

function parseUnchecked(input: string): ParsedTarget {
  if (typeof input !== 'string') fail('it is not a string');
  if (input.length === 0) fail('it is empty');
  if (input.length > MAX_INPUT) fail(`it is longer than ${MAX_INPUT} characters`);
  if (/[\u0000-\u001f\u007f-\u009f]/.test(input)) fail('it contains control characters');
  if (/\s/u.test(input)) fail('it contains whitespace; give one target per entry');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(input)) fail('it looks like a URL; give only the host name or address');

  if (input.includes('%')) {
    if (input.includes(':')) fail('IPv6 zone ids (the "%eth0" part) are not supported; give the address without it');
    fail('"%" is not allowed in a host name');
  }

  // Bracketed IPv6, as in URLs: [2001:db8::1]
  if (input.startsWith('[') || input.endsWith(']')) {
    const inner = /^\[([^\]]*)\]$/.exec(input);
    if (inner === null) fail('brackets are only allowed around an IPv6 address, e.g. [2001:db8::1]');
    const target = parseAddressOnly(inner[1] as string);
    if (target === undefined || target.family !== 6) fail('brackets are only allowed around an IPv6 address, e.g. [2001:db8::1]');
    return single(input, target.family, target.value);
  }

  const slash = input.indexOf('/');
  if (slash >= 0) return parseCidr(input, slash);

  const dash = input.indexOf('-');
  if (dash > 0) {
    const range = parseDashRange(input, dash);
    if (range !== undefined) return range;
  }

  const ip = parseAddressOnly(input);
  if (ip !== undefined) return single(input, ip.family, ip.value);

  if (input.includes(':')) {
    if (/^[^:]+:[0-9]*$/.test(input)) fail('it has a port; ports go in the ports field, not in the target');
    fail('it is not a valid IPv6 address');
  }
  return parseHostname(input, input);
}

function single(input: string, family: 4 | 6, value: bigint): ParsedTarget {
  return { input, kind: 'ip', range: unmapRange({ family, start: value, end: value }) };
}

/** A single address in any accepted notation, or undefined when the text is not address-shaped. */
function parseAddressOnly(text: string): { family: 4 | 6; value: bigint } | undefined {
  const strict = parseIpRaw(text);
  if (strict !== undefined) return strict;
  if (text.includes(':')) return undefined;
  if (endsInNumber(text)) {
    // What the OS resolver would make of it. A trailing dot is ignored, as the URL parser does.
    const v4 = parseInetAton(text.endsWith('.') ? text.slice(0, -1) : text);
    if (v4 === undefined) {
      fail('it looks like an IPv4 address but is not a valid one (each dotted part must be 0-255)');
    }
    return { family: 4, value: v4 };
  }
  return undefined;
}

function parseCidr(input: string, slash: number): ParsedTarget {
  const base = input.slice(0, slash);
  const prefixText = input.slice(slash + 1);
  const ip = parseIpRaw(base);
  if (ip === undefined) {
    if (parseAddressOnlySafe(base) !== undefined) {
      fail('the base of a CIDR block must be written as a dotted quad (e.g. 10.0.0.0/8) or an IPv6 address');
    }
    fail('only an IP address may be followed by "/prefix" (e.g. 10.0.0.0/24); host names and URLs have no prefix');
  }
  const max = ip.family === 4 ? 32 : 128;
  if (!/^(?:0|[1-9][0-9]{0,2})$/.test(prefixText)) fail(`the prefix length after "/" must be a number from 0 to ${max}`);
  const prefix = Number(prefixText);
  if (prefix > max) fail(`the prefix length /${prefix} is out of range for IPv${ip.family} (0-${max})`);
  return { input, kind: 'cidr', range: unmapRange(cidrRange(ip.family, ip.value, prefix)) };
}

function parseAddressOnlySafe(text: string): unknown {
  try {
    return parseAddressOnly(text);
  } catch {
    return undefined;
  }
}

/** `a-b` with two addresses of one family, or IPv4 `a.b.c.d-N` (last octet). Undefined when not a range. */
function parseDashRange(input: string, dash: number): ParsedTarget | undefined {
  const left = input.slice(0, dash);
  const right = input.slice(dash + 1);
  const start = parseIpRaw(left);
  if (start === undefined) {
    // Host names contain dashes; only complain when the left side is clearly an address attempt.
    if (left.includes(':')) fail(`the range start "${left}" is not an IP address`);
    return undefined;
  }
  let end: bigint;
  if (start.family === 4 && /^(?:0|[1-9][0-9]{0,2})$/.test(right)) {
    const last = Number(right);
    if (last > 255) fail(`the range end "${right}" must be a last octet from 0 to 255`);
    end = (start.value & ~0xffn) | BigInt(last);
  } else {
    const parsed = parseIpRaw(right);
    if (parsed === undefined) {
      fail(`the range end "${right}" is not an IP address (write a-b with two addresses, or a.b.c.d-N for the last octet)`);
    }
    if (parsed.family !== start.family) fail('the range mixes IPv4 and IPv6 addresses');
    end = parsed.value;
  }
  if (end < start.value) fail('the range ends before it starts');
  return { input, kind: 'range', range: unmapRange({ family: start.family, start: start.value, end }) };
}

/**
 * Host name rules (RFC 1123): labels of 1-63 letters, digits and inner hyphens; 253 characters at
 * most; lower-cased; the trailing dot removed; IDN converted to its ASCII (punycode) form. A name
 * whose last label is numeric is an IPv4 address in disguise and was handled before we get here.
 */
function parseHostname(input: string, text: string, converted = false): ParsedTarget {
  if (/[^\x00-\x7f]/.test(text)) {
    if (converted) fail('it is not a valid host name');
    const ascii = domainToASCII(text);
    if (ascii === '') fail('it is not a valid international domain name');
    // Unicode full stops and full-width digits can turn a "name" into an IPv4 address: re-classify.
    const again = parseIpRaw(ascii) ?? parseAddressOnly(ascii);
    if (again !== undefined) return single(input, again.family, again.value);
    return parseHostname(input, ascii, true);
  }
  let name = text.toLowerCase();
  if (name.endsWith('.')) name = name.slice(0, -1);
  if (name.length === 0) fail('it is not a valid host name');
  if (name.length > MAX_HOSTNAME) fail(`the host name is longer than ${MAX_HOSTNAME} characters`);
  const labels = name.split('.');
  for (const label of labels) {
    if (label.length === 0) fail('the host name has an empty label (two dots in a row, or a leading dot)');
    if (label.length > 63) fail(`the host name label "${label.slice(0, 20)}…" is longer than 63 characters`);
    if (!LABEL.test(label)) {
      if (label.includes('_')) fail(`the host name label "${label}" contains "_"; host names allow letters, digits and "-"`);
      if (label.startsWith('-') || label.endsWith('-')) fail(`the host name label "${label}" starts or ends with "-"`);
      fail(`the host name label "${label}" contains characters other than letters, digits and "-"`);
    }
  }
  const tld = labels[labels.length - 1] as string;
  if (/^[0-9-]+$/.test(tld)) {
    fail('it is neither an IP address nor a host name (nmap octet ranges like 10.0.0-3.1-254 are not supported)');
  }
  for (const label of labels) {
    if (!label.startsWith('xn--')) continue;
    // Valid only if it decodes and the decoded name encodes back to the same label (IDNA rules).
    const decoded = decodePunycode(label.slice(4));
    if (decoded === undefined || domainToASCII(decoded) !== label) fail(`the host name label "${label}" is not valid punycode`);
  }
  return { input, kind: 'hostname', hostname: name };
}

/**
 * Normalises a host name the way parseTarget does (lower-case, no trailing dot, IDN → ASCII), or
 * returns undefined when the text is not a host name (IP literals included).
 */
export function normalizeHostname(text: string): string | undefined {
  try {
    const t = parseUnchecked(text);
    return t.kind === 'hostname' ? t.hostname : undefined;
  } catch (err) {
    if (err instanceof TargetError) return undefined;
    throw err;
  }
}
