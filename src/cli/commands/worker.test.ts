import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../program.js';
import {
  type CliRun,
  type SpawnedCli,
  apiJson,
  assertBuilt,
  captureIo,
  cleanupCli,
  freePort,
  quietPortRange,
  sleep,
  printedKey,
  spawnCli,
  tempDir,
  waitForScanDone,
} from '../../testing/cli.js';
import { listen, type TestListener } from '../../testing/listeners.js';

/** Spawned processes on a busy 2-core machine: generous, never a speed assertion. */
const SPAWN_TIMEOUT_MS = 120_000;
/** CI starts Redis here (.ci/run); the BullMQ case fails, never skips, when it is not reachable. */
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

afterAll(async () => {
  await cleanupCli();
});

describe('portcullis worker --help', () => {
  it('documents the concurrency option, both queues and the graceful shutdown', async () => {
    const io = captureIo();
    expect(await runCli(['worker', '--help'], io)).toBe(0);
    const help = io.out();
    expect(help).toMatch(/Usage: portcullis worker/);
    expect(help).toMatch(/--concurrency <n>/);
    expect(help).toMatch(/REDIS_URL=redis:/);
    expect(help).toMatch(/without REDIS_URL the queue is the embedded one in the database, which is safe for several processes/);
    expect(help).toMatch(/SIGTERM/);
  });

  it('serve --help offers --no-worker', async () => {
    const io = captureIo();
    expect(await runCli(['serve', '--help'], io)).toBe(0);
    expect(io.out()).toMatch(/--no-worker\s+run the API only and register the periodic schedules/);
  });

  it('refuses a REDIS_URL that is not redis:// or rediss:// as a usage error', async () => {
    const io = captureIo({ REDIS_URL: 'http://127.0.0.1:6379', PORTCULLIS_DATA_DIR: tempDir() });
    expect(await runCli(['worker'], io)).toBe(2);
    expect(io.err()).toMatch(/REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL.*\[config\.invalid\]/);
  });

  it('fails with queue.unavailable, naming REDIS_URL, when Redis does not answer', async () => {
    // Nothing listens on port 1 of loopback.
    const io = captureIo({ REDIS_URL: 'redis://127.0.0.1:1', PORTCULLIS_DATA_DIR: tempDir(), PORTCULLIS_LOG_LEVEL: 'silent' });
    expect(await runCli(['worker'], io)).toBe(1);
    expect(io.err()).toMatch(/cannot reach Redis at redis:\/\/127\.0\.0\.1:1 \(REDIS_URL\).*\[queue\.unavailable\]/);
  });

  it('rejects a concurrency that is not a whole number from 1 to 64', async () => {
    const io = captureIo();
    expect(await runCli(['worker', '--concurrency', '0'], io)).toBe(2);
    expect(io.err()).toMatch(/--concurrency must be between 1 and 64/);
  });
});

// `serve --no-worker` and `worker` as separate processes of the built binary, sharing one SQLite data
// dir: the API queues the scan, only workers run it. Each case once with the embedded queue (in that
// SQLite file) and once with BullMQ on the Redis at 127.0.0.1:6379 under a prefix of its own.
describe('portcullis serve --no-worker + portcullis worker', { timeout: SPAWN_TIMEOUT_MS }, () => {
  let range: { first: number; last: number };
  let listener: TestListener;
  let redis: Redis;
  const prefixes: string[] = [];

  /** The environment of every process of one test: its own data dir and Redis prefix (used with BullMQ only). */
  function queueEnv(useRedis: boolean): Record<string, string> & { PORTCULLIS_REDIS_PREFIX: string } {
    const prefix = `pctest-${randomUUID()}`;
    prefixes.push(prefix);
    return {
      PORTCULLIS_DATA_DIR: tempDir(),
      PORTCULLIS_LOG_LEVEL: 'warn',
      PORTCULLIS_JOB_LEASE_MS: '2000',
      PORTCULLIS_REDIS_PREFIX: prefix,
      ...(useRedis ? { REDIS_URL } : {}),
    };
  }

  beforeAll(async () => {
    assertBuilt();
    range = quietPortRange(20);
    listener = await listen({ host: '127.0.0.1', port: range.first + 3 });
    redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
    redis.on('error', () => undefined); // reported by the ping below
    await redis.connect();
    await redis.ping();
  });
  afterAll(async () => {
    await cleanupCli();
    await listener?.close();
    for (const prefix of prefixes) {
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
    }
    redis?.disconnect();
  });

  it.each([
    ['the embedded queue', false],
    ['BullMQ on Redis', true],
  ])('completes a port scan of 127.0.0.1 with %s', async (_name, useRedis) => {
    const env = queueEnv(useRedis);
    const { api, url, apiKey } = await startApi(env);

    const submitted = await apiJson('POST', `${url}/api/v1/port-scans`, {
      targets: ['127.0.0.1'],
      ports: `${range.first}-${range.last}`,
      options: { timing: 4, serviceDetection: false },
    }, apiKey);
    expect(submitted.status, JSON.stringify(submitted.body)).toBe(202);
    const id: string = submitted.body.id;
    // The API process runs no jobs: the scan stays queued until a worker appears.
    await sleep(1000);
    expect((await apiJson('GET', `${url}/api/v1/port-scans/${id}`, undefined, apiKey)).body.status).toBe('queued');

    const worker = spawnCli(['worker', '--concurrency', '1'], { env });
    const done = await waitForScanDone({ url, apiKey }, id, 60_000);
    expect(done.status, worker.stderr()).toBe('done');
    const open = done.hosts.items.flatMap((h: any) => h.ports.filter((p: any) => p.state === 'open').map((p: any) => `${h.ip}:${p.port}`));
    expect(open).toEqual([`127.0.0.1:${range.first + 3}`]);
    // The job really went through Redis, not the embedded queue.
    expect((await redis.keys(`${env.PORTCULLIS_REDIS_PREFIX}:*`)).length > 0).toBe(useRedis);

    // Both stop cleanly on SIGTERM.
    worker.child.kill('SIGTERM');
    api.child.kill('SIGTERM');
    const [workerExit, apiExit] = await Promise.all([worker.exited, api.exited]);
    expect(workerExit.code, workerExit.stderr).toBe(0);
    expect(apiExit.code, apiExit.stderr).toBe(0);
  });

  it.each([
    ['the embedded queue', false],
    ['BullMQ on Redis', true],
  ])('a worker stopped by SIGTERM mid-scan hands the job back after the grace period and another worker finishes the scan, with %s', async (_name, useRedis) => {
    const graceMs = 1000;
    const env = {
      ...queueEnv(useRedis),
      PORTCULLIS_SHUTDOWN_GRACE_MS: String(graceMs),
      // One job for the whole scan, so there is exactly one job to hand back.
      PORTCULLIS_SHARD_PROBES: '0',
    };
    // The workers log at info: their "port scan started" lines tell which attempt ran and what it resumed.
    const workerEnv = { ...env, PORTCULLIS_LOG_LEVEL: 'info' };
    const { api, url, apiKey } = await startApi(env);

    // 1024 loopback addresses x 300 ports that nothing listens on: several seconds of work.
    const ports = quietPortRange(300);
    const submitted = await apiJson('POST', `${url}/api/v1/port-scans`, {
      targets: ['127.0.0.0/22'],
      ports: `${ports.first}-${ports.last}`,
      options: { timing: 4, serviceDetection: false },
    }, apiKey);
    expect(submitted.status, JSON.stringify(submitted.body)).toBe(202);
    const id: string = submitted.body.id;
    const addressCount: number = submitted.body.addressCount;
    expect(addressCount).toBe(1024);
    const getScan = async (): Promise<any> => (await apiJson('GET', `${url}/api/v1/port-scans/${id}`, undefined, apiKey)).body;

    const first = spawnCli(['worker', '--concurrency', '1'], { env: workerEnv });
    const deadline = Date.now() + 60_000;
    for (let scan = await getScan(); !(scan.status === 'running' && scan.hostsDone > 0); scan = await getScan()) {
      if (first.child.exitCode !== null || Date.now() > deadline) throw new Error(`the scan did not get going: ${JSON.stringify(scan)}\n${first.stdout()}${first.stderr()}`);
      await sleep(100);
    }

    // Exits cleanly once the grace period is over, without waiting for the scan to finish...
    const firstExit = await signalAndWait(first, 'SIGTERM', graceMs + 8000);
    expect(firstExit.code, firstExit.stdout + firstExit.stderr).toBe(0);
    const handedBack = await getScan();
    expect(handedBack.status).not.toBe('done');
    expect(handedBack.hostsDone).toBeGreaterThan(0);
    expect(handedBack.hostsDone).toBeLessThan(addressCount);
    expect(firstExit.stdout).not.toMatch(/port scan finished/);

    // ...and the next worker resumes the scan (first run not counted: it was handed back, not lost).
    const second = spawnCli(['worker', '--concurrency', '1'], { env: workerEnv });
    const done = await waitForScanDone({ url, apiKey }, id, 60_000);
    expect(done.status, second.stdout() + second.stderr()).toBe('done');
    expect(done.hostsDone).toBe(addressCount);
    const resumed = startedLines(second.stdout());
    expect(resumed, second.stdout()).toHaveLength(1);
    expect(resumed[0]).toMatchObject({ attempt: 1, addresses: addressCount });
    expect(resumed[0]!.resumedHosts).toBeGreaterThanOrEqual(handedBack.hostsDone);

    // Every address is stored once: the hosts the first worker finished were not scanned again as new rows.
    const ips: string[] = [];
    for (let offset = 0; offset < addressCount; offset += 1000) {
      const page = await apiJson('GET', `${url}/api/v1/port-scans/${id}?hosts=all&limit=1000&offset=${offset}`, undefined, apiKey);
      expect(page.body.hosts.total).toBe(addressCount);
      ips.push(...page.body.hosts.items.map((h: { ip: string }) => h.ip));
    }
    expect(ips).toHaveLength(addressCount);
    expect(new Set(ips).size).toBe(addressCount);

    const [secondExit, apiExit] = await Promise.all([signalAndWait(second, 'SIGTERM', 20_000), signalAndWait(api, 'SIGTERM', 20_000)]);
    expect(secondExit.code, secondExit.stderr).toBe(0);
    expect(apiExit.code, apiExit.stderr).toBe(0);
  });
});

/** `serve --no-worker` on a free loopback port, ready, with the admin key it printed. */
async function startApi(env: Record<string, string>): Promise<{ api: SpawnedCli; url: string; apiKey: string }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const api = spawnCli(['serve', '--no-worker'], { env: { ...env, PORTCULLIS_HOST: '127.0.0.1', PORTCULLIS_PORT: String(port) } });
  await waitReady(api, url);
  return { api, url, apiKey: printedKey(api.stderr()) ?? '' };
}

/** Sends a signal and waits for the exit; kills the process and fails when it takes longer than timeoutMs. */
async function signalAndWait(run: SpawnedCli, signal: NodeJS.Signals, timeoutMs: number): Promise<CliRun> {
  run.child.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      run.child.kill('SIGKILL');
      reject(new Error(`still running ${timeoutMs} ms after ${signal}\nstdout: ${run.stdout()}\nstderr: ${run.stderr()}`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([run.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The "port scan started" lines of a worker's JSON log. */
function startedLines(log: string): Array<{ attempt: number; addresses: number; resumedHosts: number }> {
  return log
    .split('\n')
    .filter((line) => line.includes('"port scan started"'))
    .map((line) => JSON.parse(line));
}

async function waitReady(run: SpawnedCli, url: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (run.child.exitCode !== null) throw new Error(`portcullis serve exited before it was ready\nstderr: ${run.stderr()}`);
    const status = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) }).then(
      (res) => res.status,
      () => 0,
    );
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`portcullis serve on ${url} was not ready after 30 s\nstderr: ${run.stderr()}`);
    await sleep(100);
  }
}
