/**
 * ServerKeyExchange (RFC 5246 §7.4.3, RFC 8422 §5.4, RFC 2246 export RSA): the parameters are read, the
 * signature is only checked for shape — an assessment needs the prime, the curve or the key size, and
 * never the proof that the server holds its key.
 */
import type { ProtocolName } from '../model.js';
import { ByteReader } from './reader.js';
import { u16, u8, vector } from './writer.js';

export type ServerKeyExchange =
  | { type: 'dh'; p: Buffer; g: Buffer; ys: Buffer; primeBits: number }
  | { type: 'ecdh'; namedGroup: number; publicKey: Buffer }
  | { type: 'rsa'; modulus: Buffer; exponent: Buffer; modulusBits: number };

const NAMED_CURVE = 3;
/** rsa_pkcs1_sha256: what the test responder claims to sign with on TLS 1.2. */
const RESPONDER_SIGNATURE_SCHEME = 0x0401;

/** Bits of a big-endian unsigned integer, leading zero bytes and bits ignored. */
export function bitLength(value: Buffer): number {
  let i = 0;
  while (i < value.length && value[i] === 0) i++;
  if (i === value.length) return 0;
  return (value.length - i - 1) * 8 + (32 - Math.clz32(value[i]!));
}

function readSignature(reader: ByteReader, version: ProtocolName): void {
  // Anonymous suites send no signature; signed ones: [SignatureAndHashAlgorithm (TLS 1.2)] signature<0..2^16-1>.
  if (reader.remaining === 0) return;
  if (version === 'TLSv1.2' || version === 'TLSv1.3') reader.u16('signature algorithm');
  reader.vector(2, 'signature');
}

export function parseServerKeyExchange(body: Buffer, kx: 'DHE' | 'ECDHE' | 'RSA-EXPORT', version: ProtocolName): ServerKeyExchange {
  const reader = new ByteReader(body, `ServerKeyExchange (${kx})`);
  let result: ServerKeyExchange;
  if (kx === 'DHE') {
    const p = reader.vector(2, 'dh_p', 1);
    const g = reader.vector(2, 'dh_g', 1);
    const ys = reader.vector(2, 'dh_Ys', 1);
    result = { type: 'dh', p, g, ys, primeBits: bitLength(p) };
  } else if (kx === 'ECDHE') {
    const curveType = reader.u8('curve_type');
    if (curveType !== NAMED_CURVE) reader.fail(`curve_type ${curveType} is not named_curve (3); explicit curves are obsolete`, 'wire.unexpected');
    const namedGroup = reader.u16('named_group');
    result = { type: 'ecdh', namedGroup, publicKey: reader.vector(1, 'point', 1) };
  } else {
    const modulus = reader.vector(2, 'rsa_modulus', 1);
    const exponent = reader.vector(2, 'rsa_exponent', 1);
    result = { type: 'rsa', modulus, exponent, modulusBits: bitLength(modulus) };
  }
  readSignature(reader, version);
  reader.end();
  return result;
}

/** The body of a ServerKeyExchange; `signature` null for anonymous suites (the bytes are never checked by clients we test). */
export function encodeServerKeyExchange(kx: ServerKeyExchange, version: ProtocolName, signature: Buffer | null): Buffer {
  const params =
    kx.type === 'dh'
      ? Buffer.concat([vector(2, kx.p, 'dh_p'), vector(2, kx.g, 'dh_g'), vector(2, kx.ys, 'dh_Ys')])
      : kx.type === 'ecdh'
        ? Buffer.concat([u8(NAMED_CURVE), u16(kx.namedGroup), vector(1, kx.publicKey, 'point')])
        : Buffer.concat([vector(2, kx.modulus, 'rsa_modulus'), vector(2, kx.exponent, 'rsa_exponent')]);
  if (signature === null) return params;
  const scheme = version === 'TLSv1.2' ? u16(RESPONDER_SIGNATURE_SCHEME) : Buffer.alloc(0);
  return Buffer.concat([params, scheme, vector(2, signature, 'signature')]);
}
