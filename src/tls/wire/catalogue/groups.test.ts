import { createECDH, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { NAMED_GROUPS, groupById, groupByName, rsaEquivalentBits } from './index.js';

describe('NAMED_GROUPS', () => {
  it('lists each group id and name once', () => {
    expect(new Set(NAMED_GROUPS.map((g) => g.id)).size).toBe(NAMED_GROUPS.length);
    expect(new Set(NAMED_GROUPS.map((g) => g.name.toLowerCase())).size).toBe(NAMED_GROUPS.length);
  });

  it('has a key_share length exactly for the groups TLS 1.3 allows', () => {
    for (const group of NAMED_GROUPS) expect(group.keyShareLength !== null, group.name).toBe(group.tls13);
    expect(NAMED_GROUPS.filter((g) => !g.tls13).map((g) => g.name)).toEqual(expect.arrayContaining(['sect163k1', 'secp256k1', 'brainpoolP256r1']));
  });

  it.each([
    [0x0017, { name: 'secp256r1', bits: 256, type: 'ec', rsaEquivalentBits: 3072, keyShareLength: 65, tls13: true }],
    [0x001d, { name: 'x25519', bits: 253, type: 'ec', rsaEquivalentBits: 3072, keyShareLength: 32, tls13: true }],
    [0x001e, { name: 'x448', bits: 448, type: 'ec', rsaEquivalentBits: 7680, keyShareLength: 56, tls13: true }],
    [0x0019, { name: 'secp521r1', bits: 521, type: 'ec', rsaEquivalentBits: 15360, keyShareLength: 133, tls13: true }],
    [0x0013, { name: 'secp192r1', bits: 192, type: 'ec', rsaEquivalentBits: 1024, keyShareLength: null, tls13: false }],
    [0x0021, { name: 'brainpoolP512r1tls13', bits: 512, type: 'ec', rsaEquivalentBits: 15360, keyShareLength: 129, tls13: true }],
    [0x0100, { name: 'ffdhe2048', bits: 2048, type: 'ffdhe', rsaEquivalentBits: 2048, keyShareLength: 256, tls13: true }],
    [0x0104, { name: 'ffdhe8192', bits: 8192, type: 'ffdhe', rsaEquivalentBits: 8192, keyShareLength: 1024, tls13: true }],
    [0x11ec, { name: 'X25519MLKEM768', bits: 253, type: 'hybrid-pq', rsaEquivalentBits: 7680, keyShareLength: 1216, tls13: true }],
    [0x11eb, { name: 'SecP256r1MLKEM768', bits: 256, type: 'hybrid-pq', rsaEquivalentBits: 7680, keyShareLength: 1249, tls13: true }],
    [0x11ed, { name: 'SecP384r1MLKEM1024', bits: 384, type: 'hybrid-pq', rsaEquivalentBits: 15360, keyShareLength: 1665, tls13: true }],
    [0x6399, { name: 'X25519Kyber768Draft00', bits: 253, type: 'hybrid-pq', rsaEquivalentBits: 7680, keyShareLength: 1216, tls13: true }],
  ] as const)('describes group 0x%s', (id, expected) => {
    expect(groupById(id)).toEqual({ id, ...expected });
  });

  it.each([
    ['prime256v1', 'secp256r1', 256],
    ['secp384r1', 'secp384r1', 384],
    ['secp521r1', 'secp521r1', 521],
    ['brainpoolP256r1', 'brainpoolP256r1tls13', 256],
    ['brainpoolP384r1', 'brainpoolP384r1tls13', 384],
    ['brainpoolP512r1', 'brainpoolP512r1tls13', 512],
  ])('sizes the %s key_share as Node encodes the point', (curve, group, bits) => {
    expect(groupByName(group)?.keyShareLength).toBe(createECDH(curve).generateKeys().length);
    expect(groupByName(group)?.bits).toBe(bits);
  });

  it.each(['x25519', 'x448'] as const)('sizes the %s key_share as the raw public key', (curve) => {
    const { publicKey } = curve === 'x25519' ? generateKeyPairSync('x25519') : generateKeyPairSync('x448');
    const { x } = publicKey.export({ format: 'jwk' });
    expect(groupByName(curve)?.keyShareLength).toBe(Buffer.from(x ?? '', 'base64url').length);
  });
});

describe('groupByName', () => {
  it('accepts IANA names, OpenSSL and NIST aliases, in any case', () => {
    for (const name of ['secp256r1', 'prime256v1', 'P-256', 'SECP256R1']) expect(groupByName(name)?.id, name).toBe(0x0017);
    expect(groupByName('X25519')?.id).toBe(0x001d);
    expect(groupByName('P-521')?.id).toBe(0x0019);
    expect(groupByName('B-163')?.name).toBe('sect163r2');
    expect(groupByName('x25519mlkem768')?.id).toBe(0x11ec);
    expect(groupByName('curve25519')).toBeUndefined();
  });
});

describe('rsaEquivalentBits', () => {
  it.each([
    [160, 1024], [192, 1024], [224, 2048], [253, 3072], [256, 3072], [384, 7680], [448, 7680], [512, 15360], [521, 15360], [112, 512],
  ])('rates an EC key of %i bits like RSA %i (NIST SP 800-57)', (bits, rsa) => {
    expect(rsaEquivalentBits('ec', bits)).toBe(rsa);
  });

  it('rates RSA and DH sizes as themselves', () => {
    expect(rsaEquivalentBits('rsa', 2048)).toBe(2048);
    expect(rsaEquivalentBits('dh', 1024)).toBe(1024);
  });
});
