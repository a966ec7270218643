import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../config/index.js';
import type { Worker } from '../jobs/index.js';
import { createMetrics } from '../metrics/index.js';
import { createLogger, createRuntime, type Runtime, startWorker } from '../runtime/index.js';
import { staticResolver } from '../scope/index.js';
import { type FakeEngine, assessment, fakeTlsEngine, tls12OnlyEndpoint } from '../testing/assessments.js';
import { TEST_DIALECTS, openTestDatabase, type TestDatabase } from '../testing/databases.js';
import type { Assessment } from '../tls/model.js';
import { buildTestApp } from '../testing/app.js';

interface Harness {
  db: TestDatabase;
  runtime: Runtime;
  app: FastifyInstance;
  worker: Worker | undefined;
  fake: FakeEngine;
}

const RESOLVER = staticResolver({ 'app.test': ['127.0.0.1'], 'metadata.test': ['169.254.169.254'], 'mixed.test': ['127.0.0.1', '169.254.169.254'] });

async function harness(dialect: 'sqlite' | 'postgres', opts: { worker?: boolean; fake?: FakeEngine } = {}): Promise<Harness> {
  const db = await openTestDatabase(dialect);
  const fake = opts.fake ?? fakeTlsEngine();
  const config = buildConfig({}, { logLevel: 'silent' });
  const runtime = await createRuntime(config, {
    database: db,
    logger: createLogger(config),
    metrics: createMetrics({ defaultMetrics: false }),
    resolver: RESOLVER,
    tlsEngine: fake.engine,
    queue: { leaseMs: 2000, pollMs: 20 },
  });
  const worker = opts.worker === false ? undefined : startWorker(runtime, 2);
  const app = await buildTestApp(runtime);
  return { db, runtime, app, worker, fake };
}

async function close(h: Harness | undefined): Promise<void> {
  if (!h) return;
  await h.app.close();
  await h.worker?.close({ graceMs: 0 });
  await h.runtime.close();
  await h.db.cleanup();
}

async function waitForTlsScan(app: FastifyInstance, id: string, timeoutMs = 20_000): Promise<Record<string, any>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const body = (await app.inject({ method: 'GET', url: `/api/v1/tls-scans/${id}` })).json();
    if (['done', 'failed', 'cancelled'].includes(body.status)) return body;
    if (Date.now() > deadline) throw new Error(`TLS scan ${id} still ${body.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function storedRows(h: Harness): Promise<number> {
  const counts = await Promise.all(
    ['tls_scans', 'tls_assessments', 'tls_scan_targets', 'jobs'].map((t) => sql<{ n: number }>`select count(*) as n from ${sql.table(t)}`.execute(h.db.db)),
  );
  return counts.reduce((acc, r) => acc + Number(r.rows[0]?.n), 0);
}

/** An engine answer held until the test releases it. */
function held(): { answer: (signal: AbortSignal | undefined) => Promise<Assessment>; release: () => void } {
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => (release = resolve));
  return { answer: async () => (await gate, assessment()), release: () => release() };
}

describe.each(TEST_DIALECTS)('TLS API on %s', (dialect) => {
  let h: Harness | undefined;
  afterEach(async () => {
    await close(h);
    h = undefined;
  });

  it('runs a TLS scan as a job: progress, per-target grades, the full assessment and the host history', async () => {
    h = await harness(dialect);
    const res = await h.app.inject({ method: 'POST', url: '/api/v1/tls-scans', payload: { hosts: ['app.test', '127.0.0.1:8443'] } });
    expect(res.statusCode).toBe(202);
    const accepted = res.json();
    expect(accepted).toMatchObject({ status: 'queued', targets: 2 });
    expect(res.headers.location).toBe(`/api/v1/tls-scans/${accepted.id}`);

    const scan = await waitForTlsScan(h.app, accepted.id);
    expect(scan).toMatchObject({ status: 'done', progress: { done: 2, total: 2, percent: 100 }, targets: [{ host: 'app.test', port: 443 }, { host: '127.0.0.1', port: 8443 }] });
    expect(scan.results.map((r: any) => [r.host, r.port, r.cached, r.assessment.grade])).toEqual([
      ['app.test', 443, false, 'A'],
      ['127.0.0.1', 8443, false, 'A'],
    ]);
    const link = scan.results[0].assessment.links.self;

    const full = (await h.app.inject({ method: 'GET', url: link })).json();
    expect(full).toMatchObject({ host: 'app.test', port: 443, sni: 'app.test', engine: 'native', scanId: accepted.id });
    // Nothing of the document is lost to response serialisation.
    const endpoint = full.endpoints[0];
    expect(endpoint.suites.find((s: any) => s.code === '0xC02F')).toMatchObject({ iana: 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', openssl: 'ECDHE-RSA-AES128-GCM-SHA256', bits: 128, kx: 'ECDHE', fs: true });
    expect(endpoint.certificates[0].served[0].sha256).toBe('b2'.repeat(32));
    expect(endpoint.features.alpn).toEqual(['h2', 'http/1.1']);
    expect(endpoint.http.hsts.maxAge).toBe(31536000);

    const history = (await h.app.inject({ method: 'GET', url: '/api/v1/domains/App.Test.' })).json();
    expect(history).toMatchObject({ host: 'app.test', total: 1 });
    expect(history.items[0]).toMatchObject({ grade: 'A', port: 443, links: { self: link } });
    const byIp = (await h.app.inject({ method: 'GET', url: '/api/v1/domains/127.0.0.1?port=8443' })).json();
    expect(byIp.items.map((i: any) => i.port)).toEqual([8443]);
    const list = (await h.app.inject({ method: 'GET', url: '/api/v1/tls-scans?status=done' })).json();
    expect(list.items.map((s: any) => s.id)).toEqual([accepted.id]);
  });

  it('GET /scan runs an assessment through the queue, then answers from the store until fresh=1', async () => {
    h = await harness(dialect, { fake: fakeTlsEngine({ 'app.test:443': assessment({ endpoints: [tls12OnlyEndpoint()] }) }) });
    const first = await h.app.inject({ method: 'GET', url: '/scan?host=app.test' });
    expect(first.statusCode).toBe(200);
    const report = first.json();
    expect(report).toMatchObject({
      host: 'app.test',
      port: 443,
      grade: 'A-',
      cached: false,
      endpoints: [
        {
          ip: '127.0.0.1',
          grade: 'A-',
          gradeTrustIgnored: 'A-',
          protocols: ['TLSv1.2'],
          weakSuites: [{ protocol: 'TLSv1.2', code: '0xC013', strength: 'weak' }],
          certificate: { subject: 'CN=app.test', notAfter: '2026-12-31T23:59:59.000Z', earliestExpiry: '2026-12-31T23:59:59.000Z', trusted: true },
          caps: [{ grade: 'A-', rule: 'no-tls13', reason: 'capped at A-: TLS 1.3 is not supported', fix: 'enable TLS 1.3' }],
          findings: [{ id: 'cbc-suites', severity: 'low' }],
        },
      ],
    });
    expect(report.links.assessment).toMatch(/^\/api\/v1\/tls-assessments\//);

    const second = (await h.app.inject({ method: 'GET', url: '/scan?host=app.test&port=443' })).json();
    expect(second).toMatchObject({ cached: true, assessedAt: report.assessedAt, links: { assessment: report.links.assessment } });
    expect(h.fake.calls).toEqual(['app.test:443']);

    const fresh = (await h.app.inject({ method: 'GET', url: '/scan?host=app.test&fresh=1' })).json();
    expect(fresh.cached).toBe(false);
    expect(fresh.links.assessment).not.toBe(report.links.assessment);
    expect(h.fake.calls).toEqual(['app.test:443', 'app.test:443']);
  });

  it('GET /scan answers 202 with a link to poll when the assessment takes longer than the wait', async () => {
    const slow = held();
    h = await harness(dialect, { fake: fakeTlsEngine({ 'app.test:443': slow.answer }) });
    const res = await h.app.inject({ method: 'GET', url: '/scan?host=app.test&wait=0' });
    expect(res.statusCode).toBe(202);
    const pending = res.json();
    expect(['queued', 'running']).toContain(pending.status);
    expect(res.headers.location).toBe(pending.links.self);
    slow.release();
    const scan = await waitForTlsScan(h.app, pending.id);
    expect(scan.results[0].assessment.grade).toBe('A');
    // Once done, the same request is answered from the store.
    expect((await h.app.inject({ method: 'GET', url: '/scan?host=app.test' })).json()).toMatchObject({ cached: true, grade: 'A' });
  });

  describe('rejections', () => {
    // Nothing is stored by any of these, so they share one server.
    let shared: Harness;
    beforeAll(async () => {
      shared = await harness(dialect, { worker: false });
    });
    afterAll(async () => {
      await close(shared);
    });

    it.each([
      ['/scan?host=app.test:99999', 400, 'target.invalid'],
      ['/scan?host=10.0.0.0/24', 400, 'target.invalid'],
      ['/scan?host=app.test:8443&port=443', 400, 'request.invalid'],
      ['/scan?host=nowhere.test', 400, 'target.unresolvable'],
      ['/scan?host=metadata.test', 403, 'scope.denied'],
      ['/scan?host=169.254.169.254', 403, 'scope.denied'],
      ['/scan', 400, 'request.invalid'],
    ])('GET %s → %i %s as problem+json, storing nothing', async (url, status, code) => {
      const res = await shared.app.inject({ method: 'GET', url });
      expect(res.statusCode).toBe(status);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json()).toMatchObject({ status, code, type: `urn:portcullis:problem:${code}` });
      expect(await storedRows(shared)).toBe(0);
    });

    it.each([
      [{ hosts: ['app.test', 'mixed.test'] }, 403, 'scope.denied', 'hosts[1]'],
      [{ hosts: ['app.test:0'] }, 400, 'target.invalid', 'hosts[0]'],
      [{ hosts: [] }, 400, 'request.invalid', undefined],
      [{ hosts: ['app.test'], options: { timeoutMs: 5 } }, 400, 'request.invalid', undefined],
      [{ hosts: ['app.test'], surprise: 1 }, 400, 'request.invalid', undefined],
    ])('POST %j → %i %s naming the field, storing nothing', async (payload, status, code, field) => {
      const res = await shared.app.inject({ method: 'POST', url: '/api/v1/tls-scans', payload });
      expect(res.statusCode).toBe(status);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json()).toMatchObject({ status, code });
      if (field !== undefined) expect(res.json().field).toBe(field);
      expect(await storedRows(shared)).toBe(0);
    });
  });

  it('compares two scans of the same host: grade, protocols and caps that changed', async () => {
    h = await harness(dialect);
    const post = async () => (await h!.app.inject({ method: 'POST', url: '/api/v1/tls-scans', payload: { hosts: ['app.test'], options: { fresh: true } } })).json().id;
    const first = await post();
    await waitForTlsScan(h.app, first);
    // Someone turned TLS 1.3 off.
    h.fake.answers['app.test:443'] = assessment({ endpoints: [tls12OnlyEndpoint()] });
    const second = await post();
    await waitForTlsScan(h.app, second);

    const diff = (await h.app.inject({ method: 'GET', url: `/api/v1/tls-scans/${first}/compare/${second}` })).json();
    expect(diff.complete).toBe(true);
    expect(diff.targets).toHaveLength(1);
    const target = diff.targets[0];
    expect(target).toMatchObject({ host: 'app.test', port: 443, assessedIn: 'both', comparison: { changed: true } });
    const e = target.comparison.endpoints[0];
    expect(e).toMatchObject({ ip: '127.0.0.1', change: 'changed', grade: { from: 'A', to: 'A-', direction: 'worse' }, protocols: { added: [], removed: ['TLSv1.3'] } });
    expect(e.caps.new.map((c: any) => c.rule)).toEqual(['no-tls13']);
  });

  it('cancels a queued TLS scan, which then never runs, and deletes a finished one with its assessments', async () => {
    h = await harness(dialect, { worker: false });
    const { id } = (await h.app.inject({ method: 'POST', url: '/api/v1/tls-scans', payload: { hosts: ['app.test'] } })).json();
    const cancelled = await h.app.inject({ method: 'DELETE', url: `/api/v1/tls-scans/${id}` });
    expect(cancelled.statusCode).toBe(202);
    expect(cancelled.json().status).toBe('cancelled');
    h.worker = startWorker(h.runtime, 1);
    await new Promise((r) => setTimeout(r, 200));
    expect(h.fake.calls).toEqual([]);

    const done = (await h.app.inject({ method: 'POST', url: '/api/v1/tls-scans', payload: { hosts: ['app.test'] } })).json().id;
    const scan = await waitForTlsScan(h.app, done);
    const link = scan.results[0].assessment.links.self;
    expect((await h.app.inject({ method: 'DELETE', url: `/api/v1/tls-scans/${done}` })).statusCode).toBe(204);
    expect((await h.app.inject({ method: 'GET', url: `/api/v1/tls-scans/${done}` })).statusCode).toBe(404);
    expect((await h.app.inject({ method: 'GET', url: link })).json()).toMatchObject({ status: 404, code: 'not-found' });
    expect((await h.app.inject({ method: 'GET', url: '/api/v1/domains/app.test' })).json()).toMatchObject({ status: 404, code: 'not-found' });
  });
});

describe('TLS API documentation', () => {
  it('publishes every TLS route in the OpenAPI document, with examples', async () => {
    const h = await harness('sqlite', { worker: false });
    try {
      const spec = (await h.app.inject({ url: '/openapi.json' })).json();
      for (const path of ['/scan', '/api/v1/tls-scans', '/api/v1/tls-scans/{id}', '/api/v1/tls-scans/{a}/compare/{b}', '/api/v1/tls-assessments/{id}', '/api/v1/domains/{host}']) {
        expect(Object.keys(spec.paths), path).toContain(path);
      }
      expect(JSON.stringify(spec.paths['/api/v1/tls-scans'].post)).toContain('examples');
      expect(JSON.stringify(spec.paths['/scan'].get.responses['200'])).toContain('capped at B');
    } finally {
      await close(h);
    }
  });
});
