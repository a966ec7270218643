import { afterEach, describe, expect, it } from 'vitest';
import { createScopePolicy, staticResolver } from '../scope/index.js';
import { assessment, endpoint } from '../testing/assessments.js';
import { type SslLabsEmulator, startSslLabsEmulator } from '../testing/ssllabs-emulator.js';
import type { TlsEngine } from '../tls/engine.js';
import { SslLabsClient } from './client.js';
import { engineDisagreements } from './disagreements.js';
import { nonPublicAddress, sslLabsIneligibility } from './eligibility.js';
import { sslLabsEngine } from './engine.js';
import { SslLabsGovernor } from './governor.js';

describe('which targets may go to SSL Labs', () => {
  it('only public host names on port 443', () => {
    expect(sslLabsIneligibility({ host: 'www.site.example', port: 443 }, ['203.0.113.10'])).toBeUndefined();
    expect(sslLabsIneligibility({ host: '203.0.113.10', port: 443 }, ['203.0.113.10'])).toMatch(/host names, not IP addresses/);
    expect(sslLabsIneligibility({ host: 'www.site.example', port: 8443 }, ['203.0.113.10'])).toMatch(/port 443 only, not 8443/);
    expect(sslLabsIneligibility({ host: 'www.site.example', port: 443 }, undefined)).toMatch(/does not resolve/);
    expect(sslLabsIneligibility({ host: 'intranet.example', port: 443 }, ['203.0.113.10', '10.1.2.3'])).toMatch(/10\.1\.2\.3 \(private \(RFC 1918\)\)/);
  });

  it('refuses every non-public address family member, including IPv6 and mapped forms', () => {
    for (const ip of ['127.0.0.1', '10.0.0.1', '172.16.5.5', '192.168.1.1', '100.64.0.1', '169.254.169.254', '198.18.0.2', '0.0.0.0', '::1', 'fd00::1', 'fe80::1', '::ffff:10.0.0.1', '239.1.1.1']) {
      expect(nonPublicAddress(ip), ip).toBeDefined();
    }
    for (const ip of ['203.0.113.10', '8.8.8.8', '2001:db8::1', '172.32.0.1']) expect(nonPublicAddress(ip), ip).toBeUndefined();
  });
});

describe('SSL Labs engine', () => {
  let emulator: SslLabsEmulator | undefined;
  afterEach(async () => {
    await emulator?.close();
    emulator = undefined;
  });

  const resolver = staticResolver({ 'www.site.example': ['203.0.113.10'], 'app.test': ['127.0.0.1'], 'meta.example': ['169.254.169.254'] });
  const scopePolicy = createScopePolicy({ allow: [], deny: [] });

  async function engineWith(native: TlsEngine) {
    emulator = await startSslLabsEmulator({ dnsMs: 5, assessmentMs: 20, coolOffMs: 0, registeredEmails: ['a@corp.example'] });
    const governor = new SslLabsGovernor({ initialMaxAssessments: 5, initialCoolOffMs: 0, coolOffMarginMs: 0 });
    const client = new SslLabsClient({ baseUrl: emulator.url, apiVersion: 'v4', email: 'a@corp.example', onRateHeaders: (h) => governor.observe(h) });
    return sslLabsEngine({ client, governor, native, polling: { dnsMs: 5, inProgressMs: 5 } });
  }

  /** A native engine that only ever assesses loopback: the tests never connect anywhere else. */
  const loopbackOnly: TlsEngine = async (target) => {
    if (target.host !== 'app.test' && !target.host.startsWith('127.')) throw new Error(`test native engine asked for ${target.host}`);
    return assessment({ host: target.host, port: target.port, endpoints: [endpoint({ ip: '127.0.0.1' })] });
  };

  it('maps SSL Labs\' answer onto the shared model and keeps the raw JSON', async () => {
    const engine = await engineWith(loopbackOnly);
    const { assessment: a, raw } = await engine({ host: 'www.site.example', port: 443 }, { resolver, scopePolicy, fallbackToNative: true });
    expect(a).toMatchObject({ engine: 'ssllabs', host: 'www.site.example', port: 443 });
    expect(a.fallback).toBeUndefined();
    expect(a.endpoints[0]?.grade).toBe('A');
    expect(raw).toMatchObject({ host: 'www.site.example', status: 'READY' });
    expect(emulator?.stats.starts).toBe(1);
  });

  it('sends private, loopback and IP targets to the native engine and says why, without telling SSL Labs', async () => {
    const engine = await engineWith(loopbackOnly);
    const { assessment: a, raw } = await engine({ host: 'app.test', port: 443 }, { resolver, scopePolicy, fallbackToNative: true });
    expect(a.engine).toBe('native');
    expect(a.fallback).toEqual({ requested: 'ssllabs', reason: expect.stringMatching(/127\.0\.0\.1 \(loopback\)/) });
    expect(raw).toBeUndefined();
    await expect(engine({ host: 'app.test', port: 443 }, { resolver, scopePolicy, fallbackToNative: false })).rejects.toMatchObject({ code: 'ssllabs.not-eligible' });
    expect(emulator?.requests.filter((r) => r.call === 'analyze')).toEqual([]);
  });

  it('applies the scope policy first: a denied name goes to no engine at all', async () => {
    const engine = await engineWith(loopbackOnly);
    await expect(engine({ host: 'meta.example', port: 443 }, { resolver, scopePolicy, fallbackToNative: true })).rejects.toMatchObject({ code: 'scope.denied' });
    const denying = createScopePolicy({ allow: [], deny: ['site.example'] });
    await expect(engine({ host: 'www.site.example', port: 443 }, { resolver, scopePolicy: denying, fallbackToNative: true })).rejects.toMatchObject({ code: 'scope.denied' });
    expect(emulator?.requests.filter((r) => r.call === 'analyze')).toEqual([]);
  });
});

describe('where the engines disagree', () => {
  it('lists grade, protocol, suite and criteria differences per address, and nothing when they agree', () => {
    const native = assessment({ criteriaVersion: '2009r', endpoints: [endpoint({ ip: '203.0.113.10', grade: 'A' })] });
    expect(engineDisagreements(native, { ...native, engine: 'ssllabs' })).toEqual([]);
    const base = native.endpoints[0] as NonNullable<(typeof native.endpoints)[0]>;
    const ssllabs = assessment({
      engine: 'ssllabs',
      criteriaVersion: '2009q',
      endpoints: [endpoint({ ip: '203.0.113.10', grade: 'B', protocols: base.protocols.map((p) => (p.name === 'TLSv1.0' ? { ...p, supported: true } : p)) })],
    });
    const found = engineDisagreements(native, ssllabs);
    expect(found).toContainEqual({ ip: '*', aspect: 'criteria', native: '2009r', ssllabs: '2009q' });
    expect(found).toContainEqual({ ip: '203.0.113.10', aspect: 'grade', native: 'A', ssllabs: 'B' });
    expect(found).toContainEqual({ ip: '203.0.113.10', aspect: 'protocols', native: 'only here: —', ssllabs: 'only here: TLSv1.0' });
  });
});
