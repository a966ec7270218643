import { createECDH, randomBytes } from 'node:crypto';

/** NIST and brainpool groups: servers validate the point, so the share must be a real public key. */
const ECDH_CURVES: Readonly<Record<number, string>> = {
  0x0017: 'prime256v1',
  0x0018: 'secp384r1',
  0x0019: 'secp521r1',
  0x001f: 'brainpoolP256r1',
  0x0020: 'brainpoolP384r1',
  0x0021: 'brainpoolP512r1',
};

/** X25519 and X448 accept any string of the right length as a public value. */
const RANDOM_SHARE_LENGTHS: Readonly<Record<number, number>> = {
  0x001d: 32,
  0x001e: 56,
};

/**
 * A key_share public value the server will accept for `group`, or undefined when we cannot make one
 * (ML-KEM hybrids, FFDHE): leaving those out makes the server answer with a HelloRetryRequest naming the
 * group, which is all an assessment needs. The private half is thrown away — we never finish a handshake.
 */
export function keyShareFor(group: number): Buffer | undefined {
  const curve = ECDH_CURVES[group];
  if (curve !== undefined) return createECDH(curve).generateKeys();
  const length = RANDOM_SHARE_LENGTHS[group];
  return length === undefined ? undefined : randomBytes(length);
}

