import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { buildConfig } from '../config/index.js';
import { createMetrics } from '../metrics/index.js';
import { createLogger, createRuntime, type Runtime, startWorker } from '../runtime/index.js';
import { staticResolver } from '../scope/index.js';
import { fakeTlsEngine } from '../testing/assessments.js';
import { TEST_DIALECTS, openTestDatabase, type TestDatabase } from '../testing/databases.js';
import { portScanJobIds, submitPortScan, type Worker } from '../jobs/index.js';
import type { JobInfo, JobState } from '../jobs/queue.js';
import type { DatabaseHandle } from '../store/index.js';
import { DUE_TARGETS_JOB, RECONCILE_SCANS_JOB, reconcileScans, scheduleMonitoring } from './scheduler.js';

describe.each(TEST_DIALECTS)('the periodic work as queue job schedulers on %s', (dialect) => {
  let db: TestDatabase | undefined;
  const runtimes: Runtime[] = [];
  const workers: Worker[] = [];
  afterEach(async () => {
    for (const w of workers.splice(0)) await w.close();
    for (const r of runtimes.splice(0)) await r.close();
    await db?.cleanup();
    db = undefined;
  });

  async function openProcess(database: DatabaseHandle): Promise<Runtime> {
    const config = buildConfig({}, { logLevel: 'silent', monitor: { tickSeconds: 1, jitterSeconds: 0 } });
    const r = await createRuntime(config, {
      database,
      logger: createLogger(config),
      metrics: createMetrics({ defaultMetrics: false }),
      resolver: staticResolver({ 'a.test': ['127.0.0.1'] }),
      tlsEngine: fakeTlsEngine().engine,
      queue: { leaseMs: 2000, pollMs: 50 },
    });
    runtimes.push(r);
    return r;
  }

  it('registers both schedulers once however many processes start, and a worker of either process submits a due target once', async () => {
    db = await openTestDatabase(dialect);
    const [one, two] = [await openProcess(db), await openProcess(db.reopen())];
    await Promise.all([scheduleMonitoring(one), scheduleMonitoring(two)]);
    const schedulers = await sql<{ name: string; every_ms: number }>`select name, every_ms from job_schedulers order by name`.execute(db.db);
    expect(schedulers.rows.map((s) => [s.name, Number(s.every_ms)])).toEqual([
      [DUE_TARGETS_JOB, 1000],
      [RECONCILE_SCANS_JOB, 30_000],
    ]);

    await one.store.targets.upsertMany(
      [{ kind: 'tls', value: 'a.test', port: 443, ports: null, labels: {}, schedule: null, specified: { ports: false, labels: false, schedule: false } }],
      new Date().toISOString(),
    );
    workers.push(startWorker(one, 1), startWorker(two, 1));
    const deadline = Date.now() + 15_000;
    let target = (await one.store.targets.list({ limit: 1, offset: 0 })).items[0];
    while (target?.lastRunAt == null) {
      if (Date.now() > deadline) throw new Error('the due target was never submitted');
      await new Promise((r) => setTimeout(r, 50));
      target = (await one.store.targets.list({ limit: 1, offset: 0 })).items[0];
    }
    // Two more ticks: the target is not due again (daily), and nothing submitted it twice.
    await new Promise((r) => setTimeout(r, 2500));
    expect((await one.store.tlsAssessments.listScans({ limit: 10, offset: 0 })).total).toBe(1);
    // Completed tick jobs are removed: the jobs table does not grow by one row per tick.
    const ticks = await sql<{ n: number }>`select count(*) as n from jobs where kind = ${DUE_TARGETS_JOB} and state = 'completed'`.execute(db.db);
    expect(Number(ticks.rows[0]?.n)).toBe(0);
  });
});

describe.each(TEST_DIALECTS)('reconcileScans of a port scan split into 40 shards on %s', (dialect) => {
  let db: TestDatabase | undefined;
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.close();
    await db?.cleanup();
    runtime = undefined;
    db = undefined;
  });

  /**
   * A stored scan split into 40 shard jobs, reconciled through a queue that only answers `get`: the
   * job ids [parent, shard 0-39, finalize] in `states` have that state (undefined: missing), the
   * others completed.
   */
  async function reconcileSplitScan(states: (ids: string[]) => Record<string, JobState | undefined>) {
    db = await openTestDatabase(dialect);
    const config = buildConfig({}, { logLevel: 'silent' });
    runtime = await createRuntime(config, { database: db, logger: createLogger(config), metrics: createMetrics({ defaultMetrics: false }), resolver: staticResolver({}) });
    const scan = await submitPortScan(runtime, { targets: ['127.0.0.1'], ports: '80' });
    await runtime.store.portScans.setShards(scan.id, 40);
    const byId = states(portScanJobIds({ id: scan.id, shards: 40 }));
    const reads: string[] = [];
    const get = async (id: string): Promise<JobInfo | undefined> => {
      reads.push(id);
      const state = id in byId ? byId[id] : 'completed';
      return state === undefined ? undefined : ({ id, state, ...(state === 'failed' ? { error: 'shard gave up' } : {}) } as JobInfo);
    };
    const reconciled = await reconcileScans({ ...runtime, queue: { ...runtime.queue, get } }, Date.now() + 120_000);
    return { reconciled, reads, scan: await runtime.store.portScans.get(scan.id) };
  }

  it('reads one chunk of jobs, from the last, while the last shards still wait', async () => {
    const { reconciled, reads, scan } = await reconcileSplitScan((ids) => ({ [ids[40]!]: 'waiting', [ids[41]!]: undefined }));
    expect(reconciled).toBe(0);
    expect(scan?.status).toBe('queued');
    expect(reads.length).toBeLessThanOrEqual(32);
  });

  it('finds a live shard among the first ones too, and fails the scan only when none is live, naming the first job that ended badly', async () => {
    const early = await reconcileSplitScan((ids) => ({ [ids[1]!]: 'active' }));
    expect(early).toMatchObject({ reconciled: 0, scan: { status: 'queued' } });
    expect(early.reads).toHaveLength(42);
    await runtime?.close();
    await db?.cleanup();
    const lost = await reconcileSplitScan((ids) => ({ [ids[3]!]: 'failed', [ids[30]!]: 'cancelled', [ids[41]!]: undefined }));
    expect(lost).toMatchObject({ reconciled: 1, scan: { status: 'failed', error: { code: 'scan.failed', message: 'its job ended as failed: shard gave up' } } });
  });
});
