import { getDiffieHellman, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { WireError } from './errors.js';
import { bitLength, encodeServerKeyExchange, parseServerKeyExchange } from './server-key-exchange.js';

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');

function wireErrorOf(fn: () => unknown): WireError {
  try {
    fn();
  } catch (err) {
    if (err instanceof WireError) return err;
    throw err;
  }
  throw new Error('expected a WireError');
}

describe('parseServerKeyExchange', () => {
  it('reads a DHE-1024 key exchange as nginx sends it: p 128 bytes, g = 2, Ys, sigalg 04 01, 256-byte signature', () => {
    const p = getDiffieHellman('modp2').getPrime(); // RFC 2409 Oakley group 2, 1024 bits
    const ys = randomBytes(128);
    const body = Buffer.concat([Buffer.from([0, 128]), p, hex('00 01 02'), Buffer.from([0, 128]), ys, hex('04 01 01 00'), randomBytes(256)]);
    expect(parseServerKeyExchange(body, 'DHE', 'TLSv1.2')).toEqual({ type: 'dh', p, g: Buffer.from([2]), ys, primeBits: 1024 });
  });

  it('counts prime bits without leading zero bytes or bits (a 512-bit prime sent with a leading 00)', () => {
    const p = Buffer.concat([Buffer.from([0]), Buffer.from([0x7f]), randomBytes(63)]);
    const body = encodeServerKeyExchange({ type: 'dh', p, g: Buffer.from([2]), ys: randomBytes(64), primeBits: 0 }, 'TLSv1.0', randomBytes(128));
    expect(parseServerKeyExchange(body, 'DHE', 'TLSv1.0')).toMatchObject({ primeBits: 511 });
  });

  it('reads an x25519 ECDHE key exchange signed with RSA-PSS, as OpenSSL 3 sends it', () => {
    const point = randomBytes(32);
    const body = Buffer.concat([hex('03 00 1d 20'), point, hex('08 04 01 00'), randomBytes(256)]);
    expect(parseServerKeyExchange(body, 'ECDHE', 'TLSv1.2')).toEqual({ type: 'ecdh', namedGroup: 0x001d, publicKey: point });
  });

  it('reads the temporary 512-bit RSA key of an EXPORT suite (FREAK)', () => {
    const modulus = Buffer.concat([Buffer.from([0xc1]), randomBytes(63)]);
    const body = encodeServerKeyExchange({ type: 'rsa', modulus, exponent: Buffer.from([1, 0, 1]), modulusBits: 512 }, 'TLSv1.0', randomBytes(64));
    expect(parseServerKeyExchange(body, 'RSA-EXPORT', 'TLSv1.0')).toEqual({ type: 'rsa', modulus, exponent: Buffer.from([1, 0, 1]), modulusBits: 512 });
  });

  it('accepts an anonymous key exchange, which has no signature', () => {
    const p = randomBytes(64);
    p[0] = 0xff;
    const body = encodeServerKeyExchange({ type: 'dh', p, g: Buffer.from([2]), ys: randomBytes(64), primeBits: 512 }, 'TLSv1.2', null);
    expect(parseServerKeyExchange(body, 'DHE', 'TLSv1.2')).toMatchObject({ type: 'dh', primeBits: 512 });
  });

  it('round-trips every kind on every version with a signature', () => {
    const kinds = [
      ['DHE', { type: 'dh', p: randomBytes(256), g: Buffer.from([5]), ys: randomBytes(256), primeBits: 0 }],
      ['ECDHE', { type: 'ecdh', namedGroup: 0x0017, publicKey: randomBytes(65) }],
      ['RSA-EXPORT', { type: 'rsa', modulus: randomBytes(64), exponent: Buffer.from([3]), modulusBits: 0 }],
    ] as const;
    for (const version of ['SSLv3', 'TLSv1.0', 'TLSv1.1', 'TLSv1.2'] as const) {
      for (const [kx, params] of kinds) {
        const parsed = parseServerKeyExchange(encodeServerKeyExchange(params, version, randomBytes(100)), kx, version);
        expect(parsed.type).toBe(params.type);
      }
    }
  });

  it('rejects explicit curves, lengths past the end, and bytes after the signature', () => {
    expect(wireErrorOf(() => parseServerKeyExchange(hex('01 00 1d 20'), 'ECDHE', 'TLSv1.2')).code).toBe('wire.unexpected');
    const short = wireErrorOf(() => parseServerKeyExchange(hex('00 80 01 02 03'), 'DHE', 'TLSv1.2'));
    expect(short.code).toBe('wire.malformed');
    expect(short.message).toMatch(/dh_p/);
    const signed = Buffer.concat([hex('03 00 17 01 04'), hex('04 03 00 02 aa bb'), hex('ff')]);
    expect(wireErrorOf(() => parseServerKeyExchange(signed, 'ECDHE', 'TLSv1.2')).message).toMatch(/trailing/);
  });
});

describe('bitLength', () => {
  it('counts significant bits of a big-endian number', () => {
    expect([hex(''), hex('00'), hex('01'), hex('80'), hex('0001'), hex('00ff00')].map(bitLength)).toEqual([0, 0, 1, 8, 1, 16]);
  });
});
