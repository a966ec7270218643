import { generatePrimeSync } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createScopePolicy, staticResolver } from '../scope/index.js';
import { failureOf } from '../testing/errors.js';
import { listenOn, type TestListener } from '../testing/listeners.js';
import { createCertificate, testPki, type TestPki } from '../testing/pki.js';
import { TestServers } from '../testing/servers.js';
import { startScriptedTlsServer, type ScriptedServerConfig } from '../testing/tls-responder.js';
import { startTlsServer, tlsServerOptions } from '../testing/tls-servers.js';
import { assess, type AssessOptions } from './assess.js';
import type { TrustStore } from './cert/index.js';
import type { EndpointAssessment } from './model.js';

const servers = new TestServers();
afterEach(() => servers.closeAll());

let pki: TestPki;
let trustStore: TrustStore;
const log: string[] = [];
beforeAll(async () => {
  pki = await testPki();
  trustStore = { roots: [pki.root.der], source: 'test root' };
});
afterAll(() => {
  if (log.length > 0) console.log(log.join('\n'));
});

const openScope = createScopePolicy({ allow: [], deny: [] });

function options(overrides: Partial<AssessOptions> = {}): AssessOptions {
  return {
    resolver: staticResolver({ localhost: ['127.0.0.1'], 'wrong.test': ['127.0.0.1'] }),
    scopePolicy: openScope,
    trustStore,
    timeoutMs: 2000,
    ...overrides,
  };
}

async function assessOne(host: string, port: number, overrides: Partial<AssessOptions> = {}): Promise<EndpointAssessment> {
  const assessment = await assess({ host, port }, options(overrides));
  expect(assessment.endpoints).toHaveLength(1);
  return assessment.endpoints[0] as EndpointAssessment;
}

const supported = (endpoint: EndpointAssessment): string[] => endpoint.protocols.filter((p) => p.supported).map((p) => p.name);
const suitesOn = (endpoint: EndpointAssessment, protocol: string): string[] => endpoint.suites.filter((s) => s.protocol === protocol).map((s) => s.iana);
const capRules = (endpoint: EndpointAssessment): string[] => endpoint.caps.map((c) => c.rule);

describe('assess against node:tls servers', () => {
  it('measures a modern TLS 1.2 + 1.3 server exactly and grades it A+ with HSTS', async () => {
    const port = await startTlsServer(servers, {
      ciphers: 'ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256',
      tls13Suites: 'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256',
      ecdhCurve: 'X25519:P-256',
      honorCipherOrder: true,
      hsts: 'max-age=31536000; includeSubDomains',
    });
    const started = performance.now();
    const assessment = await assess({ host: 'localhost', port }, options());
    const ms = performance.now() - started;
    const endpoint = assessment.endpoints[0] as EndpointAssessment;
    log.push(`modern server: ${endpoint.connections} connections, ${ms.toFixed(0)} ms, warnings: ${JSON.stringify(endpoint.warnings)}`);

    expect(assessment).toMatchObject({ host: 'localhost', port, sni: 'localhost', engine: 'native' });
    expect(endpoint.status).toBe('ready');
    expect(endpoint.warnings).toEqual([]);
    expect(supported(endpoint)).toEqual(['TLSv1.2', 'TLSv1.3']);
    expect(suitesOn(endpoint, 'TLSv1.2')).toEqual([
      'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
      'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256',
      'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256',
    ]);
    expect(suitesOn(endpoint, 'TLSv1.3')).toEqual(['TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256', 'TLS_AES_128_GCM_SHA256']);
    expect(endpoint.suitePreference).toEqual([
      { protocol: 'TLSv1.2', preference: 'server' },
      { protocol: 'TLSv1.3', preference: 'server' },
    ]);
    expect(endpoint.suites[0]?.kxDetail).toEqual({ type: 'ECDH', group: 'x25519', bits: 253, rsaEquivalentBits: 3072 });
    expect(endpoint.groups.map((g) => g.name)).toEqual(['x25519', 'secp256r1']);
    expect(endpoint.groupPreference).toBe(true);
    expect(endpoint.certificates).toHaveLength(1);
    expect(endpoint.certificates[0]).toMatchObject({ trusted: true, hostnameMatch: true, sni: 'localhost' });
    expect(endpoint.certificates[0]?.served.map((c) => c.commonNames[0])).toEqual(['localhost', 'Portcullis Test Intermediate CA']);
    expect(endpoint.features).toMatchObject({
      secureRenegotiation: true,
      fallbackScsv: true,
      compression: false,
      extendedMasterSecret: true,
      sniRequired: false,
      heartbeat: false,
      alpn: ['http/1.1'],
    });
    expect(endpoint.http).toMatchObject({ status: 200, server: 'portcullis-test', hsts: { status: 'present', maxAge: 31536000, includeSubDomains: true } });
    // IE 11 on Windows 7 has no ECDHE-RSA AEAD suite: the one client this configuration locks out.
    expect(endpoint.simulations.filter((s) => !s.ok).map((s) => [s.client.id, s.error])).toEqual([['ie-11-win7', 'the server answered handshake_failure']]);
    expect(endpoint.vulnerabilities.every((v) => v.status === 'not-tested')).toBe(true);
    expect(endpoint.grade).toBe('A+');
    expect(endpoint.connections).toBeLessThan(60);
  });

  it('reports no stapling on a TLS 1.3-only server that staples nothing (node:tls reports a null response)', async () => {
    const endpoint = await assessOne('localhost', await startTlsServer(servers, { minVersion: 'TLSv1.3' }));
    expect(endpoint.status).toBe('ready');
    expect(endpoint.features.ocspStapling).toBe(false);
    expect(endpoint.warnings).toEqual([]);
  });

  it('tells session ids that are issued but not resumed from resumption', async () => {
    const endpoint = await assessOne('localhost', await startTlsServer(servers, { maxVersion: 'TLSv1.2', sessionTickets: false }));
    expect(endpoint.features.sessionResumption).toEqual({ ids: 'ids-not-resumed', tickets: false });
  });

  it('caps a TLS 1.0–1.2 server with only static-RSA CBC suites at B', async () => {
    const port = await startTlsServer(servers, { minVersion: 'TLSv1', maxVersion: 'TLSv1.2', ciphers: 'AES128-SHA:AES256-SHA:@SECLEVEL=0' });
    const endpoint = await assessOne('localhost', port);
    expect(supported(endpoint)).toEqual(['TLSv1.0', 'TLSv1.1', 'TLSv1.2']);
    expect(suitesOn(endpoint, 'TLSv1.0').sort()).toEqual(['TLS_RSA_WITH_AES_128_CBC_SHA', 'TLS_RSA_WITH_AES_256_CBC_SHA']);
    expect(endpoint.suitePreference.find((p) => p.protocol === 'TLSv1.0')?.preference).toBe('client');
    expect(capRules(endpoint)).toEqual(expect.arrayContaining(['tls10-enabled', 'tls11-enabled', 'no-forward-secrecy']));
    expect(endpoint.grade).toBe('B');
  });

  it('grades a self-signed certificate T, and the configuration as if trusted', async () => {
    const selfSigned = await createCertificate({ commonName: 'localhost', altNames: ['DNS:localhost'] });
    const port = await startTlsServer(servers, { chain: [selfSigned], hsts: 'max-age=31536000' });
    const endpoint = await assessOne('localhost', port);
    expect(endpoint.certificates[0]?.trusted).toBe(false);
    expect(endpoint.grade).toBe('T');
    expect(endpoint.gradeTrustIgnored).toBe('A+');
  });

  it('grades a certificate for another name M', async () => {
    const port = await startTlsServer(servers, {});
    const endpoint = await assessOne('wrong.test', port);
    expect(endpoint.certificates[0]?.hostnameMatch).toBe(false);
    expect(endpoint.grade).toBe('M');
  });

  it('sends no SNI to an IP literal, and reads DHE parameters', async () => {
    const port = await startTlsServer(servers, { maxVersion: 'TLSv1.2', ciphers: 'DHE-RSA-AES128-GCM-SHA256', dh: 'modp14' });
    const assessment = await assess({ host: '127.0.0.1', port }, options());
    const endpoint = assessment.endpoints[0] as EndpointAssessment;
    expect(assessment.sni).toBeNull();
    expect(endpoint.features.sniRequired).toBeNull();
    expect(endpoint.dhParameters).toEqual([{ primeBits: 2048, generator: 2, knownPrime: expect.stringContaining('3526') as unknown, weakKnownPrime: false }]);
    expect(endpoint.suites[0]?.kxDetail).toMatchObject({ type: 'DH', bits: 2048 });
  });

  it('assesses every address a name resolves to, as separate endpoints', async () => {
    const port = await startTlsServer(servers, {});
    let second: TestListener;
    try {
      second = await listenOn(tls.createServer(await tlsServerOptions({})), { host: '127.0.0.2', port });
    } catch {
      return; // 127.0.0.2 not routable here: nothing to test
    }
    try {
      const assessment = await assess({ host: 'multi.test', port }, options({ resolver: staticResolver({ 'multi.test': ['127.0.0.1', '127.0.0.2'] }), http: false }));
      expect(assessment.endpoints.map((e) => [e.ip, e.status])).toEqual([
        ['127.0.0.1', 'ready'],
        ['127.0.0.2', 'ready'],
      ]);
    } finally {
      await second.close();
    }
  });
});

describe('assess against the scripted responder (what OpenSSL 3 cannot serve)', () => {
  async function scripted(config: Omit<ScriptedServerConfig, 'certificates'>): Promise<EndpointAssessment> {
    const port = await startScriptedTlsServer(servers, { certificates: [pki.leaf.der, pki.intermediate.der], ...config });
    return assessOne('localhost', port, { http: false });
  }

  it('finds SSLv3 with RC4 and 3DES, and caps at C (POODLE, no TLS 1.2)', async () => {
    const endpoint = await scripted({ protocols: ['SSLv3', 'TLSv1.0'], suites: [0x0005, 0x000a] });
    expect(supported(endpoint)).toEqual(['SSLv3', 'TLSv1.0']);
    expect(suitesOn(endpoint, 'SSLv3')).toEqual(['TLS_RSA_WITH_RC4_128_SHA', 'TLS_RSA_WITH_3DES_EDE_CBC_SHA']);
    expect(endpoint.suitePreference.find((p) => p.protocol === 'SSLv3')?.preference).toBe('server');
    expect(capRules(endpoint)).toEqual(expect.arrayContaining(['poodle-sslv3', 'no-tls12', 'rc4']));
    expect(endpoint.grade).toBe('C');
  });

  it('fails EXPORT suites and 512-bit DH with F, reading the key sizes from the ServerKeyExchange', async () => {
    const p = Buffer.from(generatePrimeSync(512, { safe: true }));
    const endpoint = await scripted({ protocols: ['TLSv1.0', 'TLSv1.2'], suites: [0x0033, 0x0003], dh: { p, g: Buffer.from([2]) }, rsaExportModulusBits: 512 });
    const tls10 = endpoint.suites.filter((s) => s.protocol === 'TLSv1.0');
    expect(tls10.map((s) => [s.iana, s.kxDetail?.type, s.kxDetail?.bits])).toEqual([
      ['TLS_DHE_RSA_WITH_AES_128_CBC_SHA', 'DH', 512],
      ['TLS_RSA_EXPORT_WITH_RC4_40_MD5', 'RSA', 512],
    ]);
    expect(endpoint.dhParameters).toEqual([{ primeBits: 512, generator: 2, knownPrime: null, weakKnownPrime: false }]);
    expect(capRules(endpoint)).toEqual(expect.arrayContaining(['export-suites', 'insecure-dh']));
    expect(endpoint.grade).toBe('F');
  });

  it('finds SSLv2 and its cipher kinds in one hello, and fails it', async () => {
    const endpoint = await scripted({ protocols: ['SSLv2', 'TLSv1.2'], suites: [0xc02f], sslv2CipherKinds: [0x010080, 0x0700c0] });
    expect(supported(endpoint)).toEqual(['SSLv2', 'TLSv1.2']);
    expect(endpoint.suites.filter((s) => s.protocol === 'SSLv2').map((s) => s.code)).toEqual(['0x010080', '0x0700C0']);
    expect(capRules(endpoint)).toContain('sslv2-enabled');
    expect(endpoint.grade).toBe('F');
  });

  it('reports DEFLATE compression and missing secure renegotiation', async () => {
    const endpoint = await scripted({ protocols: ['TLSv1.2'], suites: [0xc02f], compression: true, secureRenegotiation: false });
    expect(endpoint.features).toMatchObject({ compression: true, secureRenegotiation: false });
    expect(capRules(endpoint)).toEqual(expect.arrayContaining(['crime', 'no-secure-renegotiation']));
  });

  it('copes with a server that hangs on hellos of 256–511 bytes', async () => {
    const endpoint = await scripted({ protocols: ['TLSv1.2'], suites: [0xc02f, 0x009c], misbehave: 'long-hello-intolerant' });
    expect(endpoint.warnings.filter((w) => /timeout|no answer/.test(w))).toEqual([]);
    expect(suitesOn(endpoint, 'TLSv1.2')).toEqual(['TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', 'TLS_RSA_WITH_AES_128_GCM_SHA256']);
  });

  it('warns when the server picks a suite that was not offered', async () => {
    const endpoint = await scripted({ protocols: ['TLSv1.2'], suites: [0xc02f], misbehave: 'pick-unoffered-suite' });
    expect(endpoint.warnings.some((w) => w.includes('which was not offered'))).toBe(true);
  });
});

describe('assess against hostile and absent servers', () => {
  const deadline = { timeoutMs: 300, http: false };

  it.each([
    ['garbage', 'tls.not-tls'],
    ['reset', 'tls.not-tls'],
    ['silent', 'tls.timeout'],
    ['trickle', 'tls.timeout'],
  ] as const)('reports a %s server as an endpoint error within the deadline', async (misbehave, code) => {
    const port = await startScriptedTlsServer(servers, { protocols: ['TLSv1.2'], suites: [0xc02f], certificates: [pki.leaf.der], misbehave });
    const started = performance.now();
    const endpoint = await assessOne('localhost', port, deadline);
    expect(endpoint.status).toBe('error');
    expect(endpoint.error?.code).toBe(code);
    expect(endpoint.grade).toBeNull();
    expect(performance.now() - started).toBeLessThan(3000);
  });

  it('reports a closed port as connection refused', async () => {
    const probe = await listenOn(net.createServer());
    const port = probe.port;
    await probe.close();
    const endpoint = await assessOne('localhost', port, deadline);
    expect(endpoint.error).toEqual({ code: 'endpoint.refused', message: `connection refused by 127.0.0.1:${port}` });
  });

  it('stops everything when aborted', async () => {
    const port = await startScriptedTlsServer(servers, { protocols: ['TLSv1.2'], suites: [0xc02f], certificates: [pki.leaf.der], misbehave: 'silent' });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const error = await failureOf(assess({ host: 'localhost', port }, options({ signal: controller.signal, timeoutMs: 10_000 })));
    expect(error.code).toBe('scan.cancelled');
  });
});

describe('assess refuses before connecting', () => {
  async function countingServer(): Promise<{ port: number; connections: () => number }> {
    let count = 0;
    const port = await servers.serve((socket) => {
      count++;
      socket.destroy();
    });
    return { port, connections: () => count };
  }

  it('denies an address outside the scope policy', async () => {
    const server = await countingServer();
    const scopePolicy = createScopePolicy({ allow: [], deny: ['127.0.0.1'] });
    expect((await failureOf(assess({ host: 'localhost', port: server.port }, options({ scopePolicy })))).code).toBe('scope.denied');
    expect((await failureOf(assess({ host: '127.0.0.1', port: server.port }, options({ scopePolicy })))).code).toBe('scope.denied');
    expect(server.connections()).toBe(0);
  });

  it('denies a name when any of its addresses is out of scope', async () => {
    const server = await countingServer();
    const resolver = staticResolver({ 'mixed.test': ['127.0.0.1', '169.254.169.254'] });
    const error = await failureOf(assess({ host: 'mixed.test', port: server.port }, options({ resolver })));
    expect(error.code).toBe('scope.denied');
    expect(server.connections()).toBe(0);
  });

  it('reports a name that does not resolve', async () => {
    expect((await failureOf(assess({ host: 'nowhere.test', port: 443 }, options()))).code).toBe('target.unresolvable');
  });

  it('refuses ranges and bad ports', async () => {
    expect((await failureOf(assess({ host: '127.0.0.0/24', port: 443 }, options()))).code).toBe('target.invalid');
    expect((await failureOf(assess({ host: 'localhost', port: 0 }, options()))).code).toBe('ports.invalid');
  });
});
