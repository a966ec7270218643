import { describe, expect, it } from 'vitest';
import { decodePunycode } from './punycode.js';

describe('decodePunycode', () => {
  it.each([
    ['bcher-kva', 'bücher'],
    ['mnchen-3ya', 'münchen'],
    ['fiqs8s', '中国'],
    ['wgv71a119e', '日本語'],
    ['ls8h', '💩'],
  ])('decodes %s to %s', (ace, unicode) => {
    expect(decodePunycode(ace)).toBe(unicode);
  });

  it.each(['zz', '-', '', 'abc-', 'a-b-c', '9999999999999', 'bcher-kv!'])('rejects %j, which encodes no valid non-ASCII text', (ace) => {
    expect(decodePunycode(ace)).toBeUndefined();
  });
});
