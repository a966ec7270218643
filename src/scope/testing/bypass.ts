/**
 * Scope-policy bypass attempts and a rebinding resolver, shared by the policy-level suite
 * (src/scope/bypass.test.ts) and the API suite (src/server/scope-bypass.test.ts). The addresses are
 * parsing data only: nothing ever connects to them.
 */
import type { Resolver } from '../types.js';

/** A target as an attacker might write it, and what the scope layer must make of it. */
export interface LiteralAttempt {
  input: string;
  /** The canonical address the text denotes, which the policy refuses; 'invalid' when it is no target at all. */
  denotes: string;
}

const attempts = (denotes: string, inputs: string[]): LiteralAttempt[] => inputs.map((input) => ({ input, denotes }));

/** Written without a host name, so each is refused without any name resolution. */
export const LITERAL_ATTEMPTS: readonly LiteralAttempt[] = [
  // inet_aton / WHATWG URL notations: what getaddrinfo and browsers would connect to.
  ...attempts('169.254.169.254', [
    '2852039166',
    '0xa9fea9fe',
    '0XA9FEA9FE',
    '0251.0376.0251.0376',
    '0000251.0376.0251.0376',
    '169.254.43518',
    '169.0xfe.0xa9fe',
    '0xa9.254.169.254',
    '0xa9.0xfe.0xa9.0xfe',
    '169.254.169.254.',
    '0xa9fea9fe.',
  ]),
  // A leading zero makes an octet octal: 0254 is 172.
  ...attempts('169.254.169.172', ['169.254.169.0254', '169.254.169.00254']),
  ...attempts('invalid', ['0169.0254.0169.0254', '169.254.169.2540', '169.254.169.256', '0x1a9fea9fe', '4294967296', '①⑥⑨.254.169.254']),
  ...attempts('100.100.100.200', ['1684301000', '0x646464c8', '100.100.25800']),
  ...attempts('255.255.255.255', ['4294967295', '0xffffffff']),
  ...attempts('0.0.0.0', ['0', '0x0', '0.0', '00000000']),
  ...attempts('224.0.0.1', ['3758096385', '0xe0000001']),
  // IPv4 carried in IPv6: mapped, compatible, translated (SIIT), NAT64, 6to4, Teredo.
  ...attempts('169.254.169.254', [
    '::ffff:169.254.169.254',
    '::ffff:a9fe:a9fe',
    '::FFFF:A9FE:A9FE',
    '[::ffff:169.254.169.254]',
    '[::ffff:a9fe:a9fe]',
    '0:0:0:0:0:ffff:a9fe:a9fe',
    '0000:0000:0000:0000:0000:ffff:a9fe:a9fe',
    '::ffff:169.254.169.254/128',
  ]),
  ...attempts('::a9fe:a9fe', ['::169.254.169.254', '::a9fe:a9fe']),
  ...attempts('::ffff:0:a9fe:a9fe', ['::ffff:0:169.254.169.254', '::ffff:0:a9fe:a9fe']),
  ...attempts('64:ff9b::a9fe:a9fe', ['64:ff9b::a9fe:a9fe', '64:ff9b::169.254.169.254', '[64:ff9b::a9fe:a9fe]']),
  ...attempts('64:ff9b:1::a9fe:a9fe', ['64:ff9b:1::a9fe:a9fe']),
  ...attempts('2002:a9fe:a9fe::1', ['2002:a9fe:a9fe::1']),
  // Teredo: server 169.254.169.254; client 169.254.169.254 stored with every bit flipped.
  ...attempts('2001:0:a9fe:a9fe::1', ['2001:0:a9fe:a9fe::1']),
  ...attempts('2001:0:4136:e378:8000:63bf:5601:5601', ['2001:0:4136:e378:8000:63bf:5601:5601']),
  // IPv6 link-local, metadata, multicast, unspecified; zero padding and case.
  ...attempts('fe80::1', ['fe80::1', 'FE80::1', 'fe80:0000:0000:0000:0000:0000:0000:0001', '[fe80::1]']),
  ...attempts('febf::1', ['febf::1']),
  ...attempts('fd00:ec2::254', ['fd00:ec2::254', 'fd00:0ec2:0:0:0:0:0:0254', 'FD00:EC2::254']),
  ...attempts('ff02::1', ['ff02::1']),
  ...attempts('::', ['::', '[::]', '0:0:0:0:0:0:0:0']),
  // Unicode that IDNA maps to ASCII digits and dots.
  ...attempts('169.254.169.254', ['１６９.２５４.１６９.２５４', '169。254。169。254', '169．254．169．254', '𝟏𝟔𝟗.𝟐𝟓𝟒.𝟏𝟔𝟗.𝟐𝟓𝟒', '⑯⑨.②⑤④.⑯⑨.②⑤④', '169.254.169.254\u200b']),
  // IPv6 zone ids.
  ...attempts('invalid', ['fe80::1%eth0', 'fe80::1%25eth0', '[fe80::1%eth0]', 'fe80::1%1', '169.254.169.254%eth0']),
  // URL-ish input.
  ...attempts('invalid', [
    'http://169.254.169.254/',
    'http://169.254.169.254',
    'HTTPS://[::ffff:a9fe:a9fe]/',
    '//169.254.169.254',
    'user@169.254.169.254',
    'user:pass@169.254.169.254',
    'example.com@169.254.169.254',
    '169.254.169.254/latest/meta-data',
    '169.254.169.254#@example.com',
    '169.254.169.254?x',
    '169.254.169.254\\',
    '169.254.169.254:80',
    '[::ffff:a9fe:a9fe]:80',
  ]),
  // Whitespace and control characters around or inside the address.
  ...attempts('invalid', [
    ' 169.254.169.254',
    '169.254.169.254 ',
    '\t169.254.169.254',
    '169.254.169.254\n',
    '169.254.169.254\r\n127.0.0.1',
    '169.254.169.254\u0000',
    '\u0000169.254.169.254',
    '169.254.169.254\u00a0',
    '169.254.169.254\ufeff',
    '169.254.169.254\u2028',
    '\u202e169.254.169.254',
    '169.254.\u0085169.254',
    '169 .254.169.254',
  ]),
];

/**
 * The resolver's answers for names an attacker controls: each name resolves (also) to an address the
 * policy refuses, in whichever notation a DNS server or /etc/hosts might give it.
 */
export const REFUSED_NAMES: Readonly<Record<string, string[]>> = {
  'metadata.test': ['169.254.169.254'],
  'mapped.test': ['::ffff:169.254.169.254'],
  'mapped-hex.test': ['::ffff:a9fe:a9fe'],
  'nat64.test': ['64:ff9b::a9fe:a9fe'],
  'sixtofour.test': ['2002:a9fe:a9fe::1'],
  'ecs.test': ['169.254.170.2'],
  'alibaba.test': ['100.100.100.200'],
  'ec2v6.test': ['fd00:ec2::254'],
  'linklocal.test': ['169.254.1.1'],
  'linklocal6.test': ['fe80::1'],
  'zero.test': ['0.0.0.0'],
  'multicast.test': ['224.0.0.251'],
  'multicast6.test': ['ff02::fb'],
  'broadcast.test': ['255.255.255.255'],
  'mixed.test': ['127.0.0.1', '169.254.169.254'],
  'mixed6.test': ['::1', 'fe80::1'],
  // mëtadata.test
  'xn--mtadata-rya.test': ['169.254.169.254'],
};

/** Names as typed: each must be refused, by name or by its resolver answer. */
export const NAME_ATTEMPTS: readonly string[] = [
  ...Object.keys(REFUSED_NAMES),
  'METADATA.TEST',
  'metadata.test.',
  'Metadata.Test.',
  'ｍｅｔａｄａｔａ.test',
  'meta\u00addata.test',
  'ⓜetadata.test',
  'metadata\u3002test',
  'mëtadata.test',
  'MËTADATA.TEST.',
  // Built-in metadata names, refused before any resolution.
  'metadata.google.internal',
  'METADATA.GOOGLE.INTERNAL.',
  'metadata.goog',
  'computeMetadata.metadata.goog',
];

/** Other notations of 127.0.0.1: accepted, and connected to only as the canonical address. */
export const LOOPBACK_NOTATIONS: readonly string[] = [
  '2130706433',
  '0x7f000001',
  '0177.0.0.1',
  '127.1',
  '0x7f.1',
  '127.0.0.1.',
  '::ffff:127.0.0.1',
  '::ffff:7f00:1',
  '[::ffff:7f00:1]',
  '１２７.０.０.１',
  '127.0.0.①',
];

/** A resolver that records every name it is asked for. */
export function recordingResolver(inner: Resolver): Resolver & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    resolve(name: string): Promise<string[]> {
      asked.push(name);
      return inner.resolve(name);
    },
  };
}

/** DNS rebinding: the n-th lookup of any name gets answers[n] (the last one from then on). */
export function rebindingResolver(...answers: string[][]): Resolver & { asked: string[] } {
  let lookups = 0;
  return recordingResolver({ resolve: async () => [...(answers[Math.min(lookups++, answers.length - 1)] ?? [])] });
}
