import { checkPrimeSync, generatePrimeSync, getDiffieHellman } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { identifyDhPrime, knownDhPrimes } from './index.js';
import { opensslAvailable, opensslDhPrime } from './testing/openssl.js';

const prime = (name: string): bigint => {
  const known = knownDhPrimes().find((p) => p.name === name);
  if (!known) throw new Error(`no known prime named ${name}`);
  return known.prime;
};

describe('identifyDhPrime', () => {
  it('recognises RFC 3526 group 14 from the bytes a server sends', () => {
    expect(identifyDhPrime(getDiffieHellman('modp14').getPrime())).toMatchObject({ name: 'RFC 3526 group 14', bits: 2048, weak: false });
  });

  it('recognises RFC 7919 ffdhe2048 by value', () => {
    expect(identifyDhPrime(prime('RFC 7919 ffdhe2048'))).toMatchObject({ bits: 2048, weak: false });
    expect(identifyDhPrime(Buffer.from(prime('RFC 7919 ffdhe2048').toString(16), 'hex'))?.name).toBe('RFC 7919 ffdhe2048');
  });

  it('flags the ≤1024-bit common primes as weak (Logjam)', () => {
    expect(identifyDhPrime(getDiffieHellman('modp2').getPrime())).toMatchObject({ name: 'RFC 2409 Oakley group 2', bits: 1024, weak: true });
    expect(knownDhPrimes().filter((p) => p.weak).every((p) => p.bits <= 1024)).toBe(true);
    expect(knownDhPrimes().filter((p) => !p.weak).every((p) => p.bits > 1024)).toBe(true);
  });

  it('knows nothing of a freshly generated prime', () => {
    expect(identifyDhPrime(generatePrimeSync(512, { bigint: true, safe: false }))).toBeUndefined();
  });
});

describe('knownDhPrimes', () => {
  it('names each prime once and is as long as its name says', () => {
    expect(new Set(knownDhPrimes().map((p) => p.prime)).size).toBe(knownDhPrimes().length);
    for (const known of knownDhPrimes()) {
      const sizeInName = /(\d{3,4})-bit|ffdhe(\d+)/.exec(known.name);
      if (sizeInName) expect(known.bits, known.name).toBe(Number(sizeInName[1] ?? sizeInName[2]));
    }
  });

  it.each([
    ['RFC 2409 Oakley group 1', 'modp1'],
    ['RFC 2409 Oakley group 2', 'modp2'],
    ['RFC 3526 group 5', 'modp5'],
    ['RFC 3526 group 14', 'modp14'],
    ['RFC 3526 group 15', 'modp15'],
    ['RFC 3526 group 16', 'modp16'],
    ['RFC 3526 group 17', 'modp17'],
    ['RFC 3526 group 18', 'modp18'],
  ])('derives %s from π exactly as OpenSSL ships %s', (name, group) => {
    expect(prime(name)).toBe(BigInt(`0x${getDiffieHellman(group).getPrime().toString('hex')}`));
  });

  it('holds only primes (a typo in the hard-coded hex would break this)', () => {
    for (const known of knownDhPrimes().filter((p) => p.name.startsWith('RFC 5114') || !p.name.startsWith('RFC'))) {
      expect(checkPrimeSync(known.prime, { checks: 8 }), known.name).toBe(true);
    }
  });

  describe.skipIf(!opensslAvailable)(`against OpenSSL's built-in groups${opensslAvailable ? '' : ' (skipped: openssl binary not on PATH)'}`, () => {
    it.each([2048, 3072, 4096, 6144, 8192])('derives ffdhe%i exactly as OpenSSL ships it', (bits) => {
      expect(prime(`RFC 7919 ffdhe${bits}`)).toBe(opensslDhPrime(`group:ffdhe${bits}`));
    });

    it.each([
      [1, 'RFC 5114 1024-bit MODP group with 160-bit subgroup'],
      [2, 'RFC 5114 2048-bit MODP group with 224-bit subgroup'],
      [3, 'RFC 5114 2048-bit MODP group with 256-bit subgroup'],
    ])('matches OpenSSL dh_rfc5114:%i', (group, name) => {
      expect(prime(name)).toBe(opensslDhPrime(`dh_rfc5114:${group}`));
    });
  });
});
