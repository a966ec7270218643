/**
 * Scope-policy bypass attempts at the policy and plan level: every notation of a refused address,
 * every name whose answer is refused, the configured deny and allow lists, and DNS answers that
 * change between check and connect. The two gates are planTargets (port scans, TLS submissions) and
 * resolveEndpoints (the TLS engines, just before they connect). Nothing here opens a socket.
 */
import { isIP } from 'node:net';
import { describe, expect, it } from 'vitest';
import { failureOf } from '../testing/errors.js';
import { resolveEndpoints } from '../tls/resolve-endpoints.js';
import { DENY_LIST, createScopePolicy, describeDenial, type ScopePolicy } from './policy.js';
import { deserializePlan, planAddresses, planTargets, serializePlan } from './plan.js';
import { staticResolver } from './resolver.js';
import { formatRange, parseTarget } from './targets.js';
import { LITERAL_ATTEMPTS, LOOPBACK_NOTATIONS, NAME_ATTEMPTS, REFUSED_NAMES, rebindingResolver, recordingResolver } from './testing/bypass.js';
import type { Resolver } from './types.js';

const open = createScopePolicy({ allow: [], deny: [] });
const REFUSALS = ['scope.denied', 'target.invalid'];

async function plan(targets: string[], resolver: Resolver, policy: ScopePolicy = open): Promise<string[]> {
  const p = await planTargets(targets, { resolver, policy, maxAddresses: 4096 });
  // What the job connects to: the stored plan, read back.
  return [...planAddresses(deserializePlan(serializePlan(p)))];
}

describe('literal notations of refused addresses are refused at both gates, without any lookup', () => {
  it.each(LITERAL_ATTEMPTS)('$input ($denotes)', async ({ input, denotes }) => {
    const resolver = recordingResolver(staticResolver({}));
    const planned = await failureOf(plan([input], resolver));
    const engine = await failureOf(resolveEndpoints(input, resolver, open));
    if (denotes === 'invalid') {
      expect(planned.code).toBe('target.invalid');
    } else {
      expect(formatRange(parseTarget(input).range!)).toBe(denotes);
      expect(planned.code).toBe('scope.denied');
    }
    expect(REFUSALS).toContain(engine.code);
    expect(resolver.asked).toEqual([]);
  });
});

describe('names whose resolver answer is refused', () => {
  it.each(NAME_ATTEMPTS)('%s', async (name) => {
    const resolver = staticResolver(REFUSED_NAMES);
    expect((await failureOf(plan([name], resolver))).code).toBe('scope.denied');
    expect((await failureOf(resolveEndpoints(name, resolver, open))).code).toBe('scope.denied');
  });

  it('checks every answer, not the first: one refused address refuses the name', async () => {
    const err = await failureOf(plan(['mixed.test'], staticResolver(REFUSED_NAMES)));
    expect(err.detail).toMatchObject({ address: '169.254.169.254', rule: '169.254.169.254' });
    expect(err.message).toMatch(/resolves to 169\.254\.169\.254/);
  });

  it.each([[['0xa9fea9fe']], [['169.254.169.254.']], [['fe80::1%eth0']], [['metadata.google.internal']], [[]]])(
    'an answer that is not an IP literal (%j) is never used: target.unresolvable',
    async (answer) => {
      const resolver: Resolver = { resolve: async () => answer };
      expect((await failureOf(plan(['odd.test'], resolver))).code).toBe('target.unresolvable');
      expect((await failureOf(resolveEndpoints('odd.test', resolver, open))).code).toBe('target.unresolvable');
    },
  );
});

describe('the configured deny list and allow list', () => {
  const policy = createScopePolicy({ allow: ['127.0.0.0/8', '10.0.0.0/8', '*.allowed.test'], deny: ['10.9.0.0/16', 'blocked.test', '*.corp.test'] });
  const resolver = staticResolver({
    'ten.test': ['10.9.1.1'],
    'outside.test': ['198.51.100.7'],
    'loop.test': ['127.0.0.2'],
    'x.corp.test': ['127.0.0.1'],
    'blocked.test': ['127.0.0.1'],
    'x.allowed.test': ['127.0.0.1'],
    'evil.allowed.test': ['169.254.169.254'],
    'far.allowed.test': ['198.51.100.7'],
  });

  it.each([
    // deny list, in other notations
    ['0x0a090101', 'scope.deny'],
    ['168362241', 'scope.deny'],
    ['012.011.1.1', 'scope.deny'],
    ['::ffff:10.9.1.1', 'scope.deny'],
    ['64:ff9b::a09:101', 'scope.deny'],
    ['10.8.255.255-10.9.0.0', 'scope.deny'],
    ['ten.test', 'scope.deny'],
    ['BLOCKED.TEST.', 'scope.deny'],
    ['x.corp.test', 'scope.deny'],
    ['X.Corp.Test.', 'scope.deny'],
    // an allowed domain does not lift the built-in deny list
    ['evil.allowed.test', 'built-in'],
    // outside the allow list
    ['198.51.100.7', 'scope.allow'],
    ['3325256711', 'scope.allow'],
    ['::ffff:c633:6407', 'scope.allow'],
    ['outside.test', 'scope.allow'],
    // the allow list is IPv4: the NAT64 form of an allowed address is outside it
    ['64:ff9b::7f00:1', 'scope.allow'],
  ])('%s is refused (%s)', async (target, by) => {
    const err = await failureOf(plan([target], resolver, policy));
    expect(err.code).toBe('scope.denied');
    if (by === 'scope.allow') expect(err.detail.rule).toBe('scope.allow');
    else if (by === 'scope.deny') expect(err.detail.reason).toBe(DENY_LIST);
    else expect(err.detail.rule).toBe('169.254.169.254');
    expect(REFUSALS).toContain((await failureOf(resolveEndpoints(target, resolver, policy))).code);
  });

  it.each([
    ['2130706434', ['127.0.0.2']],
    ['loop.test', ['127.0.0.2']],
    ['x.allowed.test', ['127.0.0.1']],
    // A domain entry allows whatever the name resolves to, short of the deny lists.
    ['far.allowed.test', ['198.51.100.7']],
  ])('%s is allowed and planned as %j', async (target, addresses) => {
    expect(await plan([target], resolver, policy)).toEqual(addresses);
  });
});

describe('IPv6 that carries IPv4 is checked as the IPv4 it carries', () => {
  // Decision: NAT64 addresses (64:ff9b::/96, and 64:ff9b:1::/48 read as /96 prefixes) reach the
  // IPv4 address in their last 32 bits through a translator, so they are refused exactly when that
  // address is; likewise 6to4, SIIT and Teredo. A range that wraps the embedded field carries every
  // IPv4 address, 0.0.0.0/8 included, so it is refused.
  it.each(['64:ff9b::808:808', '64:ff9b:1::808:808', '64:ff9b::808:800-64:ff9b::808:8ff', '64:ff9b:1:0:0:1:808:800/120', '2002:808:808::1', '::ffff:0:808:808', '2001:0:4136:e378:8000:63bf:3fff:fdd2'])(
    '%s (carrying a public address) is allowed',
    async (target) => {
      expect(await plan([target], staticResolver({}))).not.toEqual([]);
    },
  );

  it.each([
    ['64:ff9b:1::/64', '0.0.0.0/8'],
    ['64:ff9b::a9fe:a900/120', '169.254.0.0/16'],
    ['2001::/32', '0.0.0.0/8'],
    ['2002:a9fe::/32', '169.254.0.0/16'],
  ])('the range %s is refused by %s', async (target, rule) => {
    expect((await failureOf(plan([target], staticResolver({})))).detail.rule).toBe(rule);
  });

  it.each([
    ['64:ff9b:1::a9fe:a9fe', /^64:ff9b:1::a9fe:a9fe carries the IPv4 169\.254\.169\.254 \(NAT64 local-use, 64:ff9b:1::\/48\)/],
    ['::ffff:0:a9fe:a9fe', /carries the IPv4 169\.254\.169\.254 \(IPv4-translated \(SIIT\), ::ffff:0:0:0\/96\)/],
    ['2001:0:4136:e378:8000:63bf:5601:5601', /carries the IPv4 169\.254\.169\.254 \(Teredo client, 2001::\/32\)/],
    ['2001:0:a9fe:a9fe::1', /carries the IPv4 169\.254\.169\.254 \(Teredo server, 2001::\/32\)/],
  ])('the denial of %s names the embedding', (target, message) => {
    expect(describeDenial(open.checkRange(parseTarget(target).range!)!)).toMatch(message);
  });
});

describe('the connection goes to the address that was checked', () => {
  it.each(LOOPBACK_NOTATIONS)('%s is planned and handed to the engines as the literal 127.0.0.1, without a lookup', async (input) => {
    const resolver = recordingResolver(staticResolver({}));
    expect(await plan([input], resolver)).toEqual(['127.0.0.1']);
    // net.connect resolves any host that is not an IP literal: the engines must be given the literal.
    expect(await resolveEndpoints(input, resolver, open)).toEqual({ ips: ['127.0.0.1'], hostname: null });
    expect(resolver.asked).toEqual([]);
  });

  it('a port scan plan keeps the checked answer: a rebinding name cannot move the stored addresses', async () => {
    const resolver = rebindingResolver(['127.0.0.1'], ['169.254.169.254']);
    const stored = serializePlan(await planTargets(['rebind.test'], { resolver, policy: open, maxAddresses: 16 }));
    expect(resolver.asked).toEqual(['rebind.test']);
    // The job reads the stored plan (IP literals) and never resolves again.
    const addresses = [...planAddresses(deserializePlan(stored))];
    expect(addresses).toEqual(['127.0.0.1']);
    expect(addresses.every((a) => isIP(a) !== 0)).toBe(true);
    expect(resolver.asked).toEqual(['rebind.test']);
    // A later plan sees the new answer, and refuses it.
    expect((await failureOf(planTargets(['rebind.test'], { resolver, policy: open, maxAddresses: 16 }))).code).toBe('scope.denied');
  });

  it('the TLS engines resolve once per assessment and receive only the checked literals', async () => {
    const resolver = rebindingResolver(['127.0.0.1', '::1'], ['169.254.169.254']);
    expect(await resolveEndpoints('rebind.test', resolver, open)).toEqual({ ips: ['127.0.0.1', '::1'], hostname: 'rebind.test' });
    expect(resolver.asked).toEqual(['rebind.test']);
    const second = await failureOf(resolveEndpoints('rebind.test', resolver, open));
    expect(second.code).toBe('scope.denied');
    expect(second.detail.address).toBe('169.254.169.254');
  });

  it('a name that answers a refused address first is refused at either gate', async () => {
    const planned = await failureOf(planTargets(['rebind.test'], { resolver: rebindingResolver(['169.254.169.254'], ['127.0.0.1']), policy: open, maxAddresses: 16 }));
    expect(planned.code).toBe('scope.denied');
    expect((await failureOf(resolveEndpoints('rebind.test', rebindingResolver(['169.254.169.254'], ['127.0.0.1']), open))).code).toBe('scope.denied');
  });
});
