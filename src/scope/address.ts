/**
 * IP address codec: text ⇄ (family, bigint). Pure; no I/O. `targets.ts` re-exports the public helpers.
 *
 * Two IPv4 grammars live here on purpose:
 * - the strict one (`parseIp`): a dotted quad of decimal octets without leading zeros, or IPv6;
 * - the legacy one (`parseInetAton`): what glibc's inet_aton and the WHATWG URL parser accept
 *   (`2130706433`, `0x7f000001`, `0177.0.0.1`, `127.1`, `0`). The OS resolver silently turns those
 *   "hostnames" into addresses, so targets must be normalised with it before any policy check.
 */
import type { AddressFamily, AddressRange } from './types.js';

export interface IpAddress {
  family: AddressFamily;
  value: bigint;
}

export const IPV4_MAX = (1n << 32n) - 1n;
export const IPV6_MAX = (1n << 128n) - 1n;
export function familyBits(family: AddressFamily): bigint {
  return family === 4 ? 32n : 128n;
}

export function familyMax(family: AddressFamily): bigint {
  return family === 4 ? IPV4_MAX : IPV6_MAX;
}

const DECIMAL_OCTET = /^(?:0|[1-9][0-9]{0,2})$/;

/** Strict dotted quad: four decimal octets 0-255, no leading zeros (they would be octal to inet_aton). */
export function parseIpv4Strict(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!DECIMAL_OCTET.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    value = (value << 8n) | BigInt(n);
  }
  return value;
}

const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/**
 * IPv6 literal without zone id, as RFC 4291 section 2.2 writes it (optionally with a trailing
 * dotted quad). Returns the raw 128-bit value: IPv4-mapped addresses are NOT converted here.
 */
export function parseIpv6(text: string): bigint | undefined {
  if (text.length < 2 || text.length > 45 || !text.includes(':')) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parseGroups = (s: string): bigint[] | undefined => {
    if (s === '') return [];
    const pieces = s.split(':');
    const out: bigint[] = [];
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i] as string;
      if (i === pieces.length - 1 && piece.includes('.')) {
        const v4 = parseIpv4Strict(piece);
        if (v4 === undefined) return undefined;
        out.push(v4 >> 16n, v4 & 0xffffn);
      } else {
        if (!HEX_GROUP.test(piece)) return undefined;
        out.push(BigInt(`0x${piece}`));
      }
    }
    return out;
  };
  const head = parseGroups(halves[0] as string);
  if (head === undefined) return undefined;
  let groups: bigint[];
  if (halves.length === 2) {
    const tail = parseGroups(halves[1] as string);
    if (tail === undefined) return undefined;
    // A dotted quad may only end the address.
    if ((halves[0] as string).includes('.')) return undefined;
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return undefined;
    groups = [...head, ...new Array<bigint>(missing).fill(0n), ...tail];
  } else {
    groups = head;
  }
  if (groups.length !== 8) return undefined;
  let value = 0n;
  for (const g of groups) value = (value << 16n) | g;
  return value;
}

/** Either family, strict grammar, without unmapping IPv4-mapped IPv6. */
export function parseIpRaw(text: string): IpAddress | undefined {
  const v4 = parseIpv4Strict(text);
  if (v4 !== undefined) return { family: 4, value: v4 };
  const v6 = parseIpv6(text);
  if (v6 !== undefined) return { family: 6, value: v6 };
  return undefined;
}

/** True for ::ffff:a.b.c.d. */
export function isIpv4Mapped(value: bigint): boolean {
  return value >> 32n === 0xffffn;
}

/**
 * Parses an IP literal (strict grammar) and canonicalises it: an IPv4-mapped IPv6 address
 * (`::ffff:1.2.3.4`, `::ffff:102:304`) becomes the IPv4 address it carries, because that is where a
 * connection to it goes. Returns undefined when the text is not an IP literal.
 */
export function parseIp(text: string): IpAddress | undefined {
  const raw = parseIpRaw(text);
  if (raw === undefined) return undefined;
  if (raw.family === 6 && isIpv4Mapped(raw.value)) return { family: 4, value: raw.value & IPV4_MAX };
  return raw;
}

/** Canonical text of an IP literal, or undefined when it is not one. */
export function canonicalIp(text: string): string | undefined {
  const ip = parseIp(text);
  return ip === undefined ? undefined : formatIp(ip.family, ip.value);
}

function formatIpv4(value: bigint): string {
  const n = Number(value);
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** RFC 5952: lower-case hex, no leading zeros, the longest run (≥ 2) of zero groups as `::`, first on a tie. */
function formatIpv6(value: bigint): string {
  const groups: number[] = new Array<number>(8);
  let v = value;
  for (let i = 7; i >= 0; i--) {
    groups[i] = Number(v & 0xffffn);
    v >>= 16n;
  }
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number): string =>
    groups
      .slice(from, to)
      .map((g) => g.toString(16))
      .join(':');
  if (bestLen < 2) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}

/** Canonical text: dotted quad for IPv4; RFC 5952 compressed lower-case for IPv6. */
export function formatIp(family: AddressFamily, value: bigint): string {
  if (value < 0n || value > familyMax(family)) {
    throw new RangeError(`${value} is not an IPv${family} address`);
  }
  return family === 4 ? formatIpv4(value) : formatIpv6(value);
}

/** The range of a CIDR block; host bits in `base` are ignored (nmap semantics). */
export function cidrRange(family: AddressFamily, base: bigint, prefix: number): AddressRange {
  const hostBits = familyBits(family) - BigInt(prefix);
  const hostMask = (1n << hostBits) - 1n;
  const start = base & ~hostMask & familyMax(family);
  return { family, start, end: start | hostMask };
}

/** The prefix length when the range is exactly one CIDR block, else undefined. */
export function rangePrefix(range: AddressRange): number | undefined {
  const size = range.end - range.start + 1n;
  if (size <= 0n || (size & (size - 1n)) !== 0n) return undefined;
  if ((range.start & (size - 1n)) !== 0n) return undefined;
  let hostBits = 0;
  for (let s = size; s > 1n; s >>= 1n) hostBits++;
  return Number(familyBits(range.family)) - hostBits;
}

const INET_ATON_PART = /^(?:0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/;

/**
 * inet_aton(3) semantics: 1 to 4 parts separated by dots, each decimal, octal (leading 0) or hex
 * (0x); the last part fills all remaining bytes. `127.1` → 127.0.0.1, `2130706433` → 127.0.0.1.
 * Returns undefined when glibc would reject the text too.
 */
export function parseInetAton(text: string): bigint | undefined {
  if (text.length === 0 || text.length > 64) return undefined;
  const parts = text.split('.');
  if (parts.length > 4) return undefined;
  const values: bigint[] = [];
  for (const part of parts) {
    if (!INET_ATON_PART.test(part)) return undefined;
    let v: bigint;
    if (/^0[xX]/.test(part)) v = BigInt(`0x${part.slice(2)}`);
    else if (part.length > 1 && part.startsWith('0')) v = BigInt(`0o${part.slice(1)}`);
    else v = BigInt(part);
    values.push(v);
  }
  let result = 0n;
  for (let i = 0; i < values.length - 1; i++) {
    const v = values[i] as bigint;
    if (v > 255n) return undefined;
    result |= v << BigInt(8 * (3 - i));
  }
  const last = values[values.length - 1] as bigint;
  const lastBits = BigInt(8 * (5 - values.length));
  if (last >= 1n << lastBits) return undefined;
  return result | last;
}

/**
 * The WHATWG URL "ends in a number" test: true when the last label (ignoring one trailing dot) is all
 * digits or `0x` + hex. Such a host is an IPv4 address to browsers and to the OS resolver, never a
 * name to look up.
 */
export function endsInNumber(host: string): boolean {
  const labels = host.split('.');
  if (labels.length > 1 && labels[labels.length - 1] === '') labels.pop();
  const last = labels[labels.length - 1] ?? '';
  return /^[0-9]+$/.test(last) || /^0[xX][0-9a-fA-F]*$/.test(last);
}
