import { WireError } from './errors.js';

/**
 * A cursor over one complete structure (a handshake message, an extension body). Every read is checked
 * against the bytes actually there, so a length that runs past its parent is reported as malformed with
 * the field name and offset, and nothing is ever allocated from a length before it has been checked.
 */
export class ByteReader {
  readonly #buf: Buffer;
  readonly #end: number;
  readonly #context: string;
  #pos: number;

  constructor(buf: Buffer, context: string) {
    this.#buf = buf;
    this.#pos = 0;
    this.#end = buf.length;
    this.#context = context;
  }

  get remaining(): number {
    return this.#end - this.#pos;
  }

  fail(message: string, code: 'wire.malformed' | 'wire.unexpected' = 'wire.malformed'): never {
    throw new WireError(code, `${this.#context}: ${message} (at byte ${this.#pos})`);
  }

  #need(n: number, field: string): void {
    if (n > this.remaining) this.fail(`${field} needs ${n} bytes but only ${this.remaining} are left`);
  }

  u8(field: string): number {
    this.#need(1, field);
    return this.#buf[this.#pos++]!;
  }

  u16(field: string): number {
    this.#need(2, field);
    const value = this.#buf.readUInt16BE(this.#pos);
    this.#pos += 2;
    return value;
  }

  u24(field: string): number {
    this.#need(3, field);
    const value = this.#buf.readUIntBE(this.#pos, 3);
    this.#pos += 3;
    return value;
  }

  /** A copy of the next `n` bytes (copies, so results never pin a large stream buffer). */
  bytes(n: number, field: string): Buffer {
    this.#need(n, field);
    const out = Buffer.from(this.#buf.subarray(this.#pos, this.#pos + n));
    this.#pos += n;
    return out;
  }

  /** A length-prefixed vector (`lengthBytes` of 1, 2 or 3) whose length must lie in [min, max]. */
  vector(lengthBytes: 1 | 2 | 3, field: string, min = 0, max = Number.MAX_SAFE_INTEGER): Buffer {
    const length = lengthBytes === 1 ? this.u8(`${field} length`) : lengthBytes === 2 ? this.u16(`${field} length`) : this.u24(`${field} length`);
    if (length < min || length > max) this.fail(`${field} length ${length} is outside ${min}..${max}`);
    return this.bytes(length, field);
  }

  /** A vector of fixed-size items, e.g. cipher suites (2 bytes each). */
  list(lengthBytes: 1 | 2 | 3, itemBytes: 1 | 2 | 3, field: string, min = 0): number[] {
    const body = this.vector(lengthBytes, field, min);
    if (body.length % itemBytes !== 0) this.fail(`${field} length ${body.length} is not a multiple of ${itemBytes}`);
    const items: number[] = [];
    for (let i = 0; i < body.length; i += itemBytes) items.push(body.readUIntBE(i, itemBytes));
    return items;
  }

  /** Asserts the structure ends here. */
  end(): void {
    if (this.remaining !== 0) this.fail(`${this.remaining} unexpected trailing bytes`);
  }
}
