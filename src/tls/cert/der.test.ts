import { describe, expect, it } from 'vitest';
import { childrenOf, DerError, DerTag, decodeOid, decodeString, decodeTime, readElement, readSingle } from './der.js';

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');
const element = (tag: number, content: Buffer): Buffer => {
  const length = content.length < 0x80 ? Buffer.from([content.length]) : Buffer.from([0x82, content.length >> 8, content.length & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, content]);
};

describe('readElement', () => {
  it('reads short and long lengths and says where the element ends', () => {
    const short = readElement(hex('02 01 05 ff'));
    expect(short).toMatchObject({ tag: DerTag.integer, end: 3 });
    expect(short.content).toEqual(hex('05'));
    const long = readElement(element(DerTag.octetString, Buffer.alloc(300, 7)));
    expect(long.content.length).toBe(300);
    expect(long.bytes.length).toBe(304);
  });

  it('lists the children of a constructed element in order', () => {
    const sequence = readSingle(element(DerTag.sequence, hex('02 01 01 04 02 aa bb')), 'test');
    expect(childrenOf(sequence).map((child) => child.tag)).toEqual([DerTag.integer, DerTag.octetString]);
  });

  it('refuses truncated elements, lengths past the end and trailing bytes', () => {
    expect(() => readElement(hex('30'))).toThrow(DerError);
    expect(() => readElement(hex('04 05 00 00'))).toThrow(/runs past the end/);
    expect(() => readElement(hex('04 84 ff ff ff ff'))).toThrow(DerError);
    expect(() => readSingle(hex('05 00 00'), 'test')).toThrow(/1 bytes after the element/);
  });
});

describe('decodeOid', () => {
  it('reads common object identifiers', () => {
    expect(decodeOid(hex('2a 86 48 86 f7 0d 01 01 0b'))).toBe('1.2.840.113549.1.1.11');
    expect(decodeOid(hex('55 04 03'))).toBe('2.5.4.3');
    expect(decodeOid(hex('2b 06 01 04 01 d6 79 02 04 02'))).toBe('1.3.6.1.4.1.11129.2.4.2');
  });

  it('reads arcs beyond 2^53 exactly (UUID-based OIDs)', () => {
    // 2.25.<2^64 + 1>: 2.25 → first byte 0x69; 2^64 + 1 in base 128 takes ten bytes.
    expect(decodeOid(hex('69 82 80 80 80 80 80 80 80 80 01'))).toBe('2.25.18446744073709551617');
  });

  it('refuses an identifier cut inside an arc', () => {
    expect(() => decodeOid(hex('2a 86'))).toThrow(/truncated object identifier/);
  });
});

describe('decodeString', () => {
  it('decodes the directory string types to text, and nothing else', () => {
    expect(decodeString(readElement(element(DerTag.utf8String, Buffer.from('Zürich', 'utf8'))))).toBe('Zürich');
    expect(decodeString(readElement(element(DerTag.printableString, Buffer.from('Example CA'))))).toBe('Example CA');
    expect(decodeString(readElement(element(DerTag.bmpString, Buffer.from('Zürich', 'utf16le').swap16())))).toBe('Zürich');
    expect(decodeString(readElement(element(DerTag.teletexString, Buffer.from('Zürich', 'latin1'))))).toBe('Zürich');
    expect(decodeString(readElement(hex('02 01 05')))).toBeUndefined();
  });
});

describe('decodeTime', () => {
  const time = (tag: number, text: string): Date => decodeTime(readElement(element(tag, Buffer.from(text, 'latin1'))));

  it('reads UTCTime with the RFC 5280 century rule', () => {
    expect(time(DerTag.utcTime, '491231235959Z').toISOString()).toBe('2049-12-31T23:59:59.000Z');
    expect(time(DerTag.utcTime, '500101000000Z').toISOString()).toBe('1950-01-01T00:00:00.000Z');
  });

  it('reads GeneralizedTime with fractions and offsets, and UTCTime without seconds', () => {
    expect(time(DerTag.generalizedTime, '20500101120000.5Z').toISOString()).toBe('2050-01-01T12:00:00.500Z');
    expect(time(DerTag.generalizedTime, '20260101120000+0200').toISOString()).toBe('2026-01-01T10:00:00.000Z');
    expect(time(DerTag.utcTime, '2601011200Z').toISOString()).toBe('2026-01-01T12:00:00.000Z');
  });

  it('refuses text that is no time, or a year of the wrong length for the type', () => {
    expect(() => time(DerTag.utcTime, 'yesterday')).toThrow(DerError);
    expect(() => time(DerTag.utcTime, '20260101120000Z')).toThrow(DerError);
  });
});
