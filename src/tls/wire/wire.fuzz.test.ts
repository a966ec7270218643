/**
 * Random and mutated input for every parser that reads bytes from the network: whatever arrives, only
 * WireError may come out (never a RangeError, never a hang). Seeded, so a failure names the seed and the
 * case that reproduces it.
 */
import { describe, expect, it } from 'vitest';
import { buildClientHello, buildSslv2ClientHello, parseClientHello } from './client-hello.js';
import { ExtensionType } from './constants.js';
import { WireError } from './errors.js';
import { ServerFlightParser } from './server-flight.js';
import { encodeServerKeyExchange, parseServerKeyExchange } from './server-key-exchange.js';
import {
  alertRecord,
  changeCipherSpecRecord,
  encodeCertificate,
  encodeCertificateStatus,
  encodeServerHello,
  encodeServerHelloDone,
  encodeServerKeyExchangeMessage,
  encodeSslv2ServerHello,
  handshakeRecords,
  sslv2ErrorRecord,
} from './server-messages.js';
import { records } from './writer.js';

const SEED = 0x5eed_7135;

/** mulberry32: small, fast, good enough to pick mutations reproducibly. */
function prng(seed: number): { int(n: number): number; bytes(n: number): Buffer } {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  return { int, bytes: (n) => Buffer.from(Array.from({ length: n }, () => int(256))) };
}

type Rng = ReturnType<typeof prng>;

function mutate(rng: Rng, input: Buffer, corpus: readonly Buffer[]): Buffer {
  const out = Buffer.from(input);
  if (out.length === 0) return rng.bytes(rng.int(64));
  switch (rng.int(7)) {
    case 0: // bit flips
      for (let i = 1 + rng.int(4); i > 0; i--) out[rng.int(out.length)]! ^= 1 << rng.int(8);
      return out;
    case 1: // truncation
      return out.subarray(0, rng.int(out.length));
    case 2: // a length-sized field set to 0 / max / huge
    case 3: {
      const at = rng.int(out.length);
      const value = [0x00, 0xff, 0x7f, 0x80][rng.int(4)]!;
      out.fill(value, at, Math.min(out.length, at + 1 + rng.int(3)));
      return out;
    }
    case 4: {
      // splice: the head of this input, the tail of another
      const other = corpus[rng.int(corpus.length)]!;
      return Buffer.concat([out.subarray(0, rng.int(out.length)), other.subarray(rng.int(other.length))]);
    }
    case 5: // random bytes inserted
      return Buffer.concat([out.subarray(0, rng.int(out.length)), rng.bytes(1 + rng.int(16)), out.subarray(rng.int(out.length))]);
    default: // pure noise
      return rng.bytes(rng.int(300));
  }
}

/** Calls `fn`; anything other than a WireError fails the test with the case that caused it. */
function onlyWireErrors(label: string, input: Buffer, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    if (err instanceof WireError) return;
    throw new Error(`${label}: ${String(err)} for input ${input.toString('hex').slice(0, 400)}`);
  }
}

function serverFlights(rng: Rng): Buffer[] {
  const signature = rng.bytes(64);
  const ecdhe = encodeServerKeyExchange({ type: 'ecdh', namedGroup: 0x0017, publicKey: rng.bytes(65) }, 'TLSv1.2', signature);
  const dhe = encodeServerKeyExchange({ type: 'dh', p: rng.bytes(64), g: Buffer.from([2]), ys: rng.bytes(64), primeBits: 512 }, 'TLSv1.0', signature);
  const hello = (suite: number, extensions: Array<[number, Buffer]>): Buffer => encodeServerHello({ legacyVersion: 0x0303, sessionId: rng.bytes(32), cipherSuite: suite, extensions });
  return [
    handshakeRecords([hello(0xc02f, [[ExtensionType.renegotiationInfo, Buffer.from([0])], [ExtensionType.alpn, Buffer.from([0, 3, 2, 0x68, 0x32])]]), encodeCertificate([rng.bytes(300), rng.bytes(200)]), encodeCertificateStatus(rng.bytes(50)), encodeServerKeyExchangeMessage(ecdhe), encodeServerHelloDone()], 0x0303),
    handshakeRecords([hello(0x0033, []), encodeCertificate([rng.bytes(100)]), encodeServerKeyExchangeMessage(dhe), encodeServerHelloDone()], 0x0301),
    Buffer.concat([
      handshakeRecords([hello(0x1301, [[ExtensionType.supportedVersions, Buffer.from([3, 4])], [ExtensionType.keyShare, Buffer.from([0, 0x1d, 0, 32, ...rng.bytes(32)])]])], 0x0303),
      changeCipherSpecRecord(0x0303),
      records(23, 0x0303, rng.bytes(80)),
    ]),
    Buffer.concat([handshakeRecords([encodeServerHello({ legacyVersion: 0x0303, random: Buffer.from('cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c', 'hex'), sessionId: rng.bytes(32), cipherSuite: 0x1301, extensions: [[ExtensionType.supportedVersions, Buffer.from([3, 4])], [ExtensionType.keyShare, Buffer.from([0, 0x17])], [ExtensionType.cookie, Buffer.from([0, 2, 9, 9])]] })], 0x0303), changeCipherSpecRecord(0x0303)]),
    alertRecord(40, 0x0303),
    encodeSslv2ServerHello({ cipherKinds: [0x010080, 0x0700c0], certificate: rng.bytes(200) }),
    sslv2ErrorRecord(1),
  ];
}

function feedInRandomChunks(rng: Rng, input: Buffer): void {
  const parser = new ServerFlightParser({ maxBytes: 64 * 1024 });
  let offset = 0;
  let failed = false;
  while (offset < input.length) {
    const size = 1 + rng.int(rng.int(2) === 0 ? 8 : 512);
    try {
      parser.push(input.subarray(offset, offset + size));
    } catch (err) {
      if (!(err instanceof WireError)) throw err;
      failed = true;
    }
    offset += size;
    // Once broken, the parser stays broken: every later push reports the same kind of error.
    if (failed) expect(parser.error).toBeInstanceOf(WireError);
  }
}

describe('wire parsers under random and mutated input', () => {
  it('ServerFlightParser throws nothing but WireError for 4000 mutated flights in random chunkings', () => {
    const rng = prng(SEED);
    const corpus = serverFlights(rng);
    for (let i = 0; i < 4000; i++) {
      const input = mutate(rng, corpus[i % corpus.length]!, corpus);
      onlyWireErrors(`flight case ${i} (seed ${SEED})`, input, () => feedInRandomChunks(rng, input));
    }
  });

  it('parseServerKeyExchange throws nothing but WireError for 3000 mutated bodies, any kx, any version', () => {
    const rng = prng(SEED + 1);
    const versions = ['SSLv3', 'TLSv1.0', 'TLSv1.2'] as const;
    const kinds = ['DHE', 'ECDHE', 'RSA-EXPORT'] as const;
    const corpus = [
      encodeServerKeyExchange({ type: 'dh', p: rng.bytes(128), g: Buffer.from([2]), ys: rng.bytes(128), primeBits: 0 }, 'TLSv1.2', rng.bytes(128)),
      encodeServerKeyExchange({ type: 'ecdh', namedGroup: 0x001d, publicKey: rng.bytes(32) }, 'TLSv1.2', rng.bytes(64)),
      encodeServerKeyExchange({ type: 'rsa', modulus: rng.bytes(64), exponent: Buffer.from([1, 0, 1]), modulusBits: 0 }, 'TLSv1.0', null),
    ];
    for (let i = 0; i < 3000; i++) {
      const input = mutate(rng, corpus[i % corpus.length]!, corpus);
      onlyWireErrors(`key exchange case ${i} (seed ${SEED + 1})`, input, () => parseServerKeyExchange(input, kinds[rng.int(3)]!, versions[rng.int(3)]!));
    }
  });

  it('parseClientHello throws nothing but WireError for 3000 mutated hellos', () => {
    const rng = prng(SEED + 2);
    const corpus = [
      buildClientHello({ version: 'TLSv1.2', suites: [0xc02f, 0x009c], sni: 'a.test', alpn: ['h2'], heartbeat: true }),
      buildClientHello({ version: 'TLSv1.3', suites: [0x1301], cookie: Buffer.from('c') }),
      buildClientHello({ version: 'SSLv3', suites: [0x000a] }),
      buildSslv2ClientHello({ cipherKinds: [0x010080, 0x00002f], version: 0x0301 }),
    ];
    for (let i = 0; i < 3000; i++) {
      const input = mutate(rng, corpus[i % corpus.length]!, corpus);
      onlyWireErrors(`client hello case ${i} (seed ${SEED + 2})`, input, () => parseClientHello(input));
    }
  });
});
