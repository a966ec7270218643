/**
 * Scope-policy bypass attempts through every API entry point that leads to outbound connections:
 * port scans, TLS scans, GET /scan, the target inventory (and the monitor that scans it), target
 * import and batches. Every refused attempt must answer 4xx (or reject its line), store nothing and
 * make no connection. A tripwire on net.Socket#connect records every outbound connection of the
 * process (port scanner, set to its net.Socket connector; service detection; TLS engine) and refuses
 * any that is not to a loopback literal, so even a bypass could not leave the machine.
 */
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import net from 'node:net';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildConfig } from '../config/index.js';
import type { Worker } from '../jobs/index.js';
import { createMetrics } from '../metrics/index.js';
import { runDueTargets } from '../monitor/runs.js';
import { createLogger, createRuntime, type Runtime, startWorker } from '../runtime/index.js';
import { type Resolver, staticResolver } from '../scope/index.js';
import { LITERAL_ATTEMPTS, LOOPBACK_NOTATIONS, NAME_ATTEMPTS, REFUSED_NAMES, rebindingResolver } from '../scope/testing/bypass.js';
import { buildTestApp } from '../testing/app.js';
import { openTestDatabase, type TestDatabase } from '../testing/databases.js';
import { listenOn, type TestListener } from '../testing/listeners.js';

interface Connect {
  host: string;
  port: number;
}

/** Replaces net.Socket#connect: records every TCP connect, and refuses (without a packet) any host that is not a loopback IP literal. */
function connectTripwire(): { attempts: Connect[]; refused: Connect[]; restore(): void } {
  const original = net.Socket.prototype.connect;
  const attempts: Connect[] = [];
  const refused: Connect[] = [];
  const isLoopbackLiteral = (host: string): boolean => host === '::1' || (net.isIPv4(host) && host.startsWith('127.'));
  net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
    // net.connect passes its normalised [options, callback]; socket.connect takes (options) or (port, host).
    const first = Array.isArray(args[0]) ? (args[0][0] as unknown) : args[0];
    const options = (typeof first === 'object' && first !== null ? first : { port: first, host: args[1] }) as { host?: unknown; port?: unknown; path?: unknown };
    if (typeof options.path !== 'string') {
      const attempt = { host: String(options.host ?? 'localhost'), port: Number(options.port) };
      attempts.push(attempt);
      if (!isLoopbackLiteral(attempt.host)) {
        refused.push(attempt);
        process.nextTick(() => this.destroy(new Error(`test tripwire: no connection to ${attempt.host}`)));
        return this;
      }
    }
    return original.apply(this, args as Parameters<typeof original>);
  } as typeof original;
  return { attempts, refused, restore: () => void (net.Socket.prototype.connect = original) };
}

/** A loopback listener that counts the connections it accepts and closes each at once. */
async function countingListener(): Promise<TestListener & { accepted: () => number }> {
  let accepted = 0;
  const listener = await listenOn(
    net.createServer((socket) => {
      accepted++;
      socket.destroy();
    }),
  );
  return { ...listener, accepted: () => accepted };
}

const STORED_TABLES = ['port_scans', 'scan_hosts', 'port_results', 'tls_scans', 'tls_scan_targets', 'tls_assessments', 'targets', 'batches', 'jobs'];

const REFUSAL_STATUS: Record<string, number> = { 'scope.denied': 403, 'target.invalid': 400 };

type Check = (res: LightMyRequestResponse) => void;

/** The answer to a refused target: 403 scope.denied or 400 target.invalid, as problem+json. */
const refusedRequest: Check = (res) => {
  const body = res.json();
  expect(Object.keys(REFUSAL_STATUS), res.body).toContain(body.code);
  expect(res.statusCode).toBe(REFUSAL_STATUS[body.code]);
};

/**
 * Every entry point: the request that submits one target, how its refusal looks, and whether it
 * resolves host names before accepting them (the inventory and batches check names when scanned).
 */
const ENTRY_POINTS: Array<{ name: string; request: (target: string) => InjectOptions; refused: Check; resolvesNames: boolean }> = [
  { name: 'POST /api/v1/port-scans', request: (t) => ({ method: 'POST', url: '/api/v1/port-scans', payload: { targets: [t], ports: '80' } }), refused: refusedRequest, resolvesNames: true },
  { name: 'POST /api/v1/tls-scans', request: (t) => ({ method: 'POST', url: '/api/v1/tls-scans', payload: { hosts: [t] } }), refused: refusedRequest, resolvesNames: true },
  { name: 'GET /scan', request: (t) => ({ method: 'GET', url: `/scan?host=${encodeURIComponent(t)}&wait=0` }), refused: refusedRequest, resolvesNames: true },
  { name: 'POST /api/v1/targets', request: (t) => ({ method: 'POST', url: '/api/v1/targets', payload: { target: t } }), refused: refusedRequest, resolvesNames: false },
  {
    name: 'POST /api/v1/targets/import',
    resolvesNames: false,
    request: (t) => ({ method: 'POST', url: '/api/v1/targets/import', headers: { 'content-type': 'application/json' }, payload: JSON.stringify([t]) }),
    refused: (res) => {
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ added: 0, updated: 0, rejected: 1, lines: [{ outcome: 'rejected' }] });
    },
  },
  {
    name: 'POST /api/v1/batches',
    resolvesNames: false,
    request: (t) => ({ method: 'POST', url: '/api/v1/batches', headers: { 'content-type': 'application/json' }, payload: JSON.stringify([t]) }),
    refused: (res) => {
      // A batch rejects bad lines alone; with no line left the whole file is refused.
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json()).toMatchObject({ code: 'request.invalid', rejected: [{ line: 1 }] });
    },
  },
];

describe('scope-policy bypass attempts through the API (SQLite, native TLS engine, worker running)', () => {
  let db: TestDatabase;
  let runtime: Runtime;
  let app: FastifyInstance;
  let worker: Worker;
  let tripwire: ReturnType<typeof connectTripwire>;
  /** The runtime's resolver answers through this one, which a test may replace. */
  let resolver: Resolver;

  beforeAll(async () => {
    tripwire = connectTripwire();
    db = await openTestDatabase('sqlite');
    // Some 700 requests a minute from the one test key: above the default per-key rate limit.
    const config = buildConfig({}, { logLevel: 'silent', auth: { rateLimitPerMinute: 100_000 }, portscan: { bannerTimeoutMs: 300, connector: 'socket' }, tls: { timeoutMs: 1000 } });
    runtime = await createRuntime(config, {
      database: db,
      logger: createLogger(config),
      metrics: createMetrics({ defaultMetrics: false }),
      resolver: { resolve: (name) => resolver.resolve(name) },
      queue: { leaseMs: 2000, pollMs: 20 },
    });
    worker = startWorker(runtime, 2);
    app = await buildTestApp(runtime);
  });
  afterAll(async () => {
    await app?.close();
    await worker?.close({ graceMs: 0 });
    await runtime?.close();
    await db?.cleanup();
    tripwire.restore();
  });
  beforeEach(() => {
    resolver = staticResolver(REFUSED_NAMES);
  });
  afterEach(() => {
    const refused = tripwire.refused.splice(0);
    tripwire.attempts.length = 0;
    expect(refused).toEqual([]);
  });

  async function storedRows(): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for (const table of STORED_TABLES) {
      const n = Number((await sql<{ n: number }>`select count(*) as n from ${sql.table(table)}`.execute(db.db)).rows[0]?.n);
      if (n > 0) counts[table] = n;
    }
    return counts;
  }

  async function waitFor<T>(what: string, poll: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await poll();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`${what}: not after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  const finishedScan = (url: string) =>
    waitFor(url, async () => {
      const body = (await app.inject({ method: 'GET', url })).json();
      return ['done', 'failed', 'cancelled'].includes(body.status) ? (body as Record<string, any>) : undefined;
    });

  describe.each(ENTRY_POINTS)('$name', ({ request, refused }) => {
    it.each(LITERAL_ATTEMPTS)('refuses $input, stores nothing, connects nowhere', async ({ input }) => {
      const before = await storedRows();
      refused(await app.inject(request(input)));
      expect(await storedRows()).toEqual(before);
      expect(tripwire.attempts).toEqual([]);
    });
  });

  describe.each(ENTRY_POINTS.filter((e) => e.resolvesNames))('$name (resolves before it accepts)', ({ request }) => {
    it.each(NAME_ATTEMPTS)('refuses %s, whose name or answer is refused, with 403 scope.denied', async (name) => {
      const before = await storedRows();
      const res = await app.inject(request(name));
      expect(res.statusCode, res.body).toBe(403);
      expect(res.json().code).toBe('scope.denied');
      expect(await storedRows()).toEqual(before);
      expect(tripwire.attempts).toEqual([]);
    });
  });

  it('inventory and monitor: names are checked without DNS when added, and refused by the engine when scanned', async () => {
    // Decision of the targets API: a host name's addresses are checked when it is scanned, so a
    // name that resolves to a refused address is stored; the scan refuses it before connecting.
    const added: string[] = [];
    for (const name of NAME_ATTEMPTS) {
      const res = await app.inject({ method: 'POST', url: '/api/v1/targets', payload: { target: name } });
      if (res.statusCode === 403) expect(res.json().code).toBe('scope.denied');
      else {
        expect([201, 409], res.body).toContain(res.statusCode);
        added.push(name);
      }
    }
    // The built-in metadata names are refused as names.
    expect(NAME_ATTEMPTS.filter((n) => !added.includes(n))).toEqual(NAME_ATTEMPTS.filter((n) => /metadata\.goog/i.test(n)));
    const run = await runDueTargets(runtime);
    expect(run.failed).toBe(0);
    const results = [];
    for (const id of run.tlsScans) results.push(...(await finishedScan(`/api/v1/tls-scans/${id}`)).results);
    expect(results.length).toBe(Object.keys(REFUSED_NAMES).length);
    for (const r of results) expect(r.error?.code, JSON.stringify(r)).toBe('scope.denied');
    expect(tripwire.attempts).toEqual([]);
  });

  it('batches: host names are checked when assessed, and every one is refused before any connection', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/batches', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(NAME_ATTEMPTS) });
    expect(res.statusCode, res.body).toBe(202);
    const { id, rejected } = res.json();
    expect(rejected.length).toBe(NAME_ATTEMPTS.filter((n) => /metadata\.goog/i.test(n)).length);
    const batch = await waitFor<Record<string, any>>('batch', async () => {
      const r = await app.inject({ method: 'GET', url: `/api/v1/batches/${id}` });
      return r.statusCode === 200 ? r.json() : undefined;
    });
    expect(batch.results.tls.length).toBe(Object.keys(REFUSED_NAMES).length);
    for (const r of batch.results.tls) expect(r.error?.code, JSON.stringify(r)).toBe('scope.denied');
    expect(tripwire.attempts).toEqual([]);
  });

  describe('DNS rebinding: the connection goes to the address that was checked', () => {
    let listener: Awaited<ReturnType<typeof countingListener>>;
    beforeEach(async () => {
      listener = await countingListener();
    });
    afterEach(async () => {
      await listener.close();
    });
    const toListener = (): Connect[] => tripwire.attempts.filter((a) => a.port === listener.port);

    it('port scan: the job scans the stored, checked address and never resolves again', async () => {
      const rebinding = rebindingResolver(['127.0.0.1'], ['169.254.169.254']);
      resolver = rebinding;
      const res = await app.inject({ method: 'POST', url: '/api/v1/port-scans', payload: { targets: ['rebind.test'], ports: String(listener.port) } });
      expect(res.statusCode, res.body).toBe(202);
      const scan = await finishedScan(`/api/v1/port-scans/${res.json().id}?hosts=all&ports=all`);
      expect(scan.status).toBe('done');
      expect(scan.hosts.items).toMatchObject([{ ip: '127.0.0.1', hostnames: ['rebind.test'], ports: [{ port: listener.port, state: 'open' }] }]);
      expect(listener.accepted()).toBeGreaterThan(0);
      expect(rebinding.asked).toEqual(['rebind.test']);
      // The scanner's and service detection's connections: all to the checked literal.
      expect(toListener().length).toBeGreaterThan(0);
      expect(tripwire.attempts.every((a) => a.host === '127.0.0.1' && a.port === listener.port)).toBe(true);
    });

    it('TLS scan: the engine resolves again just before connecting, and refuses the new answer', async () => {
      const rebinding = rebindingResolver(['127.0.0.1'], ['169.254.169.254']);
      resolver = rebinding;
      const res = await app.inject({ method: 'POST', url: '/api/v1/tls-scans', payload: { hosts: [`rebind.test:${listener.port}`] } });
      expect(res.statusCode, res.body).toBe(202);
      const scan = await finishedScan(`/api/v1/tls-scans/${res.json().id}`);
      expect(scan.results).toMatchObject([{ host: 'rebind.test', port: listener.port, error: { code: 'scope.denied' } }]);
      expect(rebinding.asked).toEqual(['rebind.test', 'rebind.test']);
      expect(listener.accepted()).toBe(0);
      expect(tripwire.attempts).toEqual([]);
    });

    it('TLS scan: every probe of the assessment connects to the one checked literal, never re-resolving', async () => {
      const rebinding = rebindingResolver(['127.0.0.1'], ['127.0.0.1'], ['169.254.169.254']);
      resolver = rebinding;
      const res = await app.inject({ method: 'POST', url: '/api/v1/tls-scans', payload: { hosts: [`rebind.test:${listener.port}`] } });
      expect(res.statusCode, res.body).toBe(202);
      const scan = await finishedScan(`/api/v1/tls-scans/${res.json().id}`);
      expect(scan.results).toMatchObject([{ host: 'rebind.test', port: listener.port }]);
      expect(scan.results[0].error).toBeUndefined();
      expect(rebinding.asked).toEqual(['rebind.test', 'rebind.test']);
      expect(listener.accepted()).toBeGreaterThan(0);
      expect(toListener().length).toBeGreaterThan(0);
      expect(tripwire.attempts.every((a) => a.host === '127.0.0.1' && a.port === listener.port)).toBe(true);
    });

    it('GET /scan: a name that rebinds after the check is refused with 403, a stable one is assessed at the checked address', async () => {
      resolver = rebindingResolver(['127.0.0.1'], ['169.254.169.254']);
      const refused = await app.inject({ method: 'GET', url: `/scan?host=rebind.test:${listener.port}&wait=20` });
      expect(refused.statusCode, refused.body).toBe(403);
      expect(refused.json()).toMatchObject({ code: 'scope.denied', detail: expect.stringMatching(/resolves to 169\.254\.169\.254/) });
      expect(tripwire.attempts).toEqual([]);

      resolver = rebindingResolver(['127.0.0.1'], ['127.0.0.1'], ['169.254.169.254']);
      const report = await app.inject({ method: 'GET', url: `/scan?host=rebind.test:${listener.port}&wait=20&fresh=1` });
      expect(report.statusCode, report.body).toBe(200);
      expect(report.json().endpoints.map((e: { ip: string }) => e.ip)).toEqual(['127.0.0.1']);
      expect(tripwire.attempts.every((a) => a.host === '127.0.0.1' && a.port === listener.port)).toBe(true);
    });

    it('other notations of the checked loopback address are stored and connected to as the canonical literal', async () => {
      const portScan = await app.inject({ method: 'POST', url: '/api/v1/port-scans', payload: { targets: LOOPBACK_NOTATIONS, ports: String(listener.port) } });
      expect(portScan.statusCode, portScan.body).toBe(202);
      expect(portScan.json().addressCount).toBe(1);
      const scan = await finishedScan(`/api/v1/port-scans/${portScan.json().id}?hosts=all`);
      expect(scan.hosts.items.map((h: { ip: string }) => h.ip)).toEqual(['127.0.0.1']);

      const hosts = LOOPBACK_NOTATIONS.map((n) => (n.includes(':') && !n.startsWith('[') ? `[${n}]` : n) + `:${listener.port}`);
      const tls = await app.inject({ method: 'POST', url: '/api/v1/tls-scans', payload: { hosts } });
      expect(tls.statusCode, tls.body).toBe(202);
      const tlsScan = await finishedScan(`/api/v1/tls-scans/${tls.json().id}`);
      expect(tlsScan.targets).toEqual([{ host: '127.0.0.1', port: listener.port }]);
      expect(tripwire.attempts.every((a) => a.host === '127.0.0.1' && a.port === listener.port)).toBe(true);
      expect(listener.accepted()).toBeGreaterThan(0);
    });
  });
});
