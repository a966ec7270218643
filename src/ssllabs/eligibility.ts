/**
 * Which targets may go to SSL Labs. SSL Labs assesses public host names on port 443 only; a private,
 * loopback or otherwise non-public address would leak an internal name and fail anyway, so those
 * targets go to the native engine instead. Pure: the caller resolves.
 */
import { parseTarget, rangeContains } from '../scope/index.js';
import type { AddressRange } from '../scope/index.js';

/** IPv4-mapped IPv6 needs no entry: the scope parser reads ::ffff:a.b.c.d as a.b.c.d, checked against the IPv4 ranges. */
const NON_PUBLIC: ReadonlyArray<readonly [string, string]> = [
  ['0.0.0.0/8', 'this network'],
  ['10.0.0.0/8', 'private (RFC 1918)'],
  ['100.64.0.0/10', 'carrier-grade NAT (RFC 6598)'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local'],
  ['172.16.0.0/12', 'private (RFC 1918)'],
  ['192.168.0.0/16', 'private (RFC 1918)'],
  ['198.18.0.0/15', 'benchmarking (RFC 2544)'],
  ['224.0.0.0/3', 'multicast or reserved'],
  ['::/127', 'unspecified or loopback'],
  ['fc00::/7', 'unique local (private)'],
  ['fe80::/10', 'link-local'],
  ['ff00::/8', 'multicast'],
];

const NON_PUBLIC_RANGES: ReadonlyArray<{ range: AddressRange; what: string }> = NON_PUBLIC.map(([cidr, what]) => ({
  range: parseTarget(cidr).range as AddressRange,
  what,
}));

/** Why this address cannot be assessed by SSL Labs ("loopback"), or undefined for a public one. */
export function nonPublicAddress(ip: string): string | undefined {
  const parsed = parseTarget(ip);
  if (parsed.range === undefined) return 'not an IP address';
  return NON_PUBLIC_RANGES.find((r) => rangeContains(r.range, parsed.range as AddressRange))?.what;
}

/**
 * Why `host:port`, resolving to `addresses`, must be assessed natively rather than by SSL Labs, or
 * undefined when SSL Labs may assess it.
 */
export function sslLabsIneligibility(target: { host: string; port: number }, addresses: readonly string[] | undefined): string | undefined {
  if (parseTarget(target.host).kind !== 'hostname') return 'SSL Labs assesses host names, not IP addresses';
  if (target.port !== 443) return `SSL Labs tests port 443 only, not ${target.port}`;
  if (addresses === undefined || addresses.length === 0) return `${target.host} does not resolve`;
  for (const ip of addresses) {
    const what = nonPublicAddress(ip);
    if (what !== undefined) return `${target.host} resolves to ${ip} (${what}), which SSL Labs cannot reach and must not be told about`;
  }
  return undefined;
}
