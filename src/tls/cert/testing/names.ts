/** A DER Name holding one commonName, its value encoded with `tag` (0x0c UTF8String, 0x13 PrintableString). */
export function commonNameDer(value: string, tag: number): Buffer {
  const text = Buffer.from(value, 'latin1');
  const attribute = Buffer.concat([Buffer.from([0x30, text.length + 7, 0x06, 0x03, 0x55, 0x04, 0x03, tag, text.length]), text]);
  const rdn = Buffer.concat([Buffer.from([0x31, attribute.length]), attribute]);
  return Buffer.concat([Buffer.from([0x30, rdn.length]), rdn]);
}
