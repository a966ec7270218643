import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';
import { errorOf } from '../testing/errors.js';
import { parseInetAton } from './address.js';
import { canonicalIp, formatIp, formatRange, normalizeHostname, parseIp, parseTarget } from './targets.js';
import type { AddressRange } from './types.js';

function canonical(input: string): { kind: string; text: string } {
  const t = parseTarget(input);
  return { kind: t.kind, text: t.range !== undefined ? formatRange(t.range) : (t.hostname as string) };
}

describe('parseTarget accepts', () => {
  it.each([
    // IPv4
    ['10.0.0.1', 'ip', '10.0.0.1'],
    ['0.0.0.0', 'ip', '0.0.0.0'],
    ['255.255.255.255', 'ip', '255.255.255.255'],
    // IPv6, canonicalised (RFC 5952)
    ['::1', 'ip', '::1'],
    ['2001:DB8:0:0:0:0:0:1', 'ip', '2001:db8::1'],
    ['2001:0db8:0000:0000:0001:0000:0000:0001', 'ip', '2001:db8::1:0:0:1'],
    ['[2001:db8::1]', 'ip', '2001:db8::1'],
    ['64:ff9b::1.2.3.4', 'ip', '64:ff9b::102:304'],
    // IPv4-mapped IPv6 is the IPv4 address it carries
    ['::ffff:1.2.3.4', 'ip', '1.2.3.4'],
    ['::ffff:102:304', 'ip', '1.2.3.4'],
    ['::FFFF:169.254.169.254', 'ip', '169.254.169.254'],
    ['::ffff:10.0.0.0/104', 'cidr', '10.0.0.0/8'],
    // CIDR: host bits allowed (nmap), prefix bounds
    ['10.0.0.5/24', 'cidr', '10.0.0.0/24'],
    ['10.0.0.0/32', 'cidr', '10.0.0.0'],
    ['0.0.0.0/0', 'cidr', '0.0.0.0/0'],
    ['2001:db8::1/64', 'cidr', '2001:db8::/64'],
    ['::/0', 'cidr', '::/0'],
    ['2001:db8::1/128', 'cidr', '2001:db8::1'],
    // Dash ranges
    ['10.0.0.1-10.0.0.20', 'range', '10.0.0.1-10.0.0.20'],
    ['10.0.0.1-20', 'range', '10.0.0.1-10.0.0.20'],
    ['10.0.0.0-255', 'range', '10.0.0.0/24'],
    ['10.0.0.7-7', 'range', '10.0.0.7'],
    ['10.0.0.255-10.0.1.0', 'range', '10.0.0.255-10.0.1.0'],
    ['2001:db8::1-2001:db8::ff', 'range', '2001:db8::1-2001:db8::ff'],
    // Host names: lower-cased, trailing dot removed, IDN → punycode
    ['Example.COM', 'hostname', 'example.com'],
    ['example.com.', 'hostname', 'example.com'],
    ['localhost', 'hostname', 'localhost'],
    ['a-b.c-d.example', 'hostname', 'a-b.c-d.example'],
    ['123.example.com', 'hostname', '123.example.com'],
    ['Bücher.DE', 'hostname', 'xn--bcher-kva.de'],
    ['xn--bcher-kva.de', 'hostname', 'xn--bcher-kva.de'],
    [`${'a'.repeat(63)}.com`, 'hostname', `${'a'.repeat(63)}.com`],
  ])('%s → %s %s', (input, kind, text) => {
    expect(canonical(input)).toEqual({ kind, text });
  });

  it('keeps the input text as given', () => {
    expect(parseTarget('Example.COM.').input).toBe('Example.COM.');
  });
});

describe('parseTarget turns numeric host forms into the IPv4 address the OS resolver would use', () => {
  it.each([
    ['2130706433', '127.0.0.1'],
    ['0x7f000001', '127.0.0.1'],
    ['0X7F000001', '127.0.0.1'],
    ['0177.0.0.1', '127.0.0.1'],
    ['127.1', '127.0.0.1'],
    ['127.0.1', '127.0.0.1'],
    ['0', '0.0.0.0'],
    ['0x0', '0.0.0.0'],
    ['00', '0.0.0.0'],
    ['0xa9fea9fe', '169.254.169.254'],
    ['2852039166', '169.254.169.254'],
    ['0251.0376.0251.0376', '169.254.169.254'],
    ['0xa9.0xfe.0xa9.0xfe', '169.254.169.254'],
    ['169.254.43518', '169.254.169.254'],
    ['010.0.0.1', '8.0.0.1'],
    ['127.0.0.1.', '127.0.0.1'],
    // Unicode that the IDN conversion turns into a numeric host
    ['169。254。169。254', '169.254.169.254'],
    ['１２７.０.０.１', '127.0.0.1'],
  ])('%s → %s', (input, ip) => {
    expect(canonical(input)).toEqual({ kind: 'ip', text: ip });
  });

  it('agrees with inet_aton on edge values', () => {
    expect(parseInetAton('4294967295')).toBe(0xffffffffn);
    expect(parseInetAton('4294967296')).toBeUndefined();
    expect(parseInetAton('1.16777215')).toBe(0x01ffffffn);
    expect(parseInetAton('1.16777216')).toBeUndefined();
    expect(parseInetAton('08')).toBeUndefined();
    expect(parseInetAton('0x')).toBeUndefined();
    expect(parseInetAton('1.2.3.4.5')).toBeUndefined();
  });
});

describe('parseTarget rejects', () => {
  it.each([
    ['', /is empty/],
    [' 10.0.0.1', /whitespace/],
    ['10.0.0.1 10.0.0.2', /whitespace/],
    ['example.com\n', /control characters/],
    ['exa\u0000mple.com', /control characters/],
    ['a'.repeat(256), /longer than 255 characters/],
    [`${'a.'.repeat(126)}com`, /longer than 253 characters/],
    ['http://example.com', /looks like a URL/],
    ['https://10.0.0.1/', /looks like a URL/],
    ['example.com:443', /has a port/],
    ['10.0.0.1:22', /has a port/],
    ['example.com/path', /only an IP address may be followed by "\/prefix"/],
    ['10.0.0.0/33', /out of range for IPv4/],
    ['2001:db8::/129', /out of range for IPv6/],
    ['10.0.0.0/', /prefix length/],
    ['10.0.0.0/-1', /prefix length/],
    ['10.0.0.0/8/8', /prefix length/],
    ['010.0.0.0/8', /base of a CIDR block/],
    ['fe80::1%eth0', /zone id/],
    ['fe80::1%25eth0', /zone id/],
    ['[fe80::1%eth0]', /zone id/],
    ['[10.0.0.1]', /brackets/],
    ['[::1', /brackets/],
    ['1.2.3.256', /not a valid one/],
    ['256.1.1.1', /not a valid one/],
    ['1.2.3.4.5', /not a valid one/],
    ['08.1.1.1', /not a valid one/],
    ['0x', /not a valid one/],
    ['10.0.0.20-10.0.0.1', /ends before it starts/],
    ['10.0.0.20-1', /ends before it starts/],
    ['10.0.0.1-256', /last octet/],
    ['10.0.0.1-host', /range end "host" is not an IP address/],
    ['10.0.0.1-::1', /mixes IPv4 and IPv6/],
    ['2001:db8::ff-2001:db8::1', /ends before it starts/],
    ['10.0.0-3.1-254', /nmap octet ranges/],
    ['1:2:3:4:5:6:7:8:9', /not a valid IPv6 address/],
    ['1::2::3', /not a valid IPv6 address/],
    ['::ffff:1.2.3.256', /not a valid IPv6 address/],
    ['a..b', /empty label/],
    ['.example.com', /empty label/],
    ['example.com..', /empty label/],
    ['-a.example.com', /starts or ends with "-"/],
    ['a-.example.com', /starts or ends with "-"/],
    ['under_score.example.com', /contains "_"/],
    ['ex!ample.com', /characters other than/],
    [`${'a'.repeat(64)}.com`, /longer than 63 characters/],
    ['xn--zz.com', /punycode|international/],
    ['.', /not a valid host name/],
    ['*.example.com', /characters other than/],
  ])('%j', (input, message) => {
    const err = errorOf(() => parseTarget(input, 'targets[2]'));
    expect(err.code).toBe('target.invalid');
    expect(err.status).toBe(400);
    expect(err.message).toMatch(message);
    expect(err.message).toContain('targets[2]');
    expect(err.detail).toEqual({ value: input, field: 'targets[2]' });
  });

  it('names the value in the message, quoted and shortened', () => {
    const err = errorOf(() => parseTarget('bad host'));
    expect(err.message).toBe('target "bad host" is invalid: it contains whitespace; give one target per entry');
    expect(err.detail).toEqual({ value: 'bad host' });
    const long = errorOf(() => parseTarget('x'.repeat(300)));
    expect(long.message.length).toBeLessThan(200);
  });
});

describe('parseIp / formatIp / formatRange', () => {
  it.each([
    ['1.2.3.4', 4, 0x01020304n],
    ['::', 6, 0n],
    ['::1', 6, 1n],
    ['::ffff:1.2.3.4', 4, 0x01020304n],
    ['fd00:ec2::254', 6, 0xfd000ec2000000000000000000000254n],
  ])('parseIp(%s)', (text, family, value) => {
    expect(parseIp(text)).toEqual({ family, value });
  });

  it.each(['010.0.0.1', '127.1', '0x7f000001', 'example.com', '1.2.3.4/32', 'fe80::1%eth0', '', ' 1.2.3.4', '1.2.3.4 '])(
    'parseIp is strict: %j is not an IP literal',
    (text) => {
      expect(parseIp(text)).toBeUndefined();
    },
  );

  it.each([
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['1:0:0:0:0:0:0:0', '1::'],
    ['FE80::ABCD', 'fe80::abcd'],
  ])('canonicalIp(%s) = %s (RFC 5952)', (text, expected) => {
    expect(canonicalIp(text)).toBe(expected);
  });

  it('formats IPv6 like ipaddr.js toRFC5952String on random addresses', () => {
    let seed = 12345;
    const rand16 = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      // Many zero groups, to exercise the :: choice.
      return seed % 3 === 0 ? 0 : seed & 0xffff;
    };
    for (let i = 0; i < 2000; i++) {
      const groups = Array.from({ length: 8 }, rand16);
      let value = 0n;
      for (const g of groups) value = (value << 16n) | BigInt(g);
      const mine = formatIp(6, value);
      const theirs = ipaddr.IPv6.parse(groups.map((g) => g.toString(16)).join(':')).toRFC5952String();
      expect(mine).toBe(theirs);
      expect(parseIp(mine)?.value ?? value).toBe(value);
    }
  });

  it.each<[AddressRange, string]>([
    [{ family: 4, start: 0x0a000001n, end: 0x0a000001n }, '10.0.0.1'],
    [{ family: 4, start: 0x0a000000n, end: 0x0a0000ffn }, '10.0.0.0/24'],
    [{ family: 4, start: 0x0a000001n, end: 0x0a0000ffn }, '10.0.0.1-10.0.0.255'],
    [{ family: 4, start: 0n, end: 0xffffffffn }, '0.0.0.0/0'],
    [{ family: 6, start: 0x20010db8n << 96n, end: (0x20010db8n << 96n) | ((1n << 64n) - 1n) }, '2001:db8::/64'],
    [{ family: 6, start: 1n, end: 2n }, '::1-::2'],
  ])('formatRange %#', (range, text) => {
    expect(formatRange(range)).toBe(text);
  });

  it('rejects out-of-range values', () => {
    expect(() => formatIp(4, 1n << 32n)).toThrow(RangeError);
    expect(() => formatIp(6, -1n)).toThrow(RangeError);
  });

  it('normalizeHostname', () => {
    expect(normalizeHostname('WWW.Example.com.')).toBe('www.example.com');
    expect(normalizeHostname('127.1')).toBeUndefined();
    expect(normalizeHostname('bad host')).toBeUndefined();
  });
});
