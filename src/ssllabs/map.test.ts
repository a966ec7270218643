import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PortcullisError } from '../shared/errors.js';
import type { EndpointAssessment } from '../tls/model.js';
import { suiteById } from '../tls/wire/catalogue/index.js';
import type { SslLabsEndpointDetails, SslLabsHost, SslLabsSuite } from './api-types.js';
import { mapSslLabsHost } from './map.js';

type FixtureName = 'grade-b-legacy' | 'grade-a-plus-modern' | 'grade-t-untrusted';

/** A fresh copy of a recorded-style Host, so a test may change it. */
function fixture(name: FixtureName): SslLabsHost {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}.json`, import.meta.url), 'utf8')) as SslLabsHost;
}

function firstEndpoint(host: SslLabsHost, options?: { now?: Date }): EndpointAssessment {
  const endpoint = mapSslLabsHost(host, options).endpoints[0];
  if (endpoint === undefined) throw new Error('no endpoint mapped');
  return endpoint;
}

/** The first endpoint's details, to change before mapping. */
function detailsOf(host: SslLabsHost): SslLabsEndpointDetails {
  const details = host.endpoints?.[0]?.details;
  if (details === undefined) throw new Error('fixture endpoint has no details');
  return details;
}

function certId(host: SslLabsHost, subject: string): string {
  const cert = host.certs?.find((c) => c.subject === subject);
  if (cert === undefined) throw new Error(`no certificate ${subject} in the fixture`);
  return cert.id;
}

const ids = (items: readonly { id: string }[]): string[] => items.map((item) => item.id);

describe('mapSslLabsHost: grade B legacy host (TLS 1.0–1.3, chain issues 12, one endpoint unreachable)', () => {
  const host = fixture('grade-b-legacy');
  const assessment = mapSslLabsHost(host);
  const [ready, failed] = assessment.endpoints as [EndpointAssessment, EndpointAssessment];

  it('keeps the host, engine and versions, with times from startTime and testTime', () => {
    expect(assessment).toMatchObject({
      host: 'legacy.example',
      port: 443,
      sni: 'legacy.example',
      engine: 'ssllabs',
      engineVersion: '2.4.1',
      criteriaVersion: '2009r',
      startedAt: '2026-03-02T09:14:27.267Z',
      finishedAt: '2026-03-02T09:18:35.443Z',
    });
    expect(assessment.endpoints.map((e) => e.ip)).toEqual(['203.0.113.20', '203.0.113.21']);
  });

  it("reports SSL Labs' own grade, with our caps and scores explaining it", () => {
    expect(ready).toMatchObject({ status: 'ready', grade: 'B', gradeTrustIgnored: 'B', hasWarnings: false, isExceptional: false });
    expect(ready.caps.map((c) => c.rule)).toEqual(['tls10-enabled', 'tls11-enabled', 'hsts-missing']);
    expect(ready.scores?.total).toBeGreaterThan(80);
    expect(ready).toMatchObject({ durationMs: 231_522, connections: 0, warnings: [] });
  });

  it('lists every protocol with the ones SSL Labs found supported', () => {
    expect(ready.protocols).toEqual([
      { name: 'SSLv2', supported: false },
      { name: 'SSLv3', supported: false },
      { name: 'TLSv1.0', supported: true },
      { name: 'TLSv1.1', supported: true },
      { name: 'TLSv1.2', supported: true },
      { name: 'TLSv1.3', supported: true },
    ]);
  });

  it('maps every suite of every protocol onto the catalogue, with its key exchange', () => {
    expect(ready.suites).toHaveLength(31);
    expect(ready.suites.filter((s) => s.protocol === 'TLSv1.0').map((s) => s.code)).toEqual(['0xC013', '0xC014', '0x0033', '0x0039', '0x002F', '0x0035', '0x000A']);
    expect(ready.suites.filter((s) => s.protocol === 'TLSv1.3').map((s) => s.iana)).toEqual(['TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256', 'TLS_AES_128_GCM_SHA256']);
    const onTls12 = (code: string) => ready.suites.find((s) => s.protocol === 'TLSv1.2' && s.code === code);
    expect(onTls12('0xC02F')).toMatchObject({ openssl: 'ECDHE-RSA-AES128-GCM-SHA256', strength: 'secure', kxDetail: { type: 'ECDH', group: 'secp256r1', bits: 256, rsaEquivalentBits: 3072 } });
    // dhP is the prime's length in bytes: 256 bytes = 2048 bits.
    expect(onTls12('0x009E')?.kxDetail).toEqual({ type: 'DH', bits: 2048, rsaEquivalentBits: 2048 });
    expect(onTls12('0x009C')).toMatchObject({ kx: 'RSA', strength: 'weak' });
    expect(onTls12('0x009C')?.kxDetail).toBeUndefined();
    expect(ready.suites.find((s) => s.protocol === 'TLSv1.3')?.kxDetail).toEqual({ type: 'ECDH', group: 'x25519', bits: 256, rsaEquivalentBits: 3072 });
  });

  it('takes suite and group preference, named groups and the DH prime SSL Labs saw', () => {
    expect(ready.suitePreference).toEqual([
      { protocol: 'TLSv1.0', preference: 'server' },
      { protocol: 'TLSv1.1', preference: 'server' },
      { protocol: 'TLSv1.2', preference: 'server' },
      { protocol: 'TLSv1.3', preference: 'client' },
    ]);
    expect(ready.groups).toEqual([
      { id: 23, name: 'secp256r1', bits: 256, type: 'ec', rsaEquivalentBits: 3072 },
      { id: 24, name: 'secp384r1', bits: 384, type: 'ec', rsaEquivalentBits: 7680 },
      { id: 29, name: 'x25519', bits: 256, type: 'ec', rsaEquivalentBits: 3072 },
    ]);
    expect(ready.groupPreference).toBe(true);
    expect(ready.dhParameters).toEqual([{ primeBits: 2048, generator: null, knownPrime: 'RFC 3526 group 14', weakKnownPrime: false }]);
  });

  it('maps the SNI chain first: served certificates in order, the trusted Mozilla path, chain issues 4 + 8', () => {
    const [sniChain, noSniChain] = ready.certificates;
    const leafId = certId(host, 'CN=legacy.example');
    const caId = certId(host, 'CN=Example RSA Domain Validation CA');
    expect(sniChain?.served.map((c) => c.subject)).toEqual(['CN=legacy.example', 'CN=*.old-legacy.example', 'CN=Example RSA Domain Validation CA']);
    expect(sniChain).toMatchObject({
      sni: 'legacy.example',
      trusted: true,
      trustError: null,
      trustPath: [leafId, caId, certId(host, 'CN=Example Root CA X1')],
      hostnameMatch: true,
      issues: { incomplete: false, extraCerts: true, wrongOrder: true, rootIncluded: false, cannotValidate: false },
      leafExpiry: '2026-03-20T23:59:59.000Z',
      // Along the trusted path: the expired leftover certificate served alongside does not count.
      earliestExpiry: '2026-03-20T23:59:59.000Z',
    });
    expect(noSniChain).toMatchObject({ sni: null, hostnameMatch: false, trusted: true });
    expect(noSniChain?.served[0]?.subject).toBe('CN=default.hosting.example');
  });

  it('describes each certificate from Host.certs, expiry counted from testTime', () => {
    const [leaf, stale, ca] = ready.certificates[0]?.served ?? [];
    const raw = host.certs?.find((c) => c.subject === 'CN=legacy.example');
    expect(leaf).toMatchObject({
      commonNames: ['legacy.example'],
      altNames: ['DNS:legacy.example', 'DNS:www.legacy.example'],
      issuer: 'CN=Example RSA Domain Validation CA',
      serialNumber: raw?.serialNumber,
      notBefore: '2025-12-20T00:00:00.000Z',
      notAfter: '2026-03-20T23:59:59.000Z',
      daysToExpiry: 18,
      keyAlg: 'RSA',
      keySize: 2048,
      keyStrength: 2048,
      sigAlg: 'SHA256withRSA',
      sha1: raw?.sha1Hash,
      sha256: raw?.sha256Hash,
      pinSha256: raw?.pinSha256,
      ocspUrls: ['http://ocsp.ca.example'],
      crlUrls: [],
      mustStaple: false,
      sctCount: 1,
      selfSigned: false,
      isCa: false,
    });
    expect(stale?.daysToExpiry).toBe(-195);
    expect(ca).toMatchObject({ isCa: true, crlUrls: ['http://crl.ca.example/root.crl'] });
    // The PEM is the certificate itself, with SSL Labs' CRLF line ends made plain.
    expect(leaf?.pem).not.toContain('\r');
    expect(new X509Certificate(leaf?.pem ?? '').fingerprint256.replace(/:/g, '').toLowerCase()).toBe(leaf?.sha256);
  });

  it('maps renegotiation, resumption, tickets, stapling, ALPN and the HTTP answer', () => {
    expect(ready.features).toEqual({
      secureRenegotiation: true,
      fallbackScsv: true,
      compression: false,
      sessionResumption: { ids: 'enabled', tickets: true },
      ocspStapling: false,
      alpn: ['http/1.1'],
      extendedMasterSecret: null,
      sniRequired: false,
      heartbeat: false,
    });
    expect(ready.http).toEqual({
      status: 200,
      server: 'Apache/2.4.29 (Ubuntu)',
      hsts: { status: 'absent', header: null, maxAge: null, includeSubDomains: false, preload: false },
    });
  });

  it('maps the client simulations, platform appended to the version', () => {
    expect(ready.simulations).toHaveLength(8);
    expect(ready.simulations.find((s) => s.client.id === '170')).toEqual({
      client: { id: '170', name: 'Chrome', version: '80 / Win 10', isReference: true },
      ok: true,
      protocol: 'TLSv1.3',
      suite: { code: '0x1302', iana: 'TLS_AES_256_GCM_SHA384' },
      group: 'x25519',
      fs: true,
      aead: true,
    });
    expect(ready.simulations.find((s) => s.client.id === '101')).toMatchObject({ protocol: 'TLSv1.0', suite: { code: '0x000A' }, fs: false, aead: false });
    expect(ready.simulations.find((s) => s.client.id === '62')?.client).toEqual({ id: '62', name: 'Android', version: '4.4.2', isReference: false });
    expect(ready.simulations.find((s) => s.client.id === '100')).toEqual({
      client: { id: '100', name: 'IE', version: '6 / XP', isReference: false },
      ok: false,
      error: 'Protocol mismatch (not simulated)',
    });
  });

  it("reports SSL Labs' vulnerability tests under the native registry's ids, plus drown", () => {
    expect(ready.vulnerabilities).toEqual([
      { id: 'heartbleed', status: 'not-vulnerable' },
      { id: 'ccs-injection', status: 'not-vulnerable' },
      { id: 'ticketbleed', status: 'not-vulnerable' },
      { id: 'robot', status: 'not-vulnerable' },
      { id: 'padding-oracle', status: 'not-vulnerable' },
      { id: 'drown', status: 'not-vulnerable' },
    ]);
  });

  it('computes findings with our own checks: TLS 1.0/1.1, 3DES, an expiring certificate, chain order', () => {
    expect(ids(ready.findings)).toEqual(['tls10', 'tls11', 'sweet32', 'cert-expiring', 'chain-wrong-order', 'hsts-missing', 'beast', 'chain-extra-certs']);
  });

  it('turns the unreachable endpoint into an error with the SSL Labs status message and no facts', () => {
    expect(failed).toMatchObject({
      ip: '203.0.113.21',
      status: 'error',
      grade: null,
      gradeTrustIgnored: null,
      scores: null,
      caps: [],
      findings: [],
      error: { code: 'ssllabs.endpoint-error', message: 'Unable to connect to the server' },
      durationMs: 15_404,
      suites: [],
      certificates: [],
      http: null,
    });
    expect(failed.protocols.every((p) => !p.supported)).toBe(true);
  });
});

describe('mapSslLabsHost: grade A+ modern host (TLS 1.2 + 1.3, ECDSA, long HSTS)', () => {
  const host = fixture('grade-a-plus-modern');
  const endpoint = firstEndpoint(host);

  it('keeps A+ and, with nothing to hold it back, our grader finds no cap and no finding', () => {
    expect(endpoint).toMatchObject({ status: 'ready', grade: 'A+', gradeTrustIgnored: 'A+', isExceptional: true, hasWarnings: false });
    expect(endpoint.caps).toEqual([]);
    expect(endpoint.findings).toEqual([]);
    expect(endpoint.protocols.filter((p) => p.supported).map((p) => p.name)).toEqual(['TLSv1.2', 'TLSv1.3']);
  });

  it('maps the HSTS policy and the modern features', () => {
    expect(endpoint.http?.hsts).toEqual({ status: 'present', header: 'max-age=63072000; includeSubDomains; preload', maxAge: 63_072_000, includeSubDomains: true, preload: true });
    expect(endpoint.features).toMatchObject({ ocspStapling: true, alpn: ['h2', 'http/1.1'], sessionResumption: { ids: 'enabled', tickets: true } });
  });

  it('types a post-quantum hybrid group from the catalogue, whatever SSL Labs calls it', () => {
    expect(endpoint.groups.map((g) => [g.name, g.type])).toEqual([
      ['X25519MLKEM768', 'hybrid-pq'],
      ['x25519', 'ec'],
      ['secp256r1', 'ec'],
      ['secp384r1', 'ec'],
    ]);
  });

  it('maps an ECDSA leaf with its RSA-equivalent strength', () => {
    expect(endpoint.certificates[0]?.served[0]).toMatchObject({ subject: 'CN=modern.example', keyAlg: 'EC', keySize: 256, keyStrength: 3072, sigAlg: 'SHA384withECDSA', daysToExpiry: 68 });
  });

  it('counts "TLS not supported" and untested padding-oracle results as no vulnerability found', () => {
    expect(endpoint.vulnerabilities.find((v) => v.id === 'padding-oracle')).toEqual({ id: 'padding-oracle', status: 'not-vulnerable' });
  });

  it('judges expiry at options.now: the caps follow it, the SSL Labs grade does not', () => {
    const later = firstEndpoint(fixture('grade-a-plus-modern'), { now: new Date('2026-07-20T00:00:00Z') });
    expect(later.certificates[0]?.served[0]?.daysToExpiry).toBe(-1);
    expect(later.caps.map((c) => c.rule)).toEqual(['certificate-expired']);
    expect(ids(later.findings)).toContain('cert-expired');
    expect(later.grade).toBe('A+');
  });
});

describe('mapSslLabsHost: grade T self-signed host', () => {
  const host = fixture('grade-t-untrusted');
  const endpoint = firstEndpoint(host);

  it('keeps T with the trust-ignored A, and explains it with our self-signed cap', () => {
    expect(endpoint).toMatchObject({ grade: 'T', gradeTrustIgnored: 'A' });
    expect(endpoint.caps.map((c) => [c.rule, c.effect, c.grade])).toEqual([
      ['self-signed', 'set', 'T'],
      ['hsts-missing', 'no-a-plus', 'A'],
    ]);
    expect(ids(endpoint.findings)).toEqual(['cert-untrusted', 'hsts-missing']);
  });

  it('reports the chain untrusted, in words from the certificate issue bits', () => {
    const leafId = certId(host, 'CN=selfsigned.example');
    expect(endpoint.certificates[0]).toMatchObject({ trusted: false, trustError: 'the certificate is self-signed', trustPath: [leafId], hostnameMatch: true });
    expect(endpoint.certificates[0]?.served[0]).toMatchObject({ selfSigned: true, isCa: false, sctCount: 0 });
  });

  it("takes self-signing from SSL Labs' issue bit when the issuer name does not show it", () => {
    const changed = fixture('grade-t-untrusted');
    delete changed.certs?.[0]?.issuerSubject;
    expect(firstEndpoint(changed).certificates[0]?.served[0]).toMatchObject({ selfSigned: true, issuer: '' });
  });

  it('maps session ids that are issued but not resumed, and no tickets', () => {
    expect(endpoint.features.sessionResumption).toEqual({ ids: 'ids-not-resumed', tickets: false });
  });
});

describe('mapSslLabsHost: vulnerability results', () => {
  function vulnerabilitiesWith(changes: Partial<SslLabsEndpointDetails>) {
    const host = fixture('grade-b-legacy');
    Object.assign(detailsOf(host), changes);
    return firstEndpoint(host);
  }

  it('reports ROBOT and a padding oracle as vulnerable, so our grader caps at F while the SSL Labs grade stays', () => {
    const endpoint = vulnerabilitiesWith({ bleichenbacher: 3, zombiePoodle: 3, goldenDoodle: 4 });
    expect(endpoint.vulnerabilities.find((v) => v.id === 'robot')).toEqual({ id: 'robot', status: 'vulnerable', detail: 'ROBOT: vulnerable (strong oracle) (SSL Labs bleichenbacher=3)' });
    expect(endpoint.vulnerabilities.find((v) => v.id === 'padding-oracle')).toEqual({
      id: 'padding-oracle',
      status: 'vulnerable',
      detail: 'Zombie POODLE: vulnerable and exploitable (SSL Labs zombiePoodle=3); GOLDENDOODLE: vulnerable (SSL Labs goldenDoodle=4)',
    });
    expect(endpoint.caps.filter((c) => c.grade === 'F').map((c) => c.rule)).toEqual(['robot', 'padding-oracle']);
    expect(ids(endpoint.findings).slice(0, 2)).toEqual(['robot', 'padding-oracle']);
    expect(endpoint.grade).toBe('B');
  });

  it('reads each numeric code as documented: failed test, possibly-but-not-exploitable, unknown codes', () => {
    const endpoint = vulnerabilitiesWith({ openSslCcs: 2, ticketbleed: -1, bleichenbacher: 9, heartbleed: true });
    const byId = new Map(endpoint.vulnerabilities.map((v) => [v.id, v]));
    expect(byId.get('ccs-injection')).toEqual({ id: 'ccs-injection', status: 'not-vulnerable', detail: 'CCS injection: possibly vulnerable, but not exploitable (SSL Labs openSslCcs=2)' });
    expect(byId.get('ticketbleed')).toEqual({ id: 'ticketbleed', status: 'error', detail: 'Ticketbleed: the test failed (SSL Labs ticketbleed=-1)' });
    expect(byId.get('robot')).toEqual({ id: 'robot', status: 'error', detail: 'ROBOT: unknown SSL Labs result bleichenbacher=9' });
    expect(byId.get('heartbleed')?.status).toBe('vulnerable');
  });

  it('reports DROWN with the SSLv2 hosts that share the key', () => {
    const endpoint = vulnerabilitiesWith({
      drownVulnerable: true,
      drownHosts: [
        { ip: '198.51.100.7', export: true, port: 443, special: false, sslv2: true, status: 'key_match' },
        { ip: '198.51.100.8', export: false, port: 25, special: false, sslv2: false, status: 'handshake_failure' },
      ],
    });
    expect(endpoint.vulnerabilities.find((v) => v.id === 'drown')).toEqual({
      id: 'drown',
      status: 'vulnerable',
      detail: "this server's key or name is used by SSLv2 hosts: 198.51.100.7:443 (same RSA key)",
    });
  });

  it('marks tests SSL Labs did not report as not tested', () => {
    const host = fixture('grade-b-legacy');
    const details = detailsOf(host);
    for (const field of ['heartbleed', 'openSslCcs', 'ticketbleed', 'bleichenbacher', 'drownVulnerable', 'poodleTls', 'openSSLLuckyMinus20', 'zombiePoodle', 'goldenDoodle', 'zeroLengthPaddingOracle', 'sleepingPoodle'] as const) {
      delete details[field];
    }
    expect(firstEndpoint(host).vulnerabilities.every((v) => v.status === 'not-tested')).toBe(true);
  });

  it('warns when SSL Labs flags FREAK but its suite list shows no export suite', () => {
    expect(vulnerabilitiesWith({ freak: true }).warnings).toEqual([
      'SSL Labs reports FREAK (export RSA key exchange) (freak=true) but its suite list does not show it; the findings do not include it',
    ]);
  });
});

describe('mapSslLabsHost: partial and hostile input', () => {
  it.each([null, 'READY', 42, [], {}, { host: '' }, { host: 7, endpoints: [] }])('refuses %j as not a Host (ssllabs.bad-response, 502)', (value) => {
    let thrown: unknown;
    try {
      mapSslLabsHost(value as unknown as SslLabsHost);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(PortcullisError);
    expect(thrown).toMatchObject({ code: 'ssllabs.bad-response', status: 502 });
  });

  it('maps a Host without endpoints or certs to an assessment with no endpoints', () => {
    expect(mapSslLabsHost({ host: 'empty.example', testTime: Date.UTC(2026, 0, 1) })).toMatchObject({ host: 'empty.example', port: 443, endpoints: [], finishedAt: '2026-01-01T00:00:00.000Z' });
  });

  it('keeps the grade of a Ready endpoint without details, with empty facts and a warning', () => {
    const host = fixture('grade-a-plus-modern');
    delete host.endpoints?.[0]?.details;
    const endpoint = firstEndpoint(host);
    expect(endpoint).toMatchObject({ status: 'ready', grade: 'A+', suites: [], certificates: [], http: null, vulnerabilities: [] });
    expect(endpoint.protocols.every((p) => !p.supported && p.error === 'not reported by SSL Labs')).toBe(true);
    expect(endpoint.warnings).toHaveLength(1);
    expect(endpoint.warnings[0]).toContain('no endpoint details');
  });

  it('makes an endpoint that is Ready but has no grade an error', () => {
    const host = fixture('grade-a-plus-modern');
    delete host.endpoints?.[0]?.grade;
    expect(firstEndpoint(host)).toMatchObject({ status: 'error', grade: null, error: { code: 'ssllabs.endpoint-error', message: 'SSL Labs finished the endpoint but gave it no grade' } });
  });

  it('builds a suite missing from the catalogue from its name, strength from SSL Labs q', () => {
    const host = fixture('grade-t-untrusted');
    const unknownRc4: SslLabsSuite = { id: 0xfe00, name: 'TLS_RSA_WITH_RC4_128_SHA', cipherStrength: 128, q: 0 };
    const unknownScheme: SslLabsSuite = { id: 0xfe01, name: 'PRIVATE_SUITE_X', cipherStrength: 128, q: 1 };
    expect([suiteById(0xfe00), suiteById(0xfe01)]).toEqual([undefined, undefined]);
    detailsOf(host).suites?.[0]?.list.push(unknownRc4, unknownScheme);
    const endpoint = firstEndpoint(host);
    expect(endpoint.suites.find((s) => s.id === 0xfe00)).toMatchObject({ code: '0xFE00', iana: 'TLS_RSA_WITH_RC4_128_SHA', openssl: null, cipher: 'RC4-128', strength: 'insecure', protocol: 'TLSv1.2' });
    expect(endpoint.suites.find((s) => s.id === 0xfe01)).toMatchObject({ code: '0xFE01', cipher: 'unknown', bits: 128, strength: 'weak', protocols: ['TLSv1.2'] });
    expect(ids(endpoint.findings)).toContain('rc4');
    expect(endpoint.warnings.filter((w) => w.includes('not in the Portcullis catalogue'))).toHaveLength(2);
  });

  it('maps what it can from fields of the wrong type and says what it could not', () => {
    const host = fixture('grade-b-legacy');
    const odd: Record<string, unknown> = {
      protocols: 'TLS 1.2',
      suites: [null, 5, { protocol: 'TLS', list: [] }, { protocol: 771, list: [null, { name: 'no id' }] }],
      namedGroups: { list: [{ bits: 'x' }], preference: 'yes' },
      certChains: [{ id: 'c1', certIds: ['missing', 12], trustPaths: 'none' }, null],
      sims: { results: [null, { client: null, errorCode: 0, suiteId: 'x' }] },
      hstsPolicy: 'max-age=1',
      renegSupport: 'yes',
      alpnProtocols: 42,
      sessionResumption: 7,
      dhPrimes: ['not hex'],
      heartbleed: 'no',
      drownHosts: 'none',
    };
    Object.assign(detailsOf(host), odd);
    const endpoint = firstEndpoint(host);
    expect(endpoint.status).toBe('ready');
    expect(endpoint.warnings.some((w) => w.includes('could not be mapped'))).toBe(false);
    expect(endpoint.protocols.every((p) => !p.supported && p.error === 'not reported by SSL Labs')).toBe(true);
    expect(endpoint.suites).toEqual([]);
    expect(endpoint.groups).toEqual([]);
    expect(endpoint.groupPreference).toBeNull();
    expect(endpoint.certificates).toEqual([expect.objectContaining({ served: [], trusted: false, trustPath: [], leafExpiry: '' })]);
    expect(endpoint.simulations).toEqual([{ client: { id: '', name: 'unknown client', version: '', isReference: false }, ok: true }]);
    expect(endpoint.http?.hsts).toMatchObject({ status: 'unknown' });
    expect(endpoint.features).toMatchObject({ secureRenegotiation: null, alpn: [], sessionResumption: { ids: null } });
    expect(endpoint.vulnerabilities.find((v) => v.id === 'heartbleed')?.status).toBe('not-tested');
    expect(endpoint.warnings).toEqual(
      expect.arrayContaining([
        'SSL Labs reported no protocol list',
        'suites for protocol id TLS left out: not a protocol Portcullis models',
        'a TLSv1.2 suite without a valid id left out: no id',
        expect.stringContaining('a DH prime SSL Labs listed is not hex'),
        expect.stringContaining('certificate missing… of chain c1… left out: it is not in the Host certs'),
        'chain c1…: SSL Labs reported no trust verdict; taken as untrusted',
      ]),
    );
  });

  it('never throws for an endpoint whose details fail in a way nobody anticipated: grade kept, facts empty, a warning', () => {
    const host = fixture('grade-a-plus-modern');
    Object.defineProperty(detailsOf(host), 'protocols', {
      get: () => {
        throw new Error('unreadable');
      },
    });
    const endpoint = firstEndpoint(host);
    expect(endpoint).toMatchObject({ status: 'ready', grade: 'A+', suites: [], certificates: [] });
    expect(endpoint.warnings).toEqual(['SSL Labs endpoint details could not be mapped: unreadable']);
  });

  it('puts the SNI chain first even when SSL Labs lists the no-SNI chain first', () => {
    const host = fixture('grade-b-legacy');
    detailsOf(host).certChains?.reverse();
    expect(firstEndpoint(host).certificates.map((c) => c.sni)).toEqual(['legacy.example', null]);
  });

  it("judges trust by Mozilla's store, as SSL Labs grades, even when other stores trust the chain", () => {
    const host = fixture('grade-b-legacy');
    const chain = detailsOf(host).certChains?.[0];
    for (const path of chain?.trustPaths ?? []) {
      path.trust = path.trust.map((t) => (t.rootStore === 'Mozilla' ? { rootStore: 'Mozilla', isTrusted: false, trustErrorMessage: 'root distrusted by Mozilla' } : t));
    }
    expect(firstEndpoint(host).certificates[0]).toMatchObject({ trusted: false, trustError: 'root distrusted by Mozilla' });
  });

  it('judges trust by any store when SSL Labs gives no Mozilla verdict', () => {
    const host = fixture('grade-b-legacy');
    const chain = detailsOf(host).certChains?.[0];
    if (chain?.trustPaths === undefined) throw new Error('fixture chain has no trust paths');
    chain.trustPaths = chain.trustPaths.filter((path) => path.trust.every((t) => t.rootStore === 'Apple'));
    expect(firstEndpoint(host).certificates[0]).toMatchObject({ trusted: true, trustError: null });
    chain.trustPaths = chain.trustPaths.map((path) => ({ ...path, trust: [{ rootStore: 'Apple', isTrusted: false, trustErrorMessage: 'unable to find a valid certification path' }] }));
    expect(firstEndpoint(host).certificates[0]).toMatchObject({ trusted: false, trustError: 'unable to find a valid certification path' });
  });

  it('leaves out a certificate without validity dates, with a warning', () => {
    const host = fixture('grade-t-untrusted');
    delete host.certs?.[0]?.notAfter;
    const endpoint = firstEndpoint(host);
    expect(endpoint.certificates[0]?.served).toEqual([]);
    expect(endpoint.warnings.some((w) => w.includes('it has no validity dates'))).toBe(true);
  });
});
