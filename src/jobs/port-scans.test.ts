import { afterEach, describe, expect, it } from 'vitest';
import { buildConfig } from '../config/index.js';
import { createMetrics } from '../metrics/index.js';
import { reconcileScans } from '../monitor/scheduler.js';
import { createLogger, createRuntime, type Runtime, startWorker } from '../runtime/index.js';
import { staticResolver } from '../scope/index.js';
import { PortSet, type ServiceDetector } from '../portscan/index.js';
import { TEST_DIALECTS, openTestDatabase, type TestDatabase } from '../testing/databases.js';
import { closedPort, listen, type TestListener } from '../testing/listeners.js';
import {
  PORT_BLOCKS_BELOW_HOSTS,
  PORT_SCAN_JOB,
  type PortScanJobPayload,
  createPortScanHandler,
  createPortScanShardHandler,
  portScanJobId,
  portScanJobIds,
  shardBlock,
  shardPlan,
  submitPortScan,
} from './port-scans.js';
import type { JobContext } from './queue.js';

interface Fixture {
  db: TestDatabase;
  runtime: Runtime;
  listeners: TestListener[];
}

async function fixture(dialect: 'sqlite' | 'postgres', detectService?: ServiceDetector, shardProbes?: number): Promise<Fixture> {
  const db = await openTestDatabase(dialect);
  const config = buildConfig({}, { logLevel: 'silent', portscan: { bannerTimeoutMs: 200, ...(shardProbes !== undefined ? { shardProbes } : {}) } });
  const runtime = await createRuntime(config, {
    database: db,
    logger: createLogger(config),
    metrics: createMetrics({ defaultMetrics: false }),
    resolver: staticResolver({}),
    queue: { leaseMs: 2000, pollMs: 50 },
    ...(detectService ? { detectService } : {}),
  });
  return { db, runtime, listeners: [] };
}

function jobContext(scanId: string, overrides: Partial<JobContext<PortScanJobPayload>> = {}): JobContext<PortScanJobPayload> {
  return {
    id: portScanJobId(scanId),
    kind: PORT_SCAN_JOB,
    payload: { scanId },
    attempt: 1,
    maxAttempts: 3,
    signal: new AbortController().signal,
    updateProgress: async () => {},
    ...overrides,
  };
}

function handlerFor(f: Fixture) {
  return createPortScanHandler({ ...f.runtime, checkpointMs: 20 });
}

describe('shardPlan', () => {
  it.each([
    // addresses, ports, shardProbes → hosts per shard, shards
    [256, 1000, 65_536, 65, 4],
    [65_536, 100, 65_536, 655, 101],
    [16, 2, 6, 3, 6],
    // Small enough for one job; 0 never splits.
    [64, 1000, 65_536, 64, 1],
    [65_536, 1000, 0, 65_536, 1],
    // All 65,535 ports of 3 hosts fit a shard per host.
    [3, 65_535, 65_536, 1, 3],
    // From PORT_BLOCKS_BELOW_HOSTS addresses on, hosts are not split into port blocks: a shard per host.
    [PORT_BLOCKS_BELOW_HOSTS, 65_535, 16_384, 1, PORT_BLOCKS_BELOW_HOSTS],
  ])('%i addresses × %i ports at %i probes per shard: %i hosts in each of %i shards', (addresses, ports, probes, hostsPerShard, shards) => {
    expect(shardPlan(addresses, ports, probes)).toEqual({ hostsPerShard, portsPerShard: ports, portBlocks: 1, shards });
  });

  it.each([
    // addresses, ports, shardProbes → ports per shard, port blocks per host, shards
    [1, 65_535, 16_384, 16_384, 4, 4],
    [3, 65_535, 20_000, 16_384, 4, 12],
    [2, 10, 4, 4, 3, 6],
    [PORT_BLOCKS_BELOW_HOSTS - 1, 65_535, 16_384, 16_384, 4, 4 * (PORT_BLOCKS_BELOW_HOSTS - 1)],
  ])('%i addresses × %i ports at %i probes per shard: hosts split into blocks of %i ports, %i per host, %i shards', (addresses, ports, probes, portsPerShard, portBlocks, shards) => {
    expect(shardPlan(addresses, ports, probes)).toEqual({ hostsPerShard: 1, portsPerShard, portBlocks, shards });
  });
});

describe('shardBlock', () => {
  it('gives each shard its addresses and ports; together the shards cover every (address, port) once', () => {
    for (const [addresses, ports, probes] of [
      [16, 2, 6],
      [2, 10, 4],
      [3, 65_535, 20_000],
    ] as const) {
      const plan = shardPlan(addresses, ports, probes);
      const payload = { hostsPerShard: plan.hostsPerShard, ...(plan.portBlocks > 1 ? { portsPerShard: plan.portsPerShard } : {}) };
      const covered = new Map<number, number>();
      for (let shard = 0; shard < plan.shards; shard++) {
        const block = shardBlock(shard, payload, ports);
        expect(block.part === undefined).toBe(plan.portBlocks === 1);
        for (let h = block.firstHost; h < Math.min(addresses, block.firstHost + block.hostCount); h++) covered.set(h, (covered.get(h) ?? 0) + block.portCount);
      }
      expect([...covered.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: addresses }, (_, i) => i));
      expect(new Set(covered.values())).toEqual(new Set([ports]));
    }
    expect(shardBlock(5, { hostsPerShard: 1, portsPerShard: 4 }, 10)).toEqual({ firstHost: 1, hostCount: 1, firstPort: 8, portCount: 2, part: { index: 2, count: 3 } });
  });
});

describe.each(TEST_DIALECTS)('port-scan job on %s', (dialect) => {
  let f: Fixture | undefined;
  afterEach(async () => {
    for (const l of f?.listeners ?? []) await l.close();
    await f?.runtime.close();
    await f?.db.cleanup();
    f = undefined;
  });

  it('resumes after an interrupted attempt: hosts stored earlier are kept, not scanned again, and nothing is duplicated', async () => {
    f = await fixture(dialect);
    const open = await listen({ host: '127.0.0.1' });
    f.listeners.push(open);
    const closed = await closedPort();
    const scan = await submitPortScan(f.runtime, { targets: ['127.0.0.1-127.0.0.4'], ports: `${open.port},${closed}`, options: { serviceDetection: false } });
    // An earlier attempt stored 127.0.0.3 before its process died; mark it so a rescan would show.
    const earlier = new Date().toISOString();
    await f.runtime.store.portScans.saveHosts(scan.id, [{ host: { ip: '127.0.0.3', hostnames: [], status: 'up', counts: { open: 0, closed: 2, filtered: 0 }, startedAt: earlier, finishedAt: earlier }, ports: [
        { ip: '127.0.0.3', port: open.port, protocol: 'tcp', state: 'closed', reason: 'conn-refused' },
        { ip: '127.0.0.3', port: closed, protocol: 'tcp', state: 'closed', reason: 'conn-refused' },
      ] }]);

    const outcome = await handlerFor(f)(jobContext(scan.id, { attempt: 2 }));
    expect(outcome).toEqual({ status: 'done' });
    const done = await f.runtime.store.portScans.get(scan.id);
    expect(done).toMatchObject({ status: 'done', hostsDone: 4, progress: { done: 8, total: 8 } });
    // 127.0.0.1 has the listener; the other addresses only refuse. 127.0.0.3 kept its stored result.
    expect(done?.stats).toMatchObject({ hostsTotal: 4, hostsUp: 4, open: 1, closed: 7, filtered: 0, portsPerHost: 2 });
    const hosts = (await f.runtime.store.portScans.hosts(scan.id, { limit: 10, offset: 0 })).items;
    expect(hosts.map((h) => h.ip)).toEqual(['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4']);
    expect(hosts.find((h) => h.ip === '127.0.0.3')?.finishedAt).toBe(earlier);
    // Listed rows: 127.0.0.1 (an open port, so both ports listed) and the two rows the earlier attempt
    // stored for 127.0.0.3; hosts with no open port are summarised (extraPorts), not listed.
    const ports = await f.runtime.store.portScans.ports(scan.id);
    expect(ports.map((p) => `${p.ip}:${p.port}`)).toEqual([`127.0.0.1:${Math.min(open.port, closed)}`, `127.0.0.1:${Math.max(open.port, closed)}`, `127.0.0.3:${Math.min(open.port, closed)}`, `127.0.0.3:${Math.max(open.port, closed)}`]);
    expect(hosts.find((h) => h.ip === '127.0.0.2')?.extraPorts).toEqual({ state: 'closed', count: 2, reasons: { 'conn-refused': 2 } });
    expect(ports.filter((p) => p.state === 'open').map((p) => `${p.ip}:${p.port}`)).toEqual([`127.0.0.1:${open.port}`]);
  });

  it('does not scan a scan that was cancelled before its job started', async () => {
    f = await fixture(dialect);
    const scan = await submitPortScan(f.runtime, { targets: ['127.0.0.1'], ports: '1-100' });
    await f.runtime.store.portScans.finish(scan.id, { status: 'cancelled', at: new Date().toISOString() });
    expect(await handlerFor(f)(jobContext(scan.id))).toEqual({ status: 'cancelled' });
    expect(await f.runtime.store.portScans.get(scan.id)).toMatchObject({ status: 'cancelled', hostsDone: 0 });
  });

  it('stops a running scan soon after it is cancelled in the store, keeping the hosts already stored', async () => {
    let release: (() => void) | undefined;
    // Service detection that holds the first host until the test cancels: the scan is mid-way.
    const slow: ServiceDetector = async (_ip, _port, { signal }) =>
      new Promise((resolve, reject) => {
        release = () => resolve({ name: 'unknown', method: 'probed' });
        signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
      });
    f = await fixture(dialect, slow);
    const open = await listen();
    f.listeners.push(open);
    const scan = await submitPortScan(f.runtime, { targets: ['127.0.0.1'], ports: String(open.port) });
    const running = handlerFor(f)(jobContext(scan.id));
    while (release === undefined) await new Promise((r) => setTimeout(r, 10));
    await f.runtime.store.portScans.finish(scan.id, { status: 'cancelled', at: new Date().toISOString() });
    expect(await running).toEqual({ status: 'cancelled' });
    expect((await f.runtime.store.portScans.get(scan.id))?.status).toBe('cancelled');
  });

  it('leaves the scan running and rethrows when the worker shuts down, so another attempt resumes it', async () => {
    const shutdown = new AbortController();
    const held: ServiceDetector = async (_ip, _port, { signal }) =>
      new Promise((_resolve, reject) => {
        shutdown.abort(new Error('worker shutting down'));
        signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
      });
    f = await fixture(dialect, held);
    const open = await listen();
    f.listeners.push(open);
    const scan = await submitPortScan(f.runtime, { targets: ['127.0.0.1'], ports: String(open.port) });
    await expect(handlerFor(f)(jobContext(scan.id, { signal: shutdown.signal, attempt: 3 }))).rejects.toThrow();
    expect((await f.runtime.store.portScans.get(scan.id))?.status).toBe('running');
  });

  it('marks the scan failed with the error when its last attempt fails, and not before', async () => {
    const broken: ServiceDetector = async () => {
      throw new Error('detector exploded');
    };
    f = await fixture(dialect, broken);
    const open = await listen();
    f.listeners.push(open);
    const scan = await submitPortScan(f.runtime, { targets: ['127.0.0.1'], ports: String(open.port) });
    await expect(handlerFor(f)(jobContext(scan.id, { attempt: 1 }))).rejects.toThrow('detector exploded');
    expect((await f.runtime.store.portScans.get(scan.id))?.status).toBe('running');
    await expect(handlerFor(f)(jobContext(scan.id, { attempt: 3 }))).rejects.toThrow('detector exploded');
    expect(await f.runtime.store.portScans.get(scan.id)).toMatchObject({ status: 'failed', error: { message: 'detector exploded' } });
  });

  it('reconciles scans whose job ended without finishing them, and leaves scans with a live job alone', async () => {
    f = await fixture(dialect);
    const lost = await submitPortScan(f.runtime, { targets: ['127.0.0.1'], ports: '80' });
    const alive = await submitPortScan(f.runtime, { targets: ['127.0.0.2'], ports: '80' });
    await f.runtime.queue.cancel(portScanJobId(lost.id));
    const later = Date.now() + 120_000;
    expect(await reconcileScans(f.runtime, later)).toBe(1);
    expect(await f.runtime.store.portScans.get(lost.id)).toMatchObject({ status: 'failed', error: { code: 'scan.failed', message: expect.stringContaining('cancelled') } });
    expect((await f.runtime.store.portScans.get(alive.id))?.status).toBe('queued');
    expect(await reconcileScans(f.runtime, later)).toBe(0);
  });

  it('splits a large scan into shard jobs and merges them into one result with progress and without duplicates', async () => {
    f = await fixture(dialect, undefined, 6);
    const open = await listen({ host: '127.0.0.1' });
    f.listeners.push(open);
    const closed = await closedPort();
    const scan = await submitPortScan(f.runtime, { targets: ['127.0.0.1-127.0.0.16'], ports: `${open.port},${closed}`, options: { serviceDetection: false } });
    const worker = startWorker(f.runtime, 3);
    try {
      const done = await waitForScan(f.runtime, scan.id);
      expect(done).toMatchObject({ status: 'done', shards: 6, hostsDone: 16, progress: { done: 32, total: 32 } });
      expect(done.stats).toMatchObject({ hostsTotal: 16, hostsUp: 16, open: 1, closed: 31, filtered: 0, portsPerHost: 2 });
      const hosts = (await f.runtime.store.portScans.hosts(scan.id, { limit: 100, offset: 0 })).items.map((h) => h.ip);
      expect(hosts).toEqual(Array.from({ length: 16 }, (_, i) => `127.0.0.${i + 1}`));
      const jobs = await Promise.all(portScanJobIds({ id: scan.id, shards: 6 }).map((id) => f!.runtime.queue.get(id)));
      expect(jobs.map((j) => j?.state)).toEqual(Array(8).fill('completed'));
      expect(jobs[0]?.result).toEqual({ status: 'sharded', shards: 6 });
    } finally {
      await worker.close();
    }
  });

  it('splits hosts into port blocks when their ports exceed a shard, and merges them into exactly what one job stores', async () => {
    f = await fixture(dialect, undefined, 8);
    const open = await listen({ host: '127.0.0.1' });
    f.listeners.push(open);
    // 31 ports: the listener and 30 ports nobody should be listening on; 127.0.0.2 has the listener's port closed.
    const request = { targets: ['127.0.0.1-127.0.0.2'], ports: `${open.port},1001-1030`, options: { serviceDetection: false } };
    const sharded = await submitPortScan(f.runtime, request);
    const single = await submitPortScan(f.runtime, request);
    const oneJob = createPortScanHandler({ ...f.runtime, config: { ...f.runtime.config, portscan: { ...f.runtime.config.portscan, shardProbes: 0 } }, checkpointMs: 20 });
    expect(await oneJob(jobContext(single.id))).toEqual({ status: 'done' });
    const worker = startWorker(f.runtime, 3);
    try {
      const done = await waitForScan(f.runtime, sharded.id);
      // 4 blocks of 8 ports per host, 2 hosts.
      expect(done).toMatchObject({ status: 'done', shards: 8, hostsDone: 2, progress: { done: 62, total: 62 } });
      // The finalize job ends the scan just before its own job completes.
      const states = async () => (await Promise.all(portScanJobIds({ id: sharded.id, shards: 8 }).map((id) => f!.runtime.queue.get(id)))).map((j) => j?.state);
      await waitUntil(async () => (await states()).every((state) => state === 'completed'), 5000).catch(async () => expect(await states()).toEqual(Array(10).fill('completed')));
      const { portScans } = f.runtime.store;
      const view = async (id: string) => ({
        hosts: (await portScans.hosts(id, { limit: 10, offset: 0 })).items.map(({ startedAt: _s, finishedAt: _f, srttMs: _r, ...h }) => h),
        ports: (await portScans.ports(id)).map(({ rttMs: _r, ...p }) => p),
        stats: (({ durationMs: _d, ...rest }) => rest)((await portScans.get(id))!.stats!),
      });
      const [fromShards, fromOneJob] = await Promise.all([view(sharded.id), view(single.id)]);
      expect(fromShards).toEqual(fromOneJob);
      expect(fromShards.ports).toContainEqual(expect.objectContaining({ ip: '127.0.0.1', port: open.port, state: 'open' }));
      expect(fromShards.hosts.map((h) => h.counts.open + h.counts.closed + h.counts.filtered)).toEqual([31, 31]);
      for (const ip of ['127.0.0.1', '127.0.0.2']) expect(await portScans.storedParts(sharded.id, ip)).toEqual(new Set());
    } finally {
      await worker.close();
    }
  });

  it('resumes a port-block shard: a block an earlier attempt stored is not scanned again, and the last block merges it', async () => {
    f = await fixture(dialect, undefined, 2);
    const closed = await closedPort();
    const scan = await submitPortScan(f.runtime, { targets: ['127.0.0.1'], ports: `${closed},${closed + 1}`, options: { serviceDetection: false } });
    const [low, high] = [...PortSet.parse(scan.portSet)] as [number, number];
    const marker = '2999-01-01T00:00:00.000Z';
    const stored = { ip: '127.0.0.1', part: 1, results: [{ ip: '127.0.0.1', port: high, protocol: 'tcp' as const, state: 'filtered' as const, reason: 'no-response' as const }], startedAt: marker, finishedAt: marker };
    await f.runtime.store.portScans.saveHostPart(scan.id, stored);
    const shard = createPortScanShardHandler({ ...f.runtime, checkpointMs: 20 });
    const payload = { scanId: scan.id, hostsPerShard: 1, portsPerShard: 1 };
    // A retried shard 1 finds its block stored and only tries to merge (block 0 is missing).
    expect(await shard({ ...jobContext(scan.id), payload: { ...payload, shard: 1 }, attempt: 2 })).toEqual({ status: 'done' });
    expect(await f.runtime.store.portScans.storedParts(scan.id, '127.0.0.1')).toEqual(new Set([1]));
    expect(await shard({ ...jobContext(scan.id), payload: { ...payload, shard: 0 } })).toEqual({ status: 'done' });
    const [host] = (await f.runtime.store.portScans.hosts(scan.id, { limit: 10, offset: 0 })).items;
    // The stored block (its made-up filtered port and time) is part of the merged host; with no open
    // port, the closed one is summarised and the filtered one listed.
    expect(host).toMatchObject({ ip: '127.0.0.1', counts: { open: 0, closed: 1, filtered: 1 }, extraPorts: { state: 'closed', count: 1 }, finishedAt: marker });
    expect((await f.runtime.store.portScans.ports(scan.id)).map((p) => [p.port, p.state])).toEqual([[high, 'filtered']]);
    expect(low).toBe(closed);
    expect(await f.runtime.queue.get(`port-scan:${scan.id}:finalize`)).toBeDefined();
  });

  it('resumes a shard from the hosts of its own block an earlier attempt stored', async () => {
    f = await fixture(dialect, undefined, 8);
    const closed = await closedPort();
    const scan = await submitPortScan(f.runtime, { targets: ['127.0.0.1-127.0.0.8'], ports: `${closed}`, options: { serviceDetection: false } });
    const at = new Date().toISOString();
    // Stored earlier: one host of shard 1's block (127.0.0.5-8) and one of shard 0's.
    const stored = (ip: string) => ({ host: { ip, hostnames: [], status: 'up' as const, counts: { open: 0, closed: 1, filtered: 0 }, startedAt: at, finishedAt: at }, ports: [] });
    await f.runtime.store.portScans.saveHosts(scan.id, [stored('127.0.0.2'), stored('127.0.0.6')]);
    const shard = createPortScanShardHandler({ ...f.runtime, checkpointMs: 20 });
    const ctx = { ...jobContext(scan.id), payload: { scanId: scan.id, shard: 1, hostsPerShard: 4 }, attempt: 2 };
    expect(await shard(ctx)).toEqual({ status: 'done' });
    const hosts = (await f.runtime.store.portScans.hosts(scan.id, { limit: 10, offset: 0 })).items;
    expect(hosts.map((h) => h.ip)).toEqual(['127.0.0.2', '127.0.0.5', '127.0.0.6', '127.0.0.7', '127.0.0.8']);
    // 127.0.0.6 kept the earlier attempt's row: it was not scanned again.
    expect(hosts.find((h) => h.ip === '127.0.0.6')?.finishedAt).toBe(at);
  });

  it.each([
    ['with a per-host cap', 'waits until', 2],
    ['without one', 'runs while', undefined],
  ])('%s, a second scan of the same hosts %s the first is done (politeness across scans)', async (_cap, _what, maxHostConnections) => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let detecting = false;
    // The first scan's service detection holds it mid-scan (its lease taken, if capped) until the test releases it.
    const held: ServiceDetector = async () => ((detecting = true), await released, { name: 'unknown', method: 'probed' });
    f = await fixture(dialect, held);
    const open = await listen({ host: '127.0.0.1' });
    f.listeners.push(open);
    const options = { ...(maxHostConnections !== undefined ? { maxHostConnections } : {}) };
    const first = await submitPortScan(f.runtime, { targets: ['127.0.0.1-127.0.0.2'], ports: String(open.port), options });
    const second = await submitPortScan(f.runtime, { targets: ['127.0.0.2-127.0.0.3'], ports: String(open.port), options: { ...options, serviceDetection: false } });
    const firstRun = handlerFor(f)(jobContext(first.id));
    await waitUntil(async () => detecting);
    const secondRun = handlerFor(f)(jobContext(second.id));
    const secondDoneEarly = await Promise.race([secondRun.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 1500))]);
    expect(secondDoneEarly).toBe(maxHostConnections === undefined);
    release();
    expect(await firstRun).toEqual({ status: 'done' });
    expect(await secondRun).toEqual({ status: 'done' });
    expect((await f.runtime.store.portScans.get(second.id))?.hostsDone).toBe(2);
  });

  it('stops every shard of a split scan when it is cancelled', async () => {
    const detecting: string[] = [];
    const aborted: string[] = [];
    // Service detection holds every host until its shard is stopped.
    const held: ServiceDetector = async (ip, _port, { signal }) =>
      new Promise((_resolve, reject) => {
        detecting.push(ip);
        signal?.addEventListener('abort', () => (aborted.push(ip), reject(signal.reason)), { once: true });
      });
    f = await fixture(dialect, held, 8);
    const listeners = await Promise.all(Array.from({ length: 8 }, (_, i) => listen({ host: `127.0.0.${i + 1}` })));
    f.listeners.push(...listeners);
    // Each host listens on its own port; the scan covers all eight ports on every host.
    const scan = await submitPortScan(f.runtime, { targets: ['127.0.0.1-127.0.0.8'], ports: listeners.map((l) => l.port).join(',') });
    const worker = startWorker(f.runtime, 2);
    try {
      const { store, queue } = f.runtime;
      // Wait until two shards are held in detection.
      await waitUntil(async () => new Set(detecting).size >= 2);
      await store.portScans.finish(scan.id, { status: 'cancelled', at: new Date().toISOString() });
      for (const id of portScanJobIds({ id: scan.id, shards: 8 })) await queue.cancel(id);
      await waitUntil(async () => (await Promise.all(portScanJobIds({ id: scan.id, shards: 8 }).map((id) => queue.get(id)))).every((j) => j === undefined || (j.state !== 'active' && j.state !== 'waiting')));
      expect((await store.portScans.get(scan.id))?.status).toBe('cancelled');
      expect(new Set(aborted).size).toBeGreaterThanOrEqual(2);
      // No shard started after the cancellation: at most the two that were running scanned anything.
      expect((await store.portScans.get(scan.id))?.hostsDone).toBe(0);
    } finally {
      await worker.close();
    }
  });
});

async function waitUntil(probe: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function waitForScan(runtime: Runtime, id: string) {
  let scan = await runtime.store.portScans.get(id);
  await waitUntil(async () => {
    scan = await runtime.store.portScans.get(id);
    return scan !== undefined && scan.status !== 'queued' && scan.status !== 'running';
  });
  return scan!;
}
