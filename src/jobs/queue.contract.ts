import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type JobContext, type JobInfo, type JobQueue, type JobState, UnrecoverableError } from './queue.js';

/**
 * The behaviour every `JobQueue` implementation must show (the embedded database queue now, BullMQ
 * later). An implementation's test file calls `queueContract(name, makeQueue)`; each test gets a fresh,
 * empty queue from `makeQueue`.
 *
 * Timing assumptions: the implementation under test is configured for tests, with a poll interval of
 * at most ~100 ms and a lease (stall detection) of at most ~2 s, so the whole suite runs in seconds.
 */
export interface QueueContractFixture {
  queue: JobQueue;
  /**
   * Another instance on the same backend, as a second process would open it (its own connections and
   * worker identity). Used as "the other worker" and as "the process after a restart". Tests needing it
   * are skipped without it. `maxLostRuns` configures that instance's limit on runs lost with their worker.
   */
  restart?: (options?: { maxLostRuns?: number }) => Promise<JobQueue>;
  /**
   * Kills `queue` the way SIGKILL would: its workers stop at once and nothing is written back, so its
   * running jobs stay active until their lease expires. Crash tests are skipped without it.
   */
  crash?: (queue: JobQueue) => Promise<void>;
  /** Closes everything the fixture opened (including restarted instances) and drops the data. */
  cleanup: () => Promise<void>;
}

export type QueueFactory = () => Promise<QueueContractFixture>;

const WAIT_MS = 10_000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface Latch<T = void> {
  promise: Promise<T>;
  resolve(value: T): void;
  settled: boolean;
}

function latch<T = void>(): Latch<T> {
  let resolve!: (value: T) => void;
  const l: Latch<T> = {
    promise: new Promise<T>((r) => (resolve = r)),
    resolve: (value: T) => {
      l.settled = true;
      resolve(value);
    },
    settled: false,
  };
  return l;
}

/** Resolves when `signal` aborts. */
function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = WAIT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

async function waitForState(queue: JobQueue, id: string, state: JobState): Promise<JobInfo> {
  return waitFor(`job ${id} to become ${state}`, async () => {
    const info = await queue.get(id);
    return info?.state === state ? info : undefined;
  });
}

export function queueContract(name: string, makeQueue: QueueFactory): void {
  describe(`JobQueue contract: ${name}`, () => {
    let f: QueueContractFixture;
    let queue: JobQueue;

    beforeEach(async () => {
      f = await makeQueue();
      queue = f.queue;
    });

    afterEach(async () => {
      await f.cleanup();
    });

    it('enqueues a waiting job with the default options', async () => {
      const job = await queue.enqueue('noop', { n: 1 });
      expect(job).toMatchObject({
        kind: 'noop',
        payload: { n: 1 },
        state: 'waiting',
        attemptsMade: 0,
        maxAttempts: 3,
        cancelRequested: false,
        result: undefined,
        error: undefined,
        finishedAt: undefined,
      });
      expect(typeof job.id).toBe('string');
      expect(Number.isNaN(Date.parse(job.runAt))).toBe(false);
      expect(Number.isNaN(Date.parse(job.createdAt))).toBe(false);
      expect(await queue.get(job.id)).toMatchObject({ id: job.id, state: 'waiting', payload: { n: 1 } });
      expect(await queue.get('00000000-0000-4000-8000-000000000000')).toBeUndefined();
    });

    it('uses a caller-chosen job id, and returns the existing job when that id is enqueued again', async () => {
      const first = await queue.enqueue('noop', { n: 1 }, { jobId: 'scan:42' });
      expect(first.id).toBe('scan:42');
      const again = await queue.enqueue('noop', { n: 2 }, { jobId: 'scan:42' });
      expect(again).toMatchObject({ id: 'scan:42', payload: { n: 1 } });
      expect((await queue.counts()).waiting).toBe(1);
      expect((await queue.cancel('scan:42'))?.state).toBe('cancelled');
    });

    it('runs an enqueued job to completion and keeps its result', async () => {
      const seen: JobContext<{ a: number; b: number }>[] = [];
      queue.process<{ a: number; b: number }, { sum: number }>(
        'add',
        async (ctx) => {
          seen.push(ctx);
          return { sum: ctx.payload.a + ctx.payload.b };
        },
        { concurrency: 1 },
      );
      const job = await queue.enqueue('add', { a: 2, b: 3 });
      const done = await queue.waitUntilFinished(job.id, WAIT_MS);
      expect(done).toMatchObject({ id: job.id, state: 'completed', result: { sum: 5 }, attemptsMade: 1, error: undefined });
      expect(done.finishedAt).toBeDefined();
      expect(await queue.get(job.id)).toMatchObject({ state: 'completed', result: { sum: 5 } });
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatchObject({ id: job.id, kind: 'add', payload: { a: 2, b: 3 }, attempt: 1, maxAttempts: 3 });
      expect(seen[0]?.signal.aborted).toBe(false);
    });

    it('never runs more jobs of a kind at once than the concurrency', async () => {
      let active = 0;
      let peak = 0;
      queue.process(
        'slow',
        async () => {
          active++;
          peak = Math.max(peak, active);
          await sleep(80);
          active--;
        },
        { concurrency: 3 },
      );
      const jobs = await Promise.all(Array.from({ length: 9 }, (_, i) => queue.enqueue('slow', { i })));
      for (const job of jobs) expect((await queue.waitUntilFinished(job.id, WAIT_MS)).state).toBe('completed');
      expect(peak).toBe(3);
    });

    it('makes progress visible through get() while the job runs', async () => {
      const release = latch();
      const reported = latch();
      queue.process(
        'progress',
        async (ctx) => {
          await ctx.updateProgress({ done: 1, total: 4 });
          await ctx.updateProgress({ done: 2, total: 4 });
          reported.resolve();
          await release.promise;
          return 'ok';
        },
        { concurrency: 1 },
      );
      const job = await queue.enqueue('progress', {});
      await reported.promise;
      const running = await queue.get(job.id);
      expect(running).toMatchObject({ state: 'active', progress: { done: 2, total: 4 } });
      release.resolve();
      expect(await queue.waitUntilFinished(job.id, WAIT_MS)).toMatchObject({ state: 'completed', progress: { done: 2, total: 4 } });
    });

    it('retries a failing job with backoff and completes it on the third attempt', async () => {
      const startedAt: number[] = [];
      const errorSeenOnRetry: (string | undefined)[] = [];
      queue.process(
        'flaky',
        async (ctx) => {
          startedAt.push(Date.now());
          if (ctx.attempt > 1) errorSeenOnRetry.push((await queue.get(ctx.id))?.error);
          if (ctx.attempt < 3) throw new Error(`glitch ${ctx.attempt}`);
          return `ok on ${ctx.attempt}`;
        },
        { concurrency: 1 },
      );
      const job = await queue.enqueue('flaky', {}, { attempts: 3, backoff: { type: 'exponential', delayMs: 150 } });
      const done = await queue.waitUntilFinished(job.id, WAIT_MS);
      expect(done).toMatchObject({ state: 'completed', result: 'ok on 3', attemptsMade: 3 });
      expect(startedAt).toHaveLength(3);
      // Exponential: 150 ms before attempt 2, 300 ms before attempt 3 (timers may fire a few ms early
      // relative to our clock reads, never much).
      const [t1 = 0, t2 = 0, t3 = 0] = startedAt;
      expect(t2 - t1).toBeGreaterThanOrEqual(140);
      expect(t3 - t2).toBeGreaterThanOrEqual(290);
      expect(t2 - t1).toBeLessThan(150 + 2000);
      expect(t3 - t2).toBeLessThan(300 + 2000);
      // The last failure is kept while retries are pending.
      expect(errorSeenOnRetry).toEqual(['glitch 1', 'glitch 2']);
    });

    it('fails a job with the last error once its attempts are used up', async () => {
      let runs = 0;
      queue.process(
        'doomed',
        async (ctx) => {
          runs++;
          throw new Error(`boom ${ctx.attempt}/${ctx.maxAttempts}`);
        },
        { concurrency: 1 },
      );
      const job = await queue.enqueue('doomed', {}, { attempts: 2, backoff: { type: 'fixed', delayMs: 20 } });
      const done = await queue.waitUntilFinished(job.id, WAIT_MS);
      expect(done).toMatchObject({ state: 'failed', error: 'boom 2/2', attemptsMade: 2, result: undefined });
      expect(done.finishedAt).toBeDefined();
      expect(runs).toBe(2);
    });

    it('fails at once, without retries, on UnrecoverableError', async () => {
      let runs = 0;
      queue.process(
        'bad-input',
        async () => {
          runs++;
          throw new UnrecoverableError('payload makes no sense');
        },
        { concurrency: 1 },
      );
      const job = await queue.enqueue('bad-input', {}, { attempts: 5, backoff: { type: 'fixed', delayMs: 10 } });
      const done = await queue.waitUntilFinished(job.id, WAIT_MS);
      expect(done).toMatchObject({ state: 'failed', error: 'payload makes no sense', attemptsMade: 1, maxAttempts: 5 });
      await sleep(100);
      expect(runs).toBe(1);
    });

    it('does not start a delayed job before its delay', async () => {
      let startedAt = 0;
      queue.process(
        'later',
        async () => {
          startedAt = Date.now();
        },
        { concurrency: 1 },
      );
      const before = Date.now();
      const job = await queue.enqueue('later', {}, { delayMs: 400 });
      expect(Date.parse(job.runAt)).toBeGreaterThanOrEqual(before + 400);
      await sleep(200);
      expect((await queue.get(job.id))?.state).toBe('waiting');
      expect(startedAt).toBe(0);
      expect((await queue.waitUntilFinished(job.id, WAIT_MS)).state).toBe('completed');
      expect(startedAt - before).toBeGreaterThanOrEqual(400);
      expect(startedAt - before).toBeLessThan(400 + 2000);
    });

    it('runs due jobs by priority, then in order of enqueueing', async () => {
      const low1 = await queue.enqueue('ordered', 'low1');
      await sleep(5);
      const high = await queue.enqueue('ordered', 'high', { priority: 10 });
      await sleep(5);
      const low2 = await queue.enqueue('ordered', 'low2');
      await sleep(5);
      const mid = await queue.enqueue('ordered', 'mid', { priority: 5 });
      const order: string[] = [];
      queue.process<string, void>(
        'ordered',
        async (ctx) => {
          order.push(ctx.payload);
        },
        { concurrency: 1 },
      );
      for (const job of [low1, high, low2, mid]) await queue.waitUntilFinished(job.id, WAIT_MS);
      expect(order).toEqual(['high', 'mid', 'low1', 'low2']);
    });

    it('deduplicates by key while the job is unfinished and frees the key afterwards', async () => {
      const first = await queue.enqueue('dedupe', { v: 1 }, { dedupeKey: 'scan:42' });
      const again = await queue.enqueue('dedupe', { v: 2 }, { dedupeKey: 'scan:42' });
      expect(again.id).toBe(first.id);
      expect(again.payload).toEqual({ v: 1 });
      const otherKey = await queue.enqueue('dedupe', { v: 3 }, { dedupeKey: 'scan:43', delayMs: 60_000 });
      expect(otherKey.id).not.toBe(first.id);

      const release = latch();
      const started = latch();
      queue.process(
        'dedupe',
        async () => {
          started.resolve();
          await release.promise;
        },
        { concurrency: 1 },
      );
      await started.promise;
      expect((await queue.get(first.id))?.state).toBe('active');
      const whileActive = await queue.enqueue('dedupe', { v: 4 }, { dedupeKey: 'scan:42' });
      expect(whileActive.id).toBe(first.id);
      release.resolve();
      expect((await queue.waitUntilFinished(first.id, WAIT_MS)).state).toBe('completed');

      const fresh = await queue.enqueue('dedupe', { v: 5 }, { dedupeKey: 'scan:42' });
      expect(fresh.id).not.toBe(first.id);
      expect(fresh).toMatchObject({ state: 'waiting', payload: { v: 5 } });
      expect((await queue.waitUntilFinished(fresh.id, WAIT_MS)).state).toBe('completed');
    });

    it('frees a dedupe key when its job is cancelled or fails', async () => {
      const waiting = await queue.enqueue('dedupe-end', {}, { dedupeKey: 'k1', delayMs: 60_000 });
      await queue.cancel(waiting.id);
      const afterCancel = await queue.enqueue('dedupe-end', {}, { dedupeKey: 'k1', delayMs: 60_000 });
      expect(afterCancel.id).not.toBe(waiting.id);

      queue.process(
        'dedupe-fail',
        async () => {
          throw new UnrecoverableError('no');
        },
        { concurrency: 1 },
      );
      const failing = await queue.enqueue('dedupe-fail', {}, { dedupeKey: 'k2' });
      expect((await queue.waitUntilFinished(failing.id, WAIT_MS)).state).toBe('failed');
      const afterFail = await queue.enqueue('dedupe-fail', {}, { dedupeKey: 'k2' });
      expect(afterFail.id).not.toBe(failing.id);
      await queue.waitUntilFinished(afterFail.id, WAIT_MS);
    });

    it('cancels a waiting job at once; it never runs', async () => {
      let runs = 0;
      const job = await queue.enqueue('never', {}, { delayMs: 150 });
      const cancelled = await queue.cancel(job.id);
      expect(cancelled).toMatchObject({ id: job.id, state: 'cancelled' });
      expect(cancelled?.finishedAt).toBeDefined();
      queue.process(
        'never',
        async () => {
          runs++;
        },
        { concurrency: 1 },
      );
      expect((await queue.waitUntilFinished(job.id, WAIT_MS)).state).toBe('cancelled');
      await sleep(400);
      expect(runs).toBe(0);
      expect((await queue.get(job.id))?.state).toBe('cancelled');
      expect(await queue.cancel('00000000-0000-4000-8000-000000000000')).toBeUndefined();
    });

    it('leaves finished jobs alone when asked to cancel them', async () => {
      queue.process('quick', async () => 'done', { concurrency: 1 });
      const job = await queue.enqueue('quick', {});
      await queue.waitUntilFinished(job.id, WAIT_MS);
      expect(await queue.cancel(job.id)).toMatchObject({ state: 'completed', result: 'done' });
      expect((await queue.get(job.id))?.state).toBe('completed');
    });

    it('aborts the signal of an active job on cancel; the job ends cancelled whatever the handler returns', async () => {
      const started = latch<AbortSignal>();
      queue.process(
        'cancellable',
        async (ctx) => {
          started.resolve(ctx.signal);
          await aborted(ctx.signal);
          return 'finished anyway';
        },
        { concurrency: 1 },
      );
      const job = await queue.enqueue('cancellable', {});
      const signal = await started.promise;
      const requested = await queue.cancel(job.id);
      expect(requested).toMatchObject({ state: 'active', cancelRequested: true });
      const done = await queue.waitUntilFinished(job.id, WAIT_MS);
      expect(signal.aborted).toBe(true);
      expect(done).toMatchObject({ state: 'cancelled', cancelRequested: true, attemptsMade: 1 });
      expect(done.result).toBeUndefined();
    });

    it('cancels an active job from another instance', async (ctx) => {
      if (!f.restart) return ctx.skip();
      const other = await f.restart();
      const started = latch<AbortSignal>();
      queue.process(
        'cancellable-elsewhere',
        async (job) => {
          started.resolve(job.signal);
          await aborted(job.signal);
          throw new Error('stopped');
        },
        { concurrency: 1 },
      );
      const job = await queue.enqueue('cancellable-elsewhere', {});
      const signal = await started.promise;
      await other.cancel(job.id);
      expect((await other.waitUntilFinished(job.id, WAIT_MS)).state).toBe('cancelled');
      expect(signal.aborted).toBe(true);
    });

    it('rejects waitUntilFinished after the timeout, and for unknown ids', async () => {
      const job = await queue.enqueue('nobody-processes-this', {});
      const t0 = Date.now();
      await expect(queue.waitUntilFinished(job.id, 200)).rejects.toThrow();
      const waited = Date.now() - t0;
      expect(waited).toBeGreaterThanOrEqual(190);
      expect(waited).toBeLessThan(2000);
      await expect(queue.waitUntilFinished('00000000-0000-4000-8000-000000000000', 200)).rejects.toThrow();
    });

    it('counts jobs by state', async () => {
      expect(await queue.counts()).toEqual({ waiting: 0, active: 0, completed: 0, failed: 0, cancelled: 0 });
      const release = latch();
      const activeStarted = latch();
      const cancelled = await queue.enqueue('count', 'cancel');
      await queue.cancel(cancelled.id);
      await queue.enqueue('count', 'later', { delayMs: 60_000 });
      queue.process<string, void>(
        'count',
        async (ctx) => {
          if (ctx.payload === 'fail') throw new UnrecoverableError('no');
          if (ctx.payload === 'hold') {
            activeStarted.resolve();
            await release.promise;
          }
        },
        { concurrency: 2 },
      );
      const completed = await queue.enqueue('count', 'complete');
      const failed = await queue.enqueue('count', 'fail');
      const held = await queue.enqueue('count', 'hold');
      await queue.waitUntilFinished(completed.id, WAIT_MS);
      await queue.waitUntilFinished(failed.id, WAIT_MS);
      await activeStarted.promise;
      expect(await queue.counts()).toEqual({ waiting: 1, active: 1, completed: 1, failed: 1, cancelled: 1 });
      release.resolve();
      await queue.waitUntilFinished(held.id, WAIT_MS);
      expect(await queue.counts()).toEqual({ waiting: 1, active: 0, completed: 2, failed: 1, cancelled: 1 });
    });

    it('lets a closing worker finish a job within the grace period', async () => {
      const started = latch();
      const worker = queue.process(
        'short',
        async () => {
          started.resolve();
          await sleep(150);
          return 'made it';
        },
        { concurrency: 1 },
      );
      const job = await queue.enqueue('short', {});
      await started.promise;
      const t0 = Date.now();
      await worker.close({ graceMs: 5000 });
      expect(Date.now() - t0).toBeLessThan(3000);
      expect(await queue.get(job.id)).toMatchObject({ state: 'completed', result: 'made it', attemptsMade: 1 });
    });

    it('hands a job still running after the grace period back, without using an attempt; another worker completes it', async () => {
      const started = latch<AbortSignal>();
      const first = queue.process(
        'handback',
        async (ctx) => {
          started.resolve(ctx.signal);
          await aborted(ctx.signal);
          throw new Error('interrupted');
        },
        { concurrency: 1 },
      );
      const job = await queue.enqueue('handback', {}, { attempts: 1 });
      const signal = await started.promise;
      const t0 = Date.now();
      await first.close({ graceMs: 150 });
      expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
      expect(signal.aborted).toBe(true);
      // attempts: 1, yet the job is not failed: the hand-back gave the attempt back.
      expect(await queue.get(job.id)).toMatchObject({ state: 'waiting', attemptsMade: 0 });

      const attempts: number[] = [];
      queue.process(
        'handback',
        async (ctx) => {
          attempts.push(ctx.attempt);
          return 'second worker';
        },
        { concurrency: 1 },
      );
      expect(await queue.waitUntilFinished(job.id, WAIT_MS)).toMatchObject({ state: 'completed', result: 'second worker', attemptsMade: 1 });
      expect(attempts).toEqual([1]);
    });

    it('close() hands running jobs back and stops the workers', async () => {
      // Looked at from another instance when there is one: a closed queue may refuse calls.
      const observer = f.restart ? await f.restart() : queue;
      const started = latch();
      let runs = 0;
      queue.process(
        'on-close',
        async (ctx) => {
          runs++;
          started.resolve();
          await aborted(ctx.signal);
        },
        { concurrency: 1 },
      );
      const job = await queue.enqueue('on-close', {});
      await started.promise;
      await queue.close();
      expect(await waitForState(observer, job.id, 'waiting')).toMatchObject({ attemptsMade: 0 });
      await sleep(200);
      expect(runs).toBe(1);
      expect((await observer.get(job.id))?.state).toBe('waiting');
    });

    it('never runs a job twice when two instances share the backend (50 jobs)', async (ctx) => {
      if (!f.restart) return ctx.skip();
      const other = await f.restart();
      const runs = new Map<string, number>();
      const byInstance = [0, 0];
      const handler = (instance: number) => async (job: JobContext) => {
        runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
        byInstance[instance] = (byInstance[instance] ?? 0) + 1;
        await sleep(5 + Math.floor(Math.random() * 15));
        return instance;
      };
      queue.process('shared', handler(0), { concurrency: 4 });
      other.process('shared', handler(1), { concurrency: 4 });
      const jobs = await Promise.all(Array.from({ length: 50 }, (_, i) => queue.enqueue('shared', { i })));
      for (const job of jobs) {
        expect(await queue.waitUntilFinished(job.id, WAIT_MS)).toMatchObject({ state: 'completed', attemptsMade: 1 });
      }
      await sleep(200);
      expect(runs.size).toBe(50);
      expect([...runs.values()].every((n) => n === 1)).toBe(true);
      expect((byInstance[0] ?? 0) + (byInstance[1] ?? 0)).toBe(50);
    });

    it('runs a job whose worker died again, exactly once more, after a restart', async (ctx) => {
      if (!f.restart || !f.crash) return ctx.skip();
      const runs: number[] = [];
      const started = latch();
      queue.process(
        'survivor',
        async (job) => {
          runs.push(job.attempt);
          started.resolve();
          await aborted(job.signal); // the "process" dies here
          return 'first worker';
        },
        { concurrency: 1 },
      );
      const job = await queue.enqueue('survivor', { important: true }, { attempts: 3 });
      await started.promise;
      await f.crash(queue);
      expect((await f.restart().then((q) => q.get(job.id)))?.state).toBe('active');

      const restarted = await f.restart();
      restarted.process(
        'survivor',
        async (job2) => {
          runs.push(job2.attempt);
          return 'after restart';
        },
        { concurrency: 1 },
      );
      const done = await restarted.waitUntilFinished(job.id, WAIT_MS);
      // The lost run counts as an attempt: the job was claimed twice.
      expect(done).toMatchObject({ state: 'completed', result: 'after restart', attemptsMade: 2, payload: { important: true } });
      await sleep(500);
      expect(runs).toEqual([1, 2]);
      expect((await restarted.get(job.id))?.state).toBe('completed');
    });

    it('runs a job whose worker died on its last attempt again: a lost run uses up no attempt, a failure still does', async (ctx) => {
      if (!f.restart || !f.crash) return ctx.skip();
      const runs: Array<[number, number]> = [];
      const started = latch();
      queue.process(
        'fragile',
        async (job) => {
          runs.push([job.attempt, job.maxAttempts]);
          started.resolve();
          await aborted(job.signal);
        },
        { concurrency: 1 },
      );
      const job = await queue.enqueue('fragile', {}, { attempts: 1 });
      await started.promise;
      await f.crash(queue);
      const restarted = await f.restart();
      restarted.process(
        'fragile',
        async (job2) => {
          runs.push([job2.attempt, job2.maxAttempts]);
          throw new Error('a real failure');
        },
        { concurrency: 1 },
      );
      const done = await restarted.waitUntilFinished(job.id, WAIT_MS);
      expect(done).toMatchObject({ state: 'failed', attemptsMade: 2, maxAttempts: 2, error: 'a real failure' });
      // The second run is the last: the lost one gave its attempt back, the failure used it.
      expect(runs).toEqual([
        [1, 1],
        [2, 2],
      ]);
    });

    it('fails a job lost with its worker more than maxLostRuns times, without running it again', async (ctx) => {
      if (!f.restart || !f.crash) return ctx.skip();
      let runs = 0;
      const killsItsWorker = (started: Latch) => async (job: JobContext) => {
        runs++;
        started.resolve();
        await aborted(job.signal);
      };
      const job = await queue.enqueue('poison', {}, { attempts: 3 });
      let current = queue;
      // Lost once (allowed), then again (one more than allowed).
      for (let loss = 1; loss <= 2; loss++) {
        const started = latch();
        current.process('poison', killsItsWorker(started), { concurrency: 1 });
        await started.promise;
        await f.crash(current);
        current = await f.restart({ maxLostRuns: 1 });
      }
      current.process('poison', async () => void runs++, { concurrency: 1 });
      const done = await current.waitUntilFinished(job.id, WAIT_MS);
      expect(done).toMatchObject({ state: 'failed', error: 'worker lost the job 2 times' });
      await sleep(300);
      expect(runs).toBe(2);
    });

    it('produces one job per period from a scheduler that two instances keep, and removes each once completed', async (ctx) => {
      if (!f.restart) return ctx.skip();
      const other = await f.restart();
      const everyMs = 400;
      const runs: Array<{ at: number; payload: unknown }> = [];
      const tick = async (job: JobContext) => void runs.push({ at: Date.now(), payload: job.payload });
      queue.process('tick', tick, { concurrency: 2 });
      other.process('tick', tick, { concurrency: 2 });
      const started = Date.now();
      // Every process registers the schedulers it knows at start: that must not add periods.
      await Promise.all([queue.upsertScheduler('ticker', 'tick', { n: 1 }, { everyMs }), other.upsertScheduler('ticker', 'tick', { n: 1 }, { everyMs })]);
      await queue.upsertScheduler('ticker', 'tick', { n: 1 }, { everyMs });
      await waitFor('four scheduled runs', async () => runs.length >= 4);
      await sleep(everyMs);
      const elapsed = Date.now() - started;
      expect(runs.length).toBeLessThanOrEqual(Math.floor(elapsed / everyMs) + 2);
      expect(runs.every((r) => JSON.stringify(r.payload) === '{"n":1}')).toBe(true);
      await sleep(100);
      expect((await queue.counts()).completed).toBe(0);
    });

    it('stops producing jobs once its scheduler is removed', async () => {
      const everyMs = 200;
      let runs = 0;
      queue.process('tick', async () => void runs++, { concurrency: 1 });
      await queue.upsertScheduler('ticker', 'tick', {}, { everyMs });
      await waitFor('a scheduled run', async () => runs >= 1);
      expect(await queue.removeScheduler('ticker')).toBe(true);
      await sleep(everyMs);
      const afterRemoval = runs;
      await sleep(3 * everyMs);
      expect(runs).toBe(afterRemoval);
      expect(await queue.removeScheduler('ticker')).toBe(false);
    });

    it('produces one job, not one per missed period, when no worker ran for several periods', async () => {
      const everyMs = 600;
      await queue.upsertScheduler('ticker', 'tick', {}, { everyMs });
      await sleep(3.5 * everyMs);
      let runs = 0;
      queue.process('tick', async () => void runs++, { concurrency: 4 });
      await waitFor('the scheduled run', async () => runs >= 1);
      await sleep(everyMs / 4);
      expect(runs).toBe(1);
    });
  });
}
