import { randomUUID } from 'node:crypto';
import { Job as BullJob, Queue as BullQueue, UnrecoverableError as BullUnrecoverableError, WaitingError, Worker as BullWorker, type JobsOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { PortcullisError } from '../shared/errors.js';
import { type QueueLogger, FINISHED_STATES, MAX_TIMER_MS, abortError, checkInteger, defaultQueueLogger, errorMessage, isUnrecoverable, iso } from './queue-support.js';
import {
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
} from './queue.js';

/**
 * The job queue on BullMQ and Redis, for running any number of worker processes (`REDIS_URL`).
 *
 * Mapping of the contract onto BullMQ:
 * - **One BullMQ queue per job kind** (`<queueName>.<kind>`), because a BullMQ worker takes every job of
 *   its queue and concurrency is per worker: a process only takes the kinds it has handlers for.
 *   An index hash (job id → kind) finds a job from its id alone and makes caller-chosen ids unique
 *   across kinds, as in the embedded queue.
 * - **Leases** are BullMQ locks (`lockDuration` = `leaseMs`, renewed at half of it); a worker whose
 *   process died loses its jobs to the stalled check of any other worker, which counts the loss in the
 *   job (`stalledCounter`). A lost run is not a failure and uses up no attempt (BullMQ's own retry
 *   decision counts failures only, `attemptsMade`); a job lost more than `maxLostRuns` times is failed
 *   with "worker lost the job N times" when it is next taken (BullMQ's `maxStalledCount` is unlimited,
 *   so the count and the message are ours). The run number given to handlers counts every start that
 *   was not handed back (`attemptsStarted` minus hand-backs).
 * - **Hand-back** on worker close moves the job back to waiting (`job.moveToWait`) and records it in a
 *   hash, so the attempt is given back.
 * - **Cancellation**: BullMQ has no cancelled state. A waiting job is removed and a snapshot kept in a
 *   hash; an active job's id is added to a "cancel requested" set and published on a channel, every
 *   instance aborts the handler if it runs it (and re-reads the set while jobs run, in case a message
 *   was missed), and the job then fails inside BullMQ, marked as cancelled in a set.
 * - **Priority**: higher runs first; mapped onto BullMQ's "lower number first" (every job is prioritised,
 *   so FIFO holds among equal priorities).
 * - `dedupeKey` is BullMQ deduplication, scoped to one job kind.
 * - Job ids are stored escaped (BullMQ refuses `:` and integer-looking custom ids); callers never see it.
 * - Finished jobs are kept, like the embedded queue does.
 */

export interface BullmqQueueOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://…`. */
  redisUrl: string;
  /** First part of every Redis key; default `portcullis`. Tests use a unique prefix and delete its keys. */
  prefix?: string;
  /** Several logical queues can share a Redis; default `default`. */
  queueName?: string;
  /** How long a running job stays ours without a lock renewal; default 30 000 ms. */
  leaseMs?: number;
  /** How often waiters and workers re-read state that pub/sub normally pushes; default 500 ms. */
  pollMs?: number;
  /** A job lost with its worker more often than this fails instead of running again; default DEFAULT_MAX_LOST_RUNS. */
  maxLostRuns?: number;
  logger?: QueueLogger;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };
/** Why a running job stops being ours before its handler returned. */
type Release = 'hand-back' | 'crash' | 'lock-lost';

interface RunningJob {
  id: string;
  controller: AbortController;
  cancelRequested: boolean;
  /** The handler has settled; its outcome is being written. */
  finishing: boolean;
  /** No longer ours (handed back, crashed, lock lost): nothing more is written for it. */
  gone: boolean;
  release(reason: Release): void;
}

interface WorkerState {
  kind: string;
  bull: BullWorker;
  connection: Redis;
  running: Map<string, RunningJob>;
  cancelPoll: NodeJS.Timeout;
  closed: Promise<void> | undefined;
}

const CANCELLED_REASON = 'cancelled';
/** BullMQ priorities run lowest first, from 1 to 2^21; ours run highest first. */
const BULL_PRIORITY_ZERO = 2 ** 20;
const BULL_PRIORITY_MAX = 2 ** 21;



/** BullMQ refuses custom ids with `:` or that parse as integers: escape `%` and `:`, and mark integer-like ids. */
export function toBullId(id: string): string {
  const escaped = id.replaceAll('%', '%25').replaceAll(':', '%3A');
  return `${parseInt(escaped, 10)}` === escaped ? `%N${escaped}` : escaped;
}

export function fromBullId(bullId: string): string {
  const escaped = bullId.startsWith('%N') ? bullId.slice(2) : bullId;
  return escaped.replaceAll('%3A', ':').replaceAll('%25', '%');
}

function bullPriority(priority: number): number {
  return Math.min(BULL_PRIORITY_MAX, Math.max(1, BULL_PRIORITY_ZERO - priority));
}


/** Progress is stored wrapped, so "never reported" (BullMQ's 0) differs from a reported 0. */
interface WrappedProgress {
  value: unknown;
}

function unwrapProgress(progress: unknown): unknown {
  return typeof progress === 'object' && progress !== null && 'value' in progress ? (progress as WrappedProgress).value : undefined;
}

/** Runs the job may have now: its attempts, plus one for each run lost with its worker. */
function runsAllowed(job: BullJob): number {
  return (job.opts.attempts ?? DEFAULT_ATTEMPTS) + job.stalledCounter;
}

function toJobInfo(id: string, job: BullJob, state: JobState, extra: { cancelRequested: boolean; handBacks: number }): JobInfo {
  const maxAttempts = runsAllowed(job);
  return {
    id,
    kind: job.name,
    payload: job.data as unknown,
    state,
    attemptsMade: Math.min(maxAttempts, job.attemptsStarted - extra.handBacks),
    maxAttempts,
    progress: unwrapProgress(job.progress),
    result: state === 'completed' ? ((job.returnvalue as unknown) ?? undefined) : undefined,
    error: state === 'completed' || state === 'cancelled' ? undefined : job.failedReason || undefined,
    cancelRequested: extra.cancelRequested,
    runAt: iso(job.timestamp + (job.delay || 0)),
    createdAt: iso(job.timestamp),
    finishedAt: FINISHED_STATES.has(state) && job.finishedOn ? iso(job.finishedOn) : undefined,
  };
}

export class BullmqQueue implements JobQueue {
  readonly queueName: string;
  readonly prefix: string;
  readonly leaseMs: number;
  readonly pollMs: number;
  readonly maxLostRuns: number;

  readonly #client: Redis;
  readonly #logger: QueueLogger;
  readonly #queues = new Map<string, BullQueue>();
  readonly #workers = new Set<WorkerState>();
  readonly #finishListeners = new Map<string, Set<() => void>>();
  readonly #waiters = new Set<(err: Error) => void>();
  #subscriber: Promise<Redis> | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(options: BullmqQueueOptions) {
    this.queueName = options.queueName ?? 'default';
    this.prefix = options.prefix ?? 'portcullis';
    this.leaseMs = options.leaseMs ?? 30_000;
    this.pollMs = options.pollMs ?? 500;
    this.maxLostRuns = options.maxLostRuns ?? DEFAULT_MAX_LOST_RUNS;
    checkInteger('maxLostRuns', this.maxLostRuns, 0);
    this.#logger = options.logger ?? defaultQueueLogger;
    if (this.queueName.includes(':') || this.prefix.includes(':')) throw new RangeError('queueName and prefix must not contain ":"');
    // maxRetriesPerRequest: null is what BullMQ requires of connections its workers use.
    this.#client = new Redis(options.redisUrl, { maxRetriesPerRequest: null, lazyConnect: true });
    this.#client.on('error', (err: unknown) => this.#logger.warn({ err, queue: this.queueName }, 'Redis connection error; reconnecting'));
  }

  /** Opens a queue and checks Redis answers, failing with `queue.unavailable` (and closing again) if not. */
  static async connect(options: BullmqQueueOptions, timeoutMs = 5000): Promise<BullmqQueue> {
    const queue = new BullmqQueue(options);
    const where = options.redisUrl.replace(/\/\/[^@/]*@/, '//***@');
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        queue.#client.connect().then(() => queue.#client.ping()),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs))),
      ]);
      return queue;
    } catch (err) {
      queue.#client.disconnect();
      throw new PortcullisError('queue.unavailable', `cannot reach Redis at ${where} (REDIS_URL): ${errorMessage(err)}; start Redis or unset REDIS_URL to use the embedded queue`);
    } finally {
      clearTimeout(timer);
    }
  }

  async enqueue<P>(kind: string, payload: P, options: EnqueueOptions = {}): Promise<JobInfo<P>> {
    this.#assertOpen();
    if (kind === '') throw new RangeError('job kind must not be empty');
    if (options.jobId === '') throw new RangeError('jobId must not be empty');
    const attempts = options.attempts ?? DEFAULT_ATTEMPTS;
    const backoff = options.backoff ?? DEFAULT_BACKOFF;
    checkInteger('attempts', attempts, 1);
    const id = options.jobId ?? randomUUID();
    // Claims the id for this kind; a caller-chosen id that exists already returns that job.
    if ((await this.#client.hsetnx(this.#key('ids'), id, kind)) === 0) {
      const existing = await this.get(id);
      if (existing) return existing as JobInfo<P>;
      // Claimed, but the job was never added: the enqueuer died in between (the kill test found
      // this). Add it now; BullMQ ignores a second add of one job id, so a live enqueuer racing us
      // still makes one job.
      const claimedBy = await this.#client.hget(this.#key('ids'), id);
      if (claimedBy !== kind) throw new Error(`job id ${id} is taken by a ${claimedBy ?? 'removed'} job`);
    }
    await this.#client.sadd(this.#key('kinds'), kind);
    const bullOptions: JobsOptions = {
      jobId: toBullId(id),
      attempts,
      backoff: { type: backoff.type, delay: backoff.delayMs },
      delay: options.delayMs ?? 0,
      priority: bullPriority(options.priority ?? 0),
      // Stalls are counted as attempts by the processor, which fails the job when none is left.
      ...(options.dedupeKey !== undefined ? { deduplication: { id: options.dedupeKey } } : {}),
    };
    let added: BullJob;
    try {
      added = await this.#queue(kind).add(kind, payload, bullOptions);
    } catch (err) {
      await this.#client.hdel(this.#key('ids'), id);
      throw err;
    }
    const addedId = fromBullId(added.id ?? '');
    // As added (a worker may have taken it already), unless deduplicated: then the unfinished job holding the key.
    if (addedId === id) return toJobInfo(id, added, 'waiting', { cancelRequested: false, handBacks: 0 }) as JobInfo<P>;
    await this.#client.hdel(this.#key('ids'), id);
    const holder = await this.get(addedId);
    if (!holder) throw new Error(`job ${addedId} holding dedupe key ${JSON.stringify(options.dedupeKey)} vanished`);
    return holder as JobInfo<P>;
  }

  /** A BullMQ job scheduler on the kind's queue; the name → kind index lets removeScheduler find it. */
  async upsertScheduler<P>(name: string, kind: string, payload: P, options: SchedulerOptions): Promise<void> {
    this.#assertOpen();
    if (name === '' || kind === '') throw new RangeError('scheduler name and job kind must not be empty');
    checkInteger('everyMs', options.everyMs, 1);
    const previousKind = await this.#client.hget(this.#key('schedulers'), name);
    if (previousKind !== null && previousKind !== kind) await this.#queue(previousKind).removeJobScheduler(name);
    await this.#client.hset(this.#key('schedulers'), name, kind);
    await this.#client.sadd(this.#key('kinds'), kind);
    await this.#queue(kind).upsertJobScheduler(
      name,
      { every: options.everyMs },
      { name: kind, data: payload, opts: { attempts: 1, removeOnComplete: true, priority: bullPriority(0) } },
    );
  }

  async removeScheduler(name: string): Promise<boolean> {
    const kind = await this.#client.hget(this.#key('schedulers'), name);
    if (kind === null) return false;
    await this.#client.hdel(this.#key('schedulers'), name);
    return this.#queue(kind).removeJobScheduler(name);
  }

  process<P, R>(kind: string, handler: JobHandler<P, R>, options: ProcessOptions): Worker {
    this.#assertOpen();
    checkInteger('concurrency', options.concurrency, 1);
    // Its own connection: closing or "crashing" one worker must not touch the others.
    const connection = this.#client.duplicate();
    connection.on('error', (err: unknown) => this.#logger.warn({ err, queue: this.queueName, kind }, 'Redis connection error; reconnecting'));
    const running = new Map<string, RunningJob>();
    const bull = new BullWorker(this.#bullName(kind), (job, token, signal) => this.#run(w, handler as JobHandler, job, token, signal), {
      connection,
      prefix: this.prefix,
      concurrency: options.concurrency,
      lockDuration: this.leaseMs,
      stalledInterval: Math.max(100, Math.floor(this.leaseMs / 2)),
      maxStalledCount: Number.MAX_SAFE_INTEGER,
      drainDelay: Math.max(1, Math.ceil(this.pollMs / 1000)),
    });
    const w: WorkerState = {
      kind,
      bull,
      connection,
      running,
      cancelPoll: setInterval(() => void this.#pollCancels(w), this.pollMs),
      closed: undefined,
    };
    w.cancelPoll.unref();
    bull.on('error', (err) => this.#logger.error({ err, queue: this.queueName, kind }, 'job worker error'));
    bull.on('completed', (job) => void this.#publishFinished(fromBullId(job.id ?? '')));
    bull.on('failed', (job) => {
      if (job) void this.#publishFinished(fromBullId(job.id ?? ''));
    });
    this.#workers.add(w);
    // Cancellations are pushed to every instance running jobs.
    void this.#events().catch((err: unknown) => this.#logger.warn({ err, queue: this.queueName }, 'cannot subscribe to cancellations; polling only'));
    return { close: (closeOptions) => this.#closeWorker(w, closeOptions?.graceMs ?? 0) };
  }

  async get(id: string): Promise<JobInfo | undefined> {
    const kind = await this.#client.hget(this.#key('ids'), id);
    if (kind === null) return undefined;
    const queue = this.#queue(kind);
    const bullId = toBullId(id);
    // The state and the job hash are two reads: retry until the state did not change in between, so a
    // finished job is never reported with the fields of its running self.
    let state: Awaited<ReturnType<BullQueue['getJobState']>> = await queue.getJobState(bullId);
    let job: BullJob | undefined;
    for (let round = 0; ; round++) {
      job = await BullJob.fromId(queue, bullId);
      const after = await queue.getJobState(bullId);
      if (after === state || round === 4) break;
      state = after;
    }
    if (!job || state === 'unknown') return this.#removedSnapshot(id);
    const [requested, cancelledFailed, handBacks] = await Promise.all([
      this.#client.sismember(this.#key('cancel-requested'), id),
      this.#client.sismember(this.#key('cancelled-failed'), id),
      this.#client.hget(this.#key('hand-backs'), id),
    ]);
    const ours: JobState =
      state === 'active' || state === 'completed' ? state : state === 'failed' ? (cancelledFailed === 1 ? 'cancelled' : 'failed') : 'waiting';
    return toJobInfo(id, job, ours, { cancelRequested: requested === 1, handBacks: Number(handBacks ?? 0) });
  }

  async cancel(id: string): Promise<JobInfo | undefined> {
    const info = await this.get(id);
    if (!info || FINISHED_STATES.has(info.state)) return info;
    await this.#client.sadd(this.#key('cancel-requested'), id);
    if (info.state === 'waiting') {
      const snapshot: JobInfo = { ...info, state: 'cancelled', cancelRequested: true, finishedAt: iso(Date.now()) };
      // Snapshot first, so the job is never missing from get(); BullMQ refuses to remove a job a worker holds.
      await this.#client.hset(this.#key('cancelled'), id, JSON.stringify(snapshot));
      if ((await this.#queue(info.kind).remove(toBullId(id))) === 1) {
        await this.#publishFinished(id);
        return snapshot;
      }
      await this.#client.hdel(this.#key('cancelled'), id);
    }
    // Active (or it just became so): whichever instance runs it aborts it.
    await this.#client.publish(this.#key('events'), JSON.stringify({ cancel: id }));
    this.#abortLocal(id);
    return { ...info, state: 'active', cancelRequested: true };
  }

  async waitUntilFinished(id: string, timeoutMs: number): Promise<JobInfo> {
    const first = await this.get(id);
    if (!first) throw new Error(`job ${id} does not exist in queue ${this.queueName}`);
    if (FINISHED_STATES.has(first.state)) return first;
    this.#assertOpen();
    await this.#events().catch((err: unknown) => this.#logger.warn({ err, queue: this.queueName }, 'cannot subscribe to job events; polling only'));
    return new Promise<JobInfo>((resolve, reject) => {
      let lastState = first.state;
      let settled = false;
      let checking = false;
      const settle = (): void => {
        settled = true;
        clearTimeout(deadline);
        clearInterval(poll);
        this.#waiters.delete(fail);
        const listeners = this.#finishListeners.get(id);
        listeners?.delete(check);
        if (listeners?.size === 0) this.#finishListeners.delete(id);
      };
      const fail = (err: Error): void => {
        if (settled) return;
        settle();
        reject(err);
      };
      const check = (): void => {
        if (settled || checking) return;
        checking = true;
        this.get(id).then(
          (info) => {
            checking = false;
            if (settled) return;
            if (!info) return fail(new Error(`job ${id} disappeared from queue ${this.queueName}`));
            lastState = info.state;
            if (FINISHED_STATES.has(info.state)) {
              settle();
              resolve(info);
            }
          },
          (err: unknown) => {
            checking = false;
            fail(err instanceof Error ? err : new Error(String(err)));
          },
        );
      };
      const deadline = setTimeout(
        () => fail(new Error(`timed out after ${timeoutMs} ms waiting for job ${id} to finish (it is ${lastState})`)),
        Math.min(timeoutMs, MAX_TIMER_MS),
      );
      const poll = setInterval(check, this.pollMs);
      this.#waiters.add(fail);
      let listeners = this.#finishListeners.get(id);
      if (!listeners) this.#finishListeners.set(id, (listeners = new Set()));
      listeners.add(check);
      check();
    });
  }

  async counts(): Promise<Record<JobState, number>> {
    const kinds = await this.#client.smembers(this.#key('kinds'));
    const counts: Record<JobState, number> = { waiting: 0, active: 0, completed: 0, failed: 0, cancelled: 0 };
    for (const kind of kinds) {
      const c = await this.#queue(kind).getJobCounts('wait', 'prioritized', 'delayed', 'waiting-children', 'active', 'completed', 'failed');
      counts.waiting += (c.wait ?? 0) + (c.prioritized ?? 0) + (c.delayed ?? 0) + (c['waiting-children'] ?? 0);
      counts.active += c.active ?? 0;
      counts.completed += c.completed ?? 0;
      counts.failed += c.failed ?? 0;
    }
    const [removed, cancelledFailed] = await Promise.all([this.#client.hlen(this.#key('cancelled')), this.#client.scard(this.#key('cancelled-failed'))]);
    // A cancelled active job joins the set just before BullMQ fails it: for that moment it also counts as active.
    counts.failed = Math.max(0, counts.failed - cancelledFailed);
    counts.cancelled = removed + cancelledFailed;
    return counts;
  }

  /** Closes every worker (running jobs are handed back at once), then the connections. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      await Promise.all([...this.#workers].map((w) => this.#closeWorker(w, 0)));
      await this.#shutdown(new Error(`queue ${this.queueName} was closed`));
    })();
    return this.#closing;
  }

  /**
   * Test hook: dies like a killed process. Workers stop and handlers are aborted, but nothing is written
   * to Redis: running jobs keep their locks until they expire and the stalled check of another worker
   * takes them back.
   */
  async crash(): Promise<void> {
    this.#closed = true;
    this.#closing = (async () => {
      await Promise.all(
        [...this.#workers].map(async (w) => {
          clearInterval(w.cancelPoll);
          // Force close: stops lock renewal and fetching without waiting for the jobs.
          const closed = w.bull.close(true);
          for (const job of w.running.values()) job.release('crash');
          await closed.catch(() => undefined);
          w.connection.disconnect();
        }),
      );
      this.#workers.clear();
      await this.#shutdown(new Error(`queue ${this.queueName} crashed`));
    })();
    await this.#closing;
  }

  // ---- internals ---------------------------------------------------------------------------------

  #assertOpen(): void {
    if (this.#closed) throw new Error(`queue ${this.queueName} is closed`);
  }

  #key(name: string): string {
    return `${this.prefix}:${this.queueName}:portcullis:${name}`;
  }

  #bullName(kind: string): string {
    return `${this.queueName}.${kind.replaceAll(':', '.')}`;
  }

  #queue(kind: string): BullQueue {
    let queue = this.#queues.get(kind);
    if (!queue) {
      queue = new BullQueue(this.#bullName(kind), { connection: this.#client, prefix: this.prefix });
      queue.on('error', (err) => this.#logger.warn({ err, queue: this.queueName, kind }, 'BullMQ queue error'));
      this.#queues.set(kind, queue);
    }
    return queue;
  }

  async #removedSnapshot(id: string): Promise<JobInfo | undefined> {
    const snapshot = await this.#client.hget(this.#key('cancelled'), id);
    return snapshot === null ? undefined : (JSON.parse(snapshot) as JobInfo);
  }

  /** The subscriber connection for cancellations and "finished" notices, opened on first use. */
  #events(): Promise<Redis> {
    this.#subscriber ??= (async () => {
      const subscriber = this.#client.duplicate();
      subscriber.on('error', (err: unknown) => this.#logger.warn({ err, queue: this.queueName }, 'Redis subscriber error; reconnecting'));
      subscriber.on('message', (_channel: string, message: string) => this.#onEvent(message));
      await subscriber.subscribe(this.#key('events'));
      return subscriber;
    })();
    return this.#subscriber;
  }

  #onEvent(message: string): void {
    const event = JSON.parse(message) as { cancel?: string; finished?: string };
    if (event.cancel !== undefined) this.#abortLocal(event.cancel);
    if (event.finished !== undefined) this.#emitFinished(event.finished);
  }

  #emitFinished(id: string): void {
    const listeners = this.#finishListeners.get(id);
    if (listeners) for (const listener of [...listeners]) listener();
  }

  async #publishFinished(id: string): Promise<void> {
    this.#emitFinished(id);
    try {
      await this.#client.publish(this.#key('events'), JSON.stringify({ finished: id }));
    } catch (err) {
      // Waiters elsewhere still poll.
      this.#logger.warn({ err, queue: this.queueName, jobId: id }, 'could not publish that a job finished');
    }
  }

  #abortLocal(id: string): void {
    for (const w of this.#workers) {
      const job = w.running.get(id);
      if (!job) continue;
      job.cancelRequested = true;
      if (!job.controller.signal.aborted) job.controller.abort(abortError(`job ${id} was cancelled`));
    }
  }

  /** Catches cancellations whose message this instance missed (pub/sub does not queue for the disconnected). */
  async #pollCancels(w: WorkerState): Promise<void> {
    const ids = [...w.running.values()].filter((j) => !j.cancelRequested && !j.finishing).map((j) => j.id);
    if (ids.length === 0) return;
    try {
      const flags = await this.#client.smismember(this.#key('cancel-requested'), ...ids);
      ids.forEach((id, i) => {
        if (flags[i] === 1) this.#abortLocal(id);
      });
    } catch (err) {
      this.#logger.warn({ err, queue: this.queueName, kind: w.kind }, 'could not check running jobs for cancellation; retrying');
    }
  }

  /** The BullMQ processor: runs the handler and turns its outcome into what BullMQ should record. */
  async #run(w: WorkerState, handler: JobHandler, bullJob: BullJob, token: string | undefined, lockSignal: AbortSignal | undefined): Promise<unknown> {
    const id = fromBullId(bullJob.id ?? '');
    let release!: (reason: Release) => void;
    const released = new Promise<Release>((resolve) => (release = resolve));
    const job: RunningJob = { id, controller: new AbortController(), cancelRequested: false, finishing: false, gone: false, release };
    w.running.set(id, job);
    lockSignal?.addEventListener('abort', () => job.release('lock-lost'), { once: true });
    try {
      const [requested, handBacks] = await Promise.all([
        this.#client.sismember(this.#key('cancel-requested'), id),
        this.#client.hget(this.#key('hand-backs'), id),
      ]);
      const maxAttempts = runsAllowed(bullJob);
      const attempt = bullJob.attemptsStarted - Number(handBacks ?? 0);
      // Runs that neither finished nor were handed back: the stalled check took them from a dead worker.
      const lost = bullJob.stalledCounter;
      if (requested === 1) return await this.#endCancelled(id);
      if (lost > this.maxLostRuns) throw new BullUnrecoverableError(`worker lost the job ${lost} time${lost === 1 ? '' : 's'}`);
      if (lost > 0) this.#logger.warn({ queue: this.queueName, jobId: id, kind: w.kind, attempt }, `worker lost the job ${lost} time${lost === 1 ? '' : 's'}; running it again`);

      const ctx: JobContext = {
        id,
        kind: bullJob.name,
        payload: bullJob.data as unknown,
        attempt,
        maxAttempts,
        signal: job.controller.signal,
        updateProgress: async (progress) => {
          if (!job.gone) await bullJob.updateProgress({ value: progress } satisfies WrappedProgress);
        },
      };
      const outcome = await Promise.race([
        handler(ctx).then(
          (value): Outcome => ({ ok: true, value }),
          (error: unknown): Outcome => ({ ok: false, error }),
        ),
        released,
      ]);
      if (typeof outcome === 'string') return await this.#released(job, bullJob, token, outcome);
      job.finishing = true;
      if (job.cancelRequested || (await this.#client.sismember(this.#key('cancel-requested'), id)) === 1) return await this.#endCancelled(id);
      if (outcome.ok) return outcome.value;
      const message = errorMessage(outcome.error);
      // The last attempt, or an UnrecoverableError (by name: a handler may use its own copy of the class).
      const final = attempt >= maxAttempts || isUnrecoverable(outcome.error);
      if (final) throw new BullUnrecoverableError(message);
      throw outcome.error instanceof Error ? outcome.error : new Error(message);
    } finally {
      w.running.delete(id);
    }
  }

  async #endCancelled(id: string): Promise<never> {
    await this.#client.sadd(this.#key('cancelled-failed'), id);
    throw new BullUnrecoverableError(CANCELLED_REASON);
  }

  /** The job stopped being ours before its handler returned; what is written depends on why. */
  async #released(job: RunningJob, bullJob: BullJob, token: string | undefined, reason: Release): Promise<never> {
    job.gone = true;
    if (!job.controller.signal.aborted) job.controller.abort(abortError(reason === 'hand-back' ? 'worker is shutting down' : `job ${job.id}: ${reason}`));
    if (reason === 'hand-back') {
      if (job.cancelRequested || (await this.#client.sismember(this.#key('cancel-requested'), job.id)) === 1) return this.#endCancelled(job.id);
      await bullJob.moveToWait(token);
      await this.#client.hincrby(this.#key('hand-backs'), job.id, 1);
    } else if (reason === 'lock-lost') {
      this.#logger.warn({ queue: this.queueName, jobId: job.id }, 'lost the lock of a running job (it stalled and was taken back); aborting it here');
    }
    // Tells BullMQ the job left the active state some other way: it writes nothing.
    throw new WaitingError();
  }

  #closeWorker(w: WorkerState, graceMs: number): Promise<void> {
    w.closed ??= (async () => {
      clearInterval(w.cancelPoll);
      const closed = w.bull.close();
      if (graceMs > 0 && w.running.size > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([closed, new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
        clearTimeout(timer);
      }
      for (const job of w.running.values()) if (!job.finishing) job.release('hand-back');
      await closed;
      await w.connection.quit().catch(() => w.connection.disconnect());
      this.#workers.delete(w);
    })();
    return w.closed;
  }

  async #shutdown(reason: Error): Promise<void> {
    for (const fail of [...this.#waiters]) fail(reason);
    await Promise.all([...this.#queues.values()].map((q) => q.close()));
    const subscriber = await this.#subscriber?.catch(() => undefined);
    subscriber?.disconnect();
    await this.#client.quit().catch(() => this.#client.disconnect());
  }
}
