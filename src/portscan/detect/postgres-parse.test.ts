import { describe, expect, it } from 'vitest';
import { parsePostgresSslReply, POSTGRES_SSL_REQUEST } from './postgres-parse.js';

function errorResponse(fields: string[]): Buffer {
  const body = Buffer.from(`${fields.join('\0')}\0\0`, 'latin1');
  const header = Buffer.alloc(5);
  header[0] = 0x45;
  header.writeUInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

describe('PostgreSQL SSLRequest replies', () => {
  it('sends the 8-byte SSLRequest', () => {
    expect(POSTGRES_SSL_REQUEST.toString('hex')).toBe('0000000804d2162f');
  });

  it.each([
    [[0x4e], { kind: 'ssl', supported: false }],
    [[0x53], { kind: 'ssl', supported: true }],
    [[0x53, 0x53], undefined],
    [[0x4e, 0x0a], undefined],
    [[0x58], undefined],
    [[], undefined],
  ])('%j', (reply, expected) => {
    expect(parsePostgresSslReply(Buffer.from(reply))).toEqual(expected);
  });

  it('recognises an ErrorResponse', () => {
    const packet = errorResponse(['SFATAL', 'VFATAL', 'C0A000', 'Munsupported frontend protocol 1234.5679']);
    expect(parsePostgresSslReply(packet)).toEqual({ kind: 'error', message: 'unsupported frontend protocol 1234.5679' });
    expect(parsePostgresSslReply(errorResponse(['Xnothing']))).toBeUndefined();
    const lying = Buffer.from(packet);
    lying.writeUInt32BE(0xffffffff, 1);
    expect(parsePostgresSslReply(lying)).toBeUndefined();
  });
});
