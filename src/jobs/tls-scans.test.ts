import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { buildConfig } from '../config/index.js';
import { createMetrics } from '../metrics/index.js';
import { reconcileScans } from '../monitor/scheduler.js';
import type { ServiceDetector } from '../portscan/index.js';
import { createLogger, createRuntime, type Runtime } from '../runtime/index.js';
import { staticResolver } from '../scope/index.js';
import { PortcullisError } from '../shared/errors.js';
import type { PortScanOptions } from '../shared/model.js';
import { type FakeEngine, assessment, fakeTlsEngine, unreachableEndpoint } from '../testing/assessments.js';
import { TEST_DIALECTS, openTestDatabase, type TestDatabase } from '../testing/databases.js';
import { listen } from '../testing/listeners.js';
import { createPortScanHandler, portScanJobId, PORT_SCAN_JOB, submitPortScan } from './port-scans.js';
import type { JobContext } from './queue.js';
import { TLS_SCAN_JOB, type TlsScanJobDeps, type TlsScanJobPayload, createTlsScanHandler, submitTlsScan, tlsScanJobId } from './tls-scans.js';
import { parseTlsTarget } from '../tls/target.js';

describe('parseTlsTarget', () => {
  it.each([
    ['app.test', { host: 'app.test', port: 443 }],
    ['App.Test.:8443', { host: 'app.test', port: 8443 }],
    ['127.0.0.1', { host: '127.0.0.1', port: 443 }],
    ['127.0.0.1:993', { host: '127.0.0.1', port: 993 }],
    ['::1', { host: '::1', port: 443 }],
    ['[::1]:8443', { host: '::1', port: 8443 }],
    ['[2001:DB8::1]', { host: '2001:db8::1', port: 443 }],
  ])('%s → %j', (text, expected) => {
    expect(parseTlsTarget(text, 'hosts[0]')).toEqual(expected);
  });

  it.each([['app.test:0'], ['app.test:65536'], ['app.test:https'], ['app.test:'], [':443'], ['[]:443'], ['10.0.0.0/24'], ['10.0.0.1-5'], ['bad_host!'], ['']])(
    'refuses %j as target.invalid naming the field and value',
    (text) => {
      try {
        parseTlsTarget(text, 'hosts[3]');
      } catch (err) {
        expect(err).toBeInstanceOf(PortcullisError);
        expect((err as PortcullisError).code).toBe('target.invalid');
        expect((err as PortcullisError).detail).toMatchObject({ field: 'hosts[3]', value: text });
        return;
      }
      throw new Error(`${text} was accepted`);
    },
  );
});

interface Fixture {
  db: TestDatabase;
  runtime: Runtime;
  fake: FakeEngine;
}

const RESOLVER = staticResolver({ 'app.test': ['127.0.0.1'], 'www.app.test': ['127.0.0.1'], 'metadata.test': ['169.254.169.254'] });

async function fixture(dialect: 'sqlite' | 'postgres', fake: FakeEngine = fakeTlsEngine(), detectService?: ServiceDetector): Promise<Fixture> {
  const db = await openTestDatabase(dialect);
  const config = buildConfig({}, { logLevel: 'silent', tls: { concurrency: 2 } });
  const runtime = await createRuntime(config, {
    database: db,
    logger: createLogger(config),
    metrics: createMetrics({ defaultMetrics: false }),
    resolver: RESOLVER,
    tlsEngine: fake.engine,
    queue: { leaseMs: 2000, pollMs: 50 },
    ...(detectService ? { detectService } : {}),
  });
  return { db, runtime, fake };
}

function jobContext(scanId: string, overrides: Partial<JobContext<TlsScanJobPayload>> = {}): JobContext<TlsScanJobPayload> {
  return {
    id: tlsScanJobId(scanId),
    kind: TLS_SCAN_JOB,
    payload: { scanId },
    attempt: 1,
    maxAttempts: 3,
    signal: new AbortController().signal,
    updateProgress: async () => {},
    ...overrides,
  };
}

function handlerFor(f: Fixture) {
  return createTlsScanHandler({ ...f.runtime, engine: f.runtime.tlsEngine, sslLabs: f.runtime.sslLabs?.engine, checkpointMs: 20 });
}

async function rowCount(f: Fixture, table: 'tls_scans' | 'tls_assessments' | 'tls_scan_targets' | 'jobs'): Promise<number> {
  const { rows } = await sql<{ n: number }>`select count(*) as n from ${sql.table(table)}`.execute(f.db.db);
  return Number(rows[0]?.n);
}

describe.each(TEST_DIALECTS)('TLS scan job on %s', (dialect) => {
  let f: Fixture | undefined;
  afterEach(async () => {
    await f?.runtime.close();
    await f?.db.cleanup();
    f = undefined;
  });

  it('stores a submitted scan as queued with canonical, de-duplicated targets and enqueues its job', async () => {
    f = await fixture(dialect);
    const scan = await submitTlsScan(f.runtime, { hosts: ['App.Test', 'app.test:443', '[::1]:8443'], options: { sni: 'WWW.app.test' } });
    expect(scan).toMatchObject({
      status: 'queued',
      hosts: ['App.Test', 'app.test:443', '[::1]:8443'],
      targets: [
        { host: 'app.test', port: 443 },
        { host: '::1', port: 8443 },
      ],
      options: { sni: 'www.app.test' },
      progress: { done: 0, total: 2 },
    });
    expect((await f.runtime.queue.get(tlsScanJobId(scan.id)))?.state).toBe('waiting');
  });

  it.each([
    [{ hosts: ['app.test:99999'] }, 'target.invalid', 'hosts[0]'],
    [{ hosts: ['app.test', '10.0.0.0/8'] }, 'target.invalid', 'hosts[1]'],
    [{ hosts: ['app.test', 'metadata.test'] }, 'scope.denied', 'hosts[1]'],
    [{ hosts: ['169.254.169.254:443'] }, 'scope.denied', 'hosts[0]'],
    [{ hosts: ['nowhere.test'] }, 'target.unresolvable', 'hosts[0]'],
    [{ hosts: ['app.test'], options: { sni: '127.0.0.1' } }, 'target.invalid', 'options.sni'],
    [{ hosts: [] }, 'target.invalid', 'hosts'],
  ])('rejects %j with %s on %s and stores nothing', async (request, code, field) => {
    f = await fixture(dialect);
    const err = await submitTlsScan(f.runtime, request).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PortcullisError);
    expect(err).toMatchObject({ code, detail: { field } });
    expect(await rowCount(f, 'tls_scans')).toBe(0);
    expect(await rowCount(f, 'jobs')).toBe(0);
  });

  it('assesses every target, stores each assessment and ends done', async () => {
    f = await fixture(dialect);
    const scan = await submitTlsScan(f.runtime, { hosts: ['app.test', '127.0.0.1:8443'] });
    expect(await handlerFor(f)(jobContext(scan.id))).toEqual({ status: 'done' });
    expect(f.fake.calls.sort()).toEqual(['127.0.0.1:8443', 'app.test:443']);
    const results = await f.runtime.store.tlsAssessments.scanResults(scan.id);
    expect(results.map((r) => [r.host, r.port, r.cached, r.assessment?.grade])).toEqual([
      ['app.test', 443, false, 'A'],
      ['127.0.0.1', 8443, false, 'A'],
    ]);
    expect(results[1]?.assessment?.sni).toBeNull();
    expect(await f.runtime.store.tlsAssessments.getScan(scan.id)).toMatchObject({ status: 'done', progress: { done: 2, total: 2 } });
    const metrics = await f.runtime.metrics.registry.metrics();
    expect(metrics).toMatch(/portcullis_tls_endpoint_grades_total\{grade="A"\} 2/);
  });

  it('resumes a retried job: targets stored by the earlier attempt are neither run again nor duplicated', async () => {
    f = await fixture(dialect);
    const scan = await submitTlsScan(f.runtime, { hosts: ['app.test', '127.0.0.1:8443'] });
    // The first attempt stored app.test, then its process died.
    const earlier = await f.runtime.store.tlsAssessments.saveAssessment(scan.id, { host: 'app.test', port: 443 }, assessment(), new Date().toISOString());
    expect(await handlerFor(f)(jobContext(scan.id, { attempt: 2 }))).toEqual({ status: 'done' });
    expect(f.fake.calls).toEqual(['127.0.0.1:8443']);
    // A third run (at-least-once delivery) of a finished scan changes nothing.
    expect(await handlerFor(f)(jobContext(scan.id, { attempt: 3 }))).toEqual({ status: 'done' });
    expect(await rowCount(f, 'tls_assessments')).toBe(2);
    expect((await f.runtime.store.tlsAssessments.scanResults(scan.id)).map((r) => r.assessment?.id)[0]).toBe(earlier.id);
  });

  it('reuses an assessment younger than the max age unless the scan asks for fresh results', async () => {
    f = await fixture(dialect);
    const first = await submitTlsScan(f.runtime, { hosts: ['app.test'] });
    await handlerFor(f)(jobContext(first.id));
    const cachedScan = await submitTlsScan(f.runtime, { hosts: ['app.test'] });
    await handlerFor(f)(jobContext(cachedScan.id));
    const freshScan = await submitTlsScan(f.runtime, { hosts: ['app.test'], options: { fresh: true } });
    await handlerFor(f)(jobContext(freshScan.id));

    expect(f.fake.calls).toEqual(['app.test:443', 'app.test:443']);
    const original = (await f.runtime.store.tlsAssessments.scanResults(first.id))[0]!;
    const cached = (await f.runtime.store.tlsAssessments.scanResults(cachedScan.id))[0]!;
    const fresh = (await f.runtime.store.tlsAssessments.scanResults(freshScan.id))[0]!;
    expect(cached).toMatchObject({ cached: true, assessment: { id: original.assessment!.id } });
    expect(fresh.cached).toBe(false);
    expect(fresh.assessment!.id).not.toBe(original.assessment!.id);
  });

  it('tells the monitor about every assessment answering a target, new or reused, and survives its failure', async () => {
    f = await fixture(dialect);
    const told: string[] = [];
    const handler = (onAssessed: NonNullable<TlsScanJobDeps['onAssessed']>) =>
      createTlsScanHandler({ ...f!.runtime, engine: f!.runtime.tlsEngine, sslLabs: undefined, checkpointMs: 20, onAssessed });
    const first = await submitTlsScan(f.runtime, { hosts: ['app.test'] });
    await handler(async (t, a) => void told.push(`${t.host}:${t.port} ${a.engine}`))(jobContext(first.id));
    const reused = await submitTlsScan(f.runtime, { hosts: ['app.test'] });
    await handler(async (t, a) => void told.push(`${t.host}:${t.port} ${a.engine} again`))(jobContext(reused.id));
    expect(told).toEqual(['app.test:443 native', 'app.test:443 native again']);
    const failing = await submitTlsScan(f.runtime, { hosts: ['app.test'], options: { fresh: true } });
    expect(await handler(async () => Promise.reject(new Error('monitor down')))(jobContext(failing.id))).toEqual({ status: 'done' });
  });

  it('records a target that no longer resolves and finishes the others; fails the scan when no target could be assessed', async () => {
    const fake = fakeTlsEngine({ 'gone.test:443': new PortcullisError('target.unresolvable', 'cannot resolve "gone.test"') });
    f = await fixture(dialect, fake);
    // gone.test resolved at submission; by the time the job runs it no longer does.
    const resolver = staticResolver({ 'gone.test': ['127.0.0.1'], 'app.test': ['127.0.0.1'] });
    const scan = await submitTlsScan({ ...f.runtime, resolver }, { hosts: ['gone.test', 'app.test'] });
    expect(await handlerFor(f)(jobContext(scan.id))).toEqual({ status: 'done' });
    const results = await f.runtime.store.tlsAssessments.scanResults(scan.id);
    expect(results.map((r) => [r.host, r.error?.code ?? null, r.assessment?.grade ?? null])).toEqual([
      ['gone.test', 'target.unresolvable', null],
      ['app.test', null, 'A'],
    ]);

    const lonely = await submitTlsScan({ ...f.runtime, resolver }, { hosts: ['gone.test'] });
    expect(await handlerFor(f)(jobContext(lonely.id))).toEqual({ status: 'failed' });
    expect((await f.runtime.store.tlsAssessments.getScan(lonely.id))?.error).toMatchObject({ code: 'target.unresolvable', message: expect.stringContaining('gone.test:443') });
  });

  it('retries an unexpected engine error with the job and records it for its target on the last attempt', async () => {
    f = await fixture(dialect, fakeTlsEngine({ '127.0.0.1:443': new Error('socket hang up') }));
    const scan = await submitTlsScan(f.runtime, { hosts: ['127.0.0.1'] });
    await expect(handlerFor(f)(jobContext(scan.id, { attempt: 1, maxAttempts: 2 }))).rejects.toThrow('socket hang up');
    expect(await f.runtime.store.tlsAssessments.scanResults(scan.id)).toEqual([]);
    expect(await handlerFor(f)(jobContext(scan.id, { attempt: 2, maxAttempts: 2 }))).toEqual({ status: 'failed' });
    expect((await f.runtime.store.tlsAssessments.scanResults(scan.id))[0]?.error).toEqual({ code: 'internal', message: 'socket hang up' });
  });

  it('stores an assessment whose endpoints are unreachable as it is, not as a failure', async () => {
    f = await fixture(dialect, fakeTlsEngine({ '127.0.0.1:443': assessment({ endpoints: [unreachableEndpoint('127.0.0.1')] }) }));
    const scan = await submitTlsScan(f.runtime, { hosts: ['127.0.0.1'] });
    expect(await handlerFor(f)(jobContext(scan.id))).toEqual({ status: 'done' });
    expect((await f.runtime.store.tlsAssessments.scanResults(scan.id))[0]?.assessment).toMatchObject({ grade: null, endpoints: [{ status: 'error' }] });
  });

  it('stops soon after the scan is cancelled in the store', async () => {
    let started = false;
    const held = (signal: AbortSignal | undefined) =>
      new Promise<never>((_resolve, reject) => {
        started = true;
        signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
      });
    f = await fixture(dialect, fakeTlsEngine({ '127.0.0.1:443': held }));
    const scan = await submitTlsScan(f.runtime, { hosts: ['127.0.0.1'] });
    const running = handlerFor(f)(jobContext(scan.id));
    while (!started) await new Promise((r) => setTimeout(r, 10));
    await f.runtime.store.tlsAssessments.finish(scan.id, { status: 'cancelled', at: new Date().toISOString() });
    expect(await running).toEqual({ status: 'cancelled' });
    expect(await rowCount(f, 'tls_assessments')).toBe(0);
  });

  it('is reconciled as failed when its job ended without finishing it; a scan with a live job is left alone', async () => {
    f = await fixture(dialect);
    const lost = await submitTlsScan(f.runtime, { hosts: ['127.0.0.1'] });
    const alive = await submitTlsScan(f.runtime, { hosts: ['app.test'] });
    await f.runtime.queue.cancel(tlsScanJobId(lost.id));
    const later = Date.now() + 120_000;
    expect(await reconcileScans(f.runtime, later)).toBe(1);
    expect(await f.runtime.store.tlsAssessments.getScan(lost.id)).toMatchObject({ status: 'failed', error: { code: 'scan.failed', message: expect.stringContaining('cancelled') } });
    expect((await f.runtime.store.tlsAssessments.getScan(alive.id))?.status).toBe('queued');
    expect(await reconcileScans(f.runtime, later)).toBe(0);
  });

  it('submits one TLS scan of the open TLS ports a port scan with assessTls found', async () => {
    const tlsPort = await listen();
    const plainPort = await listen();
    const detect: ServiceDetector = async (_ip, port) =>
      port === tlsPort.port ? { name: 'https', method: 'probed', tls: { version: 'TLSv1.3', subject: 'CN=app.test' } } : { name: 'http', method: 'probed' };
    try {
      f = await fixture(dialect, fakeTlsEngine(), detect);
      const options: PortScanOptions = { assessTls: true };
      const portScan = await submitPortScan(f.runtime, { targets: ['127.0.0.1'], ports: `${tlsPort.port},${plainPort.port}`, options });
      const submitted: string[][] = [];
      const handler = createPortScanHandler({
        ...f.runtime,
        checkpointMs: 20,
        submitTlsScan: (hosts, portScanId) => {
          submitted.push(hosts);
          return submitTlsScan(f!.runtime, { hosts, portScanId });
        },
      });
      const ctx = { id: portScanJobId(portScan.id), kind: PORT_SCAN_JOB, payload: { scanId: portScan.id }, attempt: 1, maxAttempts: 3, signal: new AbortController().signal, updateProgress: async () => {} };
      expect(await handler(ctx)).toEqual({ status: 'done' });
      expect(submitted).toEqual([[`127.0.0.1:${tlsPort.port}`]]);
      const tlsScans = await f.runtime.store.tlsAssessments.listScans({ portScanId: portScan.id, limit: 10, offset: 0 });
      expect(tlsScans.items.map((s) => s.targets)).toEqual([[{ host: '127.0.0.1', port: tlsPort.port }]]);
    } finally {
      await tlsPort.close();
      await plainPort.close();
    }
  });
});
