import { describe, expect, it } from 'vitest';
import type { ScanSide } from '../portscan/compare.js';
import type { HostSummary, PortResult } from '../shared/model.js';
import { FINDINGS, assessment, chain, endpoint, unreachableEndpoint } from '../testing/assessments.js';
import type { Grade } from '../tls/model.js';
import {
  type ReportEndpointInput,
  type ReportFilters,
  type ReportInput,
  type ReportTlsTargetInput,
  buildReport,
  csvCell,
  reportEndpoints,
  summaryCsv,
  summaryHtml,
} from './report.js';

const NOW = '2026-07-01T00:00:00.000Z';
const DAY = 86_400_000;
const inDays = (days: number): string => new Date(Date.parse(NOW) + days * DAY).toISOString();

const FILTERS: ReportFilters = { labels: {}, since: null, until: null, expiringWithinDays: 90 };

function ep(ip: string, grade: Grade | null, overrides: Partial<ReportEndpointInput> = {}): ReportEndpointInput {
  return {
    ip,
    status: grade === null ? 'error' : 'ready',
    grade,
    gradeTrustIgnored: grade,
    error: grade === null ? { code: 'connection-refused', message: `connection refused by ${ip}` } : null,
    leafExpiry: grade === null ? null : inDays(365),
    earliestExpiry: grade === null ? null : inDays(365),
    findings: [],
    ...overrides,
  };
}

function target(host: string, endpoints: ReportEndpointInput[] | null, overrides: Partial<ReportTlsTargetInput> = {}): ReportTlsTargetInput {
  return {
    host,
    port: 443,
    labels: {},
    latest: endpoints === null ? null : { id: `a-${host}`, engine: 'native', finishedAt: inDays(-1), endpoints },
    before: null,
    scanError: null,
    ...overrides,
  };
}

function input(overrides: Partial<ReportInput> = {}): ReportInput {
  return { generatedAt: NOW, filters: FILTERS, scope: 'inventory', tlsTargets: [], portTargets: [], notes: [], ...overrides };
}

describe('buildReport', () => {
  it('counts targets by their worst endpoint grade and endpoints by their own grade', () => {
    const summary = buildReport(
      input({
        tlsTargets: [
          target('mixed.test', [ep('10.0.0.1', 'A'), ep('10.0.0.2', 'B')]),
          target('best.test', [ep('10.0.0.3', 'A+')]),
          target('down.test', [ep('10.0.0.4', null)]),
          target('half.test', [ep('10.0.0.5', 'A'), ep('10.0.0.6', null)]),
          target('never.test', null),
        ],
      }),
    );
    const byGrade = Object.fromEntries(summary.gradeDistribution.map((d) => [d.grade, [d.targets, d.endpoints]]));
    expect(byGrade).toMatchObject({ 'A+': [1, 1], A: [1, 2], B: [1, 1], ungraded: [1, 2], F: [0, 0] });
    expect(summary.gradeDistribution.map((d) => d.grade)).toEqual(['A+', 'A', 'A-', 'B', 'C', 'D', 'E', 'T', 'M', 'F', 'ungraded']);
    expect(summary.totals).toMatchObject({ tlsTargets: 5, assessedTargets: 4, notAssessedTargets: 1, endpoints: 6, gradedEndpoints: 4 });
    // Worst first: the endpoints that need attention lead.
    expect(summary.endpointsByGrade.map((g) => [g.grade, g.endpoints.map((e) => e.ip)])).toEqual([
      ['ungraded', ['10.0.0.4', '10.0.0.6']],
      ['B', ['10.0.0.2']],
      ['A', ['10.0.0.5', '10.0.0.1']],
      ['A+', ['10.0.0.3']],
    ]);
  });

  it('buckets certificates by the earliest expiry in the chain: expired, 7, 30 and 90 days (cumulative), listing those within expiringWithinDays', () => {
    const expiring = (ip: string, days: number, leafDays = days) => ep(ip, 'A', { earliestExpiry: inDays(days), leafExpiry: inDays(leafDays) });
    const summary = buildReport(
      input({
        filters: { ...FILTERS, expiringWithinDays: 30 },
        tlsTargets: [
          target('a.test', [expiring('10.0.0.1', -2), expiring('10.0.0.2', 3), expiring('10.0.0.3', 20, 300)]),
          target('b.test', [expiring('10.0.0.4', 60), expiring('10.0.0.5', 200), ep('10.0.0.6', null)]),
        ],
      }),
    );
    expect(summary.expiry.counts).toEqual({ expired: 1, within7Days: 1, within30Days: 2, within90Days: 3 });
    expect(summary.expiry.certificates.map((c) => [c.ip, c.bucket, c.daysToExpiry, c.chainExpiresFirst])).toEqual([
      ['10.0.0.1', 'expired', -2, false],
      ['10.0.0.2', '7d', 3, false],
      ['10.0.0.3', '30d', 20, true],
    ]);
    expect(summary.expiry.certificates[2]).toMatchObject({ leafExpiry: inDays(300), earliestExpiry: inDays(20) });
    expect(summary.totals.expiringCertificates).toBe(3);
  });

  it('ranks findings by the number of endpoints having them, with example hosts', () => {
    const tls10 = { id: 'tls10', title: 'TLS 1.0 enabled', severity: 'medium' as const };
    const cbc = { id: 'cbc-suites', title: 'CBC cipher suites offered', severity: 'low' as const };
    const summary = buildReport(
      input({
        tlsTargets: [
          target('a.test', [ep('10.0.0.1', 'B', { findings: [tls10, cbc] }), ep('10.0.0.2', 'B', { findings: [tls10] })]),
          target('b.test', [ep('10.0.0.3', 'A', { findings: [cbc] })]),
          target('c.test', [ep('10.0.0.4', 'B', { findings: [tls10] })]),
        ],
      }),
    );
    expect(summary.topFindings).toEqual([
      { ...tls10, count: 3, examples: ['a.test:443', 'c.test:443'] },
      { ...cbc, count: 2, examples: ['a.test:443', 'b.test:443'] },
    ]);
  });

  it('reports grade changes against the latest assessment before `since`, and none without `since`', () => {
    const before = (grade: Grade | null) => ({ grade, finishedAt: inDays(-40) });
    const targets = [
      target('up.test', [ep('10.0.0.1', 'A')], { before: before('B') }),
      target('down.test', [ep('10.0.0.2', 'A'), ep('10.0.0.3', 'C')], { before: before('A') }),
      target('same.test', [ep('10.0.0.4', 'A')], { before: before('A') }),
      target('broke.test', [ep('10.0.0.5', null)], { before: before('A') }),
      target('new.test', [ep('10.0.0.6', 'F')]),
    ];
    const summary = buildReport(input({ filters: { ...FILTERS, since: inDays(-30) }, tlsTargets: targets }));
    expect(summary.changes?.since).toBe(inDays(-30));
    expect(summary.changes?.grades.map((g) => [g.host, g.from, g.to, g.direction])).toEqual([
      ['up.test', 'B', 'A', 'up'],
      ['down.test', 'A', 'C', 'down'],
      ['broke.test', 'A', null, 'unknown'],
    ]);
    expect(summary.changes?.grades[0]).toMatchObject({ fromAt: inDays(-40), toAt: inDays(-1) });
    expect(buildReport(input({ tlsTargets: targets })).changes).toBeNull();
  });

  it('reports ports newly open and no longer open per address from the scan pairs of port targets', () => {
    const host = (ip: string): HostSummary => ({ ip, hostnames: [], status: 'up', counts: { open: 2, closed: 0, filtered: 0 }, extraPorts: { state: 'closed', count: 98, reasons: {} }, startedAt: NOW, finishedAt: NOW });
    const open = (ip: string, port: number, service?: string): PortResult => ({ ip, port, protocol: 'tcp', state: 'open', reason: 'syn-ack', ...(service ? { service: { name: service, method: 'table' as const } } : {}) });
    const side = (id: string, ports: PortResult[]): ScanSide => ({ id, createdAt: NOW, portSet: '1-1000', hosts: [host('192.0.2.10')], ports });
    const summary = buildReport(
      input({
        filters: { ...FILTERS, since: inDays(-7) },
        portTargets: [
          {
            target: '192.0.2.0/28',
            labels: {},
            scanError: null,
            comparisons: [{ before: side('scan-old', [open('192.0.2.10', 22), open('192.0.2.10', 80, 'http')]), after: side('scan-new', [open('192.0.2.10', 22), open('192.0.2.10', 443, 'https')]) }],
          },
        ],
      }),
    );
    expect(summary.changes?.newOpenPorts).toEqual([{ target: '192.0.2.0/28', ip: '192.0.2.10', port: 443, state: 'open', service: 'https', scanId: 'scan-new' }]);
    expect(summary.changes?.closedPorts).toEqual([{ target: '192.0.2.0/28', ip: '192.0.2.10', port: 80, state: 'closed', service: 'http', scanId: 'scan-new' }]);
  });

  it('lists as failures the endpoints that could not be assessed, targets the last scan could not assess and failed port scans', () => {
    const scanError = { code: 'target.unresolvable', message: 'gone.test does not resolve', at: inDays(-1) };
    const summary = buildReport(
      input({
        tlsTargets: [target('half.test', [ep('10.0.0.1', 'A'), ep('10.0.0.2', null)]), target('gone.test', null, { scanError })],
        portTargets: [{ target: '198.51.100.0/24', labels: {}, scanError: { code: 'scan.failed', message: 'worker lost', at: inDays(-2) }, comparisons: [] }],
      }),
    );
    expect(summary.failures.map((f) => [f.kind, f.target, f.ip, f.code])).toEqual([
      ['tls', 'half.test:443', '10.0.0.2', 'connection-refused'],
      ['tls', 'gone.test:443', null, 'target.unresolvable'],
      ['ports', '198.51.100.0/24', null, 'scan.failed'],
    ]);
    expect(summary.totals.failures).toBe(3);
  });
});

describe('reportEndpoints', () => {
  it('takes the earliest leaf and chain expiry over all chains, the errors and the findings of a stored assessment', () => {
    const early = chain({ leafExpiry: '2026-09-01T00:00:00.000Z', earliestExpiry: '2026-08-01T00:00:00.000Z' });
    const late = chain({ leafExpiry: '2026-12-01T00:00:00.000Z', earliestExpiry: '2026-12-01T00:00:00.000Z' });
    const rows = reportEndpoints(assessment({ endpoints: [endpoint({ certificates: [late, early], findings: [FINDINGS.cbc, FINDINGS.tls10] }), unreachableEndpoint('10.0.0.9')] }));
    expect(rows).toEqual([
      {
        ip: '127.0.0.1',
        status: 'ready',
        grade: 'A',
        gradeTrustIgnored: 'A',
        error: null,
        leafExpiry: '2026-09-01T00:00:00.000Z',
        earliestExpiry: '2026-08-01T00:00:00.000Z',
        findings: [
          { id: 'cbc-suites', title: 'CBC cipher suites offered', severity: 'low' },
          { id: 'tls10', title: 'TLS 1.0 enabled', severity: 'medium' },
        ],
      },
      { ip: '10.0.0.9', status: 'error', grade: null, gradeTrustIgnored: null, error: { code: 'connection-refused', message: 'connection refused by 10.0.0.9' }, leafExpiry: null, earliestExpiry: null, findings: [] },
    ]);
  });
});

describe('summaryCsv', () => {
  const hostile = { owner: '=HYPERLINK("http://203.0.113.9/x","click")', team: 'ops, "core"\nnight', env: '@SUM(A1)' };
  const summary = buildReport(
    input({
      tlsTargets: [
        target('app.test', [ep('10.0.0.1', 'B', { findings: [{ id: 'tls10', title: 'TLS 1.0', severity: 'medium' }, { id: 'cbc-suites', title: 'CBC', severity: 'low' }], earliestExpiry: inDays(-3) })], { labels: hostile }),
        target('plain.test', [ep('10.0.0.2', 'A')], { labels: { owner: 'web' } }),
      ],
    }),
  );
  const lines = summaryCsv(summary).split('\r\n');

  it('writes one row per endpoint with a column per label key, CRLF line ends', () => {
    expect(lines[0]).toBe('host,port,ip,status,grade,gradeTrustIgnored,assessedAt,engine,leafExpiry,earliestExpiry,daysToExpiry,findings,label:env,label:owner,label:team');
    expect(lines[2]).toBe(`plain.test,443,10.0.0.2,ready,A,A,${inDays(-1)},native,${inDays(365)},${inDays(365)},365,,,web,`);
    expect(lines.at(-1)).toBe('');
  });

  it('quotes commas, quotes and line breaks and defuses cells that start a formula, but not its own negative numbers', () => {
    expect(lines[1]).toContain(',-3,tls10;cbc-suites,');
    expect(lines[1]).toContain(`,'@SUM(A1),"'=HYPERLINK(""http://203.0.113.9/x"",""click"")","ops, ""core""\nnight"`);
    expect(csvCell('+1')).toBe("'+1");
    expect(csvCell('-1')).toBe("'-1");
    expect(csvCell('\tx')).toBe("'\tx");
    expect(csvCell(-1)).toBe('-1');
    expect(csvCell('a"b')).toBe('"a""b"');
    expect(csvCell(null)).toBe('');
  });
});

describe('summaryHtml', () => {
  const hostileHost = '<img src=x onerror=alert(1)>.test';
  const summary = buildReport(
    input({
      filters: { ...FILTERS, labels: { team: '<script>alert("t")</script>' }, since: inDays(-30) },
      tlsTargets: [
        target(hostileHost, [ep('10.0.0.1', 'F', { earliestExpiry: inDays(5), findings: [{ id: 'x', title: '<b>bold</b> & co', severity: 'high' }] })], {
          labels: { team: '<script>alert("t")</script>' },
          before: { grade: 'A', finishedAt: inDays(-40) },
        }),
      ],
    }),
  );
  const html = summaryHtml(summary);

  it('escapes every value: a hostile host, label and finding title stay text', () => {
    expect(html).not.toContain('<script');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<b>bold');
    expect(html).toContain('&#60;img src=x onerror=alert(1)&#62;.test');
    expect(html).toContain('team=&#60;script&#62;alert(&#34;t&#34;)&#60;/script&#62;');
    expect(html).toContain('&#60;b&#62;bold&#60;/b&#62; &#38; co');
  });

  it('is one self-contained printable page: inline CSS and SVG charts, no script or external asset, the generated-at line and the filters', () => {
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).toContain('@media print');
    expect(html.match(/<svg /g)).toHaveLength(2);
    expect(html).not.toMatch(/<script|<link|<iframe|<[^>]*\ssrc=|url\(|@import/i);
    expect(html).not.toMatch(/href="?https?:/i);
    expect(html).toContain(`Generated at ${NOW}`);
    expect(html).toContain(`since ${inDays(-30)}`);
    expect(html).toContain('expiring within 90 days');
    expect(html).toMatch(/Changes since/);
  });

  it('draws a bar per grade sized by its count', () => {
    // One F target: the F bar is the full width (420), every other grade zero.
    expect(html).toMatch(/>F<\/text><rect x="90" y="\d+" width="420"/);
    expect(html).toMatch(/>A\+<\/text><rect x="90" y="\d+" width="0"/);
  });
});
