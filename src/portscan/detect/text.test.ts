import { describe, expect, it } from 'vitest';
import { cleanText, escapeBytes, splitProductVersion } from './text.js';

describe('text helpers', () => {
  it('escapes to printable ASCII without cutting an escape in half', () => {
    expect(escapeBytes(Buffer.from('a\tb\\c\x00', 'latin1'))).toBe('a\\x09b\\x5cc\\x00');
    expect(escapeBytes(Buffer.from('ab\x01', 'latin1'), 5)).toBe('ab');
    expect(escapeBytes(Buffer.from('ab\x01', 'latin1'), 6)).toBe('ab\\x01');
  });

  it('cleans human text', () => {
    expect(cleanText('  a\r\n\tb\u0000c  ', 10)).toBe('a b c');
    expect(cleanText('😀😀😀', 2)).toBe('😀😀');
  });

  it.each([
    ['OpenSSH_9.2p1', { product: 'OpenSSH', version: '9.2p1' }],
    ['nginx/1.24.0', { product: 'nginx', version: '1.24.0' }],
    ['libssh-0.10.6', { product: 'libssh', version: '0.10.6' }],
    ['Go', { product: 'Go' }],
    ['WeirdName_v2', { product: 'WeirdName', version: '2' }],
  ])('splits %j', (token, expected) => {
    expect(splitProductVersion(token)).toEqual(expected);
  });
});
