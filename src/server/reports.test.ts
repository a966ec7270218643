import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { buildConfig } from '../config/index.js';
import { createMetrics } from '../metrics/index.js';
import { createLogger, createRuntime, type Runtime } from '../runtime/index.js';
import { timeOrderedId } from '../shared/ids.js';
import { assessment, chain, endpoint, fakeTlsEngine, unreachableEndpoint } from '../testing/assessments.js';
import { TEST_DIALECTS, type TestDatabase, openTestDatabase } from '../testing/databases.js';
import type { EndpointAssessment } from '../tls/model.js';
import { buildTestApp } from '../testing/app.js';

interface Harness {
  db: TestDatabase;
  runtime: Runtime;
  app: FastifyInstance;
}

async function harness(dialect: 'sqlite' | 'postgres'): Promise<Harness> {
  const db = await openTestDatabase(dialect);
  const config = buildConfig({}, { logLevel: 'silent' });
  const runtime = await createRuntime(config, {
    database: db,
    logger: createLogger(config),
    metrics: createMetrics({ defaultMetrics: false }),
    tlsEngine: fakeTlsEngine().engine,
    queue: { leaseMs: 2000, pollMs: 20 },
  });
  return { db, runtime, app: await buildTestApp(runtime) };
}

const DAY = 86_400_000;
const daysFromNow = (days: number): string => new Date(Date.now() + days * DAY).toISOString();
const HOSTILE_HOST = '<img src=x onerror=alert(1)>.test';
const HOSTILE_LABEL = '=HYPERLINK("http://203.0.113.7/","<script>alert(2)</script>")';

describe.each(TEST_DIALECTS)('reports API on %s', (dialect) => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.app.close();
    await h?.runtime.close();
    await h?.db.cleanup();
    h = undefined;
  });

  async function assessed(host: string, port: number, finishedAt: string, endpoints: EndpointAssessment[]): Promise<void> {
    const tls = h!.runtime.store.tlsAssessments;
    const scanId = timeOrderedId();
    await tls.createScan({ id: scanId, hosts: [host], targets: [{ host, port }], options: {}, createdAt: finishedAt });
    await tls.saveAssessment(scanId, { host, port }, assessment({ host, port, startedAt: finishedAt, finishedAt, endpoints }), finishedAt);
    await tls.finish(scanId, { status: 'done', at: finishedAt });
  }

  async function addTarget(value: string, port: number, labels: Record<string, string>): Promise<void> {
    const now = new Date().toISOString();
    await h!.db.db
      .insertInto('targets')
      .values({ id: timeOrderedId(), kind: 'tls', value, port, ports: null, labels: JSON.stringify(labels), schedule: null, created_at: now, updated_at: now, next_run_at: null, last_run_at: null, last_scan_id: null, cert_expires_at: null })
      .execute();
  }

  const expiringIn = (days: number) => {
    const date = daysFromNow(days);
    return [chain({ leafExpiry: date, earliestExpiry: date })];
  };

  /** Three inventory targets: web (A, cert in 5 days) and legacy (B + an unreachable address) of team web, db (F) of team db. */
  async function estate(): Promise<void> {
    await addTarget('web.test', 443, { team: 'web', env: 'prod' });
    await addTarget('legacy.test', 443, { team: 'web', env: 'prod' });
    await addTarget('db.test', 5432, { team: 'db', env: 'prod' });
    await assessed('web.test', 443, daysFromNow(-40), [endpoint({ ip: '10.0.0.1', grade: 'C', gradeTrustIgnored: 'C' })]);
    await assessed('web.test', 443, daysFromNow(-1), [endpoint({ ip: '10.0.0.1', certificates: expiringIn(5) })]);
    await assessed('legacy.test', 443, daysFromNow(-1), [endpoint({ ip: '10.0.0.2', grade: 'B', gradeTrustIgnored: 'B', certificates: expiringIn(-3) }), unreachableEndpoint('10.0.0.3')]);
    await assessed('db.test', 5432, daysFromNow(-2), [endpoint({ ip: '10.0.0.4', grade: 'F', gradeTrustIgnored: 'F', certificates: expiringIn(60) })]);
  }

  it('GET /api/v1/reports/summary: distribution, expiry buckets, findings, changes since a date and failures', async () => {
    h = await harness(dialect);
    await estate();
    const res = await h.app.inject({ method: 'GET', url: `/api/v1/reports/summary?since=${daysFromNow(-10).slice(0, 10)}` });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body.scope).toBe('inventory');
    expect(body.totals).toMatchObject({ tlsTargets: 3, assessedTargets: 3, endpoints: 4, gradedEndpoints: 3, failures: 1 });
    const distribution = Object.fromEntries(body.gradeDistribution.map((d: any) => [d.grade, [d.targets, d.endpoints]]));
    expect(distribution).toMatchObject({ A: [1, 1], B: [1, 1], F: [1, 1], ungraded: [0, 1], 'A+': [0, 0] });
    expect(body.endpointsByGrade.map((g: any) => g.grade)).toEqual(['ungraded', 'F', 'B', 'A']);
    expect(body.endpointsByGrade[0].endpoints[0]).toMatchObject({ host: 'legacy.test', ip: '10.0.0.3', status: 'error', labels: { team: 'web', env: 'prod' } });
    expect(body.expiry.counts).toEqual({ expired: 1, within7Days: 1, within30Days: 1, within90Days: 2 });
    expect(body.expiry.certificates.map((c: any) => [c.host, c.bucket])).toEqual([
      ['legacy.test', 'expired'],
      ['web.test', '7d'],
      ['db.test', '90d'],
    ]);
    expect(body.topFindings).toEqual([{ id: 'cbc-suites', title: 'CBC cipher suites offered', severity: 'low', count: 3, examples: ['db.test:5432', 'legacy.test:443', 'web.test:443'] }]);
    expect(body.changes.grades).toEqual([expect.objectContaining({ host: 'web.test', from: 'C', to: 'A', direction: 'up' })]);
    expect(body.failures).toEqual([expect.objectContaining({ kind: 'tls', target: 'legacy.test:443', ip: '10.0.0.3', code: 'connection-refused' })]);
  });

  it('filters by labels (labels=k:v,… and label.k=v), time window and expiry horizon', async () => {
    h = await harness(dialect);
    await estate();
    const hosts = async (query: string): Promise<string[]> => {
      const res = await h!.app.inject({ method: 'GET', url: `/api/v1/reports/summary?${query}` });
      expect(res.statusCode, res.body).toBe(200);
      return res.json().endpointsByGrade.flatMap((g: any) => g.endpoints.map((e: any) => e.host));
    };
    expect(await hosts('labels=team:db,env:prod')).toEqual(['db.test']);
    expect(await hosts('label.team=web')).toEqual(['legacy.test', 'legacy.test', 'web.test']);
    expect(await hosts('label.team=web&labels=env:staging')).toEqual([]);
    // Until 30 days ago only web.test's older assessment counts.
    expect(await hosts(`until=${encodeURIComponent(daysFromNow(-30))}`)).toEqual(['web.test']);
    const narrow = (await h.app.inject({ method: 'GET', url: '/api/v1/reports/summary?expiringWithinDays=7' })).json();
    expect(narrow.filters.expiringWithinDays).toBe(7);
    expect(narrow.expiry.certificates.map((c: any) => c.host)).toEqual(['legacy.test', 'web.test']);
  });

  it('answers malformed filters with problem+json naming the field', async () => {
    h = await harness(dialect);
    for (const [query, field] of [
      ['since=yesterday', 'since'],
      ['until=2026-13-45', 'until'],
      ['since=2026-06-02&until=2026-06-01', 'since'],
      ['labels=team', 'labels'],
    ] as const) {
      const res = await h.app.inject({ method: 'GET', url: `/api/v1/reports/summary?${query}` });
      expect(res.statusCode, query).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json()).toMatchObject({ code: 'request.invalid', field });
    }
    expect((await h.app.inject({ method: 'GET', url: '/api/v1/reports/summary?colour=red' })).statusCode).toBe(400);
  });

  it('GET /api/v1/reports/summary.csv: an attachment, one row per endpoint, hostile labels defused', async () => {
    h = await harness(dialect);
    await addTarget('app.test', 443, { owner: HOSTILE_LABEL });
    await assessed('app.test', 443, daysFromNow(-1), [endpoint({ ip: '10.0.0.1' }), endpoint({ ip: '10.0.0.2' })]);
    const res = await h.app.inject({ method: 'GET', url: '/api/v1/reports/summary.csv' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(res.headers['content-disposition']).toMatch(/^attachment; filename="portcullis-summary-\d{4}-\d{2}-\d{2}T\d{6}\.csv"$/);
    const lines = res.body.split('\r\n');
    expect(lines[0]).toBe('host,port,ip,status,grade,gradeTrustIgnored,assessedAt,engine,leafExpiry,earliestExpiry,daysToExpiry,findings,label:owner');
    expect(lines.slice(1, -1)).toHaveLength(2);
    expect(lines[1]).toMatch(/^app\.test,443,10\.0\.0\.1,ready,A,A,/);
    expect(lines[1]!.endsWith(',cbc-suites,"\'=HYPERLINK(""http://203.0.113.7/"",""<script>alert(2)</script>"")"')).toBe(true);
  });

  it('GET /reports/summary.html: a self-contained page with every hostile value escaped', async () => {
    h = await harness(dialect);
    await addTarget(HOSTILE_HOST, 443, { owner: HOSTILE_LABEL });
    await assessed(HOSTILE_HOST, 443, daysFromNow(-1), [endpoint({ grade: 'F', gradeTrustIgnored: 'F', certificates: expiringIn(3) })]);
    const res = await h.app.inject({ method: 'GET', url: '/reports/summary.html?labels=owner:x&label.owner=' + encodeURIComponent(HOSTILE_LABEL) });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    const html = res.body;
    expect(html).not.toMatch(/<script|<img/);
    expect(html).toContain('&#60;img src=x onerror=alert(1)&#62;.test');
    expect(html).toContain('&#60;script&#62;alert(2)&#60;/script&#62;');
    expect(html).toMatch(/Generated at \d{4}-\d{2}-\d{2}T/);
    expect(html).toContain('<svg ');
  });

  it('documents the three routes under the reports tag in OpenAPI', async () => {
    h = await harness(dialect);
    const spec = (await h.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(spec.tags.map((t: any) => t.name)).toContain('reports');
    for (const path of ['/api/v1/reports/summary', '/api/v1/reports/summary.csv', '/reports/summary.html']) expect(spec.paths[path].get.tags).toEqual(['reports']);
    expect(spec.paths['/api/v1/reports/summary.csv'].get.responses['200'].content['text/csv']).toBeDefined();
  });
});
