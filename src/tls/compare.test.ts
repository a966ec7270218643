import { describe, expect, it } from 'vitest';
import { FINDINGS, assessment, certificate, chain, endpoint, suite, tls12OnlyEndpoint, unreachableEndpoint } from '../testing/assessments.js';
import { compareAssessments, worstGrade } from './compare.js';
import type { Grade } from './model.js';

describe('compareAssessments', () => {
  it('reports nothing for two identical assessments', () => {
    const diff = compareAssessments(assessment(), assessment({ startedAt: '2026-07-02T10:00:00.000Z' }));
    expect(diff.changed).toBe(false);
    expect(diff.endpoints).toHaveLength(1);
    expect(diff.endpoints[0]).toMatchObject({
      ip: '127.0.0.1',
      change: 'unchanged',
      grade: { from: 'A', to: 'A', direction: 'same' },
      protocols: { added: [], removed: [] },
      suites: [],
      certificate: { changed: false },
      findings: { new: [], fixed: [] },
      caps: { new: [], removed: [] },
    });
    expect(diff.b.startedAt).toBe('2026-07-02T10:00:00.000Z');
  });

  it('reports a downgrade to TLS 1.2 only: grade worse, TLS 1.3 and its suites removed, the new cap', () => {
    const diff = compareAssessments(assessment(), assessment({ endpoints: [tls12OnlyEndpoint()] }));
    const e = diff.endpoints[0]!;
    expect(diff.changed).toBe(true);
    expect(e.change).toBe('changed');
    expect(e.grade).toEqual({ from: 'A', to: 'A-', direction: 'worse' });
    expect(e.protocols).toEqual({ added: [], removed: ['TLSv1.3'] });
    expect(e.suites).toEqual([
      {
        protocol: 'TLSv1.3',
        added: [],
        removed: [
          { code: '0x1301', iana: 'TLS_AES_128_GCM_SHA256', strength: 'secure' },
          { code: '0x1302', iana: 'TLS_AES_256_GCM_SHA384', strength: 'secure' },
          { code: '0x1303', iana: 'TLS_CHACHA20_POLY1305_SHA256', strength: 'secure' },
        ],
      },
    ]);
    expect(e.caps.new.map((c) => c.rule)).toEqual(['no-tls13']);
    expect(e.caps.removed).toEqual([]);
  });

  it('reports the reverse change as an improvement with the cap removed', () => {
    const e = compareAssessments(assessment({ endpoints: [tls12OnlyEndpoint()] }), assessment()).endpoints[0]!;
    expect(e.grade.direction).toBe('better');
    expect(e.protocols.added).toEqual(['TLSv1.3']);
    expect(e.caps.removed.map((c) => c.rule)).toEqual(['no-tls13']);
  });

  it.each([
    ['a suite added on one protocol', { suites: [...endpoint().suites, suite('0x000A', 'TLSv1.2')] }, { protocol: 'TLSv1.2', added: ['0x000A'], removed: [] }],
    ['a suite removed on one protocol', { suites: endpoint().suites.filter((s) => s.code !== '0xC013') }, { protocol: 'TLSv1.2', added: [], removed: ['0xC013'] }],
  ])('per-protocol suite changes: %s', (_name, change, expected) => {
    const e = compareAssessments(assessment(), assessment({ endpoints: [endpoint(change)] })).endpoints[0]!;
    expect(e.suites.map((s) => ({ protocol: s.protocol, added: s.added.map((x) => x.code), removed: s.removed.map((x) => x.code) }))).toEqual([expected]);
    expect(e.change).toBe('changed');
  });

  it('reports a renewed certificate: new leaf hash and later expiry', () => {
    const renewed = chain({
      served: [certificate({ sha256: 'ee'.repeat(32), notAfter: '2027-12-31T23:59:59.000Z' })],
      leafExpiry: '2027-12-31T23:59:59.000Z',
      earliestExpiry: '2027-12-31T23:59:59.000Z',
    });
    const e = compareAssessments(assessment(), assessment({ endpoints: [endpoint({ certificates: [renewed] })] })).endpoints[0]!;
    expect(e.certificate).toEqual({
      changed: true,
      leafSha256: { from: 'b2'.repeat(32), to: 'ee'.repeat(32) },
      leafExpiry: { from: '2026-12-31T23:59:59.000Z', to: '2027-12-31T23:59:59.000Z' },
      earliestExpiry: { from: '2026-12-31T23:59:59.000Z', to: '2027-12-31T23:59:59.000Z' },
      subject: { from: 'CN=app.test', to: 'CN=app.test' },
    });
    expect(e.change).toBe('changed');
  });

  it('reports new and fixed findings by id', () => {
    const e = compareAssessments(assessment(), assessment({ endpoints: [endpoint({ findings: [FINDINGS.tls10] })] })).endpoints[0]!;
    expect(e.findings).toEqual({
      new: [{ id: 'tls10', severity: 'medium', title: 'TLS 1.0 enabled' }],
      fixed: [{ id: 'cbc-suites', severity: 'low', title: 'CBC cipher suites offered' }],
    });
  });

  it('matches endpoints by IP: one appeared, one disappeared, one went unreachable', () => {
    const a = assessment({ endpoints: [endpoint({ ip: '127.0.0.1' }), endpoint({ ip: '127.0.0.2' })] });
    const b = assessment({ endpoints: [unreachableEndpoint('127.0.0.1'), endpoint({ ip: '::1' })] });
    const diff = compareAssessments(a, b);
    expect(diff.endpoints.map((e) => [e.ip, e.change, e.grade.from, e.grade.to, e.grade.direction])).toEqual([
      ['127.0.0.1', 'changed', 'A', null, 'unknown'],
      ['::1', 'appeared', null, 'A', 'unknown'],
      ['127.0.0.2', 'disappeared', 'A', null, 'unknown'],
    ]);
    expect(diff.endpoints[0]!.status).toEqual({ from: 'ready', to: 'error' });
    expect(diff.endpoints[1]!.protocols).toEqual({ added: [], removed: [] });
  });
});

describe('worstGrade', () => {
  it.each<[Array<Grade | null>, Grade | null]>([
    [['A+', 'A'], 'A'],
    [['A', 'B', 'A-'], 'B'],
    [['A', 'T'], 'T'],
    [['T', 'F', 'M'], 'F'],
    [['A', null], 'A'],
    [[null], null],
    [[], null],
  ])('of %j is %s', (grades, expected) => {
    expect(worstGrade(grades)).toBe(expected);
  });
});
