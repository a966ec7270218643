import { describe, expect, it } from 'vitest';
import { PortcullisError } from '../shared/errors.js';
import { failureOf } from '../testing/errors.js';
import { deserializePlan, planAddresses, planTargets, serializePlan, type PlanOptions } from './plan.js';
import { createScopePolicy } from './policy.js';
import { staticResolver } from './resolver.js';
import { formatRange } from './targets.js';
import type { Resolver, SerializedPlan, TargetPlan } from './types.js';

const resolver = staticResolver({
  'app.test': ['127.0.0.10', '::1'],
  'db.test': ['127.0.0.11'],
  'both.test': ['127.0.0.10', '127.0.0.11'],
  'meta.test': ['169.254.169.254'],
  'mixed.test': ['127.0.0.12', '169.254.169.254'],
  'mapped-meta.test': ['::ffff:169.254.169.254'],
  'nat64-meta.test': ['64:ff9b::a9fe:a9fe'],
  'linklocal6.test': ['fe80::1'],
  'ecs.test': ['169.254.170.2'],
  'external.test': ['203.0.113.9'],
});

const base = (over: Partial<PlanOptions> = {}): PlanOptions => ({
  resolver,
  policy: createScopePolicy({ allow: [], deny: [] }),
  maxAddresses: 65_536,
  ...over,
});

const show = (plan: TargetPlan): string[] => plan.ranges.map(formatRange);

describe('planTargets builds the exact address set', () => {
  it.each<[string[], string[], string[], number]>([
    [['127.0.0.1'], [], ['127.0.0.1'], 1],
    [['127.0.0.0/24'], ['127.0.0.0', '127.0.0.255'], ['127.0.0.1-127.0.0.254'], 254],
    [['127.0.0.1-10', '127.0.0.5-20'], [], ['127.0.0.1-127.0.0.20'], 20],
    [['::1', '127.0.0.1'], [], ['127.0.0.1', '::1'], 2],
    [['app.test', 'db.test'], [], ['127.0.0.10/31', '::1'], 3],
    [['127.0.0.0/28'], ['app.test'], ['127.0.0.0-127.0.0.9', '127.0.0.11-127.0.0.15'], 15],
    [['APP.test.'], ['::1'], ['127.0.0.10'], 1],
    [['127.0.0.0/30', '127.0.0.2'], [], ['127.0.0.0/30'], 4],
    [['0x7f000001', '2130706433', '127.1', '0177.0.0.1'], [], ['127.0.0.1'], 1],
  ])('%j excluding %j → %j', async (targets, exclude, ranges, count) => {
    const plan = await planTargets(targets, base({ exclude }));
    expect(show(plan)).toEqual(ranges);
    expect(plan.addressCount).toBe(count);
  });

  it('records which host names each address came from', async () => {
    const plan = await planTargets(['app.test', 'both.test', '127.0.0.10', 'db.test'], base({ exclude: ['127.0.0.11'] }));
    expect(plan.hostnames).toEqual({ '127.0.0.10': ['app.test', 'both.test'], '::1': ['app.test'] });
  });

  it('resolves each name once and at most 16 at a time', async () => {
    let inFlight = 0;
    let peak = 0;
    const calls: string[] = [];
    const counting: Resolver = {
      async resolve(name) {
        calls.push(name);
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
        const n = Number(/^h(\d+)\./.exec(name)?.[1]);
        return [`127.0.1.${n}`];
      },
    };
    const targets = Array.from({ length: 40 }, (_, i) => `h${i}.test`);
    const plan = await planTargets([...targets, 'H0.test'], base({ resolver: counting }));
    expect(plan.addressCount).toBe(40);
    expect(calls).toHaveLength(40);
    expect(peak).toBe(16);
  });

  it('plans lazily-iterable addresses in order', async () => {
    const plan = await planTargets(['127.0.0.0/16'], base());
    const it = planAddresses(plan)[Symbol.iterator]();
    expect([it.next().value, it.next().value]).toEqual(['127.0.0.0', '127.0.0.1']);
    let n = 0;
    for (const _ of planAddresses(plan)) n++;
    expect(n).toBe(65_536);
  });
});

describe('planTargets refuses bypass attempts', () => {
  it.each<[string, string, RegExp]>([
    // target, rule, message
    ['169.254.169.254', '169.254.169.254', /cloud metadata/],
    ['0xa9fea9fe', '169.254.169.254', /"0xa9fea9fe" \(= 169\.254\.169\.254\) may not be scanned: 169\.254\.169\.254 is a built-in denied address: cloud metadata/],
    ['2852039166', '169.254.169.254', /"2852039166" \(= 169\.254\.169\.254\)/],
    ['0251.0376.0251.0376', '169.254.169.254', /\(= 169\.254\.169\.254\)/],
    ['169.254.43518', '169.254.169.254', /\(= 169\.254\.169\.254\)/],
    ['::ffff:169.254.169.254', '169.254.169.254', /"::ffff:169\.254\.169\.254" \(= 169\.254\.169\.254\)/],
    ['::ffff:a9fe:a9fe', '169.254.169.254', /cloud metadata/],
    ['64:ff9b::a9fe:a9fe', '169.254.169.254', /carries the IPv4 169\.254\.169\.254 \(NAT64/],
    ['2002:a9fe:a9fe::', '169.254.169.254', /6to4/],
    ['169。254。169。254', '169.254.169.254', /cloud metadata/],
    ['0', '0.0.0.0/8', /this network/],
    ['0.0.0.0', '0.0.0.0/8', /this network/],
    ['169.0.0.0/8', '169.254.0.0/16', /169\.0\.0\.0\/8 overlaps 169\.254\.0\.0\/16 \(IPv4 link-local\), which scans may never include/],
    ['fe80::1', 'fe80::/10', /IPv6 link-local/],
    ['fd00:ec2::254', 'fd00:ec2::254', /AWS IPv6/],
    ['100.100.100.200', '100.100.100.200', /Alibaba/],
    ['192.0.0.192', '192.0.0.192', /Oracle/],
    ['224.0.0.1', '224.0.0.0/4', /multicast/],
    ['255.255.255.255', '255.255.255.255', /broadcast/],
    ['::', '::', /unspecified/],
    // Names: deny-listed names, and names that resolve to denied addresses
    ['metadata.google.internal', 'metadata.google.internal', /cloud metadata/],
    ['METADATA.GOOGLE.INTERNAL.', 'metadata.google.internal', /cloud metadata/],
    ['meta.test', '169.254.169.254', /"meta\.test" resolves to 169\.254\.169\.254, which may not be scanned: .*cloud metadata/],
    ['META.TEST.', '169.254.169.254', /resolves to 169\.254\.169\.254/],
    ['mixed.test', '169.254.169.254', /"mixed\.test" resolves to 169\.254\.169\.254/],
    ['mapped-meta.test', '169.254.169.254', /resolves to 169\.254\.169\.254/],
    ['nat64-meta.test', '169.254.169.254', /resolves to 64:ff9b::a9fe:a9fe/],
    ['linklocal6.test', 'fe80::/10', /IPv6 link-local/],
    ['ecs.test', '169.254.170.2', /ECS/],
  ])('%s', async (target, rule, message) => {
    const err = await failureOf(planTargets(['127.0.0.1', target], base()));
    expect(err.code).toBe('scope.denied');
    expect(err.status).toBe(403);
    expect(err.message).toMatch(/^targets\[1\] /);
    expect(err.message).toMatch(message);
    expect(err.detail).toMatchObject({ value: target, field: 'targets[1]', rule });
    expect(typeof err.detail.reason).toBe('string');
  });

  it('checks every resolved address even when one of them is excluded', async () => {
    const err = await failureOf(planTargets(['mixed.test'], base({ exclude: ['169.254.169.254'] })));
    expect(err.code).toBe('scope.denied');
    expect(err.detail.address).toBe('169.254.169.254');
  });

  it('lets address exclusions carve a denied address out of a range', async () => {
    const plan = await planTargets(['100.100.100.0/24'], base({ exclude: ['100.100.100.200'] }));
    expect(plan.addressCount).toBe(255);
    const err = await failureOf(planTargets(['100.100.100.0/24'], base({ exclude: ['100.100.100.201'] })));
    expect(err.code).toBe('scope.denied');
  });

  it('applies the allow-list to addresses and to the names they came from', async () => {
    const policy = createScopePolicy({ allow: ['127.0.0.0/24', 'test'], deny: ['db.test'] });
    await expect(planTargets(['127.0.0.0/25', 'app.test', 'external.test'], base({ policy }))).resolves.toMatchObject({ addressCount: 130 });
    const outside = await failureOf(planTargets(['127.0.1.1'], base({ policy })));
    expect(outside.code).toBe('scope.denied');
    expect(outside.detail).toMatchObject({ rule: 'scope.allow', reason: 'outside allow-list' });
    expect(outside.message).toBe('targets[0] 127.0.1.1 may not be scanned: 127.0.1.1 is outside the scope allow-list (scope.allow), so it may not be scanned');
    const denied = await failureOf(planTargets(['db.test'], base({ policy })));
    expect(denied.detail).toMatchObject({ rule: 'db.test', reason: 'deny-list' });
    const strict = createScopePolicy({ allow: ['127.0.0.0/24'], deny: [] });
    const external = await failureOf(planTargets(['external.test'], base({ policy: strict })));
    expect(external.message).toMatch(/"external\.test" resolves to 203\.0\.113\.9, which may not be scanned: .*outside the scope allow-list/);
  });
});

describe('planTargets refuses invalid and oversized requests', () => {
  it.each<[string[], string[], string, string, RegExp]>([
    [[], [], 'target.invalid', 'targets', /no targets given/],
    [['127.0.0.1', 'bad host'], [], 'target.invalid', 'targets[1]', /^targets\[1\] "bad host" is invalid: it contains whitespace/],
    [['127.0.0.1'], ['127.0.0.0/33'], 'target.invalid', 'exclude[0]', /^exclude\[0\] "127\.0\.0\.0\/33" is invalid/],
    [['127.0.0.1'], ['127.0.0.1'], 'target.invalid', 'exclude', /no addresses are left/],
    [['nowhere.test'], [], 'target.unresolvable', 'targets[0]', /^cannot resolve "nowhere\.test"/],
    [['127.0.0.1'], ['nowhere.test'], 'target.unresolvable', 'exclude[0]', /^cannot resolve "nowhere\.test"/],
    [['127.0.0.0/15'], [], 'target.too-large', 'targets', /131,072 addresses, more than the limit of 65,536 per scan.*scope\.maxAddressesPerScan.*PORTCULLIS_MAX_ADDRESSES/],
    [['2001:db8::/64'], [], 'target.too-large', 'targets', /18,446,744,073,709,551,616 addresses/],
    [['2001:db8::/32'], [], 'target.too-large', 'targets', /addresses, more than the limit/],
  ])('%j excluding %j → %s', async (targets, exclude, code, field, message) => {
    const err = await failureOf(planTargets(targets, base({ exclude })));
    expect(err.code).toBe(code);
    expect(err.detail.field).toBe(field);
    expect(err.message).toMatch(message);
  });

  it('rejects an IPv6 /64 at once, without expanding it', async () => {
    const started = performance.now();
    const err = await failureOf(planTargets(['2001:db8::/64'], base()));
    expect(err.code).toBe('target.too-large');
    expect(err.detail).toMatchObject({ count: (1n << 64n).toString(), limit: 65_536 });
    expect(performance.now() - started).toBeLessThan(100);
  });

  it('counts after exclusions', async () => {
    const plan = await planTargets(['127.0.0.0/15'], base({ exclude: ['127.1.0.0/16'] }));
    expect(plan.addressCount).toBe(65_536);
    await expect(planTargets(['127.0.0.0/24'], base({ maxAddresses: 256 }))).resolves.toMatchObject({ addressCount: 256 });
    expect((await failureOf(planTargets(['127.0.0.0/24'], base({ maxAddresses: 255 })))).code).toBe('target.too-large');
  });

  it('refuses a bad limit as a configuration error', async () => {
    expect((await failureOf(planTargets(['127.0.0.1'], base({ maxAddresses: 0 })))).code).toBe('config.invalid');
  });

  it('rejects non-string entries', async () => {
    const err = await failureOf(planTargets(['127.0.0.1', 42 as unknown as string], base()));
    expect(err).toMatchObject({ code: 'target.invalid', detail: { field: 'targets[1]' } });
  });
});

describe('serializePlan / deserializePlan', () => {
  it('round-trips through JSON', async () => {
    const plan = await planTargets(['127.0.0.0/30', 'app.test', '2001:db8::2-2001:db8::5'], base());
    const stored = JSON.parse(JSON.stringify(serializePlan(plan))) as SerializedPlan;
    expect(stored).toEqual({
      ranges: [
        { family: 4, start: '127.0.0.0', end: '127.0.0.3' },
        { family: 4, start: '127.0.0.10', end: '127.0.0.10' },
        { family: 6, start: '::1', end: '::1' },
        { family: 6, start: '2001:db8::2', end: '2001:db8::5' },
      ],
      hostnames: { '127.0.0.10': ['app.test'], '::1': ['app.test'] },
      addressCount: 10,
    });
    expect(deserializePlan(stored)).toEqual(plan);
    expect([...planAddresses(deserializePlan(stored))]).toEqual([...planAddresses(plan)]);
  });

  it('keeps IPv6 ranges inside ::ffff:0:0/96 as IPv6', () => {
    const s: SerializedPlan = { ranges: [{ family: 6, start: '::fffe:ffff:ffff', end: '::ffff:0:1' }], hostnames: {}, addressCount: 3 };
    expect(deserializePlan(s).ranges[0]).toEqual({ family: 6, start: 0xfffeffffffffn, end: 0xffff00000001n });
  });

  const good: SerializedPlan = { ranges: [{ family: 4, start: '127.0.0.1', end: '127.0.0.2' }], hostnames: {}, addressCount: 2 };
  it.each<[string, unknown, RegExp]>([
    ['null', null, /not an object/],
    ['no ranges', { ...good, ranges: undefined }, /"ranges" is not a list/],
    ['bad family', { ...good, ranges: [{ family: 5, start: '1.2.3.4', end: '1.2.3.4' }] }, /family must be 4 or 6/],
    ['family mismatch', { ...good, ranges: [{ family: 4, start: '::1', end: '::1' }] }, /start is not an IPv4 address/],
    ['bad address', { ...good, ranges: [{ family: 4, start: '127.0.0.1', end: 'x' }] }, /end is not an IPv4 address/],
    ['reversed', { ...good, ranges: [{ family: 4, start: '127.0.0.2', end: '127.0.0.1' }] }, /ends before it starts/],
    [
      'overlapping',
      { ...good, ranges: [good.ranges[0], { family: 4, start: '127.0.0.2', end: '127.0.0.3' }], addressCount: 4 },
      /out of order or overlaps/,
    ],
    ['wrong count', { ...good, addressCount: 3 }, /addressCount 3 does not match the 2 addresses/],
    ['count not a number', { ...good, addressCount: '2' }, /addressCount/],
    ['hostnames not an object', { ...good, hostnames: [] }, /"hostnames" is not an object/],
    ['hostname key not an IP', { ...good, hostnames: { 'a.test': ['x'] } }, /is not an IP address/],
    ['hostname list not strings', { ...good, hostnames: { '127.0.0.1': [1] } }, /not a list of names/],
    ['empty', { ranges: [], hostnames: {}, addressCount: 0 }, /no addresses/],
  ])('rejects %s', (_name, input, message) => {
    let caught: unknown;
    try {
      deserializePlan(input as SerializedPlan);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(PortcullisError);
    expect((caught as PortcullisError).message).toMatch(/^stored target plan is invalid: /);
    expect((caught as PortcullisError).message).toMatch(message);
  });
});
