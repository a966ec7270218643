/**
 * A small DER reader for the few X.509 and OpenSSL structures node:crypto does not expose (names as
 * values, extensions by OID, session ids). Loading a general ASN.1 library costs ~100 ms of start-up;
 * walking tag-length-value triples costs microseconds. Reads only: it never builds DER.
 */

export const DerTag = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  oid: 0x06,
  utf8String: 0x0c,
  numericString: 0x12,
  printableString: 0x13,
  teletexString: 0x14,
  ia5String: 0x16,
  utcTime: 0x17,
  generalizedTime: 0x18,
  visibleString: 0x1a,
  universalString: 0x1c,
  bmpString: 0x1e,
  sequence: 0x30,
  set: 0x31,
} as const;

/** Context-specific tag [n]: constructed (EXPLICIT, or IMPLICIT over a SEQUENCE) or primitive (IMPLICIT over a string). */
export const contextTag = (n: number, constructed: boolean): number => 0x80 | (constructed ? 0x20 : 0) | n;

export class DerError extends Error {}

/** One DER element: its identifier octet, its contents, and the element's own bytes (header included). */
export interface DerElement {
  tag: number;
  content: Buffer;
  bytes: Buffer;
}

/** Reads the element starting at `offset`; `end` is the offset just past it. */
export function readElement(input: Buffer, offset = 0): DerElement & { end: number } {
  const tag = input[offset];
  const first = input[offset + 1];
  if (tag === undefined || first === undefined) throw new DerError(`truncated element at offset ${offset}`);
  if ((tag & 0x1f) === 0x1f) throw new DerError(`high tag numbers are not used in these structures (offset ${offset})`);
  let length = first;
  let header = 2;
  if (first & 0x80) {
    const octets = first & 0x7f;
    if (octets === 0 || octets > 4) throw new DerError(`unsupported length encoding at offset ${offset}`);
    if (offset + 2 + octets > input.length) throw new DerError(`truncated length at offset ${offset}`);
    length = input.readUIntBE(offset + 2, octets);
    header += octets;
  }
  const end = offset + header + length;
  if (end > input.length) throw new DerError(`element at offset ${offset} runs past the end (${length} bytes declared)`);
  return { tag, content: input.subarray(offset + header, end), bytes: input.subarray(offset, end), end };
}

/** The elements a constructed element (SEQUENCE, SET, EXPLICIT tag) holds, in order. */
export function childrenOf(element: DerElement | Buffer): DerElement[] {
  const content = Buffer.isBuffer(element) ? element : element.content;
  const children: DerElement[] = [];
  for (let offset = 0; offset < content.length; ) {
    const child = readElement(content, offset);
    children.push(child);
    offset = child.end;
  }
  return children;
}

/** The one element `input` holds, which must fill it. */
export function readSingle(input: Buffer, what: string): DerElement {
  const element = readElement(input);
  if (element.end !== input.length) throw new DerError(`${what}: ${input.length - element.end} bytes after the element`);
  return element;
}

/** Checks the tag and returns the element, for readable structure walks. */
export function expectTag(element: DerElement | undefined, tag: number, what: string): DerElement {
  if (element === undefined) throw new DerError(`${what} is missing`);
  if (element.tag !== tag) throw new DerError(`${what} has tag 0x${element.tag.toString(16)}, expected 0x${tag.toString(16)}`);
  return element;
}

/** Dotted-decimal text of an OBJECT IDENTIFIER's contents. */
export function decodeOid(content: Buffer): string {
  const arcs: Array<number | bigint> = [];
  for (let start = 0; start < content.length; ) {
    let end = start;
    while (end < content.length && ((content[end] as number) & 0x80) !== 0) end++;
    if (end === content.length) throw new DerError('truncated object identifier');
    arcs.push(arc(content, start, end + 1));
    start = end + 1;
  }
  const [first] = arcs;
  if (first === undefined) throw new DerError('empty object identifier');
  const head = first < 80 ? [Math.floor(Number(first) / 40), Number(first) % 40] : [2, typeof first === 'bigint' ? first - 80n : first - 80];
  return [...head, ...arcs.slice(1)].join('.');
}

/** One base-128 arc; numbers while exact (≤ 7 bytes, 49 bits), bigint beyond (UUID-based OIDs). */
function arc(content: Buffer, start: number, end: number): number | bigint {
  if (end - start <= 7) {
    let value = 0;
    for (let i = start; i < end; i++) value = value * 128 + ((content[i] as number) & 0x7f);
    return value;
  }
  let value = 0n;
  for (let i = start; i < end; i++) value = (value << 7n) | BigInt((content[i] as number) & 0x7f);
  return value;
}

/** The text of a directory string or IA5String; undefined for a non-string element. */
export function decodeString(element: DerElement): string | undefined {
  const { content } = element;
  switch (element.tag) {
    case DerTag.utf8String:
      return content.toString('utf8');
    case DerTag.bmpString:
      return utf16be(content);
    case DerTag.universalString:
      return String.fromCodePoint(...Array.from({ length: content.length >> 2 }, (_, i) => content.readUInt32BE(i * 4)));
    case DerTag.printableString:
    case DerTag.ia5String:
    case DerTag.visibleString:
    case DerTag.numericString:
    case DerTag.teletexString:
      return content.toString('latin1');
    default:
      return undefined;
  }
}

function utf16be(content: Buffer): string {
  const swapped = Buffer.from(content.subarray(0, content.length & ~1));
  return swapped.swap16().toString('utf16le');
}

const TIME = /^(\d{2}|\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?(?:[.,](\d+))?(Z|[+-]\d{4})?$/;

/** A UTCTime (YY ≥ 50 is 19YY, RFC 5280) or GeneralizedTime. Lenient on seconds and zone, as some issuers were. */
export function decodeTime(element: DerElement): Date {
  const text = element.content.toString('latin1');
  const match = TIME.exec(text);
  const utc = element.tag === DerTag.utcTime;
  if (match === null || (!utc && element.tag !== DerTag.generalizedTime) || (match[1] ?? '').length !== (utc ? 2 : 4)) {
    throw new DerError(`unreadable time ${JSON.stringify(text)}`);
  }
  const [, yearText, month, day, hour, minute, second, fraction, zone] = match;
  let year = Number(yearText);
  if (utc) year += year >= 50 ? 1900 : 2000;
  const ms = fraction === undefined ? 0 : Math.round(Number(`0.${fraction}`) * 1000);
  let time = Date.UTC(year, Number(month) - 1, Number(day), Number(hour), Number(minute), Number(second ?? 0), ms);
  if (zone !== undefined && zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    time -= sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3, 5))) * 60_000;
  }
  return new Date(time);
}
