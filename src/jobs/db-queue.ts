import { randomUUID } from 'node:crypto';
import type { Selectable, Updateable } from 'kysely';
import type { DatabaseHandle, JobsTable } from '../store/index.js';
import {
  type BackoffOptions,
  DEFAULT_ATTEMPTS,
  DEFAULT_BACKOFF,
  DEFAULT_MAX_LOST_RUNS,
  type EnqueueOptions,
  type JobContext,
  type JobHandler,
  type JobInfo,
  type JobQueue,
  type JobState,
  type ProcessOptions,
  type SchedulerOptions,
  type Worker,
  backoffDelay,
} from './queue.js';
import {
  type QueueLogger,
  FINISHED_STATES,
  MAX_TIMER_MS,
  abortError,
  checkBackoff,
  checkDuration,
  checkInteger,
  defaultQueueLogger,
  errorMessage,
  isUnrecoverable,
  iso,
} from './queue-support.js';

export type { QueueLogger } from './queue-support.js';

/**
 * The embedded, durable job queue: the `jobs` table of the service's own database (SQLite or
 * PostgreSQL), shared safely by any number of processes.
 *
 * - **Claiming** is one atomic statement: `UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED)` on
 *   PostgreSQL, `UPDATE … WHERE id = (SELECT …) AND state = 'waiting'` on SQLite (one statement is
 *   atomic there; other processes wait on the file lock through busy_timeout). A claim makes the job
 *   active, counts the attempt and gives this instance a lease of `leaseMs`.
 * - **Leases** are renewed every `leaseMs / 3` by a heartbeat that also reads `cancel_requested`. Every
 *   state change a worker makes is guarded by `lease_owner = <this instance>`, so a job taken over by
 *   someone else is never finished twice.
 * - **Crash recovery:** a job whose lease ran out (its process died) goes back to waiting, checked at
 *   worker start and on every poll. `attempts_made` counts every claim and `lost_count` the runs lost
 *   so: a lost run is not a failure and uses up no attempt (failures are `attempts_made - lost_count`),
 *   but a job lost more than `maxLostRuns` times fails with "worker lost the job N times", so one that
 *   kills its worker every time does not loop forever.
 * - **Delivery is at-least-once**; handlers must be idempotent.
 * - Lease times come from each host's clock: hosts sharing a database need roughly synchronised clocks
 *   (skew well under `leaseMs`).
 * - `dedupeKey` is unique across every queue name sharing the table (the column is UNIQUE); it is
 *   cleared when its job finishes, so the key can be used again.
 */

export interface DatabaseQueueOptions {
  handle: DatabaseHandle;
  /** Several logical queues can share the table; default `default`. */
  queueName?: string;
  /** How long a claimed job stays ours without a heartbeat; default 30 000 ms. */
  leaseMs?: number;
  /** How often idle workers look for due jobs (enqueues in this process wake them at once); default 500 ms. */
  pollMs?: number;
  /** A job whose lease expired more often than this fails instead of running again; default DEFAULT_MAX_LOST_RUNS. */
  maxLostRuns?: number;
  logger?: QueueLogger;
}

type JobRow = Selectable<JobsTable>;

interface RunningJob {
  id: string;
  kind: string;
  controller: AbortController;
  /** The handler has settled; its outcome is being written. */
  finishing: boolean;
  /** No longer ours (handed back, lease lost, crash): the handler's outcome is discarded. */
  released: boolean;
  /** Settles once the job is fully dealt with by this instance. */
  done: Promise<void>;
}

interface WorkerState {
  kind: string;
  concurrency: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- payload/result types are the caller's
  handler: JobHandler<any, any>;
  running: Map<string, RunningJob>;
  closing: boolean;
  woken: boolean;
  sleeper: (() => void) | undefined;
  beating: boolean;
  heartbeat: NodeJS.Timeout;
  loop: Promise<void>;
  closed: Promise<void> | undefined;
}

interface Waiter {
  fail(err: Error): void;
}

const ALL_STATES: readonly JobState[] = ['waiting', 'active', 'completed', 'failed', 'cancelled'];




function parseJson(text: string | null): unknown {
  return text === null ? undefined : JSON.parse(text);
}

/** Runs the job may have now: its attempts, plus one for each run lost with its worker. */
function runsAllowed(row: Pick<JobRow, 'max_attempts' | 'lost_count'>): number {
  return Number(row.max_attempts) + Number(row.lost_count);
}

function toJobInfo<P = unknown, R = unknown>(row: JobRow): JobInfo<P, R> {
  return {
    id: row.id,
    kind: row.kind,
    payload: JSON.parse(row.payload) as P,
    state: row.state as JobState,
    attemptsMade: Number(row.attempts_made),
    maxAttempts: runsAllowed(row),
    progress: parseJson(row.progress),
    result: parseJson(row.result) as R | undefined,
    error: row.error ?? undefined,
    cancelRequested: Number(row.cancel_requested) !== 0,
    runAt: row.run_at,
    createdAt: row.created_at,
    finishedAt: row.finished_at ?? undefined,
  };
}




type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

export class DatabaseQueue implements JobQueue {
  readonly queueName: string;
  readonly leaseMs: number;
  readonly pollMs: number;
  readonly maxLostRuns: number;
  /** Names this instance's leases in `jobs.lease_owner`. */
  readonly owner: string = randomUUID();

  readonly #handle: DatabaseHandle;
  readonly #logger: QueueLogger;
  readonly #workers = new Set<WorkerState>();
  readonly #wakeTimers = new Set<NodeJS.Timeout>();
  readonly #finishListeners = new Map<string, Set<() => void>>();
  readonly #waiters = new Set<Waiter>();
  #closed = false;
  #closing: Promise<void> | undefined;
  #crashed = false;
  #lastMaintenance = 0;
  #maintenance: Promise<void> | undefined;

  constructor(options: DatabaseQueueOptions) {
    this.#handle = options.handle;
    this.queueName = options.queueName ?? 'default';
    this.leaseMs = options.leaseMs ?? 30_000;
    this.pollMs = options.pollMs ?? 500;
    this.maxLostRuns = options.maxLostRuns ?? DEFAULT_MAX_LOST_RUNS;
    this.#logger = options.logger ?? defaultQueueLogger;
    checkDuration('leaseMs', this.leaseMs, 30);
    checkDuration('pollMs', this.pollMs, 1);
    checkInteger('maxLostRuns', this.maxLostRuns, 0);
  }

  get #db() {
    return this.#handle.db;
  }

  async enqueue<P>(kind: string, payload: P, options: EnqueueOptions = {}): Promise<JobInfo<P>> {
    this.#assertOpen();
    const delayMs = options.delayMs ?? 0;
    checkDuration('delayMs', delayMs, 0);
    checkInteger('attempts', options.attempts ?? DEFAULT_ATTEMPTS, 1);
    checkInteger('priority', options.priority ?? 0, -(2 ** 31));
    checkBackoff(options.backoff ?? DEFAULT_BACKOFF);
    if (kind === '') throw new RangeError('job kind must not be empty');
    if (options.jobId !== undefined && options.jobId === '') throw new RangeError('jobId must not be empty');
    const row = this.#newRow(options.jobId ?? randomUUID(), kind, JSON.stringify(payload) ?? 'null', Date.now(), options);

    if (options.dedupeKey === undefined) {
      // A caller-chosen id that exists already returns that job, as BullMQ does.
      const inserted = await this.#db
        .insertInto('jobs')
        .values(row)
        .onConflict((oc) => oc.column('id').doNothing())
        .returningAll()
        .executeTakeFirst();
      if (inserted === undefined) return toJobInfo<P>(await this.#db.selectFrom('jobs').selectAll().where('id', '=', row.id).executeTakeFirstOrThrow());
      this.#wakeAt(kind, delayMs);
      return toJobInfo<P>(inserted);
    }
    const key = options.dedupeKey;
    // Insert unless an unfinished job holds the key; return that one. If it finishes (and frees the
    // key) between our insert and our read, insert again.
    for (let round = 0; round < 5; round++) {
      const inserted = await this.#db
        .insertInto('jobs')
        .values(row)
        .onConflict((oc) => oc.column('dedupe_key').doNothing())
        .returningAll()
        .executeTakeFirst();
      if (inserted) {
        this.#wakeAt(kind, delayMs);
        return toJobInfo<P>(inserted);
      }
      const existing = await this.#db.selectFrom('jobs').selectAll().where('dedupe_key', '=', key).executeTakeFirst();
      if (existing) {
        if (existing.queue !== this.queueName) {
          throw new Error(`dedupe key ${JSON.stringify(key)} is held by unfinished job ${existing.id} of queue ${existing.queue}`);
        }
        return toJobInfo<P>(existing);
      }
    }
    throw new Error(`could not enqueue a ${kind} job with dedupe key ${JSON.stringify(key)}: the key kept changing hands`);
  }

  /** A waiting job's row; `options` are checked by the caller. */
  #newRow(id: string, kind: string, payloadJson: string, nowMs: number, options: EnqueueOptions) {
    const backoff = options.backoff ?? DEFAULT_BACKOFF;
    return {
      id,
      queue: this.queueName,
      kind,
      payload: payloadJson,
      state: 'waiting',
      priority: options.priority ?? 0,
      attempts_made: 0,
      max_attempts: options.attempts ?? DEFAULT_ATTEMPTS,
      backoff: JSON.stringify({ type: backoff.type, delayMs: backoff.delayMs }),
      run_at: iso(nowMs + (options.delayMs ?? 0)),
      lease_owner: null,
      lease_until: null,
      progress: null,
      result: null,
      error: null,
      dedupe_key: options.dedupeKey ?? null,
      created_at: iso(nowMs),
      updated_at: iso(nowMs),
      finished_at: null,
    };
  }

  async upsertScheduler<P>(name: string, kind: string, payload: P, options: SchedulerOptions): Promise<void> {
    this.#assertOpen();
    if (name === '' || kind === '') throw new RangeError('scheduler name and job kind must not be empty');
    checkDuration('everyMs', options.everyMs, 1);
    const now = iso(Date.now());
    const values = { kind, payload: JSON.stringify(payload) ?? 'null', every_ms: options.everyMs, updated_at: now };
    // An existing scheduler keeps its next period: restarting processes must not fire it again early.
    await this.#db
      .insertInto('job_schedulers')
      .values({ queue: this.queueName, name, ...values, next_run_at: now })
      .onConflict((oc) => oc.columns(['queue', 'name']).doUpdateSet(values))
      .execute();
    this.#wakeAt(kind, 0);
  }

  async removeScheduler(name: string): Promise<boolean> {
    const removed = await this.#db.deleteFrom('job_schedulers').where('queue', '=', this.queueName).where('name', '=', name).executeTakeFirst();
    return Number(removed.numDeletedRows) > 0;
  }

  process<P, R>(kind: string, handler: JobHandler<P, R>, options: ProcessOptions): Worker {
    this.#assertOpen();
    checkInteger('concurrency', options.concurrency, 1, 10_000);
    const w: WorkerState = {
      kind,
      concurrency: options.concurrency,
      handler,
      running: new Map(),
      closing: false,
      woken: false,
      sleeper: undefined,
      beating: false,
      heartbeat: setInterval(() => void this.#heartbeat(w), Math.max(10, Math.floor(this.leaseMs / 3))),
      loop: Promise.resolve(),
      closed: undefined,
    };
    // Leases are renewed only while jobs run; an idle worker is kept alive by its poll timer.
    w.heartbeat.unref();
    this.#workers.add(w);
    w.loop = this.#loop(w);
    return { close: async (closeOptions) => this.#closeWorker(w, closeOptions?.graceMs ?? 0) };
  }

  async get(id: string): Promise<JobInfo | undefined> {
    const row = await this.#row(id);
    return row ? toJobInfo(row) : undefined;
  }

  async cancel(id: string): Promise<JobInfo | undefined> {
    // The state may change under us (claimed, finished); re-read and try again.
    for (let round = 0; round < 5; round++) {
      const row = await this.#row(id);
      if (!row) return undefined;
      const now = iso(Date.now());
      if (row.state === 'waiting') {
        const cancelled = await this.#db
          .updateTable('jobs')
          .set({ state: 'cancelled', cancel_requested: 1, finished_at: now, updated_at: now, dedupe_key: null })
          .where('id', '=', id)
          .where('state', '=', 'waiting')
          .returningAll()
          .executeTakeFirst();
        if (!cancelled) continue;
        this.#emitFinished(id);
        return toJobInfo(cancelled);
      }
      if (row.state === 'active') {
        const requested = await this.#db
          .updateTable('jobs')
          .set({ cancel_requested: 1, updated_at: now })
          .where('id', '=', id)
          .where('state', '=', 'active')
          .returningAll()
          .executeTakeFirst();
        if (!requested) continue;
        // Ours: abort at once. Elsewhere: that worker's heartbeat or poll reads the flag.
        if (requested.lease_owner === this.owner) {
          for (const w of this.#workers) {
            const job = w.running.get(id);
            if (job) this.#abortCancelled(job);
          }
        }
        return toJobInfo(requested);
      }
      return toJobInfo(row);
    }
    throw new Error(`could not cancel job ${id}: its state kept changing`);
  }

  async waitUntilFinished(id: string, timeoutMs: number): Promise<JobInfo> {
    checkDuration('timeoutMs', timeoutMs, 0);
    const first = await this.get(id);
    if (!first) throw new Error(`job ${id} does not exist in queue ${this.queueName}`);
    if (FINISHED_STATES.has(first.state)) return first;
    this.#assertOpen();
    return new Promise<JobInfo>((resolve, reject) => {
      let lastState: JobState = first.state;
      let settled = false;
      let checking = false;
      const settle = (): void => {
        settled = true;
        clearTimeout(deadline);
        clearInterval(poll);
        this.#waiters.delete(waiter);
        const listeners = this.#finishListeners.get(id);
        listeners?.delete(check);
        if (listeners?.size === 0) this.#finishListeners.delete(id);
      };
      const waiter: Waiter = {
        fail: (err) => {
          if (settled) return;
          settle();
          reject(err);
        },
      };
      const check = (): void => {
        if (settled || checking) return;
        checking = true;
        this.get(id).then(
          (info) => {
            checking = false;
            if (settled) return;
            if (!info) return waiter.fail(new Error(`job ${id} disappeared from queue ${this.queueName}`));
            lastState = info.state;
            if (FINISHED_STATES.has(info.state)) {
              settle();
              resolve(info);
            }
          },
          (err: unknown) => {
            checking = false;
            waiter.fail(err instanceof Error ? err : new Error(String(err)));
          },
        );
      };
      // Referenced timers: whoever awaits this is doing real work and the process must stay up for it.
      const deadline = setTimeout(
        () => waiter.fail(new Error(`timed out after ${timeoutMs} ms waiting for job ${id} to finish (it is ${lastState})`)),
        Math.min(timeoutMs, MAX_TIMER_MS),
      );
      const poll = setInterval(check, this.pollMs);
      this.#waiters.add(waiter);
      let listeners = this.#finishListeners.get(id);
      if (!listeners) this.#finishListeners.set(id, (listeners = new Set()));
      listeners.add(check);
    });
  }

  async counts(): Promise<Record<JobState, number>> {
    const rows = await this.#db
      .selectFrom('jobs')
      .select((eb) => ['state', eb.fn.countAll().as('n')])
      .where('queue', '=', this.queueName)
      .groupBy('state')
      .execute();
    const counts = Object.fromEntries(ALL_STATES.map((s) => [s, 0])) as Record<JobState, number>;
    for (const row of rows) if (row.state in counts) counts[row.state as JobState] = Number(row.n);
    return counts;
  }

  /**
   * Closes every worker (running jobs are handed back at once) and stops the timers. The database
   * handle belongs to the caller and stays open.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      await Promise.all([...this.#workers].map((w) => this.#closeWorker(w, 0)));
      this.#stopTimers(new Error(`queue ${this.queueName} was closed`));
    })();
    return this.#closing;
  }

  /**
   * Test hook: dies like a killed process. Workers stop and handlers are aborted, but nothing is written
   * to the database: running jobs stay active under this instance's lease until it expires.
   */
  async crash(): Promise<void> {
    this.#closed = true;
    this.#crashed = true;
    for (const w of this.#workers) {
      w.closing = true;
      clearInterval(w.heartbeat);
      this.#wake(w);
      for (const job of w.running.values()) {
        job.released = true;
        job.controller.abort(abortError('worker crashed'));
      }
    }
    await Promise.all([...this.#workers].map((w) => w.loop));
    this.#workers.clear();
    this.#stopTimers(new Error(`queue ${this.queueName} crashed`));
  }

  // ---- internals ---------------------------------------------------------------------------------

  #assertOpen(): void {
    if (this.#closed) throw new Error(`queue ${this.queueName} is closed`);
  }

  #row(id: string): Promise<JobRow | undefined> {
    return this.#db.selectFrom('jobs').selectAll().where('id', '=', id).where('queue', '=', this.queueName).executeTakeFirst();
  }

  #stopTimers(reason: Error): void {
    for (const t of this.#wakeTimers) clearTimeout(t);
    this.#wakeTimers.clear();
    for (const waiter of [...this.#waiters]) waiter.fail(reason);
  }

  #emitFinished(id: string): void {
    const listeners = this.#finishListeners.get(id);
    if (listeners) for (const listener of [...listeners]) listener();
  }

  #wake(w: WorkerState): void {
    if (w.sleeper) w.sleeper();
    else w.woken = true;
  }

  /** Wakes this instance's workers of `kind` now, or when a job due in `delayMs` becomes due. */
  #wakeAt(kind: string, delayMs: number): void {
    const wake = (): void => {
      for (const w of this.#workers) if (w.kind === kind && !w.closing) this.#wake(w);
    };
    if (delayMs <= 0) return wake();
    if (this.#closed || delayMs > MAX_TIMER_MS) return;
    if (![...this.#workers].some((w) => w.kind === kind)) return; // the poll finds it
    const timer = setTimeout(() => {
      this.#wakeTimers.delete(timer);
      wake();
    }, delayMs + 2);
    timer.unref();
    this.#wakeTimers.add(timer);
  }

  #sleep(w: WorkerState): Promise<void> {
    if (w.woken || w.closing) {
      w.woken = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      // Referenced on purpose: an open worker is what keeps a worker process alive.
      const timer = setTimeout(done, this.pollMs);
      function done(): void {
        clearTimeout(timer);
        w.sleeper = undefined;
        w.woken = false;
        resolve();
      }
      w.sleeper = done;
    });
  }

  async #loop(w: WorkerState): Promise<void> {
    while (!w.closing) {
      try {
        await this.#maybeMaintain();
        if (w.running.size > 0) await this.#checkCancels(w);
        while (!w.closing && w.running.size < w.concurrency) {
          const row = await this.#claim(w.kind);
          if (!row) break;
          this.#start(w, row);
        }
      } catch (err) {
        this.#logger.error({ err, queue: this.queueName, kind: w.kind }, 'job queue poll failed; retrying');
      }
      await this.#sleep(w);
    }
  }

  /** At most once per poll interval for all of this instance's workers: lease recovery and due schedulers. */
  #maybeMaintain(): Promise<void> {
    if (this.#maintenance) return this.#maintenance;
    if (Date.now() - this.#lastMaintenance < this.pollMs) return Promise.resolve();
    this.#maintenance = (async () => {
      await this.#recoverExpired();
      await this.#fireSchedulers();
    })().finally(() => {
      this.#lastMaintenance = Date.now();
      this.#maintenance = undefined;
    });
    return this.#maintenance;
  }

  /**
   * Produces the job of every scheduler whose period has come. The period is claimed with a
   * compare-and-set of `next_run_at` before the job is inserted, so across processes a period
   * produces one job (none if the claiming process dies in between: the next period is the retry).
   * Not one transaction: two handles of one SQLite file in one process (tests) would deadlock on the
   * write lock. After downtime the next period is the first one after now, so missed periods produce
   * one job in all.
   */
  async #fireSchedulers(): Promise<void> {
    const nowMs = Date.now();
    const due = await this.#db.selectFrom('job_schedulers').selectAll().where('queue', '=', this.queueName).where('next_run_at', '<=', iso(nowMs)).execute();
    for (const scheduler of due) {
      const period = Date.parse(scheduler.next_run_at);
      const everyMs = Number(scheduler.every_ms);
      const next = period + everyMs * (Math.floor((nowMs - period) / everyMs) + 1);
      const claimed = await this.#db
        .updateTable('job_schedulers')
        .set({ next_run_at: iso(next), updated_at: iso(nowMs) })
        .where('queue', '=', this.queueName)
        .where('name', '=', scheduler.name)
        .where('next_run_at', '=', scheduler.next_run_at)
        .executeTakeFirst();
      if (Number(claimed.numUpdatedRows) === 0) continue;
      await this.#db
        .insertInto('jobs')
        .values({ ...this.#newRow(`${scheduler.name}@${scheduler.next_run_at}`, scheduler.kind, scheduler.payload, nowMs, { attempts: 1 }), remove_on_complete: 1 })
        .onConflict((oc) => oc.column('id').doNothing())
        .execute();
      this.#wakeAt(scheduler.kind, 0);
    }
  }

  /** Active jobs whose lease ran out: their worker died. Back to waiting, or failed when lost too often. */
  async #recoverExpired(): Promise<void> {
    const now = iso(Date.now());
    const expired = await this.#db
      .selectFrom('jobs')
      .select(['id', 'kind', 'attempts_made', 'lost_count', 'cancel_requested', 'lease_owner', 'lease_until'])
      .where('queue', '=', this.queueName)
      .where('state', '=', 'active')
      .where('lease_until', '<', now)
      .execute();
    for (const job of expired) {
      const lost = Number(job.lost_count) + 1;
      const message = `worker lost the job ${lost} time${lost === 1 ? '' : 's'}`;
      const state: JobState = Number(job.cancel_requested) !== 0 ? 'cancelled' : lost > this.maxLostRuns ? 'failed' : 'waiting';
      const finished = state !== 'waiting';
      // Compare-and-set on lease_until: if the owner renewed meanwhile, it is alive and keeps the job.
      const result = await this.#db
        .updateTable('jobs')
        .set({
          state,
          lost_count: lost,
          error: message,
          lease_owner: null,
          lease_until: null,
          updated_at: now,
          ...(finished ? { finished_at: now, dedupe_key: null } : { run_at: now }),
        })
        .where('id', '=', job.id)
        .where('state', '=', 'active')
        .where('lease_until', '=', job.lease_until)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) === 0) continue;
      this.#logger.warn(
        { queue: this.queueName, jobId: job.id, kind: job.kind, leaseOwner: job.lease_owner, attemptsMade: job.attempts_made, state },
        `${message} (lease expired); job is now ${state}`,
      );
      if (finished) this.#emitFinished(job.id);
      else this.#wakeAt(job.kind, 0);
    }
  }

  #claim(kind: string): Promise<JobRow | undefined> {
    const now = Date.now();
    let next = this.#db
      .selectFrom('jobs')
      .select('id')
      .where('queue', '=', this.queueName)
      .where('kind', '=', kind)
      .where('state', '=', 'waiting')
      .where('run_at', '<=', iso(now))
      .orderBy('priority', 'desc')
      .orderBy('run_at')
      .orderBy('created_at')
      .limit(1);
    if (this.#handle.dialect === 'postgres') next = next.forUpdate().skipLocked();
    return this.#db
      .updateTable('jobs')
      .set((eb) => ({
        state: 'active',
        attempts_made: eb('attempts_made', '+', 1),
        lease_owner: this.owner,
        lease_until: iso(now + this.leaseMs),
        updated_at: iso(now),
      }))
      .where('id', '=', next)
      .where('state', '=', 'waiting')
      .returningAll()
      .executeTakeFirst();
  }

  #start(w: WorkerState, row: JobRow): void {
    // A "dead" process claims nothing more; the row stays active under our lease until it expires.
    if (this.#crashed) return;
    const job: RunningJob = {
      id: row.id,
      kind: row.kind,
      controller: new AbortController(),
      finishing: false,
      released: false,
      done: Promise.resolve(),
    };
    w.running.set(row.id, job);
    job.done = this.#execute(w, job, row)
      .catch((err: unknown) => this.#logger.error({ err, queue: this.queueName, jobId: job.id, kind: job.kind }, 'could not record the outcome of a job'))
      .finally(() => {
        w.running.delete(job.id);
        this.#wake(w);
      });
  }

  async #execute(w: WorkerState, job: RunningJob, row: JobRow): Promise<void> {
    let outcome: Outcome;
    try {
      const ctx: JobContext = {
        id: row.id,
        kind: row.kind,
        payload: JSON.parse(row.payload) as unknown,
        attempt: Number(row.attempts_made),
        maxAttempts: runsAllowed(row),
        signal: job.controller.signal,
        updateProgress: (progress) => this.#updateProgress(job, progress),
      };
      outcome = { ok: true, value: await w.handler(ctx) };
    } catch (error) {
      outcome = { ok: false, error };
    }
    job.finishing = true;
    if (job.released || this.#crashed) return;
    await this.#finish(job, row, outcome);
  }

  async #updateProgress(job: RunningJob, progress: unknown): Promise<void> {
    const json = JSON.stringify(progress) ?? null;
    if (job.released) return;
    const result = await this.#db
      .updateTable('jobs')
      .set({ progress: json, updated_at: iso(Date.now()) })
      .where('id', '=', job.id)
      .where('lease_owner', '=', this.owner)
      .where('state', '=', 'active')
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0 && !job.finishing) this.#loseLease(job);
  }

  async #finish(job: RunningJob, row: JobRow, outcome: Outcome): Promise<void> {
    const nowMs = Date.now();
    const now = iso(nowMs);
    const attemptsMade = Number(row.attempts_made);
    let resultJson: string | null = null;
    let unserialisable = false;
    if (outcome.ok) {
      try {
        resultJson = JSON.stringify(outcome.value) ?? null;
      } catch (err) {
        // The same handler would return the same thing again: no point retrying.
        outcome = { ok: false, error: new TypeError(`job result is not JSON-serialisable: ${errorMessage(err)}`) };
        unserialisable = true;
      }
    }
    let retryInMs: number | undefined;
    let update: Updateable<JobsTable>;
    const released = { lease_owner: null, lease_until: null, updated_at: now };
    if (outcome.ok && Number(row.remove_on_complete) !== 0) {
      const removed = await this.#db
        .deleteFrom('jobs')
        .where('id', '=', job.id)
        .where('lease_owner', '=', this.owner)
        .where('state', '=', 'active')
        .where('cancel_requested', '=', 0)
        .executeTakeFirst();
      if (Number(removed.numDeletedRows) > 0) return this.#emitFinished(job.id);
    }
    if (outcome.ok) {
      update = { ...released, state: 'completed', result: resultJson, error: null, finished_at: now, dedupe_key: null };
    } else {
      const message = errorMessage(outcome.error);
      if (unserialisable || isUnrecoverable(outcome.error) || attemptsMade >= runsAllowed(row)) {
        update = { ...released, state: 'failed', error: message, finished_at: now, dedupe_key: null };
      } else {
        // Lost runs were not failures: the delay grows with the failures alone.
        retryInMs = backoffDelay(JSON.parse(row.backoff) as BackoffOptions, attemptsMade - Number(row.lost_count));
        update = { ...released, state: 'waiting', error: message, run_at: iso(nowMs + retryInMs) };
      }
    }
    const written = await this.#db
      .updateTable('jobs')
      .set(update)
      .where('id', '=', job.id)
      .where('lease_owner', '=', this.owner)
      .where('state', '=', 'active')
      .where('cancel_requested', '=', 0)
      .executeTakeFirst();
    if (Number(written.numUpdatedRows) > 0) {
      if (retryInMs === undefined) this.#emitFinished(job.id);
      else this.#wakeAt(job.kind, retryInMs);
      return;
    }
    // Cancellation was requested: the job ends cancelled whatever the handler did.
    const cancelled = await this.#db
      .updateTable('jobs')
      .set({ ...released, state: 'cancelled', finished_at: now, dedupe_key: null })
      .where('id', '=', job.id)
      .where('lease_owner', '=', this.owner)
      .where('state', '=', 'active')
      .where('cancel_requested', '=', 1)
      .executeTakeFirst();
    if (Number(cancelled.numUpdatedRows) > 0) {
      this.#emitFinished(job.id);
      return;
    }
    this.#logger.warn(
      { queue: this.queueName, jobId: job.id, kind: job.kind, attempt: attemptsMade },
      'job outcome discarded: this worker no longer holds its lease (it expired and the job was recovered)',
    );
  }

  #abortCancelled(job: RunningJob): void {
    if (!job.controller.signal.aborted) job.controller.abort(abortError(`job ${job.id} was cancelled`));
  }

  #loseLease(job: RunningJob): void {
    if (job.released) return;
    job.released = true;
    this.#logger.warn(
      { queue: this.queueName, jobId: job.id, kind: job.kind },
      'lost the lease of a running job (it expired and was recovered elsewhere); aborting it here',
    );
    job.controller.abort(abortError(`lease of job ${job.id} lost`));
  }

  /** Renews the leases of this worker's running jobs and reads their cancellation flags. */
  async #heartbeat(w: WorkerState): Promise<void> {
    if (w.beating) return;
    const ids = [...w.running.values()].filter((j) => !j.released && !j.finishing).map((j) => j.id);
    if (ids.length === 0) return;
    w.beating = true;
    try {
      const now = Date.now();
      const rows = await this.#db
        .updateTable('jobs')
        .set({ lease_until: iso(now + this.leaseMs), updated_at: iso(now) })
        .where('id', 'in', ids)
        .where('lease_owner', '=', this.owner)
        .where('state', '=', 'active')
        .returning(['id', 'cancel_requested'])
        .execute();
      const renewed = new Map(rows.map((r) => [r.id, Number(r.cancel_requested) !== 0]));
      for (const id of ids) {
        const job = w.running.get(id);
        if (!job || job.released || job.finishing) continue;
        const cancel = renewed.get(id);
        if (cancel === undefined) this.#loseLease(job);
        else if (cancel) this.#abortCancelled(job);
      }
    } catch (err) {
      this.#logger.warn({ err, queue: this.queueName, kind: w.kind, jobs: ids }, 'could not renew job leases; retrying');
    } finally {
      w.beating = false;
    }
  }

  /** Picks up cancellations requested by other processes between heartbeats. */
  async #checkCancels(w: WorkerState): Promise<void> {
    const ids = [...w.running.values()].filter((j) => !j.released && !j.finishing && !j.controller.signal.aborted).map((j) => j.id);
    if (ids.length === 0) return;
    const rows = await this.#db
      .selectFrom('jobs')
      .select('id')
      .where('id', 'in', ids)
      .where('lease_owner', '=', this.owner)
      .where('cancel_requested', '=', 1)
      .execute();
    for (const row of rows) {
      const job = w.running.get(row.id);
      if (job) this.#abortCancelled(job);
    }
  }

  #closeWorker(w: WorkerState, graceMs: number): Promise<void> {
    checkDuration('graceMs', graceMs, 0);
    w.closed ??= (async () => {
      w.closing = true;
      this.#wake(w);
      await w.loop; // no claim is in flight any more
      if (graceMs > 0 && w.running.size > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          Promise.all([...w.running.values()].map((j) => j.done)),
          new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs))),
        ]);
        clearTimeout(timer);
      }
      clearInterval(w.heartbeat);
      const jobs = [...w.running.values()];
      // Outcomes already being written finish normally.
      await Promise.all(jobs.filter((j) => j.finishing).map((j) => j.done));
      const handBack = jobs.filter((j) => !j.finishing && !j.released);
      for (const job of handBack) {
        job.released = true;
        job.controller.abort(abortError('worker is shutting down'));
      }
      await this.#handBack(handBack);
      this.#workers.delete(w);
    })();
    return w.closed;
  }

  /** Returns jobs to waiting without using up an attempt (or ends them cancelled if that was asked). */
  async #handBack(jobs: RunningJob[]): Promise<void> {
    if (jobs.length === 0 || this.#crashed) return;
    const ids = jobs.map((j) => j.id);
    const now = iso(Date.now());
    const released = { lease_owner: null, lease_until: null, updated_at: now };
    try {
      const cancelled = await this.#db
        .updateTable('jobs')
        .set({ ...released, state: 'cancelled', finished_at: now, dedupe_key: null })
        .where('id', 'in', ids)
        .where('lease_owner', '=', this.owner)
        .where('state', '=', 'active')
        .where('cancel_requested', '=', 1)
        .returning('id')
        .execute();
      for (const row of cancelled) this.#emitFinished(row.id);
      const returned = await this.#db
        .updateTable('jobs')
        .set((eb) => ({ ...released, state: 'waiting', run_at: now, attempts_made: eb('attempts_made', '-', 1) }))
        .where('id', 'in', ids)
        .where('lease_owner', '=', this.owner)
        .where('state', '=', 'active')
        .where('cancel_requested', '=', 0)
        .returning(['id', 'kind'])
        .execute();
      for (const kind of new Set(returned.map((r) => r.kind))) this.#wakeAt(kind, 0);
    } catch (err) {
      this.#logger.error(
        { err, queue: this.queueName, jobs: ids },
        'could not hand running jobs back; they return to waiting when their lease expires (counting an attempt)',
      );
    }
  }
}
