import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { buildConfig } from '../config/index.js';
import { createMetrics } from '../metrics/index.js';
import type { NormalizedTarget } from '../monitor/model.js';
import { createLogger, createRuntime, type Runtime } from '../runtime/index.js';
import type { HostSummary, PortResult } from '../shared/model.js';
import type { UpsertResult } from '../store/index.js';
import { assessment, endpoint, tls12OnlyEndpoint } from '../testing/assessments.js';
import { TEST_DIALECTS, openTestDatabase, type TestDatabase } from '../testing/databases.js';
import { buildTestApp } from '../testing/app.js';

// History is written straight into the store (as finished jobs would), then read through the API.

const base = { labels: {}, schedule: null, specified: { ports: false, labels: false, schedule: false } };
const tlsTarget: NormalizedTarget = { kind: 'tls', value: 'a.test', port: 443, ports: null, ...base };
const addressTarget: NormalizedTarget = { kind: 'ports', value: '127.0.0.5', port: 0, ports: '22,80', ...base };

function host(ip: string, open: number): HostSummary {
  return { ip, hostnames: [], status: 'up', counts: { open, closed: 2 - open, filtered: 0 }, startedAt: '2026-11-01T00:00:00.000Z', finishedAt: '2026-11-01T00:00:01.000Z' };
}
const port = (ip: string, n: number, state: PortResult['state']): PortResult => ({ ip, port: n, protocol: 'tcp', state, reason: state === 'open' ? 'syn-ack' : 'conn-refused' });

describe.each(TEST_DIALECTS)('target changes on %s', (dialect) => {
  let db: TestDatabase | undefined;
  let runtime: Runtime | undefined;
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    await runtime?.close();
    await db?.cleanup();
  });

  async function setUp(): Promise<{ runtime: Runtime; app: FastifyInstance }> {
    db = await openTestDatabase(dialect);
    const config = buildConfig({}, { logLevel: 'silent' });
    runtime = await createRuntime(config, { database: db, logger: createLogger(config), metrics: createMetrics({ defaultMetrics: false }) });
    app = await buildTestApp(runtime);
    return { runtime, app };
  }

  it('lists what changed between consecutive assessments of a TLS target, each change once with when it was first seen', async () => {
    const { runtime: r, app: a } = await setUp();
    const { target } = (await r.store.targets.upsertMany([tlsTarget], '2026-11-01T00:00:00.000Z'))[0] as UpsertResult;
    const history = [
      { at: '2026-11-02T00:00:00.000Z', ep: endpoint() },
      { at: '2026-11-03T00:00:00.000Z', ep: endpoint() },
      { at: '2026-11-04T00:00:00.000Z', ep: tls12OnlyEndpoint() },
    ];
    for (const [i, h] of history.entries()) {
      const scanId = `scan-${i}`;
      await r.store.tlsAssessments.createScan({ id: scanId, hosts: ['a.test'], targets: [{ host: 'a.test', port: 443 }], options: {}, createdAt: h.at });
      await r.store.tlsAssessments.saveAssessment(scanId, { host: 'a.test', port: 443 }, assessment({ host: 'a.test', startedAt: h.at, finishedAt: h.at, endpoints: [h.ep] }), h.at);
    }
    const res = await a.inject({ method: 'GET', url: `/api/v1/targets/${target.id}/changes` });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ target: { kind: 'tls', value: 'a.test', port: 443 }, compared: 3 });
    expect(body.changes.length).toBeGreaterThan(0);
    expect(body.changes.every((c: { at: string }) => c.at === '2026-11-04T00:00:00.000Z')).toBe(true);
    expect(body.changes).toContainEqual(expect.objectContaining({ ip: '127.0.0.1', aspect: 'grade', before: 'A', after: 'A-' }));
    expect(body.changes).toContainEqual(expect.objectContaining({ aspect: 'protocols', before: 'only here: TLSv1.3', after: 'only here: —' }));
  });

  it('lists ports opened and closed between consecutive scans of an address target', async () => {
    const { runtime: r, app: a } = await setUp();
    const { target } = (await r.store.targets.upsertMany([addressTarget], '2026-11-01T00:00:00.000Z'))[0] as UpsertResult;
    const ip = '127.0.0.5';
    const scans: Array<{ id: string; at: string; open: number[] }> = [
      { id: 'p1', at: '2026-11-02T00:00:00.000Z', open: [22] },
      { id: 'p2', at: '2026-11-03T00:00:00.000Z', open: [80] },
    ];
    for (const s of scans) {
      await r.store.portScans.create({
        id: s.id,
        targets: [ip],
        exclude: [],
        ports: '22,80',
        portSet: '22,80',
        portCount: 2,
        options: {},
        plan: { ranges: [{ family: 4, start: '2130706437', end: '2130706437' }], hostnames: {}, addressCount: 1 },
        addressCount: 1,
        createdAt: s.at,
      });
      await r.store.portScans.saveHosts(s.id, [{ host: host(ip, 1), ports: [22, 80].map((n) => port(ip, n, s.open.includes(n) ? 'open' : 'closed')) }]);
      await r.store.portScans.finish(s.id, { status: 'done', at: s.at });
    }
    const body = (await a.inject({ method: 'GET', url: `/api/v1/targets/${target.id}/changes` })).json();
    expect(body.compared).toBe(2);
    expect(body.changes).toEqual([
      { at: '2026-11-03T00:00:00.000Z', ip, aspect: 'port-opened', before: '80/tcp closed', after: '80/tcp open', from: 'p1', to: 'p2' },
      { at: '2026-11-03T00:00:00.000Z', ip, aspect: 'port-closed', before: '22/tcp open', after: '22/tcp closed', from: 'p1', to: 'p2' },
    ]);
  });

  it('answers 404 for an unknown target', async () => {
    const { app: a } = await setUp();
    expect((await a.inject({ method: 'GET', url: '/api/v1/targets/nope/changes' })).statusCode).toBe(404);
  });
});
