import { WireError } from './errors.js';
import { MAX_PLAINTEXT } from './constants.js';

export function u8(value: number): Buffer {
  return Buffer.from([value & 0xff]);
}

export function u16(value: number): Buffer {
  const out = Buffer.alloc(2);
  out.writeUInt16BE(value & 0xffff);
  return out;
}

export function u24(value: number): Buffer {
  const out = Buffer.alloc(3);
  out.writeUIntBE(value & 0xffffff, 0, 3);
  return out;
}

/** `body` prefixed with its length in `lengthBytes` bytes; a body too long for the prefix is a caller bug. */
export function vector(lengthBytes: 1 | 2 | 3, body: Buffer, field: string): Buffer {
  const max = 2 ** (8 * lengthBytes) - 1;
  if (body.length > max) throw new WireError('wire.oversized', `${field} is ${body.length} bytes, more than its ${lengthBytes}-byte length allows (${max})`);
  const length = lengthBytes === 1 ? u8(body.length) : lengthBytes === 2 ? u16(body.length) : u24(body.length);
  return Buffer.concat([length, body]);
}

/** Numbers written as fixed-size items, e.g. a list of 2-byte cipher suites. */
export function items(values: readonly number[], itemBytes: 1 | 2 | 3): Buffer {
  const out = Buffer.alloc(values.length * itemBytes);
  values.forEach((value, i) => out.writeUIntBE(value, i * itemBytes, itemBytes));
  return out;
}

/** A handshake message: type(1) length(3) body. */
export function handshakeMessage(type: number, body: Buffer): Buffer {
  return Buffer.concat([u8(type), vector(3, body, `handshake message ${type}`)]);
}

/** `payload` framed as records of `type`, split so that no fragment exceeds 2^14 bytes. */
export function records(type: number, version: number, payload: Buffer): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  do {
    const fragment = payload.subarray(offset, offset + MAX_PLAINTEXT);
    parts.push(u8(type), u16(version), u16(fragment.length), fragment);
    offset += MAX_PLAINTEXT;
  } while (offset < payload.length);
  return Buffer.concat(parts);
}
