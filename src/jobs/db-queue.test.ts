import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import type { DatabaseHandle, Dialect } from '../store/index.js';
import { TEST_DIALECTS, TEST_PG_URL, type TestDatabase, openTestDatabase } from '../testing/databases.js';
import { DatabaseQueue, type DatabaseQueueOptions, type QueueLogger } from './db-queue.js';
import { queueContract } from './queue.contract.js';

import { STEP_JOB, type StepJobPayload, createStepTables, stepExecutions, stepJobHandler, stepJobRuns, stepRows } from './testing/step-job.js';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WORKER_CHILD = fileURLToPath(new URL('./testing/worker-child.ts', import.meta.url));

interface RecordingLogger extends QueueLogger {
  warnings: string[];
  errors: string[];
}

function recordingLogger(): RecordingLogger {
  const warnings: string[] = [];
  const errors: string[] = [];
  return {
    warnings,
    errors,
    warn: (obj, msg) => warnings.push(`${msg ?? ''} ${JSON.stringify(obj)}`),
    error: (obj, msg) => errors.push(`${msg ?? ''} ${String((obj as { err?: unknown }).err ?? JSON.stringify(obj))}`),
  };
}

/** Fast settings so the contract suite takes seconds. */
const FAST = { leaseMs: 1000, pollMs: 50 };

interface Fixture {
  t: TestDatabase;
  logger: RecordingLogger;
  queue: DatabaseQueue;
  open(handle?: DatabaseHandle, options?: Partial<DatabaseQueueOptions>): DatabaseQueue;
  cleanup(): Promise<void>;
}

async function openFixture(dialect: Dialect, options: Partial<DatabaseQueueOptions> = {}): Promise<Fixture> {
  const t = await openTestDatabase(dialect);
  const logger = recordingLogger();
  const queues: DatabaseQueue[] = [];
  const open = (handle: DatabaseHandle = t, more: Partial<DatabaseQueueOptions> = {}): DatabaseQueue => {
    const q = new DatabaseQueue({ handle, logger, ...FAST, ...options, ...more });
    queues.push(q);
    return q;
  };
  return {
    t,
    logger,
    queue: open(),
    open,
    cleanup: async () => {
      for (const q of queues) await q.close();
      await t.cleanup();
      // Nothing may go wrong unnoticed: any error logged during a test fails it.
      if (logger.errors.length > 0) throw new Error(`the queue logged errors:\n${logger.errors.join('\n')}`);
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe.each(TEST_DIALECTS)('DatabaseQueue on %s', (dialect) => {
  queueContract(`DatabaseQueue (${dialect})`, async () => {
    const f = await openFixture(dialect);
    return {
      queue: f.queue,
      restart: async (options) => f.open(f.t.reopen(), options),
      crash: async (queue) => (queue as DatabaseQueue).crash(),
      cleanup: f.cleanup,
    };
  });

  describe('implementation details', () => {
    let f: Fixture | undefined;
    afterEach(async () => {
      await f?.cleanup();
      f = undefined;
    });

    it('wakes an idle worker on enqueue instead of waiting for the poll', async () => {
      f = await openFixture(dialect, { pollMs: 60_000 });
      f.queue.process('instant', async () => 'now', { concurrency: 1 });
      await sleep(100); // the worker has polled once and sleeps for a minute
      const t0 = Date.now();
      const job = await f.queue.enqueue('instant', {});
      // waitUntilFinished also polls only every minute here: this is the local completion event.
      expect((await f.queue.waitUntilFinished(job.id, 5000)).state).toBe('completed');
      expect(Date.now() - t0).toBeLessThan(1000);
    });

    it('wakes an idle worker when a delayed job becomes due', async () => {
      f = await openFixture(dialect, { pollMs: 60_000 });
      f.queue.process('soon', async () => 'now', { concurrency: 1 });
      await sleep(100);
      const t0 = Date.now();
      const job = await f.queue.enqueue('soon', {}, { delayMs: 200 });
      expect((await f.queue.waitUntilFinished(job.id, 5000)).state).toBe('completed');
      expect(Date.now() - t0).toBeGreaterThanOrEqual(200);
      expect(Date.now() - t0).toBeLessThan(1200);
    });

    it('discards the outcome of a job whose lease was taken over by another worker', async () => {
      f = await openFixture(dialect, { leaseMs: 300 });
      let signal: AbortSignal | undefined;
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      f.queue.process(
        'taken-over',
        async (ctx) => {
          signal = ctx.signal;
          await released;
          await ctx.updateProgress('too late');
          return 'stale result';
        },
        { concurrency: 1 },
      );
      const job = await f.queue.enqueue('taken-over', {});
      await expect.poll(() => signal !== undefined, { timeout: 5000 }).toBe(true);
      // Another worker recovered the job (say this process stalled past its lease) and now owns it.
      const until = new Date(Date.now() + 60_000).toISOString();
      await f.t.db.updateTable('jobs').set({ lease_owner: 'someone-else', lease_until: until }).where('id', '=', job.id).execute();
      await expect.poll(() => signal?.aborted, { timeout: 2000 }).toBe(true);
      release();
      await sleep(200);
      const row = await f.t.db.selectFrom('jobs').selectAll().where('id', '=', job.id).executeTakeFirstOrThrow();
      expect(row).toMatchObject({ state: 'active', lease_owner: 'someone-else', lease_until: until, result: null, progress: null });
      expect(f.logger.warnings.some((w) => w.includes('lost the lease'))).toBe(true);
    });

    it('recovers expired leases: back to waiting without using up an attempt, or failed with "worker lost the job N times" past maxLostRuns', async () => {
      f = await openFixture(dialect, { maxLostRuns: 1 });
      const past = new Date(Date.now() - 1000).toISOString();
      // On its only attempt: a lost run is not a failure, so it runs again.
      const retried = await f.queue.enqueue('orphan', 'retried', { attempts: 1 });
      // Lost once before: this second loss is one more than maxLostRuns allows, attempts left or not.
      const exhausted = await f.queue.enqueue('orphan', 'exhausted', { attempts: 3 });
      const cancelled = await f.queue.enqueue('orphan', 'cancelled', { attempts: 3 });
      // As a dead process leaves them: active, leased by a worker that no longer renews.
      await f.t.db.updateTable('jobs').set({ state: 'active', attempts_made: 1, lease_owner: 'dead', lease_until: past }).where('id', '=', retried.id).execute();
      await f.t.db
        .updateTable('jobs')
        .set({ state: 'active', attempts_made: 2, lost_count: 1, lease_owner: 'dead', lease_until: past })
        .where('id', '=', exhausted.id)
        .execute();
      await f.t.db
        .updateTable('jobs')
        .set({ state: 'active', attempts_made: 1, cancel_requested: 1, lease_owner: 'dead', lease_until: past })
        .where('id', '=', cancelled.id)
        .execute();
      const ran: string[] = [];
      const errorsSeen: (string | undefined)[] = [];
      f.queue.process<string, string>(
        'orphan',
        async (ctx) => {
          ran.push(`${ctx.payload}#${ctx.attempt}`);
          errorsSeen.push((await f?.queue.get(ctx.id))?.error);
          return 'recovered';
        },
        { concurrency: 2 },
      );
      expect(await f.queue.waitUntilFinished(retried.id, 5000)).toMatchObject({ state: 'completed', attemptsMade: 2, maxAttempts: 2, result: 'recovered' });
      expect(await f.queue.waitUntilFinished(exhausted.id, 5000)).toMatchObject({ state: 'failed', attemptsMade: 2, error: 'worker lost the job 2 times' });
      expect(await f.queue.waitUntilFinished(cancelled.id, 5000)).toMatchObject({ state: 'cancelled' });
      expect(ran).toEqual(['retried#2']);
      expect(errorsSeen).toEqual(['worker lost the job 1 time']);
      expect(f.logger.warnings.filter((w) => w.includes('lease expired'))).toHaveLength(3);
    });

    it('does not recover a job whose lease is still being renewed', async () => {
      f = await openFixture(dialect, { leaseMs: 150 });
      const other = f.open(f.t.reopen(), { leaseMs: 150 });
      let runs = 0;
      f.queue.process(
        'long',
        async () => {
          runs++;
          await sleep(700); // several leases long; the heartbeat keeps it
          return 'kept';
        },
        { concurrency: 1 },
      );
      // Another instance's loop runs lease recovery on every poll (for every kind of its queue).
      other.process('unrelated', async () => {}, { concurrency: 1 });
      const job = await f.queue.enqueue('long', {});
      expect(await other.waitUntilFinished(job.id, 5000)).toMatchObject({ state: 'completed', result: 'kept', attemptsMade: 1 });
      expect(runs).toBe(1);
    });

    it('ends a handed-back job cancelled when its cancellation was requested', async () => {
      f = await openFixture(dialect, { pollMs: 60_000, leaseMs: 60_000 });
      let started = false;
      const worker = f.queue.process(
        'stubborn',
        async () => {
          started = true;
          await sleep(60_000); // ignores its signal
        },
        { concurrency: 1 },
      );
      const job = await f.queue.enqueue('stubborn', {});
      await expect.poll(() => started, { timeout: 5000 }).toBe(true);
      // Requested from elsewhere; neither heartbeat nor poll comes round within the test.
      await f.t.db.updateTable('jobs').set({ cancel_requested: 1 }).where('id', '=', job.id).execute();
      await worker.close({ graceMs: 0 });
      expect(await f.queue.get(job.id)).toMatchObject({ state: 'cancelled', cancelRequested: true });
    });

    it('keeps queue names apart in one table', async () => {
      f = await openFixture(dialect);
      const a = f.open(f.t, { queueName: 'a' });
      const b = f.open(f.t, { queueName: 'b' });
      const ranInB: string[] = [];
      b.process('same-kind', async (ctx) => void ranInB.push(ctx.id), { concurrency: 1 });
      const inA = await a.enqueue('same-kind', {});
      const inB = await b.enqueue('same-kind', {});
      await b.waitUntilFinished(inB.id, 5000);
      await sleep(200);
      expect(ranInB).toEqual([inB.id]);
      expect(await b.get(inA.id)).toBeUndefined();
      expect((await a.counts()).waiting).toBe(1);
      expect((await b.counts()).completed).toBe(1);
      expect((await f.queue.counts()).waiting).toBe(0);
    });

    it('rejects invalid options', async () => {
      f = await openFixture(dialect);
      await expect(f.queue.enqueue('x', {}, { attempts: 0 })).rejects.toThrow(RangeError);
      await expect(f.queue.enqueue('x', {}, { priority: 1.5 })).rejects.toThrow(RangeError);
      await expect(f.queue.enqueue('x', {}, { delayMs: -1 })).rejects.toThrow(RangeError);
      await expect(f.queue.enqueue('x', {}, { backoff: { type: 'linear' as 'fixed', delayMs: 1 } })).rejects.toThrow(RangeError);
      expect(() => f?.queue.process('x', async () => {}, { concurrency: 0 })).toThrow(RangeError);
      expect(await f.queue.counts()).toMatchObject({ waiting: 0 });
    });

    it('close() rejects pending waits, refuses new work and leaves the database handle open', async () => {
      f = await openFixture(dialect);
      const job = await f.queue.enqueue('nobody', {});
      const waiting = f.queue.waitUntilFinished(job.id, 60_000);
      await f.queue.close();
      await expect(waiting).rejects.toThrow(/closed/);
      await expect(f.queue.enqueue('nobody', {})).rejects.toThrow(/closed/);
      expect(() => f?.queue.process('nobody', async () => {}, { concurrency: 1 })).toThrow(/closed/);
      // The caller owns the handle.
      const row = await f.t.db.selectFrom('jobs').select('state').where('id', '=', job.id).executeTakeFirstOrThrow();
      expect(row.state).toBe('waiting');
      expect(await f.queue.get(job.id)).toMatchObject({ state: 'waiting' });
    });

    it('fails a job whose result cannot be stored as JSON, without retrying', async () => {
      f = await openFixture(dialect);
      let runs = 0;
      f.queue.process(
        'bigint',
        async () => {
          runs++;
          return { n: 1n };
        },
        { concurrency: 1 },
      );
      const job = await f.queue.enqueue('bigint', {}, { attempts: 3 });
      const done = await f.queue.waitUntilFinished(job.id, 5000);
      expect(done.state).toBe('failed');
      expect(done.error).toMatch(/not JSON-serialisable/);
      expect(runs).toBe(1);
    });
  });
});

// ---- real processes ---------------------------------------------------------------------------------

interface Child {
  process: ChildProcess;
  lines: string[];
  stderr: string[];
  exited: Promise<number | null>;
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

function startChild(env: Record<string, string>): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', WORKER_CHILD], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const stderr: string[] = [];
  const listeners = new Set<() => void>();
  let buffered = '';
  proc.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    lines.push(...parts);
    for (const l of listeners) l();
  });
  proc.stderr.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return {
    process: proc,
    lines,
    stderr,
    exited,
    waitForLine: (pattern, timeoutMs = 15_000) =>
      new Promise<string>((resolve, reject) => {
        const check = (): void => {
          const hit = lines.find((l) => pattern.test(l));
          if (hit === undefined) return;
          done();
          resolve(hit);
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`child did not print ${String(pattern)} within ${timeoutMs} ms; stdout: ${lines.join(' | ')}; stderr: ${stderr.join('')}`));
        }, timeoutMs);
        const onExit = (): void => {
          done();
          reject(new Error(`child exited before printing ${String(pattern)}; stdout: ${lines.join(' | ')}; stderr: ${stderr.join('')}`));
        };
        const done = (): void => {
          clearTimeout(timer);
          listeners.delete(check);
          proc.off('exit', onExit);
        };
        listeners.add(check);
        proc.on('exit', onExit);
        check();
      }),
  };
}

async function childEnv(t: TestDatabase): Promise<Record<string, string>> {
  if (t.dialect === 'sqlite') return { PORTCULLIS_CHILD_DATA_DIR: path.dirname(t.location) };
  const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(t.db);
  const schema = rows[0]?.schema;
  if (!schema?.startsWith('t_')) throw new Error(`unexpected test schema ${String(schema)}`);
  return { PORTCULLIS_CHILD_PG_URL: TEST_PG_URL, PORTCULLIS_CHILD_PG_SCHEMA: schema };
}

describe.each(TEST_DIALECTS)('DatabaseQueue with real worker processes on %s', (dialect) => {
  let f: Fixture | undefined;
  let child: Child | undefined;
  afterEach(async () => {
    if (child && child.process.exitCode === null && child.process.signalCode === null) {
      child.process.kill('SIGKILL');
      await child.exited;
    }
    child = undefined;
    await f?.cleanup();
    f = undefined;
  });

  it('reruns a job exactly once after its worker process is SIGKILLed mid-job, without duplicating side effects', async () => {
    f = await openFixture(dialect);
    await createStepTables(f.t.db);
    const steps = 10;
    const job = await f.queue.enqueue<StepJobPayload>(STEP_JOB, { steps, stepMs: 100 }, { attempts: 3 });

    child = startChild({ ...(await childEnv(f.t)), PORTCULLIS_CHILD_LEASE_MS: '1000' });
    await child.waitForLine(/^READY$/);
    await child.waitForLine(/^STEP 3$/);
    child.process.kill('SIGKILL');
    await child.exited;
    expect(child.process.signalCode).toBe('SIGKILL');

    const orphan = await f.t.db.selectFrom('jobs').selectAll().where('id', '=', job.id).executeTakeFirstOrThrow();
    expect(orphan).toMatchObject({ state: 'active', attempts_made: 1 });
    expect(orphan.lease_owner).not.toBeNull();
    expect(orphan.lease_owner).not.toBe(f.queue.owner);
    const firstRuns = await stepJobRuns(f.t.db, job.id);
    expect(firstRuns).toEqual([expect.objectContaining({ attempt: 1, pid: child.process.pid })]);

    // "The restarted service": this test process, on the same database.
    const t0 = Date.now();
    f.queue.process(STEP_JOB, stepJobHandler(f.t.db), { concurrency: 1 });
    const done = await f.queue.waitUntilFinished(job.id, 15_000);
    expect(done).toMatchObject({ state: 'completed', attemptsMade: 2, result: { steps }, progress: { step: steps, of: steps } });
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(f.logger.warnings.some((w) => w.includes('worker lost the job 1 time'))).toBe(true);

    // Ran exactly twice: once in the killed child, once here.
    await sleep(300);
    const runs = await stepJobRuns(f.t.db, job.id);
    expect(runs.map((r) => [r.attempt, r.pid])).toEqual([
      [1, child.process.pid],
      [2, process.pid],
    ]);
    // Every step's side effect exists exactly once; the ones the killed run made are still its own,
    // although the second run executed those steps again.
    const rows = await stepRows(f.t.db, job.id);
    expect(rows.map((r) => r.step)).toEqual(Array.from({ length: steps }, (_, i) => i + 1));
    const byFirst = rows.filter((r) => r.run_id === runs[0]?.run_id).length;
    const bySecond = rows.filter((r) => r.run_id === runs[1]?.run_id).length;
    expect(byFirst).toBeGreaterThanOrEqual(3);
    expect(byFirst + bySecond).toBe(steps);
    expect(await stepExecutions(f.t.db, job.id)).toBe(byFirst + steps);
  });

  it.runIf(dialect === 'sqlite')('lets a process exit on its own once its queue is closed (no timer keeps it alive)', async () => {
    f = await openFixture(dialect);
    await createStepTables(f.t.db);
    child = startChild({ ...(await childEnv(f.t)), PORTCULLIS_CHILD_MODE: 'close-and-exit' });
    await child.waitForLine(/^CLOSED completed$/);
    const code = await Promise.race([child.exited, sleep(5000).then(() => 'still running')]);
    expect(code).toBe(0);
  });
});
