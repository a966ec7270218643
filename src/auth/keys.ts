/**
 * API keys, pure: the key format, hashing and verification. A key is `pcl_<id>_<secret>`: the id
 * finds the stored row, the 256-bit secret is checked against a salted HMAC-SHA256 (a slow password
 * hash buys nothing for random secrets of this size and would cost every request). Only the salt and
 * the hash are stored; the key is shown once.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { PortcullisError } from '../shared/errors.js';
import { type Scope, SCOPES, isScope } from './principal.js';

const KEY_PATTERN = /^pcl_([a-z2-7]{16})_([A-Za-z0-9_-]{43})$/;
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

export interface IssuedKey {
  /** `key_<16 base32>`: how the key is named in lists, the audit log and `keys revoke`. */
  id: string;
  /** The whole key, shown once. */
  token: string;
  salt: string;
  hash: string;
}

function base32(bytes: Buffer): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}

export function hashSecret(secret: string, salt: string): string {
  return createHmac('sha256', Buffer.from(salt, 'hex')).update(secret).digest('hex');
}

export function issueKey(): IssuedKey {
  const idPart = base32(randomBytes(10));
  const secret = randomBytes(32).toString('base64url');
  const salt = randomBytes(16).toString('hex');
  return { id: `key_${idPart}`, token: `pcl_${idPart}_${secret}`, salt, hash: hashSecret(secret, salt) };
}

/** The key id and secret of something that looks like one of our keys, or undefined. */
export function parseKey(token: string): { id: string; secret: string } | undefined {
  const match = KEY_PATTERN.exec(token);
  if (match === null) return undefined;
  return { id: `key_${match[1]!}`, secret: match[2]! };
}

export function secretMatches(secret: string, stored: { salt: string; hash: string }): boolean {
  const expected = Buffer.from(stored.hash, 'hex');
  const actual = Buffer.from(hashSecret(secret, stored.salt), 'hex');
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** `scan,read` → ['read', 'scan'], or auth/config errors naming the unknown scope. */
export function parseScopes(text: string, field = 'scopes'): Scope[] {
  const parts = text.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (parts.length === 0) throw new PortcullisError('request.invalid', `${field} must name at least one of ${SCOPES.join(', ')}`, { field });
  const unknown = parts.find((p) => !isScope(p));
  if (unknown !== undefined) throw new PortcullisError('request.invalid', `${field}: unknown scope "${unknown}"; use ${SCOPES.join(', ')}`, { field, value: unknown });
  return SCOPES.filter((s) => parts.includes(s));
}

/**
 * `30d`, `12h`, `90m` or an ISO date → the expiry instant after `now`; errors for anything else or a
 * time in the past.
 */
export function parseExpiry(text: string, now: Date, field = 'expires'): string {
  const relative = /^(\d{1,6})([mhd])$/.exec(text.trim());
  let at: number;
  if (relative !== null) {
    const unit = { m: 60_000, h: 3_600_000, d: 86_400_000 }[relative[2] as 'm' | 'h' | 'd'];
    at = now.getTime() + Number(relative[1]) * unit;
  } else {
    at = /^\d{4}-\d{2}-\d{2}/.test(text.trim()) ? Date.parse(text.trim()) : Number.NaN;
  }
  if (!Number.isFinite(at)) throw new PortcullisError('request.invalid', `${field} must be like 30d, 12h, 90m or an ISO date, got "${text}"`, { field, value: text });
  if (at <= now.getTime()) throw new PortcullisError('request.invalid', `${field} "${text}" is not in the future`, { field, value: text });
  return new Date(at).toISOString();
}
