/**
 * End to end through real node:tls servers: each certificate problem SSL Labs grades (and each feature a
 * user checks) comes out of assess() with the right grade, rule and evidence.
 */
import tls from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createScopePolicy, staticResolver } from '../scope/index.js';
import { createCertificate, testPki, type CertOptions, type TestCert, type TestPki } from '../testing/pki.js';
import { TestServers } from '../testing/servers.js';
import { startTlsServer, tlsServerOptions, type TlsServerOptions } from '../testing/tls-servers.js';
import { assess } from './assess.js';
import type { EndpointAssessment, Grade } from './model.js';

const DAY_MS = 86_400_000;
const HSTS = 'max-age=31536000';
const servers = new TestServers();
afterEach(() => servers.closeAll());

let pki: TestPki;
beforeAll(async () => {
  pki = await testPki();
});

/** Trust: the test root, plus extra CA-file certificates (an intermediate there completes a chain). */
async function assessServer(options: TlsServerOptions, caFileExtras: TestCert[] = []): Promise<EndpointAssessment> {
  const port = await startTlsServer(servers, { hsts: HSTS, ...options });
  const roots = [pki.root.der, ...caFileExtras.map((c) => c.der)];
  const assessment = await assess(
    { host: 'localhost', port },
    { resolver: staticResolver({ localhost: ['127.0.0.1'] }), scopePolicy: createScopePolicy({ allow: [], deny: [] }), trustStore: { roots, source: 'test root' }, timeoutMs: 3000 },
  );
  return assessment.endpoints[0] as EndpointAssessment;
}

const leaf = (options: Partial<CertOptions>): Promise<TestCert> => pki.leafFor(options);
const rules = (endpoint: EndpointAssessment): string[] => endpoint.caps.map((c) => c.rule);

describe('certificate problems graded end to end', () => {
  const cases: Array<{ name: string; chain: () => Promise<TestCert[]>; grade: Grade; trustIgnored: Grade; rule: string; server?: TlsServerOptions; caFile?: () => TestCert[] }> = [
    { name: 'expired leaf → T', chain: async () => [await leaf({ commonName: 'expired.localhost', notBefore: new Date(Date.now() - 60 * DAY_MS), notAfter: new Date(Date.now() - 2 * DAY_MS) }), pki.intermediate], grade: 'T', trustIgnored: 'A+', rule: 'certificate-expired' },
    { name: 'not yet valid → T', chain: async () => [await leaf({ commonName: 'future.localhost', notBefore: new Date(Date.now() + 5 * DAY_MS), notAfter: new Date(Date.now() + 90 * DAY_MS) }), pki.intermediate], grade: 'T', trustIgnored: 'A+', rule: 'certificate-not-yet-valid' },
    {
      name: 'untrusted root → T',
      chain: async () => {
        const otherRoot = await createCertificate({ commonName: 'Unknown Root CA', isCa: true });
        return [await createCertificate({ commonName: 'localhost', altNames: ['DNS:localhost'], issuer: otherRoot }), otherRoot];
      },
      grade: 'T',
      trustIgnored: 'A+',
      rule: 'untrusted',
    },
    { name: 'SHA-1 signed leaf → T', chain: async () => [await leaf({ commonName: 'sha1.localhost', signatureHash: 'SHA-1' }), pki.intermediate], grade: 'T', trustIgnored: 'A+', rule: 'sha1-signature', server: { ciphers: 'DEFAULT@SECLEVEL=0' } },
    // Offline there is no AIA fetching: the missing intermediate is found only in a CA file (as SSL Labs finds it online).
    { name: 'intermediate not served but known → capped at B', chain: async () => [pki.leaf], grade: 'B', trustIgnored: 'B', rule: 'incomplete-chain', caFile: () => [pki.intermediate] },
    { name: 'intermediate not served and unknown → T', chain: async () => [pki.leaf], grade: 'T', trustIgnored: 'A+', rule: 'untrusted' },
    { name: '1024-bit RSA key → capped at B', chain: async () => [await leaf({ commonName: 'rsa1024.localhost', key: { alg: 'RSA', bits: 1024 } }), pki.intermediate], grade: 'B', trustIgnored: 'B', rule: 'weak-key', server: { ciphers: 'DEFAULT@SECLEVEL=0' } },
  ];

  it.each(cases)('$name', async ({ chain, grade, trustIgnored, rule, server, caFile }) => {
    const endpoint = await assessServer({ chain: await chain(), ...server }, caFile?.() ?? []);
    expect(endpoint.status).toBe('ready');
    expect(rules(endpoint)).toContain(rule);
    expect(endpoint.caps.find((c) => c.rule === rule)?.fix).toBeTruthy();
    expect(endpoint.grade).toBe(grade);
    expect(endpoint.gradeTrustIgnored).toBe(trustIgnored);
  });

  it('reads an ECDSA P-256 certificate as 3072-bit RSA-equivalent and grades it A+', async () => {
    const ecdsa = await leaf({ commonName: 'ecdsa.localhost', key: { alg: 'EC', curve: 'P-256' } });
    const endpoint = await assessServer({ chain: [ecdsa, pki.intermediate], ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384' });
    expect(endpoint.certificates[0]?.served[0]).toMatchObject({ keyAlg: 'EC', keySize: 256, keyStrength: 3072, sigAlg: 'SHA256withRSA' });
    expect(endpoint.suites.filter((s) => s.protocol === 'TLSv1.2').map((s) => s.auth)).toEqual(['ECDSA', 'ECDSA']);
    expect(endpoint.grade).toBe('A+');
  });

  it('keeps a good server at A without HSTS (no A+) and reports the leaf and earliest expiry separately', async () => {
    const shortIntermediate = await createCertificate({ commonName: 'Short Intermediate CA', isCa: true, issuer: pki.root, notAfter: new Date(Date.now() + 20 * DAY_MS) });
    const shortLeaf = await createCertificate({ commonName: 'localhost', altNames: ['DNS:localhost'], issuer: shortIntermediate, notAfter: new Date(Date.now() + 60 * DAY_MS) });
    const port = await startTlsServer(servers, { chain: [shortLeaf, shortIntermediate] });
    const assessment = await assess(
      { host: 'localhost', port },
      { resolver: staticResolver({ localhost: ['127.0.0.1'] }), scopePolicy: createScopePolicy({ allow: [], deny: [] }), trustStore: { roots: [pki.root.der], source: 'test root' } },
    );
    const endpoint = assessment.endpoints[0] as EndpointAssessment;
    expect(endpoint.grade).toBe('A');
    expect(rules(endpoint)).toContain('hsts-missing');
    const chain = endpoint.certificates[0];
    expect(Date.parse(chain?.leafExpiry ?? '')).toBeGreaterThan(Date.parse(chain?.earliestExpiry ?? ''));
    expect(endpoint.findings.map((f) => f.id)).toContain('hsts-missing');
  });
});

describe('protocol features measured end to end', () => {
  it('reads ALPN h2 and http/1.1, session resumption by id and tickets, on a TLS 1.3-only server too', async () => {
    const endpoint = await assessServer({ minVersion: 'TLSv1.3', alpn: ['h2', 'http/1.1'], sessionIdResumption: true });
    expect(endpoint.protocols.filter((p) => p.supported).map((p) => p.name)).toEqual(['TLSv1.3']);
    expect(endpoint.features.alpn).toEqual(expect.arrayContaining(['h2', 'http/1.1']));
    expect(endpoint.features.sessionResumption.tickets).toBe(true);
    expect(endpoint.certificates[0]?.served[0]?.commonNames).toEqual(['localhost']);
    expect(endpoint.certificates[0]?.trusted).toBe(true);
    expect(endpoint.grade).toBe('A+');
  });

  it('reports a server without tickets and with session-id resumption on TLS 1.2', async () => {
    const endpoint = await assessServer({ maxVersion: 'TLSv1.2', sessionTickets: false, sessionIdResumption: true });
    expect(endpoint.features.sessionResumption).toEqual({ ids: 'enabled', tickets: false });
    expect(endpoint.features.secureRenegotiation).toBe(true);
    expect(endpoint.features.extendedMasterSecret).toBe(true);
    expect(endpoint.features.compression).toBe(false);
  });

  it('sees OCSP stapling when the server staples', async () => {
    const stapling = tls.createServer(await tlsServerOptions({ maxVersion: 'TLSv1.2' }), (socket) => socket.end());
    // Node servers staple whatever the OCSPRequest handler returns; any DER blob stands in for a response here.
    stapling.on('OCSPRequest', (_cert: Buffer, _issuer: Buffer, done: (err: Error | null, response?: Buffer) => void) => done(null, Buffer.from([0x30, 0x03, 0x0a, 0x01, 0x00])));
    const port = await servers.track(stapling);
    const assessment = await assess(
      { host: 'localhost', port },
      { resolver: staticResolver({ localhost: ['127.0.0.1'] }), scopePolicy: createScopePolicy({ allow: [], deny: [] }), trustStore: { roots: [pki.root.der], source: 'test root' }, http: false },
    );
    expect(assessment.endpoints[0]?.features.ocspStapling).toBe(true);
  });
});
