import { describe, expect, it } from 'vitest';
import type { EndpointFacts, Grade } from '../model.js';
import { CONTEXT, MODERN_SUITES, facts, protocols, simulation, suite, withLeaf } from './fixtures.js';
import { gradeEndpoint } from './grade.js';
import { GRADE_RULES } from './rules.js';

interface RuleCase {
  name: string;
  rule: string;
  change: Partial<EndpointFacts>;
  grade: Grade;
}

const tls12Plus10 = protocols('TLSv1.0', 'TLSv1.2', 'TLSv1.3');
const vulnerable = (id: string): Partial<EndpointFacts> => ({ vulnerabilities: [{ id, status: 'vulnerable' }] });
const withSuites = (...extra: ReturnType<typeof suite>[]): Partial<EndpointFacts> => ({ suites: [...MODERN_SUITES, ...extra] });
const hsts = (status: 'absent' | 'invalid' | 'disabled' | 'present', maxAge: number | null): Partial<EndpointFacts> => ({
  http: { status: 200, server: null, hsts: { status, header: maxAge === null ? null : `max-age=${maxAge}`, maxAge, includeSubDomains: false, preload: false } },
});

/** One change to an A+ endpoint per row; the row's rule must fire and decide the grade. */
const CASES: RuleCase[] = [
  { name: 'certificate for another name', rule: 'hostname-mismatch', change: { certificates: [{ ...facts().certificates[0]!, hostnameMatch: false }] }, grade: 'M' },
  { name: 'leaf expired', rule: 'certificate-expired', change: withLeaf({ notAfter: '2026-05-01T00:00:00.000Z', daysToExpiry: -31 }, { trusted: false }), grade: 'T' },
  { name: 'intermediate expired', rule: 'certificate-expired', change: withLeaf({}, { earliestExpiry: '2026-03-01T00:00:00.000Z', trusted: false }), grade: 'T' },
  { name: 'leaf not valid yet', rule: 'certificate-not-yet-valid', change: withLeaf({ notBefore: '2026-07-01T00:00:00.000Z' }, { trusted: false }), grade: 'T' },
  { name: 'self-signed leaf', rule: 'self-signed', change: withLeaf({ selfSigned: true }, { trusted: false, trustError: 'self-signed' }), grade: 'T' },
  { name: 'SHA-1 signed leaf', rule: 'sha1-signature', change: withLeaf({ sigAlg: 'SHA1withRSA' }), grade: 'T' },
  { name: 'unknown issuer', rule: 'untrusted', change: withLeaf({}, { trusted: false, trustError: 'unknown issuer CN=Evil CA' }), grade: 'T' },
  { name: 'RSA 512 key', rule: 'insecure-key', change: withLeaf({ keySize: 512, keyStrength: 512 }), grade: 'F' },
  { name: 'RSA exponent 1', rule: 'rsa-exponent-1', change: withLeaf({ rsaExponent: 1 }), grade: 'F' },
  { name: 'MD5 signature', rule: 'insecure-signature', change: withLeaf({ sigAlg: 'MD5withRSA' }), grade: 'F' },
  { name: 'RSA 1024 key', rule: 'weak-key', change: withLeaf({ keySize: 1024, keyStrength: 1024 }), grade: 'B' },
  { name: 'intermediate not served', rule: 'incomplete-chain', change: withLeaf({}, { issues: { incomplete: true, extraCerts: false, wrongOrder: false, rootIncluded: false, cannotValidate: false } }), grade: 'B' },
  { name: 'SSL 2.0 enabled', rule: 'sslv2-enabled', change: { protocols: protocols('SSLv2', 'TLSv1.2', 'TLSv1.3') }, grade: 'F' },
  { name: 'SSL 3.0 only', rule: 'sslv3-best', change: { protocols: protocols('SSLv3'), suites: [suite('ECDHE-RSA-AES128-SHA', 'SSLv3')] }, grade: 'F' },
  { name: 'SSL 3.0 enabled without CBC', rule: 'sslv3-enabled', change: { protocols: protocols('SSLv3', 'TLSv1.2', 'TLSv1.3') }, grade: 'B' },
  { name: 'SSL 3.0 with CBC suites', rule: 'poodle-sslv3', change: { protocols: protocols('SSLv3', 'TLSv1.2', 'TLSv1.3'), ...withSuites(suite('ECDHE-RSA-AES128-SHA', 'SSLv3')) }, grade: 'C' },
  { name: 'TLS 1.0 and 1.1 only', rule: 'no-tls12', change: { protocols: protocols('TLSv1.0', 'TLSv1.1'), suites: [suite('ECDHE-RSA-AES256-SHA', 'TLSv1.0'), suite('ECDHE-RSA-AES256-SHA', 'TLSv1.1')] }, grade: 'C' },
  { name: 'TLS 1.0 enabled', rule: 'tls10-enabled', change: { protocols: tls12Plus10, ...withSuites(suite('ECDHE-RSA-AES256-SHA', 'TLSv1.0')) }, grade: 'B' },
  { name: 'TLS 1.1 enabled', rule: 'tls11-enabled', change: { protocols: protocols('TLSv1.1', 'TLSv1.2', 'TLSv1.3'), ...withSuites(suite('ECDHE-RSA-AES256-SHA', 'TLSv1.1')) }, grade: 'B' },
  { name: 'TLS 1.2 without 1.3', rule: 'no-tls13', change: { protocols: protocols('TLSv1.2'), suites: MODERN_SUITES.filter((s) => s.protocol === 'TLSv1.2') }, grade: 'A-' },
  { name: 'no RFC 5746', rule: 'no-secure-renegotiation', change: { features: { ...facts().features, secureRenegotiation: false } }, grade: 'A-' },
  { name: 'anonymous DH accepted', rule: 'anonymous-suites', change: withSuites(suite('ADH-AES128-SHA', 'TLSv1.2')), grade: 'F' },
  { name: 'export suite accepted', rule: 'export-suites', change: withSuites(suite('EXP-RC4-MD5', 'TLSv1.2', { type: 'RSA', bits: 512, rsaEquivalentBits: 512 })), grade: 'F' },
  { name: 'DHE with 512-bit prime', rule: 'insecure-dh', change: withSuites(suite('DHE-RSA-AES256-GCM-SHA384', 'TLSv1.2', { type: 'DH', bits: 512 })), grade: 'F' },
  { name: 'DHE with 1024-bit prime', rule: 'weak-dh', change: { ...withSuites(suite('DHE-RSA-AES256-GCM-SHA384', 'TLSv1.2', { type: 'DH', bits: 1024, rsaEquivalentBits: 1024 })), dhParameters: [{ primeBits: 1024, generator: 2, knownPrime: null, weakKnownPrime: false }] }, grade: 'B' },
  { name: 'reference client gets RSA key exchange', rule: 'no-forward-secrecy', change: { ...withSuites(suite('AES256-GCM-SHA384', 'TLSv1.2')), simulations: [simulation('Chrome', 'TLSv1.3', 'TLS_AES_128_GCM_SHA256'), simulation('Java', 'TLSv1.2', 'AES256-GCM-SHA384')] }, grade: 'B' },
  { name: 'RC4 is all there is', rule: 'rc4-only', change: { protocols: protocols('TLSv1.2'), suites: [suite('RC4-SHA', 'TLSv1.2')] }, grade: 'F' },
  { name: 'reference client gets RC4 on TLS 1.2', rule: 'rc4-modern', change: { ...withSuites(suite('ECDHE-RSA-RC4-SHA', 'TLSv1.2')), simulations: [simulation('Java', 'TLSv1.2', 'ECDHE-RSA-RC4-SHA')] }, grade: 'C' },
  { name: 'RC4 accepted but never chosen', rule: 'rc4', change: withSuites(suite('ECDHE-RSA-RC4-SHA', 'TLSv1.2')), grade: 'B' },
  { name: 'reference client gets 3DES on TLS 1.2', rule: 'sweet32-modern', change: { ...withSuites(suite('ECDHE-RSA-DES-CBC3-SHA', 'TLSv1.2')), simulations: [simulation('Java', 'TLSv1.2', 'ECDHE-RSA-DES-CBC3-SHA')] }, grade: 'C' },
  { name: 'reference client gets CBC', rule: 'no-aead', change: { ...withSuites(suite('ECDHE-RSA-AES256-SHA', 'TLSv1.2')), simulations: [simulation('Java', 'TLSv1.2', 'ECDHE-RSA-AES256-SHA')] }, grade: 'B' },
  { name: 'DEFLATE compression', rule: 'crime', change: { features: { ...facts().features, compression: true } }, grade: 'C' },
  { name: 'Heartbleed', rule: 'heartbleed', change: vulnerable('heartbleed'), grade: 'F' },
  { name: 'CCS injection', rule: 'ccs-injection', change: vulnerable('ccs-injection'), grade: 'F' },
  { name: 'Ticketbleed', rule: 'ticketbleed', change: vulnerable('ticketbleed'), grade: 'F' },
  { name: 'ROBOT', rule: 'robot', change: vulnerable('robot'), grade: 'F' },
  { name: 'padding oracle', rule: 'padding-oracle', change: vulnerable('padding-oracle'), grade: 'F' },
  { name: 'DROWN (reported by SSL Labs)', rule: 'drown', change: vulnerable('drown'), grade: 'F' },
  { name: 'HSTS header unparsable', rule: 'hsts-invalid', change: hsts('invalid', null), grade: 'A-' },
  { name: 'HSTS max-age=0', rule: 'hsts-invalid', change: hsts('disabled', 0), grade: 'A-' },
  { name: 'no HSTS header', rule: 'hsts-missing', change: hsts('absent', null), grade: 'A' },
  { name: 'no HTTP answer to read HSTS from', rule: 'hsts-missing', change: { http: null }, grade: 'A' },
  { name: 'HSTS for 30 days', rule: 'hsts-short', change: hsts('present', 2_592_000), grade: 'A' },
];

describe('rating rules (2009r)', () => {
  it('the A+ baseline triggers no rule', () => {
    expect(gradeEndpoint(facts(), CONTEXT)).toMatchObject({ grade: 'A+', caps: [], hasWarnings: false, isExceptional: true });
  });

  it('every rule has a case', () => {
    expect([...new Set(CASES.map((c) => c.rule))].sort()).toEqual(GRADE_RULES.map((r) => r.rule).sort());
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s', (_name, { rule, change, grade }) => {
    const result = gradeEndpoint(facts(change), CONTEXT);
    expect(result.caps.map((c) => c.rule)).toContain(rule);
    expect(result.grade).toBe(grade);
    const cap = result.caps.find((c) => c.rule === rule);
    expect(cap?.reason).toMatch(/^(graded|capped at|warning, capped at|no A\+)/);
    expect(cap?.fix.length).toBeGreaterThan(10);
  });

  it('words a cap as "capped at <grade>: <what was found>"', () => {
    const result = gradeEndpoint(facts(CASES.find((c) => c.rule === 'tls10-enabled')!.change), CONTEXT);
    expect(result.caps).toEqual([
      { rule: 'tls10-enabled', effect: 'cap', grade: 'B', reason: 'capped at B: TLS 1.0 is enabled', fix: 'disable TLS 1.0 and TLS 1.1; keep TLS 1.2 and 1.3' },
    ]);
  });

  it('names the offending reference clients', () => {
    const cap = gradeEndpoint(facts(CASES.find((c) => c.rule === 'no-forward-secrecy')!.change), CONTEXT).caps.find((c) => c.rule === 'no-forward-secrecy');
    expect(cap?.reason).toBe('capped at B: modern clients negotiate suites without forward secrecy (Java 1: TLS_RSA_WITH_AES_256_GCM_SHA384 (TLSv1.2))');
  });

  it('ignores what non-reference clients negotiate', () => {
    const legacyClientGetsRsaCbc = facts({
      ...withSuites(suite('AES256-SHA', 'TLSv1.2')),
      simulations: [simulation('Chrome', 'TLSv1.3', 'TLS_AES_128_GCM_SHA256'), simulation('IE', 'TLSv1.2', 'AES256-SHA', false)],
    });
    expect(gradeEndpoint(legacyClientGetsRsaCbc, CONTEXT)).toMatchObject({ grade: 'A+', caps: [] });
  });

  it('does not judge a certificate key whose type was not recognised', () => {
    expect(gradeEndpoint(facts(withLeaf({ keyAlg: 'unknown', keySize: 0, keyStrength: 0 })), CONTEXT).caps).toEqual([]);
  });

  describe('without client simulation', () => {
    const rsaOnlyTls12 = facts({ protocols: protocols('TLSv1.2'), suites: [suite('AES128-GCM-SHA256', 'TLSv1.2'), suite('AES256-GCM-SHA384', 'TLSv1.2')] });

    it('caps when every suite on the best protocol lacks forward secrecy, and says how it decided', () => {
      const cap = gradeEndpoint(rsaOnlyTls12, CONTEXT).caps.find((c) => c.rule === 'no-forward-secrecy');
      expect(cap?.reason).toContain('[no reference-client simulation: decided from the suites accepted on TLS 1.2]');
    });

    it('does not cap while the best protocol offers a suite without the problem', () => {
      const mixed = facts({ suites: [...MODERN_SUITES, suite('AES128-SHA', 'TLSv1.2'), suite('DES-CBC3-SHA', 'TLSv1.2')] });
      const rules = gradeEndpoint(mixed, CONTEXT).caps.map((c) => c.rule);
      expect(rules).not.toContain('no-forward-secrecy');
      expect(rules).not.toContain('no-aead');
      expect(rules).not.toContain('sweet32-modern');
    });

    it('caps RC4 with modern protocols when RC4 is all TLS 1.2 offers', () => {
      const rc4Tls12 = facts({ protocols: protocols('TLSv1.0', 'TLSv1.2'), suites: [suite('RC4-SHA', 'TLSv1.2'), suite('AES128-SHA', 'TLSv1.0')] });
      expect(gradeEndpoint(rc4Tls12, CONTEXT).caps.map((c) => c.rule)).toContain('rc4-modern');
    });
  });
});
