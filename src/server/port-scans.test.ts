import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../config/index.js';
import type { Worker } from '../jobs/index.js';
import { createMetrics } from '../metrics/index.js';
import { createLogger, createRuntime, type Runtime, startWorker } from '../runtime/index.js';
import { staticResolver } from '../scope/index.js';
import { TEST_DIALECTS, openTestDatabase, type TestDatabase } from '../testing/databases.js';
import { closedPort, listen, type TestListener } from '../testing/listeners.js';
import { buildTestApp } from '../testing/app.js';

interface Harness {
  db: TestDatabase;
  runtime: Runtime;
  app: FastifyInstance;
  worker: Worker | undefined;
}

async function harness(dialect: 'sqlite' | 'postgres', opts: { worker?: boolean; maxAddresses?: number } = {}): Promise<Harness> {
  const db = await openTestDatabase(dialect);
  const config = buildConfig({}, { logLevel: 'silent', scope: { maxAddressesPerScan: opts.maxAddresses ?? 4096 }, portscan: { bannerTimeoutMs: 300 } });
  const runtime = await createRuntime(config, {
    database: db,
    logger: createLogger(config),
    metrics: createMetrics({ defaultMetrics: false }),
    resolver: staticResolver({ 'app.test': ['127.0.0.1'], 'metadata.test': ['169.254.169.254'], 'mixed.test': ['127.0.0.1', '169.254.169.254'] }),
    queue: { leaseMs: 2000, pollMs: 50 },
  });
  const worker = opts.worker === false ? undefined : startWorker(runtime, 2);
  const app = await buildTestApp(runtime);
  return { db, runtime, app, worker };
}

async function close(h: Harness | undefined): Promise<void> {
  if (!h) return;
  await h.app.close();
  await h.worker?.close({ graceMs: 0 });
  await h.runtime.close();
  await h.db.cleanup();
}

async function waitForScan(app: FastifyInstance, id: string, timeoutMs = 20_000): Promise<Record<string, any>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await app.inject({ method: 'GET', url: `/api/v1/port-scans/${id}?hosts=all&ports=all` });
    const body = res.json();
    if (['done', 'failed', 'cancelled'].includes(body.status)) return body;
    if (Date.now() > deadline) throw new Error(`scan ${id} still ${body.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function storedRows(h: Harness): Promise<number> {
  const counts = await Promise.all(
    (['port_scans', 'scan_hosts', 'port_results', 'jobs'] as const).map((t) => h.db.db.selectFrom(t).select(sql<number>`count(*)`.as('n')).executeTakeFirstOrThrow()),
  );
  return counts.reduce((acc, r) => acc + Number(r.n), 0);
}

describe.each(TEST_DIALECTS)('port-scan API on %s', (dialect) => {
  let h: Harness | undefined;
  let ssh: TestListener;
  let silent: TestListener;
  let closed: number;

  beforeAll(async () => {
    ssh = await listen({ greeting: 'SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n' });
    silent = await listen();
    closed = await closedPort();
  });
  afterAll(async () => {
    await ssh.close();
    await silent.close();
  });
  afterEach(async () => {
    await close(h);
    h = undefined;
  });

  it('runs a scan as a job and returns per-host open ports with their service and closed counts', async () => {
    h = await harness(dialect);
    const res = await h.app.inject({ method: 'POST', url: '/api/v1/port-scans', payload: { targets: ['app.test'], ports: `${ssh.port},${silent.port},${closed}` } });
    expect(res.statusCode).toBe(202);
    const accepted = res.json();
    expect(accepted).toMatchObject({ status: 'queued', addressCount: 1, portCount: 3 });
    expect(res.headers.location).toBe(`/api/v1/port-scans/${accepted.id}`);

    const scan = await waitForScan(h.app, accepted.id);
    expect(scan.status).toBe('done');
    expect(scan.progress.percent).toBe(100);
    expect(scan.stats).toMatchObject({ hostsUp: 1, open: 2, closed: 1, filtered: 0, portsPerHost: 3 });
    const host = scan.hosts.items[0];
    expect(host).toMatchObject({ ip: '127.0.0.1', hostnames: ['app.test'], status: 'up', counts: { open: 2, closed: 1, filtered: 0 } });
    const byPort = new Map(host.ports.map((p: any) => [p.port, p]));
    expect(byPort.get(ssh.port)).toMatchObject({ state: 'open', reason: 'syn-ack', service: { name: 'ssh', product: 'OpenSSH', method: 'probed' } });
    expect(byPort.get(closed)).toMatchObject({ state: 'closed', reason: 'conn-refused' });

    const openOnly = (await h.app.inject({ method: 'GET', url: `/api/v1/port-scans/${accepted.id}` })).json();
    expect(openOnly.hosts.items[0].ports.map((p: any) => p.state)).toEqual(['open', 'open']);
  });

  it.each([
    [{ targets: ['10.0.0.300'] }, 400, 'target.invalid', '10.0.0.300'],
    [{ targets: ['127.0.0.1'], ports: '0' }, 400, 'ports.invalid', '0'],
    [{ targets: ['127.0.0.1'], ports: '70000' }, 400, 'ports.invalid', '70000'],
    [{ targets: ['127.0.0.0/8'], ports: '80' }, 400, 'target.too-large', undefined],
    [{ targets: ['169.254.169.254'], ports: '80' }, 403, 'scope.denied', '169.254.169.254'],
    [{ targets: ['metadata.test'], ports: '80' }, 403, 'scope.denied', undefined],
    [{ targets: ['mixed.test'], ports: '80' }, 403, 'scope.denied', undefined],
    [{ targets: ['0xa9fea9fe'], ports: '80' }, 403, 'scope.denied', undefined],
    [{ targets: ['::ffff:169.254.169.254'], ports: '80' }, 403, 'scope.denied', undefined],
    [{ targets: ['127.0.0.1'], ports: 'nosuchlist' }, 400, 'ports.list-unknown', undefined],
    [{ targets: [] }, 400, 'request.invalid', undefined],
    [{ targets: ['127.0.0.1'], options: { timing: 9 } }, 400, 'request.invalid', undefined],
    [{ targets: ['127.0.0.1'], surprise: true }, 400, 'request.invalid', undefined],
  ])('rejects %j with %i %s as problem+json and stores nothing', async (payload, status, code, value) => {
    h = await harness(dialect, { worker: false });
    const res = await h.app.inject({ method: 'POST', url: '/api/v1/port-scans', payload });
    expect(res.statusCode).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    const problem = res.json();
    expect(problem).toMatchObject({ status, code, type: `urn:portcullis:problem:${code}` });
    expect(problem.detail.length).toBeGreaterThan(10);
    if (value !== undefined) expect(problem.value).toBe(value);
    expect(await storedRows(h)).toBe(0);
  });

  it('rejects malformed JSON and unknown ids as problem+json', async () => {
    h = await harness(dialect, { worker: false });
    const bad = await h.app.inject({ method: 'POST', url: '/api/v1/port-scans', headers: { 'content-type': 'application/json' }, payload: '{"targets": [' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('request.invalid');
    for (const url of ['/api/v1/port-scans/does-not-exist', '/api/v1/port-scans/a/compare/b', '/api/v1/hosts/127.0.0.99']) {
      const res = await h.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(404);
      expect(res.json().code).toBe('not-found');
    }
    expect((await h.app.inject({ method: 'GET', url: '/api/v1/hosts/not-an-ip' })).json()).toMatchObject({ status: 400, code: 'target.invalid', value: 'not-an-ip' });
    expect(await storedRows(h)).toBe(0);
  });

  it('lists scans newest first with filters and pagination links', async () => {
    h = await harness(dialect, { worker: false });
    const ids: string[] = [];
    for (const target of ['127.0.0.1', '127.0.0.2', 'app.test']) {
      ids.push((await h.app.inject({ method: 'POST', url: '/api/v1/port-scans', payload: { targets: [target], ports: '80' } })).json().id);
    }
    const page = (await h.app.inject({ method: 'GET', url: '/api/v1/port-scans?limit=2' })).json();
    expect(page.total).toBe(3);
    expect(page.items.map((s: any) => s.id)).toEqual([ids[2], ids[1]]);
    expect(page.links.next).toContain('offset=2');
    const filtered = (await h.app.inject({ method: 'GET', url: '/api/v1/port-scans?target=127.0.0.2&status=queued' })).json();
    expect(filtered.items.map((s: any) => s.id)).toEqual([ids[1]]);
  });

  it('cancels a queued scan, which then never runs, and deletes a finished one', async () => {
    h = await harness(dialect, { worker: false });
    const { id } = (await h.app.inject({ method: 'POST', url: '/api/v1/port-scans', payload: { targets: ['127.0.0.1'], ports: String(ssh.port) } })).json();
    const cancelled = await h.app.inject({ method: 'DELETE', url: `/api/v1/port-scans/${id}` });
    expect(cancelled.statusCode).toBe(202);
    expect(cancelled.json().status).toBe('cancelled');
    expect((await h.runtime.queue.counts()).cancelled).toBe(1);
    h.worker = startWorker(h.runtime, 1);
    await new Promise((r) => setTimeout(r, 300));
    expect((await h.app.inject({ method: 'GET', url: `/api/v1/port-scans/${id}` })).json()).toMatchObject({ status: 'cancelled', hostsDone: 0 });
    expect((await h.app.inject({ method: 'DELETE', url: `/api/v1/port-scans/${id}` })).statusCode).toBe(204);
    expect((await h.app.inject({ method: 'GET', url: `/api/v1/port-scans/${id}` })).statusCode).toBe(404);
  });

  it('compares two scans: newly closed ports, and ports one scan did not cover reported as not scanned', async () => {
    h = await harness(dialect);
    const extra = await listen();
    const first = (await h.app.inject({ method: 'POST', url: '/api/v1/port-scans', payload: { targets: ['127.0.0.1'], ports: `${ssh.port},${extra.port}` } })).json().id;
    await waitForScan(h.app, first);
    await extra.close();
    const second = (await h.app.inject({ method: 'POST', url: '/api/v1/port-scans', payload: { targets: ['127.0.0.1'], ports: `${extra.port},${silent.port}` } })).json().id;
    await waitForScan(h.app, second);

    const diff = (await h.app.inject({ method: 'GET', url: `/api/v1/port-scans/${first}/compare/${second}` })).json();
    expect(diff.complete).toBe(true);
    const host = diff.hosts.find((x: any) => x.ip === '127.0.0.1');
    expect(host.newlyClosed.map((p: any) => p.port)).toEqual([extra.port]);
    // ssh was open in the first scan but not scanned in the second; silent is open in the second but was not scanned in the first.
    expect(host.notScanned.inB).toContain(ssh.port);
    expect(host.notScanned.inA).toContain(silent.port);
    expect(host.newlyOpen.map((p: any) => p.port)).not.toContain(silent.port);

    const view = (await h.app.inject({ method: 'GET', url: '/api/v1/hosts/127.0.0.1' })).json();
    expect(view.scans).toBe(2);
    const extraView = view.ports.find((p: any) => p.port === extra.port);
    expect(extraView).toMatchObject({ state: 'closed', lastScanId: second });
    expect(extraView.history.map((x: any) => x.state)).toEqual(['open', 'closed']);
    expect(view.ports.find((p: any) => p.port === ssh.port)).toMatchObject({ state: 'open', lastScanId: first });
    expect(view.history.map((x: any) => x.scanId)).toEqual([second, first]);
  });
});

describe('operations endpoints', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await close(h);
    h = undefined;
  });

  it('answers /healthz, /readyz, /metrics, /openapi.json and serves Swagger UI from local assets', async () => {
    h = await harness('sqlite', { worker: false });
    expect((await h.app.inject({ url: '/healthz' })).json()).toEqual({ status: 'ok' });
    const ready = (await h.app.inject({ url: '/readyz' })).json();
    expect(ready).toMatchObject({ status: 'ready', database: { dialect: 'sqlite' } });
    const metrics = await h.app.inject({ url: '/metrics' });
    expect(metrics.body).toContain('portcullis_port_scans_submitted_total');
    expect(metrics.body).toContain('portcullis_queue_jobs');
    const spec = (await h.app.inject({ url: '/openapi.json' })).json();
    expect(spec.openapi).toBe('3.1.0');
    for (const path of ['/api/v1/port-scans', '/api/v1/port-scans/{id}', '/api/v1/port-scans/{a}/compare/{b}', '/api/v1/hosts/{ip}', '/healthz', '/readyz']) {
      expect(Object.keys(spec.paths), path).toContain(path);
    }
    const ui = await h.app.inject({ url: '/apidocs/' });
    expect(ui.statusCode).toBe(200);
    expect(ui.body).toContain('swagger');
    expect(ui.body).not.toMatch(/https?:\/\/(cdn|unpkg)/);
    const bundle = await h.app.inject({ url: '/apidocs/static/swagger-ui-bundle.js' });
    expect(bundle.statusCode).toBe(200);
  });

  it('reports not ready when the database is gone', async () => {
    h = await harness('sqlite', { worker: false });
    await h.db.db.destroy();
    const res = await h.app.inject({ url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.headers['content-type']).toMatch(/problem\+json/);
  });
});
