import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { buildConfig } from '../config/index.js';
import type { Worker } from '../jobs/index.js';
import { createMetrics } from '../metrics/index.js';
import { createLogger, createRuntime, type Runtime, startWorker } from '../runtime/index.js';
import { staticResolver } from '../scope/index.js';
import { assessment, endpoint, fakeTlsEngine } from '../testing/assessments.js';
import { TEST_DIALECTS, openTestDatabase, type TestDatabase } from '../testing/databases.js';
import type { TlsEngine } from '../tls/engine.js';
import { buildTestApp } from '../testing/app.js';

interface Harness {
  db: TestDatabase;
  runtime: Runtime;
  app: FastifyInstance;
  worker: Worker | undefined;
}

const RESOLVER = staticResolver({ 'a.test': ['127.0.0.1'], 'b.test': ['127.0.0.2'] });

async function harness(dialect: 'sqlite' | 'postgres', opts: { worker?: boolean; engine?: TlsEngine } = {}): Promise<Harness> {
  const db = await openTestDatabase(dialect);
  const config = buildConfig({}, { logLevel: 'silent', portscan: { serviceDetection: false } });
  const runtime = await createRuntime(config, {
    database: db,
    logger: createLogger(config),
    metrics: createMetrics({ defaultMetrics: false }),
    resolver: RESOLVER,
    tlsEngine: opts.engine ?? fakeTlsEngine().engine,
    queue: { leaseMs: 2000, pollMs: 20 },
  });
  const worker = opts.worker === false ? undefined : startWorker(runtime, 2);
  return { db, runtime, app: await buildTestApp(runtime), worker };
}

async function close(h: Harness | undefined): Promise<void> {
  if (!h) return;
  await h.app.close();
  await h.worker?.close({ graceMs: 0 });
  await h.runtime.close();
  await h.db.cleanup();
}

async function rows(h: Harness, table: string): Promise<number> {
  return Number((await sql<{ n: number }>`select count(*) as n from ${sql.table(table)}`.execute(h.db.db)).rows[0]?.n);
}

async function finished(app: FastifyInstance, url: string, timeoutMs = 20_000): Promise<Record<string, any>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await app.inject({ method: 'GET', url });
    if (res.statusCode === 200) return res.json();
    expect(res.statusCode).toBe(202);
    if (Date.now() > deadline) throw new Error(`${url} still 202 after ${timeoutMs} ms: ${res.body}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe.each(TEST_DIALECTS)('batches on %s', (dialect) => {
  let h: Harness | undefined;
  afterEach(async () => {
    await close(h);
    h = undefined;
  });

  it('takes a CSV file: TLS for host names, a port scan for addresses, rejected lines reported, results when all finished', async () => {
    h = await harness(dialect);
    const csv = 'target,ports,owner\na.test,,alice\nb.test:8443,,bob\n127.0.0.0/31,22,carol\nnot a host!,,x\n169.254.169.254,80,eve\n';
    const res = await h.app.inject({ method: 'POST', url: '/api/v1/batches', headers: { 'content-type': 'text/csv' }, payload: csv });
    expect(res.statusCode, res.body).toBe(202);
    const created = res.json();
    expect(created.accepted).toBe(3);
    expect(created.rejected.map((r: { line: number }) => r.line)).toEqual([5, 6]);
    expect(created.rejected[1].reason).toMatch(/may not be scanned/);
    const done = await finished(h.app, created.links.self);
    expect(done).toMatchObject({ status: 'done', counts: { total: 3, done: 3, failed: 0, queued: 0, running: 0 }, percent: 100 });
    expect(done.results.tls.map((r: { host: string; port: number; grade: string }) => [r.host, r.port, r.grade])).toEqual([
      ['a.test', 443, 'A'],
      ['b.test', 8443, 'A'],
    ]);
    expect(done.results.ports).toEqual([expect.objectContaining({ targets: ['127.0.0.0/31'], ports: '22', status: 'done' })]);
  });

  it('answers 202 with progress, never a partial result, while a target is unfinished', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const engine: TlsEngine = async (target) => {
      if (target.host === 'b.test') await gate;
      return assessment({ host: target.host, port: target.port, endpoints: [endpoint()] });
    };
    h = await harness(dialect, { engine });
    const created = (await h.app.inject({ method: 'POST', url: '/api/v1/batches', headers: { 'content-type': 'text/plain' }, payload: 'a.test\nb.test\n' })).json();
    const deadline = Date.now() + 10_000;
    let progress: Record<string, any>;
    do {
      const res = await h.app.inject({ method: 'GET', url: created.links.self });
      expect(res.statusCode).toBe(202);
      progress = res.json();
      await new Promise((r) => setTimeout(r, 20));
    } while (progress.counts.done < 1 && Date.now() < deadline);
    expect(progress).toMatchObject({ status: 'running', counts: { total: 2, done: 1, running: 1 }, percent: 50 });
    expect(progress.etaSeconds).toEqual(expect.any(Number));
    expect(progress).not.toHaveProperty('results');
    release();
    expect((await finished(h.app, created.links.self)).counts.done).toBe(2);
  });

  it('answers a host assessed within the max age from the store unless fresh=true', async () => {
    const fake = fakeTlsEngine();
    h = await harness(dialect, { engine: fake.engine });
    await finished(h.app, (await h.app.inject({ method: 'POST', url: '/api/v1/batches', headers: { 'content-type': 'application/json' }, payload: ['a.test'] })).json().links.self);
    const again = await finished(h.app, (await h.app.inject({ method: 'POST', url: '/api/v1/batches', headers: { 'content-type': 'application/json' }, payload: ['a.test'] })).json().links.self);
    expect(again.results.tls[0]).toMatchObject({ host: 'a.test', cached: true });
    const fresh = await finished(h.app, (await h.app.inject({ method: 'POST', url: '/api/v1/batches?fresh=true', headers: { 'content-type': 'application/json' }, payload: ['a.test'] })).json().links.self);
    expect(fresh.results.tls[0].cached).toBe(false);
    expect(fake.calls.filter((c) => c === 'a.test:443')).toHaveLength(2);
  });

  it('refuses a file with nothing scannable, or the wrong content type, and stores nothing', async () => {
    h = await harness(dialect, { worker: false });
    const bad = await h.app.inject({ method: 'POST', url: '/api/v1/batches', headers: { 'content-type': 'text/plain' }, payload: '169.254.169.254\n!!!\n' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'request.invalid', detail: expect.stringMatching(/nothing in the file can be scanned: 2 line/) });
    const wrongType = await h.app.inject({ method: 'POST', url: '/api/v1/batches', headers: { 'content-type': 'application/xml' }, payload: '<a/>' });
    expect(wrongType.statusCode).toBe(415);
    expect((await h.app.inject({ method: 'GET', url: '/api/v1/batches/nope' })).statusCode).toBe(404);
    for (const table of ['batches', 'tls_scans', 'port_scans', 'jobs']) expect(await rows(h, table)).toBe(0);
  });
});
