/** Strict-Transport-Security header parsing (RFC 6797 §6.1), pure. */
import type { HstsPolicy } from '../model.js';

function invalid(header: string, error: string): HstsPolicy {
  return { status: 'invalid', header, maxAge: null, includeSubDomains: false, preload: false, error };
}

/**
 * Reads the first Strict-Transport-Security header (browsers ignore the rest). Unknown directives are
 * ignored as the RFC says; a missing or malformed max-age, or a repeated directive, makes it invalid;
 * max-age=0 is the documented way to switch HSTS off.
 */
export function parseHsts(headers: readonly string[]): HstsPolicy {
  const header = headers[0];
  if (header === undefined) return { status: 'absent', header: null, maxAge: null, includeSubDomains: false, preload: false };
  const seen = new Set<string>();
  let maxAge: number | null = null;
  let includeSubDomains = false;
  let preload = false;
  for (const part of header.split(';')) {
    const directive = part.trim();
    if (directive === '') continue;
    const eq = directive.indexOf('=');
    const name = (eq < 0 ? directive : directive.slice(0, eq)).trim().toLowerCase();
    const rawValue = eq < 0 ? null : directive.slice(eq + 1).trim();
    if (seen.has(name)) return invalid(header, `directive ${name} appears more than once`);
    seen.add(name);
    if (name === 'max-age') {
      const value = rawValue?.replace(/^"(.*)"$/, '$1') ?? '';
      if (!/^\d+$/.test(value)) return invalid(header, `max-age must be a whole number of seconds, not "${rawValue ?? ''}"`);
      maxAge = Number(value);
    } else if (name === 'includesubdomains') {
      includeSubDomains = true;
    } else if (name === 'preload') {
      preload = true;
    }
  }
  if (maxAge === null) return invalid(header, 'the max-age directive is missing');
  return { status: maxAge === 0 ? 'disabled' : 'present', header, maxAge, includeSubDomains, preload };
}
