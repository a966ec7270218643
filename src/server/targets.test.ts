import type { FastifyInstance, InjectOptions } from 'fastify';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { buildConfig } from '../config/index.js';
import { createMetrics } from '../metrics/index.js';
import { createLogger, createRuntime, type Runtime } from '../runtime/index.js';
import { staticResolver } from '../scope/index.js';
import { assessment, chain, endpoint, tls12OnlyEndpoint } from '../testing/assessments.js';
import { TEST_DIALECTS, openTestDatabase, type TestDatabase } from '../testing/databases.js';
import { buildTestApp } from '../testing/app.js';

interface Harness {
  db: TestDatabase;
  runtime: Runtime;
  app: FastifyInstance;
}

async function harness(dialect: 'sqlite' | 'postgres'): Promise<Harness> {
  const db = await openTestDatabase(dialect);
  const config = buildConfig({}, { logLevel: 'silent', scope: { deny: ['blocked.example.com'] } });
  const runtime = await createRuntime(config, {
    database: db,
    logger: createLogger(config),
    metrics: createMetrics({ defaultMetrics: false }),
    // No test here resolves a name: the inventory checks names without DNS.
    resolver: staticResolver({}),
  });
  return { db, runtime, app: await buildTestApp(runtime) };
}

async function storedTargets(h: Harness): Promise<number> {
  const result = await sql<{ n: number }>`select count(*) as n from targets`.execute(h.db.db);
  return Number(result.rows[0]?.n);
}

function multipart(fields: Array<{ name: string; filename?: string; contentType?: string; content: string }>): { payload: string; headers: Record<string, string> } {
  const boundary = '----portcullis-test-boundary';
  const parts = fields.map(
    (f) =>
      `--${boundary}\r\nContent-Disposition: form-data; name="${f.name}"${f.filename ? `; filename="${f.filename}"` : ''}\r\n` +
      `${f.contentType ? `Content-Type: ${f.contentType}\r\n` : ''}\r\n${f.content}\r\n`,
  );
  return { payload: `${parts.join('')}--${boundary}--\r\n`, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

describe.each(TEST_DIALECTS)('targets API on %s', (dialect) => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.app.close();
    await h?.runtime.close();
    await h?.db.cleanup();
    h = undefined;
  });

  const inject = (opts: InjectOptions) => (h as Harness).app.inject(opts);
  const importFile = (payload: string, contentType: string, query = '') => inject({ method: 'POST', url: `/api/v1/targets/import${query}`, payload, headers: { 'content-type': contentType } });

  it('creates a target per TLS port of a host, scheduled at once, and refuses to create it twice', async () => {
    h = await harness(dialect);
    const res = await inject({ method: 'POST', url: '/api/v1/targets', payload: { target: 'App.Example.com', ports: '443,8443', labels: { owner: 'alice' }, schedule: 'every 6h' } });
    expect(res.statusCode, res.body).toBe(201);
    const { items } = res.json();
    expect(items.map((t: any) => [t.kind, t.value, t.port, t.schedule, t.labels])).toEqual([
      ['tls', 'app.example.com', 443, { everySeconds: 21600 }, { owner: 'alice' }],
      ['tls', 'app.example.com', 8443, { everySeconds: 21600 }, { owner: 'alice' }],
    ]);
    expect(items[0].nextRunAt).toBe(items[0].createdAt);
    expect(res.headers.location).toBe(`/api/v1/targets/${items[0].id}`);

    const block = await inject({ method: 'POST', url: '/api/v1/targets', payload: { target: '192.0.2.0/24', schedule: { cron: '0 3 * * *' } } });
    expect(block.json().items[0]).toMatchObject({ kind: 'ports', value: '192.0.2.0/24', port: 0, ports: 'top-1000', schedule: { cron: '0 3 * * *' } });

    const again = await inject({ method: 'POST', url: '/api/v1/targets', payload: { target: 'app.example.com:8443' } });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ code: 'conflict', id: items[1].id });
    expect(await storedTargets(h)).toBe(3);
  });

  it('refuses metadata addresses, deny-listed names and invalid input with problem+json, storing nothing', async () => {
    h = await harness(dialect);
    for (const [payload, status, code] of [
      [{ target: '169.254.169.254' }, 403, 'scope.denied'],
      [{ target: '169.254.169.254:443' }, 403, 'scope.denied'],
      [{ target: 'metadata.google.internal' }, 403, 'scope.denied'],
      [{ target: 'api.blocked.example.com' }, 403, 'scope.denied'],
      [{ target: 'app.example.com', labels: { Owner: 'x' } }, 400, 'request.invalid'],
      [{ target: 'app.example.com', schedule: { cron: '99 * * * *' } }, 400, 'request.invalid'],
      [{ target: 'app.example.com', schedule: 'sometimes' }, 400, 'request.invalid'],
      [{ target: '10.0.0.0/24', ports: 'no-such-list' }, 400, 'ports.list-unknown'],
      [{ target: 'http://app.example.com' }, 400, 'target.invalid'],
      [{ target: 'app.example.com', extra: 1 }, 400, 'request.invalid'],
    ] as const) {
      const res = await inject({ method: 'POST', url: '/api/v1/targets', payload });
      expect(res.statusCode, `${JSON.stringify(payload)}: ${res.body}`).toBe(status);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json().code).toBe(code);
    }
    expect((await inject({ method: 'POST', url: '/api/v1/targets', payload: { target: '169.254.169.254' } })).json()).toMatchObject({ reason: expect.stringContaining('cloud metadata') });
    expect(await storedTargets(h)).toBe(0);
  });

  it('lists with kind, label (label.k=v and labels=k:v,…) and substring filters', async () => {
    h = await harness(dialect);
    const add = (payload: object) => inject({ method: 'POST', url: '/api/v1/targets', payload });
    await add({ target: 'app.example.com', labels: { owner: 'alice', team: 'web' } });
    await add({ target: 'api.example.com', labels: { owner: 'alice', team: 'api' } });
    await add({ target: 'mail.example.org', labels: { owner: 'bob' } });
    await add({ target: '192.0.2.0/28', labels: { owner: 'alice' } });
    const values = async (query: string) => {
      const res = await inject({ method: 'GET', url: `/api/v1/targets?${query}` });
      expect(res.statusCode, res.body).toBe(200);
      return res.json().items.map((t: any) => t.value);
    };
    expect(await values('label.owner=alice')).toEqual(['192.0.2.0/28', 'api.example.com', 'app.example.com']);
    expect(await values('label.owner=alice&label.team=web')).toEqual(['app.example.com']);
    expect(await values('labels=owner:alice,team:api')).toEqual(['api.example.com']);
    expect(await values('kind=ports')).toEqual(['192.0.2.0/28']);
    expect(await values('q=example.org')).toEqual(['mail.example.org']);
    const page = (await inject({ method: 'GET', url: '/api/v1/targets?label.owner=alice&limit=2' })).json();
    expect(page).toMatchObject({ total: 3, limit: 2, offset: 0 });
    expect(page.links.next).toBe('/api/v1/targets?label.owner=alice&limit=2&offset=2');
    expect((await inject({ method: 'GET', url: '/api/v1/targets?labels=owner' })).statusCode).toBe(400);
    expect((await inject({ method: 'GET', url: '/api/v1/targets?label.Bad=x' })).json()).toMatchObject({ code: 'request.invalid', field: 'label.Bad' });
    expect((await inject({ method: 'GET', url: '/api/v1/targets?colour=red' })).statusCode).toBe(400);
  });

  it('shows a TLS target with its grade and certificate expiry per endpoint from the latest assessment', async () => {
    h = await harness(dialect);
    const [target] = (await inject({ method: 'POST', url: '/api/v1/targets', payload: { target: 'app.example.com' } })).json().items;
    const before = (await inject({ method: 'GET', url: `/api/v1/targets/${target.id}` })).json();
    expect(before.state).toEqual({ lastRunAt: null, nextRunAt: target.nextRunAt, assessment: null });

    const tls = h.runtime.store.tlsAssessments;
    const store = async (scanId: string, finishedAt: string, endpoints: ReturnType<typeof endpoint>[]) => {
      await tls.createScan({ id: scanId, hosts: ['app.example.com'], targets: [{ host: 'app.example.com', port: 443 }], options: {}, createdAt: finishedAt });
      await tls.saveAssessment(scanId, { host: 'app.example.com', port: 443 }, assessment({ host: 'app.example.com', finishedAt, endpoints }), finishedAt);
    };
    await store('scan-old', '2026-06-01T10:00:00.000Z', [tls12OnlyEndpoint()]);
    const expiring = chain({ leafExpiry: '2026-08-01T00:00:00.000Z', earliestExpiry: '2026-07-15T00:00:00.000Z' });
    await store('scan-new', '2026-07-01T10:00:00.000Z', [endpoint({ ip: '192.0.2.10' }), tls12OnlyEndpoint({ ip: '2001:db8::10', certificates: [expiring] })]);

    const res = await inject({ method: 'GET', url: `/api/v1/targets/${target.id}` });
    expect(res.statusCode, res.body).toBe(200);
    const { state } = res.json();
    expect(state.assessment).toMatchObject({ finishedAt: '2026-07-01T10:00:00.000Z', grade: 'A-', leafExpiry: '2026-08-01T00:00:00.000Z', earliestExpiry: '2026-07-15T00:00:00.000Z' });
    expect(state.assessment.endpoints).toEqual([
      { ip: '192.0.2.10', status: 'ready', grade: 'A', gradeTrustIgnored: 'A', leafExpiry: '2026-12-31T23:59:59.000Z', earliestExpiry: '2026-12-31T23:59:59.000Z' },
      { ip: '2001:db8::10', status: 'ready', grade: 'A-', gradeTrustIgnored: 'A-', leafExpiry: '2026-08-01T00:00:00.000Z', earliestExpiry: '2026-07-15T00:00:00.000Z' },
    ]);
    expect(state.assessment.links.assessment).toBe(`/api/v1/tls-assessments/${state.assessment.id}`);
    expect((await inject({ method: 'GET', url: '/api/v1/targets/no-such-id' })).statusCode).toBe(404);
  });

  it('shows a port-scan target with the status and open ports of its last scan', async () => {
    h = await harness(dialect);
    const [target] = (await inject({ method: 'POST', url: '/api/v1/targets', payload: { target: '192.0.2.7', ports: '22,443' } })).json().items;
    const at = '2026-07-01T10:00:00.000Z';
    await h.runtime.store.portScans.create({
      id: 'scan-1',
      targets: ['192.0.2.7'],
      exclude: [],
      ports: '22,443',
      portSet: '22,443',
      portCount: 2,
      options: {},
      plan: { ranges: [{ family: 4, start: '3221225991', end: '3221225991' }], hostnames: {}, addressCount: 1 },
      addressCount: 1,
      createdAt: at,
    });
    await h.runtime.store.portScans.finish('scan-1', { status: 'done', at, stats: { hostsTotal: 1, hostsUp: 1, open: 2, closed: 0, filtered: 0, portsPerHost: 2, durationMs: 5 } });
    expect(await h.runtime.store.targets.claimRun(target.id, target.nextRunAt, { nextRunAt: '2026-07-02T10:00:00.000Z', lastRunAt: at, lastScanId: 'scan-1' })).toBe(true);
    const { state } = (await inject({ method: 'GET', url: `/api/v1/targets/${target.id}` })).json();
    expect(state).toEqual({
      lastRunAt: at,
      nextRunAt: '2026-07-02T10:00:00.000Z',
      portScan: { id: 'scan-1', status: 'done', createdAt: at, finishedAt: at, hostsUp: 1, openPorts: 2, links: { scan: '/api/v1/port-scans/scan-1' } },
    });
  });

  it('moves the next run when the schedule changes: from the last run, never into the past', async () => {
    h = await harness(dialect);
    const [site] = (await inject({ method: 'POST', url: '/api/v1/targets', payload: { target: 'app.example.com', schedule: 'every 7d' } })).json().items;
    const lastRun = new Date(Date.now() - 30 * 60_000).toISOString();
    await h.runtime.store.targets.claimRun(site.id, site.nextRunAt, { nextRunAt: new Date(Date.now() + 7 * 86_400_000).toISOString(), lastRunAt: lastRun });
    const hourly = (await inject({ method: 'PATCH', url: `/api/v1/targets/${site.id}`, payload: { schedule: 'every 1h' } })).json();
    expect(hourly.nextRunAt).toBe(new Date(Date.parse(lastRun) + 3_600_000).toISOString());
    const minutely = (await inject({ method: 'PATCH', url: `/api/v1/targets/${site.id}`, payload: { schedule: 'every 60s' } })).json();
    expect(Date.parse(minutely.nextRunAt)).toBeGreaterThanOrEqual(Date.now() - 1000);
    expect((await h.runtime.store.targets.get(site.id))?.nextRunAt).toBe(minutely.nextRunAt);
  });

  it('patches labels, schedule and the port spec, refuses bad patches unchanged, and deletes', async () => {
    h = await harness(dialect);
    const [block] = (await inject({ method: 'POST', url: '/api/v1/targets', payload: { target: '192.0.2.0/28', labels: { owner: 'alice', env: 'prod' } } })).json().items;
    const [site] = (await inject({ method: 'POST', url: '/api/v1/targets', payload: { target: 'app.example.com' } })).json().items;
    const patch = (id: string, payload: object) => inject({ method: 'PATCH', url: `/api/v1/targets/${id}`, payload });

    const res = await patch(block.id, { labels: { owner: 'bob' }, schedule: 'every 1d', ports: ' 22, web ' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ labels: { owner: 'bob' }, schedule: { everySeconds: 86400 }, ports: '22,web' });
    expect((await patch(block.id, { schedule: null })).json().schedule).toBeNull();
    expect((await inject({ method: 'POST', url: '/api/v1/targets', payload: { target: '192.0.2.99', schedule: null } })).json().items[0].schedule).toBeNull();

    for (const [id, payload, code] of [
      [site.id, { ports: '8443' }, 'request.invalid'],
      [block.id, { ports: '70000' }, 'ports.invalid'],
      [block.id, { labels: { owner: 'x'.repeat(201) } }, 'request.invalid'],
      [block.id, { schedule: { everySeconds: 10 } }, 'request.invalid'],
      [block.id, {}, 'request.invalid'],
    ] as const) {
      const bad = await patch(id, payload);
      expect(bad.statusCode, JSON.stringify(payload)).toBe(400);
      expect(bad.json().code).toBe(code);
    }
    expect((await inject({ method: 'GET', url: `/api/v1/targets/${block.id}` })).json()).toMatchObject({ labels: { owner: 'bob' }, ports: '22,web', schedule: null });
    expect((await patch('no-such-id', { labels: {} })).statusCode).toBe(404);

    expect((await inject({ method: 'DELETE', url: `/api/v1/targets/${block.id}` })).statusCode).toBe(204);
    expect((await inject({ method: 'DELETE', url: `/api/v1/targets/${block.id}` })).statusCode).toBe(404);
    expect(await storedTargets(h)).toBe(2);
  });

  it('imports a CSV file reporting each line: added, duplicate within the file, rejected with the reason', async () => {
    h = await harness(dialect);
    const csv = [
      'target,ports,owner,team,schedule',
      'app.example.com,"443,8443",alice,"Payments, ""core""",every 6h',
      '192.0.2.0/24,top-100,bob,,',
      'APP.example.com,443,alice,,',
      '169.254.169.254,,mallory,,',
      '"broken.example.com,carol',
      'mail.example.com:993,,carol,,cron: 0 3 * * *',
      'bad host,,x,,',
    ].join('\n');
    const res = await importFile(csv, 'text/csv');
    expect(res.statusCode, res.body).toBe(200);
    const report = res.json();
    expect(report).toMatchObject({ format: 'csv', dryRun: false, added: 3, updated: 0, duplicates: 1, rejected: 3 });
    expect(report.lines.map((l: any) => [l.line, l.outcome, l.ids?.length ?? 0])).toEqual([
      [2, 'added', 2],
      [3, 'added', 1],
      [4, 'duplicate', 1],
      [5, 'rejected', 0],
      [6, 'rejected', 0],
      [7, 'added', 1],
      [8, 'rejected', 0],
    ]);
    expect(report.lines[2].ids[0]).toBe(report.lines[0].ids[0]);
    expect(report.lines[3]).toMatchObject({ target: '169.254.169.254', reason: expect.stringContaining('cloud metadata') });
    expect(report.lines[4].reason).toMatch(/not closed/);
    expect(report.lines[6].reason).toMatch(/whitespace/);

    const stored = (await inject({ method: 'GET', url: '/api/v1/targets?label.owner=alice' })).json();
    expect(stored.items.map((t: any) => [t.value, t.port, t.labels.team, t.schedule])).toEqual([
      ['app.example.com', 443, 'Payments, "core"', { everySeconds: 21600 }],
      ['app.example.com', 8443, 'Payments, "core"', { everySeconds: 21600 }],
    ]);
    expect(await storedTargets(h)).toBe(4);

    // The same file again changes nothing; a changed line updates its target.
    const again = (await importFile(csv, 'text/csv')).json();
    expect(again).toMatchObject({ added: 0, updated: 0, duplicates: 4, rejected: 3 });
    const changed = (await importFile('target,ports\n192.0.2.0/24,22\n', 'text/csv')).json();
    expect(changed).toMatchObject({ added: 0, updated: 1, lines: [{ line: 2, outcome: 'updated' }] });
  });

  it('imports newline lists, JSON arrays, {content, format} bodies and multipart uploads', async () => {
    h = await harness(dialect);
    const text = (await importFile('# web\na.example.com\nb.example.com:8443\n\n192.0.2.1\n', 'text/plain')).json();
    expect(text).toMatchObject({ format: 'text', added: 3, lines: [{ line: 2 }, { line: 3 }, { line: 5 }] });

    const json = (await inject({ method: 'POST', url: '/api/v1/targets/import', payload: [{ target: 'a.example.com', labels: { owner: 'alice' } }, 'c.example.com', { target: 7 }] })).json();
    expect(json).toMatchObject({ format: 'json', added: 1, updated: 1, duplicates: 0, rejected: 1 });

    const wrapped = await inject({ method: 'POST', url: '/api/v1/targets/import', payload: { content: 'target,owner\nd.example.com,bob\n', format: 'csv' } });
    expect(wrapped.json()).toMatchObject({ format: 'csv', added: 1 });

    const form = multipart([{ name: 'file', filename: 'targets.csv', contentType: 'application/octet-stream', content: 'target,env\ne.example.com,prod\n"f.example.com",prod\n' }]);
    const upload = await inject({ method: 'POST', url: '/api/v1/targets/import', ...form });
    expect(upload.statusCode, upload.body).toBe(200);
    expect(upload.json()).toMatchObject({ format: 'csv', added: 2 });
    expect((await inject({ method: 'GET', url: '/api/v1/targets?label.env=prod' })).json().total).toBe(2);
    expect(await storedTargets(h)).toBe(7);
  });

  it('dry-runs an import: the report of a real import, nothing stored', async () => {
    h = await harness(dialect);
    await importFile('a.example.com\n', 'text/plain');
    const res = await importFile('a.example.com\nb.example.com\n169.254.169.254\n', 'text/plain', '?dryRun=true');
    expect(res.json()).toMatchObject({ dryRun: true, added: 1, duplicates: 1, rejected: 1 });
    expect(res.json().lines[1].ids).toBeUndefined();
    expect(await storedTargets(h)).toBe(1);
  });

  it('refuses a bad upload as a whole with 4xx problem+json, storing nothing', async () => {
    h = await harness(dialect);
    const cases: Array<[string, ReturnType<typeof importFile>, number]> = [
      ['CSV without a target column', importFile('host,owner\na.example.com,alice\n', 'text/csv'), 400],
      ['JSON that is not an array', importFile('{"targets": []}', 'application/json'), 400],
      ['an empty file', importFile('# nothing\n', 'text/plain'), 400],
      ['an unknown format', importFile('a.example.com', 'text/plain', '?format=xml'), 400],
      ['an unsupported media type', importFile('<targets/>', 'application/xml'), 415],
      ['a form without a file', inject({ method: 'POST', url: '/api/v1/targets/import', ...multipart([{ name: 'note', content: 'hello' }]) }), 400],
      ['more than 100,000 lines', importFile('a.example.com\n'.repeat(100_001), 'text/plain'), 413],
      ['an uploaded file over 10 MB', inject({ method: 'POST', url: '/api/v1/targets/import', ...multipart([{ name: 'file', filename: 'big.txt', content: 'x'.repeat(10 * 1024 * 1024 + 1) }]) }), 413],
    ];
    for (const [what, pending, status] of cases) {
      const res = await pending;
      expect(res.statusCode, `${what}: ${res.body}`).toBe(status);
      expect(res.headers['content-type'], what).toMatch(/^application\/problem\+json/);
    }
    expect(await storedTargets(h)).toBe(0);
  });

  it('publishes the inventory routes in the OpenAPI document', async () => {
    h = await harness(dialect);
    const doc = (await inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/v1/targets', '/api/v1/targets/{id}', '/api/v1/targets/import']));
    expect(doc.tags.map((t: any) => t.name)).toContain('targets');
  });
});
