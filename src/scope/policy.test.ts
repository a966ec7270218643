import { describe, expect, it } from 'vitest';
import { PortcullisError } from '../shared/errors.js';
import { ALLOW_LIST_RULE, DENY_LIST, OUTSIDE_ALLOW_LIST, createScopePolicy, describeDenial, embeddedIpv4 } from './policy.js';
import { formatRange, parseTarget } from './targets.js';
import type { AddressRange } from './types.js';

const r = (text: string): AddressRange => parseTarget(text).range as AddressRange;
const open = createScopePolicy({ allow: [], deny: [] });

describe('built-in deny list (always applies)', () => {
  it.each<[string, string, RegExp]>([
    // target, rule, reason
    ['0.0.0.0', '0.0.0.0/8', /^this network$/],
    ['0.1.2.3', '0.0.0.0/8', /this network/],
    ['169.254.1.1', '169.254.0.0/16', /^IPv4 link-local$/],
    ['169.254.169.254', '169.254.169.254', /^cloud metadata \(AWS, GCP, Azure, OpenStack\)$/],
    ['169.254.170.2', '169.254.170.2', /cloud metadata \(AWS ECS task metadata\)/],
    ['100.100.100.200', '100.100.100.200', /cloud metadata \(Alibaba/],
    ['192.0.0.192', '192.0.0.192', /cloud metadata \(Oracle/],
    ['fd00:ec2::254', 'fd00:ec2::254', /cloud metadata \(AWS IPv6/],
    ['224.0.0.1', '224.0.0.0/4', /IPv4 multicast/],
    ['239.255.255.250', '224.0.0.0/4', /IPv4 multicast/],
    ['ff02::1', 'ff00::/8', /IPv6 multicast/],
    ['255.255.255.255', '255.255.255.255', /^broadcast$/],
    ['240.0.0.1', '240.0.0.0/4', /^reserved$/],
    ['::', '::', /unspecified/],
    ['fe80::1', 'fe80::/10', /IPv6 link-local/],
    ['febf::1', 'fe80::/10', /IPv6 link-local/],
    // Ranges are denied when they overlap a rule; the broadest overlapped rule is named.
    ['169.0.0.0/8', '169.254.0.0/16', /IPv4 link-local/],
    ['169.254.169.0/24', '169.254.0.0/16', /IPv4 link-local/],
    ['169.254.169.250-169.254.169.255', '169.254.0.0/16', /IPv4 link-local/],
    ['100.100.100.0/24', '100.100.100.200', /Alibaba/],
    ['0.0.0.0/0', '0.0.0.0/8', /this network/],
    ['192.0.0.0/24', '192.0.0.192', /Oracle/],
    ['fd00:ec2::/64', 'fd00:ec2::254', /AWS IPv6/],
    ['::/0', '::', /unspecified/],
  ])('%s is denied by %s', (target, rule, reason) => {
    const denial = open.checkRange(r(target));
    expect(denial).toBeDefined();
    expect(denial?.rule).toBe(rule);
    expect(denial?.reason).toMatch(reason);
    expect(denial?.value).toBe(formatRange(r(target)));
  });

  it.each(['127.0.0.1', '127.0.0.0/8', '::1', '10.0.0.0/8', '192.168.1.1', '172.16.0.0/12', '100.64.0.1', 'fc00::1', '2001:db8::/32', '198.51.100.7', '223.255.255.255', '1.0.0.0-100.100.100.199'])(
    '%s is allowed (loopback and private space are not denied by default)',
    (target) => {
      expect(open.checkRange(r(target))).toBeUndefined();
    },
  );

  it('reports the most specific reason for metadata addresses, not link-local', () => {
    expect(open.checkRange(r('169.254.169.254'))).toEqual({
      value: '169.254.169.254',
      rule: '169.254.169.254',
      reason: 'cloud metadata (AWS, GCP, Azure, OpenStack)',
    });
    expect(open.checkResolved('169.254.170.2', 'x.example')?.reason).toMatch(/ECS/);
  });

  it('explains range overlaps in words', () => {
    const denial = open.checkRange(r('169.0.0.0/8'));
    expect(describeDenial(denial!)).toBe('169.0.0.0/8 overlaps 169.254.0.0/16 (IPv4 link-local), which scans may never include');
    expect(describeDenial(open.checkRange(r('169.254.1.0/24'))!)).toBe(
      '169.254.1.0/24 is in 169.254.0.0/16 (IPv4 link-local), which scans may never include',
    );
    expect(describeDenial(open.checkRange(r('169.254.169.254'))!)).toMatch(/^169\.254\.169\.254 is a built-in denied address: cloud metadata/);
  });
});

describe('IPv4 embedded in IPv6 is checked against the IPv4 rules', () => {
  it.each<[string, string, RegExp]>([
    ['64:ff9b::a9fe:a9fe', '169.254.169.254', /cloud metadata/],
    ['64:ff9b::169.254.169.254', '169.254.169.254', /cloud metadata/],
    ['64:ff9b::a9fe:1', '169.254.0.0/16', /link-local/],
    ['64:ff9b::/96', '0.0.0.0/8', /this network/],
    ['2002:a9fe:a9fe::1', '169.254.169.254', /cloud metadata/],
    ['2002:e000:1::', '224.0.0.0/4', /multicast/],
    ['::169.254.169.254', '169.254.169.254', /cloud metadata/],
    ['::2', '0.0.0.0/8', /this network/],
    // A raw IPv6 range that straddles the mapped block keeps family 6 but is still checked.
    ['::fffe:ffff:ffff-::ffff:a9fe:a9fe', '0.0.0.0/8', /this network/],
    ['::ffff:169.0.0.0-::ffff:a9fe:a9fe', '169.254.0.0/16', /link-local/],
  ])('%s → %s', (target, rule, reason) => {
    const denial = open.checkRange(r(target));
    expect(denial?.rule).toBe(rule);
    expect(denial?.reason).toMatch(reason);
  });

  it('explains the embedding', () => {
    expect(describeDenial(open.checkRange(r('64:ff9b::a9fe:a9fe'))!)).toMatch(
      /^64:ff9b::a9fe:a9fe carries the IPv4 169\.254\.169\.254 \(NAT64, 64:ff9b::\/96\); 169\.254\.169\.254 is a built-in denied address: cloud metadata/,
    );
  });

  it('checkResolved canonicalises IPv4-mapped answers', () => {
    expect(open.checkResolved('::ffff:169.254.169.254', 'a.example')?.rule).toBe('169.254.169.254');
    expect(open.checkResolved('::ffff:a9fe:a9fe', 'a.example')?.rule).toBe('169.254.169.254');
    expect(open.checkResolved('64:ff9b::a9fe:a9fe', 'a.example')?.rule).toBe('169.254.169.254');
    expect(open.checkResolved('::1', 'localhost')).toBeUndefined();
    expect(open.checkResolved('64:ff9b::808:808', 'dns.example')).toBeUndefined();
  });

  it('embeddedIpv4 maps each embedding', () => {
    expect(embeddedIpv4(r('64:ff9b::/96')).map((e) => [e.embedding, formatRange(e.range)])).toEqual([['NAT64, 64:ff9b::/96', '0.0.0.0/0']]);
    expect(embeddedIpv4(r('2002:0a00::/24')).map((e) => formatRange(e.range))).toEqual(['10.0.0.0/8']);
    expect(embeddedIpv4(r('::1'))).toEqual([]);
    expect(embeddedIpv4(r('10.0.0.1'))).toEqual([]);
  });
});

describe('host names', () => {
  it.each([
    ['metadata.google.internal', 'metadata.google.internal'],
    ['METADATA.Google.Internal.', 'metadata.google.internal'],
    ['metadata.goog', 'metadata.goog'],
    ['x.metadata.goog', 'metadata.goog'],
  ])('%s is denied (built-in)', (name, rule) => {
    const denial = open.checkHostname(name);
    expect(denial?.rule).toBe(rule);
    expect(denial?.reason).toMatch(/cloud metadata/);
    expect(open.checkResolved('10.0.0.1', name)?.rule).toBe(rule);
  });

  it.each(['google.internal', 'notmetadata.goog', 'metadata.google.internal.example.com', 'example.com'])('%s is not denied', (name) => {
    expect(open.checkHostname(name)).toBeUndefined();
  });

  it('refuses text that is not a host name', () => {
    expect(open.checkHostname('bad host')?.reason).toBe('not a valid host name');
    expect(open.checkResolved('not-an-ip', 'example.com')?.reason).toBe('not an IP address');
  });
});

describe('configured deny list', () => {
  const policy = createScopePolicy({ allow: [], deny: ['10.9.0.0/16', '192.0.2.7', 'corp.example', '*.lab.example', '2001:db8::/48', '198.51.100.10-20'] });

  it.each<[string, string | undefined]>([
    ['10.9.1.1', '10.9.0.0/16'],
    ['10.0.0.0/8', '10.9.0.0/16'],
    ['10.8.255.255', undefined],
    ['192.0.2.7', '192.0.2.7'],
    ['192.0.2.0/24', '192.0.2.7'],
    ['2001:db8::1', '2001:db8::/48'],
    ['2001:db8:1::1', undefined],
    ['198.51.100.15', '198.51.100.10-20'],
    ['::ffff:10.9.0.1', '10.9.0.0/16'],
    ['64:ff9b::10.9.0.1', '10.9.0.0/16'],
  ])('range %s → %s', (target, rule) => {
    const denial = policy.checkRange(r(target));
    expect(denial?.rule).toBe(rule);
    if (rule !== undefined) expect(denial?.reason).toBe(DENY_LIST);
  });

  it.each<[string, string | undefined]>([
    ['corp.example', 'corp.example'],
    ['www.corp.example', 'corp.example'],
    ['WWW.CORP.EXAMPLE.', 'corp.example'],
    ['notcorp.example', undefined],
    ['lab.example', undefined],
    ['a.lab.example', '*.lab.example'],
    ['a.b.lab.example', '*.lab.example'],
  ])('host %s → %s', (name, rule) => {
    expect(policy.checkHostname(name)?.rule).toBe(rule);
  });

  it('built-in rules still apply and win when more specific', () => {
    expect(policy.checkRange(r('169.254.169.254'))?.reason).toMatch(/cloud metadata/);
  });

  it('explains a deny-list hit', () => {
    expect(describeDenial(policy.checkRange(r('10.9.1.1'))!)).toBe('10.9.1.1 is in 10.9.0.0/16, which is on the scope deny-list (scope.deny)');
    expect(describeDenial(policy.checkHostname('www.corp.example')!)).toBe(
      'www.corp.example matches corp.example, which is on the scope deny-list (scope.deny)',
    );
  });
});

describe('allow list', () => {
  const policy = createScopePolicy({ allow: ['10.0.0.0/25', '10.0.0.128/25', '2001:db8::/64', 'example.com', '*.svc.example'], deny: [] });

  it.each<[string, boolean]>([
    ['10.0.0.1', true],
    ['10.0.0.0/24', true], // covered by the union of two allowed blocks
    ['10.0.0.0/23', false],
    ['10.0.1.1', false],
    ['2001:db8::1', true],
    ['2001:db8:1::1', false],
    ['127.0.0.1', false], // loopback is only allowed by default when no allow-list is set
  ])('range %s allowed: %s', (target, allowed) => {
    const denial = policy.checkRange(r(target));
    expect(denial === undefined).toBe(allowed);
    if (!allowed) expect(denial).toMatchObject({ rule: ALLOW_LIST_RULE, reason: expect.stringMatching(new RegExp(`^${OUTSIDE_ALLOW_LIST}`)) });
  });

  it('deny always wins over allow', () => {
    const both = createScopePolicy({ allow: ['10.0.0.0/24', 'example.com'], deny: ['10.0.0.66', 'www.example.com'] });
    expect(both.checkRange(r('10.0.0.66'))?.reason).toBe(DENY_LIST);
    expect(both.checkRange(r('10.0.0.0/24'))?.rule).toBe('10.0.0.66');
    expect(both.checkRange(r('10.0.0.65'))).toBeUndefined();
    expect(both.checkResolved('10.0.0.1', 'www.example.com')?.rule).toBe('www.example.com');
    expect(both.checkResolved('10.0.0.1', 'api.example.com')).toBeUndefined();
    const metadataAllowed = createScopePolicy({ allow: ['169.254.0.0/16', 'metadata.google.internal'], deny: [] });
    expect(metadataAllowed.checkRange(r('169.254.169.254'))?.reason).toMatch(/cloud metadata/);
    expect(metadataAllowed.checkHostname('metadata.google.internal')?.reason).toMatch(/cloud metadata/);
    expect(metadataAllowed.checkResolved('169.254.169.254', 'metadata.google.internal')?.reason).toMatch(/cloud metadata/);
  });

  it.each<[string, string, boolean]>([
    ['203.0.113.5', 'example.com', true],
    ['203.0.113.5', 'www.example.com', true],
    ['203.0.113.5', 'WWW.Example.COM.', true],
    ['203.0.113.5', 'a.svc.example', true],
    ['203.0.113.5', 'svc.example', false], // *.svc.example: subdomains only
    ['203.0.113.5', 'example.org', false],
    ['203.0.113.5', 'badexample.com', false],
    ['10.0.0.9', 'example.org', true], // the address itself is allowed
    ['169.254.169.254', 'www.example.com', false], // deny wins
  ])('resolved %s from %s allowed: %s', (ip, name, allowed) => {
    expect(policy.checkResolved(ip, name) === undefined).toBe(allowed);
  });

  it('explains partial coverage', () => {
    expect(describeDenial(policy.checkRange(r('10.0.0.0/23'))!)).toBe(
      '10.0.0.0/23 is not entirely inside the scope allow-list (scope.allow): 10.0.1.0/24 not covered, so it may not be scanned',
    );
    expect(describeDenial(policy.checkRange(r('11.0.0.1'))!)).toBe('11.0.0.1 is outside the scope allow-list (scope.allow), so it may not be scanned');
  });

  it('an allow-list of domains only refuses raw addresses', () => {
    const domainsOnly = createScopePolicy({ allow: ['example.com'], deny: [] });
    expect(domainsOnly.checkRange(r('10.0.0.1'))?.reason).toBe(OUTSIDE_ALLOW_LIST);
    expect(domainsOnly.checkResolved('10.0.0.1', 'host.example.com')).toBeUndefined();
  });
});

describe('invalid policy entries', () => {
  it.each<[string[], string[], string, RegExp]>([
    [['10.0.0.0/33'], [], 'scope.allow[0]', /out of range/],
    [[], ['ok.example', 'bad host'], 'scope.deny[1]', /whitespace/],
    [[], ['*.'], 'scope.deny[0]', /must be followed by a domain/],
    [[], ['*.10.0.0.1'], 'scope.deny[0]', /must be followed by a domain/],
    [['http://example.com'], [], 'scope.allow[0]', /URL/],
    [[''], [], 'scope.allow[0]', /empty/],
  ])('allow %j deny %j → config.invalid at %s', (allow, deny, field, message) => {
    let caught: unknown;
    try {
      createScopePolicy({ allow, deny });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(PortcullisError);
    const err = caught as PortcullisError;
    expect(err.code).toBe('config.invalid');
    expect(err.detail.field).toBe(field);
    expect(err.message).toContain(field);
    expect(err.message).toMatch(message);
  });
});
