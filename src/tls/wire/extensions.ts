import { ByteReader } from './reader.js';

/** Reads an extensions block `extensions<0..2^16-1>` (type(2) data<0..2^16-1> each); duplicates are malformed. */
export function readExtensions(reader: ByteReader, context: string): Map<number, Buffer> {
  const block = new ByteReader(reader.vector(2, 'extensions'), `${context} extensions`);
  const extensions = new Map<number, Buffer>();
  while (block.remaining > 0) {
    const type = block.u16('extension type');
    const data = block.vector(2, `extension 0x${type.toString(16).padStart(4, '0')}`);
    if (extensions.has(type)) block.fail(`extension 0x${type.toString(16).padStart(4, '0')} appears twice`);
    extensions.set(type, data);
  }
  return extensions;
}

/** Runs `read` over an extension body and checks it consumed all of it. */
export function readExtensionBody<T>(data: Buffer, name: string, read: (reader: ByteReader) => T): T {
  const reader = new ByteReader(data, `${name} extension`);
  const value = read(reader);
  reader.end();
  return value;
}
