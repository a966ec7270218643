import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { buildConfig } from '../config/index.js';
import type { Worker } from '../jobs/index.js';
import { createMetrics } from '../metrics/index.js';
import { createLogger, createRuntime, type Runtime, startWorker } from '../runtime/index.js';
import { staticResolver } from '../scope/index.js';
import { assessment, endpoint } from '../testing/assessments.js';
import { TEST_DIALECTS, openTestDatabase, type TestDatabase } from '../testing/databases.js';
import { type SslLabsEmulator, startSslLabsEmulator } from '../testing/ssllabs-emulator.js';
import type { TlsEngine } from '../tls/engine.js';
import { buildTestApp } from '../testing/app.js';

interface Harness {
  db: TestDatabase;
  runtime: Runtime;
  app: FastifyInstance;
  worker: Worker;
  emulator: SslLabsEmulator;
  nativeCalls: string[];
}

const EMAIL = 'secops@corp.example';
// Public-looking names resolve to a documentation address that nothing ever connects to: SSL Labs
// (the emulator on loopback) is asked about them; the native engine below refuses them.
// 203.0.113.26 is also the address the emulator reports for www.site.example, so both engines see one endpoint.
const SITE_IP = '203.0.113.26';
const RESOLVER = staticResolver({ 'www.site.example': [SITE_IP], 'app.test': ['127.0.0.1'] });

async function harness(dialect: 'sqlite' | 'postgres', opts: { sslLabs?: boolean } = {}): Promise<Harness> {
  const db = await openTestDatabase(dialect);
  const emulator = await startSslLabsEmulator({ dnsMs: 10, assessmentMs: 40, coolOffMs: 5, registeredEmails: [EMAIL] });
  const nativeCalls: string[] = [];
  const native: TlsEngine = async (target) => {
    nativeCalls.push(target.host);
    if (target.host !== 'app.test' && target.host !== 'www.site.example') throw new Error(`unexpected native target ${target.host}`);
    // The native view of www.site.example is faked (no connection): it disagrees with SSL Labs on purpose.
    const now = new Date().toISOString();
    return assessment({ host: target.host, port: target.port, startedAt: now, finishedAt: now, endpoints: [endpoint({ ip: target.host === 'app.test' ? '127.0.0.1' : SITE_IP, grade: 'A+' })] });
  };
  const config = buildConfig(
    {},
    {
      logLevel: 'silent',
      ...(opts.sslLabs === false ? {} : { ssllabs: { email: EMAIL, baseUrl: emulator.url, pollDnsMs: 5, pollMs: 10, coolOffMarginMs: 0 } }),
    },
  );
  const runtime = await createRuntime(config, {
    database: db,
    logger: createLogger(config),
    metrics: createMetrics({ defaultMetrics: false }),
    resolver: RESOLVER,
    tlsEngine: native,
    queue: { leaseMs: 2000, pollMs: 20 },
  });
  const worker = startWorker(runtime, 2);
  const app = await buildTestApp(runtime);
  return { db, runtime, app, worker, emulator, nativeCalls };
}

async function close(h: Harness | undefined): Promise<void> {
  if (!h) return;
  await h.app.close();
  await h.worker.close({ graceMs: 0 });
  await h.runtime.close();
  await h.emulator.close();
  await h.db.cleanup();
}

async function rows(h: Harness, table: string): Promise<number> {
  const { rows: r } = await sql<{ n: number }>`select count(*) as n from ${sql.table(table)}`.execute(h.db.db);
  return Number(r[0]?.n);
}

describe.each(TEST_DIALECTS)('SSL Labs engine through the API on %s', (dialect) => {
  let h: Harness | undefined;
  afterEach(async () => {
    await close(h);
    h = undefined;
  });

  it('GET /scan?engine=ssllabs grades through SSL Labs, keeps its raw JSON, then answers from the store', async () => {
    h = await harness(dialect);
    const res = await h.app.inject({ method: 'GET', url: '/scan?host=www.site.example&engine=ssllabs&wait=20' });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ host: 'www.site.example', engine: 'ssllabs', grade: 'A', cached: false, criteriaVersion: '2009q' });
    expect(h.nativeCalls).toEqual([]);
    const raw = await h.app.inject({ method: 'GET', url: `${body.links.assessment}/ssllabs` });
    expect(raw.statusCode).toBe(200);
    expect(raw.json()).toMatchObject({ host: 'www.site.example', status: 'READY', endpoints: [expect.objectContaining({ grade: 'A' })] });
    const doc = (await h.app.inject({ method: 'GET', url: body.links.assessment })).json();
    expect(doc.links.ssllabs).toBe(`${body.links.assessment}/ssllabs`);

    const again = (await h.app.inject({ method: 'GET', url: '/scan?host=www.site.example&engine=ssllabs' })).json();
    expect(again).toMatchObject({ cached: true, engine: 'ssllabs' });
    expect(h.emulator.stats.starts).toBe(1);
    // A native request is not answered by SSL Labs' assessment.
    const native = (await h.app.inject({ method: 'GET', url: '/scan?host=www.site.example&wait=20' })).json();
    expect(native).toMatchObject({ engine: 'native', cached: false });
  });

  it('engine=both answers both grades side by side with the points where they disagree', async () => {
    h = await harness(dialect);
    const res = await h.app.inject({ method: 'GET', url: '/scan?host=www.site.example&engine=both&wait=20' });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ engine: 'native', grade: 'A+', sslLabs: { grade: 'A', criteriaVersion: '2009q' } });
    expect(body.disagreements).toContainEqual({ ip: SITE_IP, aspect: 'grade', native: 'A+', ssllabs: 'A' });
    expect(body.disagreements).toContainEqual(expect.objectContaining({ ip: '*', aspect: 'criteria' }));
    expect(await rows(h, 'tls_assessments')).toBe(2);

    const cached = (await h.app.inject({ method: 'GET', url: '/scan?host=www.site.example&engine=both' })).json();
    expect(cached).toMatchObject({ cached: true, sslLabs: { grade: 'A' } });
    expect(h.emulator.stats.starts).toBe(1);
  });

  it('a private target asked of SSL Labs is assessed natively and the answer says why; with both, SSL Labs\' side explains', async () => {
    h = await harness(dialect);
    const body = (await h.app.inject({ method: 'GET', url: '/scan?host=app.test&engine=ssllabs&wait=20' })).json();
    expect(body).toMatchObject({ engine: 'native', fallback: { requested: 'ssllabs', reason: expect.stringMatching(/loopback/) } });
    const both = (await h.app.inject({ method: 'GET', url: '/scan?host=app.test&engine=both&fresh=1&wait=20' })).json();
    expect(both.sslLabs).toMatchObject({ grade: null, error: { code: 'ssllabs.not-eligible' } });
    expect(h.emulator.requests.filter((r) => r.call === 'analyze')).toEqual([]);
  });

  it('TLS scans take engine=both and list SSL Labs\' opinion per target; a failing host does not stop the batch', async () => {
    h = await harness(dialect);
    h.emulator.failNext(500, 1, 'analyze');
    const submitted = await h.app.inject({ method: 'POST', url: '/api/v1/tls-scans', payload: { hosts: ['www.site.example'], options: { engine: 'ssllabs' } } });
    expect(submitted.statusCode, submitted.body).toBe(202);
    const scan = await waitForScan(h.app, submitted.json().id);
    expect(scan.results[0].error).toMatchObject({ code: 'ssllabs.internal-error' });

    const both = await h.app.inject({ method: 'POST', url: '/api/v1/tls-scans', payload: { hosts: ['www.site.example', 'app.test'], options: { engine: 'both' } } });
    const done = await waitForScan(h.app, both.json().id);
    expect(done.status).toBe('done');
    expect(done.results[0]).toMatchObject({ assessment: { engine: 'native' }, sslLabs: { assessment: { engine: 'ssllabs', grade: 'A' } } });
    expect(done.results[1]).toMatchObject({ assessment: { engine: 'native' }, sslLabs: { error: { code: 'ssllabs.not-eligible' } } });
  });

  it('reports the governor at /api/v1/ssllabs/status and as Prometheus gauges', async () => {
    h = await harness(dialect);
    await h.app.inject({ method: 'GET', url: '/scan?host=www.site.example&engine=ssllabs&wait=20' });
    const status = (await h.app.inject({ method: 'GET', url: '/api/v1/ssllabs/status' })).json();
    expect(status).toMatchObject({ enabled: true, apiVersion: 'v4', maxAssessments: 25, running: 0, started: 1, rateLimited: 0, coolOffMs: 5, pausedUntil: null });
    const metrics = (await h.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/portcullis_ssllabs\{quantity="max_assessments"\} 25/);
    expect(metrics).toMatch(/portcullis_ssllabs_events\{event="started"\} 1/);
  });

  it('is off unless an email is configured: requests for it are refused and nothing is stored', async () => {
    h = await harness(dialect, { sslLabs: false });
    expect((await h.app.inject({ method: 'GET', url: '/api/v1/ssllabs/status' })).json()).toMatchObject({ enabled: false, reason: expect.stringMatching(/PORTCULLIS_SSLLABS_EMAIL/) });
    const scan = await h.app.inject({ method: 'GET', url: '/scan?host=www.site.example&engine=ssllabs' });
    expect(scan.statusCode).toBe(400);
    expect(scan.json()).toMatchObject({ code: 'ssllabs.disabled' });
    const post = await h.app.inject({ method: 'POST', url: '/api/v1/tls-scans', payload: { hosts: ['www.site.example'], options: { engine: 'both' } } });
    expect(post.statusCode).toBe(400);
    expect(await rows(h, 'tls_scans')).toBe(0);
    expect(h.emulator.stats.requests).toBe(0);
  });
});

async function waitForScan(app: FastifyInstance, id: string, timeoutMs = 20_000): Promise<Record<string, any>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const body = (await app.inject({ method: 'GET', url: `/api/v1/tls-scans/${id}` })).json();
    if (['done', 'failed', 'cancelled'].includes(body.status)) return body;
    if (Date.now() > deadline) throw new Error(`TLS scan ${id} still ${body.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
