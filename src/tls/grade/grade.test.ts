import { describe, expect, it } from 'vitest';
import type { EndpointFacts, GradeScores } from '../model.js';
import { CONTEXT, MODERN_SUITES, chain, facts, protocols, suite, withLeaf } from './fixtures.js';
import { gradeEndpoint } from './grade.js';
import { baseGrade, scoreEndpoint } from './scores.js';

const tls12Modern = MODERN_SUITES.filter((s) => s.protocol === 'TLSv1.2');
const cbcOn = (...versions: ('TLSv1.0' | 'TLSv1.1' | 'TLSv1.2')[]) =>
  versions.flatMap((v) => [suite('ECDHE-RSA-AES128-SHA', v), suite('ECDHE-RSA-AES256-SHA', v)]);

describe('worked examples of the rating guide (§2.4)', () => {
  const examples: { name: string; change: Partial<EndpointFacts>; scores: GradeScores; grade: string }[] = [
    { name: 'TLS 1.2 + 1.3, RSA 2048, ECDHE AES-GCM and ChaCha20, HSTS one year', change: {}, scores: { protocol: 100, keyExchange: 90, cipher: 90, total: 93 }, grade: 'A+' },
    {
      name: 'the same plus TLS 1.0/1.1 with AES-CBC suites',
      change: { protocols: protocols('TLSv1.0', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'), suites: [...MODERN_SUITES, ...cbcOn('TLSv1.0', 'TLSv1.1', 'TLSv1.2')] },
      scores: { protocol: 95, keyExchange: 90, cipher: 90, total: 91 },
      grade: 'B',
    },
    { name: 'RSA 1024 certificate, otherwise modern', change: withLeaf({ keySize: 1024, keyStrength: 1024 }), scores: { protocol: 100, keyExchange: 80, cipher: 90, total: 90 }, grade: 'B' },
    { name: 'RSA 512 certificate', change: withLeaf({ keySize: 512, keyStrength: 512 }), scores: { protocol: 100, keyExchange: 40, cipher: 90, total: 78 }, grade: 'F' },
    { name: 'SSLv2 + TLS 1.2', change: { protocols: protocols('SSLv2', 'TLSv1.2'), suites: tls12Modern }, scores: { protocol: 50, keyExchange: 90, cipher: 90, total: 78 }, grade: 'F' },
    {
      name: 'TLS 1.2 only, DHE 1024 with RSA 2048',
      change: { protocols: protocols('TLSv1.2'), suites: [suite('DHE-RSA-AES256-GCM-SHA384', 'TLSv1.2', { type: 'DH', bits: 1024, rsaEquivalentBits: 1024 }), suite('DHE-RSA-AES128-GCM-SHA256', 'TLSv1.2', { type: 'DH', bits: 1024, rsaEquivalentBits: 1024 })], groups: [] },
      scores: { protocol: 100, keyExchange: 80, cipher: 90, total: 90 },
      grade: 'B',
    },
    {
      name: 'TLS 1.0 only',
      change: { protocols: protocols('TLSv1.0'), suites: [suite('ECDHE-RSA-AES128-SHA', 'TLSv1.0'), suite('AES128-SHA', 'TLSv1.0')] },
      scores: { protocol: 90, keyExchange: 90, cipher: 80, total: 86 },
      grade: 'C',
    },
  ];

  it.each(examples.map((e) => [e.name, e] as const))('%s', (_name, { change, scores, grade }) => {
    const result = gradeEndpoint(facts(change), CONTEXT);
    expect(result.scores).toEqual(scores);
    expect(result.grade).toBe(grade);
  });

  it('a self-signed certificate is T, with the configuration grade kept as gradeTrustIgnored', () => {
    const result = gradeEndpoint(facts(withLeaf({ selfSigned: true }, { trusted: false, trustError: 'self-signed' })), CONTEXT);
    expect(result).toMatchObject({ grade: 'T', gradeTrustIgnored: 'A+', isExceptional: false });
  });
});

describe('scores', () => {
  it('maps the total to the base letter at the guide thresholds', () => {
    expect([80, 79, 65, 64, 50, 49, 35, 34, 20, 19, 0].map(baseGrade)).toEqual(['A', 'B', 'B', 'C', 'C', 'D', 'D', 'E', 'E', 'F', 'F']);
  });

  it('pushes the total to zero when a category scores zero', () => {
    expect(scoreEndpoint(facts({ protocols: protocols('SSLv2'), suites: [] }))).toEqual({ protocol: 0, keyExchange: 90, cipher: 0, total: 0 });
  });

  it('takes the weakest of certificate key, suites and groups into key exchange', () => {
    const secp384 = { type: 'ECDH', group: 'secp384r1', bits: 384, rsaEquivalentBits: 7680 } as const;
    const strong = facts({
      ...withLeaf({ keyAlg: 'EC', keySize: 384, keyStrength: 7680, curve: 'secp384r1' }),
      suites: [suite('TLS_AES_256_GCM_SHA384', 'TLSv1.3', secp384), suite('ECDHE-ECDSA-AES256-GCM-SHA384', 'TLSv1.2', secp384)],
      groups: [{ id: 0x0018, name: 'secp384r1', bits: 384, type: 'ec', rsaEquivalentBits: 7680 }],
    });
    expect(scoreEndpoint(strong).keyExchange).toBe(100);
    expect(scoreEndpoint({ ...strong, groups: [...strong.groups, { id: 0x0100, name: 'ffdhe2048', bits: 2048, type: 'ffdhe', rsaEquivalentBits: 2048 }] }).keyExchange).toBe(90);
    expect(scoreEndpoint({ ...strong, dhParameters: [{ primeBits: 1024, generator: 2, knownPrime: null, weakKnownPrime: false }] }).keyExchange).toBe(80);
    expect(scoreEndpoint(facts(withLeaf({ keySize: 4096, keyStrength: 4096 }))).keyExchange).toBe(90);
  });

  it('scores anonymous key exchange 0 and export key exchange at most 40', () => {
    expect(scoreEndpoint(facts({ suites: [...MODERN_SUITES, suite('ADH-AES128-SHA', 'TLSv1.2')] })).keyExchange).toBe(0);
    expect(scoreEndpoint(facts({ suites: [...MODERN_SUITES, suite('EXP-EDH-RSA-DES-CBC-SHA', 'TLSv1.2', { type: 'DH', bits: 1024, rsaEquivalentBits: 1024 })] })).keyExchange).toBe(40);
  });

  it('counts 3DES as a 168-bit cipher, as the guide does', () => {
    expect(scoreEndpoint(facts({ suites: [suite('ECDHE-RSA-AES256-GCM-SHA384', 'TLSv1.2'), suite('DES-CBC3-SHA', 'TLSv1.2')] })).cipher).toBe(90);
  });

  it('lets a NULL suite lower the cipher score rather than fail the server (the guide, not testssl)', () => {
    const result = gradeEndpoint(facts({ suites: [...MODERN_SUITES, suite('ECDHE-RSA-NULL-SHA', 'TLSv1.2')] }), CONTEXT);
    expect(result.scores).toEqual({ protocol: 100, keyExchange: 90, cipher: 50, total: 77 });
    expect(result.grade).toBe('B');
  });
});

describe('combining caps, warnings and trust', () => {
  const tls10 = { protocols: protocols('TLSv1.0', 'TLSv1.2', 'TLSv1.3'), suites: [...MODERN_SUITES, ...cbcOn('TLSv1.0')] };

  it('an expired certificate is T while the configuration alone would be B', () => {
    const result = gradeEndpoint(facts({ ...tls10, ...withLeaf({ notAfter: '2026-01-31T00:00:00.000Z', daysToExpiry: -121 }, { trusted: false }) }), CONTEXT);
    expect(result).toMatchObject({ grade: 'T', gradeTrustIgnored: 'B' });
  });

  it('a name mismatch (M) wins over an untrusted certificate (T)', () => {
    const change = withLeaf({ selfSigned: true }, { trusted: false, hostnameMatch: false });
    const result = gradeEndpoint(facts(change), CONTEXT);
    expect(result.grade).toBe('M');
    expect(result.caps.map((c) => c.rule)).toEqual(['hostname-mismatch', 'self-signed']);
  });

  it('trust failures override even an F, which stays visible as gradeTrustIgnored', () => {
    const result = gradeEndpoint(facts({ protocols: protocols('SSLv2', 'TLSv1.2', 'TLSv1.3'), ...withLeaf({ selfSigned: true }, { trusted: false }) }), CONTEXT);
    expect(result).toMatchObject({ grade: 'T', gradeTrustIgnored: 'F' });
  });

  it('F beats every cap', () => {
    const result = gradeEndpoint(facts({ ...tls10, protocols: protocols('SSLv2', 'TLSv1.0', 'TLSv1.2', 'TLSv1.3') }), CONTEXT);
    expect(result.grade).toBe('F');
    expect(result.caps.map((c) => c.rule)).toEqual(['sslv2-enabled', 'tls10-enabled']);
  });

  it('the lowest cap decides: no TLS 1.2 (C) under TLS 1.0 (B)', () => {
    const result = gradeEndpoint(facts({ protocols: protocols('TLSv1.0'), suites: cbcOn('TLSv1.0') }), CONTEXT);
    expect(result.grade).toBe('C');
  });

  it('A+ needs HSTS of at least 180 days; shorter or missing HSTS leaves A', () => {
    const hsts = (maxAge: number): Partial<EndpointFacts> => ({ http: { status: 200, server: null, hsts: { status: 'present', header: `max-age=${maxAge}`, maxAge, includeSubDomains: false, preload: false } } });
    expect(gradeEndpoint(facts(hsts(15_552_000)), CONTEXT)).toMatchObject({ grade: 'A+', isExceptional: true });
    expect(gradeEndpoint(facts(hsts(15_551_999)), CONTEXT)).toMatchObject({ grade: 'A', isExceptional: false, hasWarnings: false });
  });

  it('a warning turns A into A- and blocks A+ even with long HSTS', () => {
    const result = gradeEndpoint(facts({ features: { ...facts().features, secureRenegotiation: false } }), CONTEXT);
    expect(result).toMatchObject({ grade: 'A-', hasWarnings: true, isExceptional: false });
  });

  it('a warning does not raise a grade already below A-', () => {
    const result = gradeEndpoint(facts({ ...tls10, features: { ...facts().features, secureRenegotiation: false } }), CONTEXT);
    expect(result).toMatchObject({ grade: 'B', hasWarnings: true });
  });

  it('a certificate without problems on a second SNI does not change the grade of the first', () => {
    const result = gradeEndpoint(facts({ certificates: [chain(), chain({ hostnameMatch: false, sni: null })] }), CONTEXT);
    expect(result.grade).toBe('A+');
  });
});
