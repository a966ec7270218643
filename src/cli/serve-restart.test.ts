import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServeProcess, apiJson, printedKey, assertBuilt, cleanupCli, quietPortRange, sleep, startServe, startServeOnFreePort, tempDir, waitForScanDone } from '../testing/cli.js';
import { listen, type TestListener } from '../testing/listeners.js';
import { openSqlite, resolveSqliteDriver } from '../store/index.js';

// Crash and restart of `portcullis serve` through the real binary: a scan that is running when the
// process is killed with SIGKILL runs again after a restart on the same data dir, once its job lease
// has expired, and resumes where it stopped: every address ends up stored exactly once.

const LEASE_MS = 1500;
const ADDRESSES = 64;
const PORTS = 3000;

// 64 loopback addresses x 3000 ports, no service detection: a few seconds of work on loopback. The
// ports are a range nothing on this machine listens on, plus three listeners of our own inside it, so
// the scan touches nothing but what this test starts and the exact results are known.
let range: { first: number; last: number };
let listeners: TestListener[] = [];
let expectedOpen: Array<{ ip: string; port: number }>;

beforeAll(async () => {
  assertBuilt();
  range = quietPortRange(PORTS);
  expectedOpen = [
    { ip: '127.0.0.1', port: range.first + 7 },
    { ip: '127.0.0.5', port: range.first + 1234 },
    { ip: '127.0.0.64', port: range.last },
  ];
  listeners = await Promise.all(expectedOpen.map(({ ip, port }) => listen({ host: ip, port })));
});
afterAll(async () => {
  for (const l of listeners) await l.close();
  await cleanupCli();
});

const scanRequest = () => ({
  targets: [`127.0.0.1-127.0.0.${ADDRESSES}`],
  ports: `${range.first}-${range.last}`,
  options: { timing: 3, serviceDetection: false },
});

describe('portcullis serve: a running scan survives SIGKILL and a restart', () => {
  let first: ServeProcess | undefined;
  let second: ServeProcess | undefined;

  afterAll(async () => {
    await first?.stop('SIGKILL').catch(() => {});
    await second?.stop('SIGKILL').catch(() => {});
  });

  // As one job, and split into 7 shard jobs of 10 hosts (run one at a time: concurrency 1).
  it.each([
    ['as one job', '0'],
    ['split into shards', '30000'],
  ])('resumes the scan %s after the restart and stores every host exactly once, with consistent totals', async (_how, shardProbes) => {
    const dataDir = tempDir();
    const env = { PORTCULLIS_JOB_LEASE_MS: String(LEASE_MS), PORTCULLIS_WORKER_CONCURRENCY: '1', PORTCULLIS_SHARD_PROBES: shardProbes };
    first = await startServeOnFreePort({ dataDir, env });

    const submitted = await apiJson('POST', `${first.url}/api/v1/port-scans`, scanRequest(), first.apiKey);
    expect(submitted.status, JSON.stringify(submitted.body)).toBe(202);
    expect(submitted.body).toMatchObject({ addressCount: ADDRESSES, portCount: PORTS });
    const id: string = submitted.body.id;
    const apiKey = first.apiKey;

    // Wait until some hosts are stored while the scan still runs, then kill the process outright.
    let before: any;
    const deadline = Date.now() + 60_000;
    for (;;) {
      before = (await apiJson('GET', `${first.url}/api/v1/port-scans/${id}?limit=1`, undefined, apiKey)).body;
      if (before.status === 'running' && before.hostsDone > 0) break;
      if (before.status !== 'queued' && before.status !== 'running') throw new Error(`scan ended as ${before.status} before the kill`);
      if (Date.now() > deadline) throw new Error(`scan still ${before.status} with ${before.hostsDone} hosts after 60 s`);
      await sleep(50);
    }
    const firstPort = first.port;
    const killed = await first.stop('SIGKILL');
    expect(killed.signal).toBe('SIGKILL');
    first = undefined;

    // What the dead process left behind: a running scan, partly stored, its job still leased.
    const atKill = withDb(dataDir, (db) => ({
      scan: db.prepare('select status, hosts_done from port_scans where id = ?').get(id) as { status: string; hosts_done: number },
      hosts: (db.prepare('select count(*) as n from scan_hosts where scan_id = ?').get(id) as { n: number }).n,
      // The scan's own job, or the shard job that was running.
      jobs: db.prepare("select state, attempts_made, lease_owner from jobs where id like ? and state = 'active'").all(`port-scan:${id}%`) as Array<{ state: string; attempts_made: number; lease_owner: string | null }>,
    }));
    expect(atKill.scan.status).toBe('running');
    expect(atKill.hosts, 'the scan finished before it could be killed; make it bigger').toBeLessThan(ADDRESSES);
    expect(atKill.hosts).toBeGreaterThanOrEqual(before.hostsDone);
    expect(atKill.jobs).toEqual([{ state: 'active', attempts_made: 1, lease_owner: expect.any(String) }]);

    // Same data dir and port (a new port only if another process took it meanwhile); info logs, so
    // the resumed attempt can be seen.
    const restartEnv = { ...env, PORTCULLIS_LOG_LEVEL: 'info' };
    second = await startServe({ port: firstPort, dataDir, env: restartEnv, apiKey }).catch(() => startServeOnFreePort({ dataDir, env: restartEnv, apiKey }));
    const done = await waitForScanDone(second, id, 120_000);
    // The bootstrap key is printed by the first start only; the first start's key still works.
    expect(printedKey(second.stderr())).toBeUndefined();

    expect(done.status, JSON.stringify(done.error)).toBe('done');
    expect(done.addressCount).toBe(ADDRESSES);
    expect(done.hostsDone).toBe(ADDRESSES);
    expect(done.hosts.total).toBe(ADDRESSES);
    expect(done.progress).toMatchObject({ done: ADDRESSES * PORTS, total: ADDRESSES * PORTS, percent: 100 });
    expect(done.stats).toMatchObject({ hostsTotal: ADDRESSES, hostsUp: ADDRESSES, portsPerHost: PORTS, open: expectedOpen.length });
    const openByHost = done.hosts.items.flatMap((h: any) => h.ports.filter((p: any) => p.state === 'open').map((p: any) => ({ ip: h.ip, port: p.port })));
    expect(openByHost).toEqual(expectedOpen);

    const stopped = await second.stop('SIGTERM');
    expect(stopped.code, stopped.stderr).toBe(0);
    const logs = parseLogs(stopped.stdout);
    second = undefined;

    // The second process ran the interrupted job again as attempt 2, and scanned exactly the hosts
    // that were not stored yet (the ones of shards that had not started included).
    const started = logs.filter((l) => (l.msg === 'port scan started' || l.msg === 'port scan shard started') && l.scanId === id);
    expect(started.filter((l) => l.attempt === 2), stopped.stdout).toHaveLength(1);
    expect(started.reduce((sum, l) => sum + l.addresses - l.resumedHosts, 0)).toBe(ADDRESSES - atKill.hosts);
    expect(logs.some((l) => typeof l.msg === 'string' && l.msg.includes('worker lost the job 1 time'))).toBe(true);

    withDb(dataDir, (db) => {
      const dupHosts = db.prepare('select ip, count(*) as n from scan_hosts where scan_id = ? group by ip having count(*) > 1').all(id);
      expect(dupHosts).toEqual([]);
      const dupPorts = db.prepare('select ip, protocol, port, count(*) as n from port_results where scan_id = ? group by ip, protocol, port having count(*) > 1').all(id);
      expect(dupPorts).toEqual([]);

      const sums = db
        .prepare(
          `select count(*) as hosts, count(distinct ip) as ips,
                  sum(case when status = 'up' then 1 else 0 end) as up,
                  sum(open_count) as open, sum(closed_count) as closed, sum(filtered_count) as filtered
             from scan_hosts where scan_id = ?`,
        )
        .get(id) as { hosts: number; ips: number; up: number; open: number; closed: number; filtered: number };
      expect(sums.hosts).toBe(ADDRESSES);
      expect(sums.ips).toBe(ADDRESSES);
      // Every probe of every host is accounted for: nothing lost, nothing counted twice.
      expect(sums.open + sums.closed + sums.filtered).toBe(ADDRESSES * PORTS);
      expect(done.stats).toMatchObject({ hostsUp: sums.up, open: sums.open, closed: sums.closed, filtered: sums.filtered });

      // Exactly our three listeners were found open, each once.
      const openRows = db.prepare("select ip, port, reason from port_results where scan_id = ? and state = 'open' order by ip, port").all(id);
      expect(openRows).toEqual(expectedOpen.map(({ ip, port }) => ({ ip, port, reason: 'syn-ack' })));
      expect(sums.open).toBe(expectedOpen.length);
      const ips = (db.prepare('select ip from scan_hosts where scan_id = ? order by ip_key').all(id) as Array<{ ip: string }>).map((r) => r.ip);
      expect(ips).toEqual(Array.from({ length: ADDRESSES }, (_, i) => `127.0.0.${i + 1}`));

      // Every job of the scan completed; the one that was running at the kill ran twice, lost once.
      const jobs = db.prepare('select state, attempts_made, lost_count from jobs where id like ?').all(`port-scan:${id}%`) as Array<{ state: string; attempts_made: number; lost_count: number }>;
      expect(jobs).toHaveLength(shardProbes === '0' ? 1 : 1 + 7 + 1);
      expect(jobs.every((j) => j.state === 'completed')).toBe(true);
      expect(jobs.filter((j) => j.lost_count > 0)).toEqual([{ state: 'completed', attempts_made: 2, lost_count: 1 }]);
      const scan = db.prepare('select status, hosts_done from port_scans where id = ?').get(id);
      expect(scan).toMatchObject({ status: 'done', hosts_done: ADDRESSES });
    });
  }, 240_000);
});

interface ReadOnlyDb {
  prepare(sql: string): { get(...parameters: unknown[]): unknown; all(...parameters: unknown[]): unknown[] };
}

/** Reads the server's SQLite file directly, with the binding the product itself uses on this Node. */
function withDb<T>(dataDir: string, fn: (db: ReadOnlyDb) => T): T {
  const conn = openSqlite(path.join(dataDir, 'portcullis.sqlite'), { readOnly: true, driver: resolveSqliteDriver() });
  const db: ReadOnlyDb = {
    prepare: (sql) => {
      const statement = conn.database.prepare(sql);
      return { all: (...parameters) => statement.all(parameters), get: (...parameters) => statement.all(parameters)[0] };
    },
  };
  try {
    return fn(db);
  } finally {
    conn.database.close();
  }
}

function parseLogs(stdout: string): Array<Record<string, any>> {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, any>;
      } catch {
        return {};
      }
    });
}
