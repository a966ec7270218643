import { describe, expect, it } from 'vitest';
import { findingsFor } from './findings.js';
import { MODERN_SUITES, facts, protocols, simulation, suite, withLeaf } from './grade/fixtures.js';
import type { EndpointFacts, FindingSeverity } from './model.js';

interface FindingCase {
  id: string;
  change: Partial<EndpointFacts>;
  severity: FindingSeverity;
  /** Evidence entries the finding must list. */
  evidence: string[];
}

const withSuites = (...extra: ReturnType<typeof suite>[]): Partial<EndpointFacts> => ({ suites: [...MODERN_SUITES, ...extra] });
const withFeatures = (changes: Partial<EndpointFacts['features']>): Partial<EndpointFacts> => ({ features: { ...facts().features, ...changes } });
const hsts = (status: 'absent' | 'invalid' | 'disabled' | 'present', header: string | null, maxAge: number | null, error?: string): Partial<EndpointFacts> => ({
  http: { status: 200, server: null, hsts: { status, header, maxAge, includeSubDomains: false, preload: false, ...(error ? { error } : {}) } },
});
const issues = (changes: Partial<EndpointFacts['certificates'][number]['issues']>) =>
  withLeaf({}, { issues: { incomplete: false, extraCerts: false, wrongOrder: false, rootIncluded: false, cannotValidate: false, ...changes } });

const CASES: FindingCase[] = [
  { id: 'sslv2', change: { protocols: protocols('SSLv2', 'TLSv1.2', 'TLSv1.3') }, severity: 'critical', evidence: ['SSL 2.0'] },
  { id: 'sslv3', change: { protocols: protocols('SSLv3', 'TLSv1.2', 'TLSv1.3'), ...withSuites(suite('RC4-SHA', 'SSLv3')) }, severity: 'high', evidence: ['SSL 3.0', 'SSLv3 0x0005 TLS_RSA_WITH_RC4_128_SHA'] },
  { id: 'poodle-sslv3', change: { protocols: protocols('SSLv3', 'TLSv1.2'), ...withSuites(suite('AES128-SHA', 'SSLv3')) }, severity: 'high', evidence: ['SSLv3 0x002F TLS_RSA_WITH_AES_128_CBC_SHA'] },
  { id: 'tls10', change: { protocols: protocols('TLSv1.0', 'TLSv1.2', 'TLSv1.3') }, severity: 'medium', evidence: ['TLS 1.0'] },
  { id: 'tls11', change: { protocols: protocols('TLSv1.1', 'TLSv1.2', 'TLSv1.3') }, severity: 'medium', evidence: ['TLS 1.1'] },
  { id: 'no-tls13', change: { protocols: protocols('TLSv1.2') }, severity: 'low', evidence: ['TLS 1.2'] },
  { id: 'no-secure-renegotiation', change: withFeatures({ secureRenegotiation: false }), severity: 'medium', evidence: ['renegotiation_info not echoed'] },
  { id: 'fallback-scsv-missing', change: withFeatures({ fallbackScsv: false }), severity: 'info', evidence: [] },
  { id: 'crime', change: withFeatures({ compression: true }), severity: 'high', evidence: ['compression method DEFLATE'] },
  { id: 'freak', change: withSuites(suite('EXP-RC4-MD5', 'TLSv1.0')), severity: 'critical', evidence: ['TLSv1.0 0x0003 TLS_RSA_EXPORT_WITH_RC4_40_MD5'] },
  { id: 'anon-suites', change: withSuites(suite('ADH-AES128-SHA', 'TLSv1.2')), severity: 'critical', evidence: ['TLSv1.2 0x0034 TLS_DH_anon_WITH_AES_128_CBC_SHA'] },
  { id: 'logjam', change: { dhParameters: [{ primeBits: 512, generator: 2, knownPrime: null, weakKnownPrime: false }] }, severity: 'critical', evidence: ['DH 512 bits'] },
  { id: 'weak-dh', change: withSuites(suite('DHE-RSA-AES128-GCM-SHA256', 'TLSv1.2', { type: 'DH', bits: 1024 })), severity: 'medium', evidence: ['DH 1024 bits'] },
  { id: 'dh-common-prime', change: { dhParameters: [{ primeBits: 1024, generator: 2, knownPrime: 'RFC 2409 Oakley group 2', weakKnownPrime: true }] }, severity: 'medium', evidence: ['RFC 2409 Oakley group 2 (1024 bits)'] },
  { id: 'no-forward-secrecy', change: { ...withSuites(suite('AES128-GCM-SHA256', 'TLSv1.2')), simulations: [simulation('Java', 'TLSv1.2', 'AES128-GCM-SHA256')] }, severity: 'medium', evidence: ['Java 1: TLS_RSA_WITH_AES_128_GCM_SHA256 (TLSv1.2)'] },
  { id: 'null-suites', change: withSuites(suite('NULL-SHA256', 'TLSv1.2')), severity: 'critical', evidence: ['TLSv1.2 0x003B TLS_RSA_WITH_NULL_SHA256'] },
  { id: 'rc4', change: withSuites(suite('ECDHE-RSA-RC4-SHA', 'TLSv1.2')), severity: 'high', evidence: ['TLSv1.2 0xC011 TLS_ECDHE_RSA_WITH_RC4_128_SHA'] },
  { id: 'sweet32', change: withSuites(suite('DES-CBC3-SHA', 'TLSv1.2')), severity: 'medium', evidence: ['TLSv1.2 0x000A TLS_RSA_WITH_3DES_EDE_CBC_SHA'] },
  { id: 'beast', change: { protocols: protocols('TLSv1.0', 'TLSv1.2', 'TLSv1.3'), ...withSuites(suite('ECDHE-RSA-AES128-SHA', 'TLSv1.0')) }, severity: 'info', evidence: ['TLSv1.0 0xC013 TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA'] },
  { id: 'no-aead', change: { protocols: protocols('TLSv1.2'), suites: [suite('ECDHE-RSA-AES128-SHA256', 'TLSv1.2')] }, severity: 'medium', evidence: ['TLSv1.2 0xC027 TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256'] },
  { id: 'cert-expired', change: withLeaf({ notAfter: '2026-05-01T00:00:00.000Z', daysToExpiry: -31 }, { trusted: false, trustError: 'certificate expired' }), severity: 'critical', evidence: ['notAfter 2026-05-01T00:00:00.000Z'] },
  { id: 'cert-expiring', change: withLeaf({ daysToExpiry: 20 }), severity: 'medium', evidence: [] },
  { id: 'cert-untrusted', change: withLeaf({ selfSigned: true }, { trusted: false, trustError: 'self-signed' }), severity: 'high', evidence: ['self-signed'] },
  { id: 'cert-hostname-mismatch', change: withLeaf({ commonNames: ['other.test'], altNames: ['DNS:other.test'] }, { hostnameMatch: false }), severity: 'high', evidence: ['CN=other.test', 'DNS:other.test'] },
  { id: 'cert-weak-key', change: withLeaf({ keySize: 1024, keyStrength: 1024 }), severity: 'medium', evidence: ['RSA 1024 bits'] },
  { id: 'cert-sha1', change: withLeaf({ sigAlg: 'SHA1withRSA' }), severity: 'high', evidence: ['SHA1withRSA'] },
  { id: 'chain-incomplete', change: issues({ incomplete: true }), severity: 'medium', evidence: ['CN=app.test'] },
  { id: 'chain-wrong-order', change: issues({ wrongOrder: true }), severity: 'low', evidence: [] },
  { id: 'chain-root-included', change: issues({ rootIncluded: true }), severity: 'info', evidence: [] },
  { id: 'chain-extra-certs', change: issues({ extraCerts: true }), severity: 'info', evidence: [] },
  { id: 'ocsp-must-staple', change: { ...withLeaf({ mustStaple: true }), ...withFeatures({ ocspStapling: false }) }, severity: 'high', evidence: [] },
  { id: 'hsts-missing', change: hsts('absent', null, null), severity: 'low', evidence: [] },
  { id: 'hsts-short', change: hsts('present', 'max-age=86400', 86_400), severity: 'low', evidence: ['max-age=86400'] },
  { id: 'hsts-invalid', change: hsts('invalid', 'max-age=soon', null, 'max-age is not a number'), severity: 'medium', evidence: ['max-age=soon'] },
  { id: 'heartbleed', change: { vulnerabilities: [{ id: 'heartbleed', status: 'vulnerable', detail: 'returned 16384 bytes of memory' }] }, severity: 'critical', evidence: ['returned 16384 bytes of memory'] },
];

describe('findingsFor', () => {
  it('finds nothing on a well-configured endpoint', () => {
    expect(findingsFor(facts())).toEqual([]);
  });

  it.each(CASES.map((c) => [c.id, c] as const))('%s', (id, { change, severity, evidence }) => {
    const finding = findingsFor(facts(change)).find((f) => f.id === id);
    expect(finding).toMatchObject({ id, severity });
    expect(finding?.evidence).toEqual(expect.arrayContaining(evidence));
    expect(finding?.title.length).toBeGreaterThan(5);
    expect(finding?.detail.length).toBeGreaterThan(10);
    expect(finding?.fix.length).toBeGreaterThan(10);
  });

  it('raises severity with the size of the problem', () => {
    const bySeverity = (change: Partial<EndpointFacts>, id: string) => findingsFor(facts(change)).find((f) => f.id === id)?.severity;
    expect(bySeverity(withLeaf({ daysToExpiry: 5 }), 'cert-expiring')).toBe('high');
    expect(bySeverity(withLeaf({ keySize: 512, keyStrength: 512 }), 'cert-weak-key')).toBe('critical');
  });

  it('does not report an expired certificate a second time as untrusted', () => {
    const ids = findingsFor(facts(withLeaf({ daysToExpiry: -3, notAfter: '2026-05-29T00:00:00.000Z' }, { trusted: false }))).map((f) => f.id);
    expect(ids).toContain('cert-expired');
    expect(ids).not.toContain('cert-untrusted');
  });

  it('says when forward secrecy was judged without client simulation', () => {
    const finding = findingsFor(facts({ protocols: protocols('TLSv1.2'), suites: [suite('AES128-GCM-SHA256', 'TLSv1.2')] })).find((f) => f.id === 'no-forward-secrecy');
    expect(finding?.detail).toContain('no reference-client simulation');
  });

  it('ignores vulnerabilities that were not tested or not found', () => {
    const vulnerabilities = [
      { id: 'heartbleed', status: 'not-vulnerable' as const },
      { id: 'robot', status: 'not-tested' as const },
      { id: 'ticketbleed', status: 'error' as const, detail: 'timeout' },
    ];
    expect(findingsFor(facts({ vulnerabilities }))).toEqual([]);
  });

  it('lists the most severe findings first', () => {
    const severities = findingsFor(facts({ protocols: protocols('SSLv2', 'TLSv1.0', 'TLSv1.2'), ...withFeatures({ fallbackScsv: false }) })).map((f) => f.severity);
    expect(severities).toEqual(['critical', 'medium', 'low', 'info']);
  });
});
