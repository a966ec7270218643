import net from 'node:net';
import { domainToASCII } from 'node:url';
import type { CertificateInfo } from '../model.js';

/**
 * RFC 6125 name matching as browsers do it: DNS SANs (the CN only when there is no DNS SAN), a wildcard
 * only as the whole left-most label and never directly over a single label ("*.com"), names compared
 * as lower-case A-labels without a trailing dot; an IP target matches IP SANs only.
 */
export function matchesHostname(cert: Pick<CertificateInfo, 'altNames' | 'commonNames'>, host: string): boolean {
  const target = host.replace(/^\[(.*)\]$/, '$1');
  if (net.isIP(target)) {
    const ip = canonicalIp(target);
    return cert.altNames.some((name) => name.startsWith('IP:') && canonicalIp(name.slice(3)) === ip);
  }
  const hostname = toALabels(target);
  if (!hostname) return false;
  const dnsNames = cert.altNames.filter((name) => name.startsWith('DNS:')).map((name) => name.slice(4));
  const patterns = dnsNames.length > 0 ? dnsNames : cert.commonNames;
  return patterns.some((pattern) => matchesPattern(pattern, hostname));
}

function matchesPattern(pattern: string, hostname: string): boolean {
  if (!pattern.startsWith('*.')) return toALabels(pattern) === hostname;
  const suffix = toALabels(pattern.slice(2));
  // At least two labels under the wildcard: "*.com" or "*.local" would span a whole namespace.
  if (!suffix || !suffix.includes('.')) return false;
  const dot = hostname.indexOf('.');
  return dot > 0 && hostname.slice(dot + 1) === suffix;
}

/** Lower-case A-label form without a trailing dot; null for a name that cannot be one. */
function toALabels(name: string): string | null {
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  if (!trimmed || trimmed.includes('*')) return null;
  return domainToASCII(trimmed).toLowerCase() || null;
}

function canonicalIp(ip: string): string {
  // IPv4 text is already canonical; the URL parser canonicalises IPv6 text (no DNS involved). A zone
  // id ("%eth0") never appears in a certificate, so it is dropped.
  return net.isIPv6(ip) ? new URL(`http://[${ip.replace(/%.*$/, '')}]/`).hostname : ip;
}
