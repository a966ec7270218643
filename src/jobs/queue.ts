/**
 * The queue contract. Every implementation (the embedded database-backed queue now, BullMQ later)
 * passes the same contract suite (`queue.contract.ts`). Delivery is at-least-once: a handler must be
 * idempotent, because a job whose process died runs again.
 */

export type JobState = 'waiting' | 'active' | 'completed' | 'failed' | 'cancelled';

export interface BackoffOptions {
  type: 'fixed' | 'exponential';
  /** Delay before the first retry; exponential doubles it for each further attempt. */
  delayMs: number;
}

export interface EnqueueOptions {
  /** Do not start before this many milliseconds from now. */
  delayMs?: number;
  /**
   * Runs that may fail, including the first; default 3. A run lost with its worker (the process died
   * or stopped renewing its lease) is not a failure and does not use one up.
   */
  attempts?: number;
  backoff?: BackoffOptions;
  /** Higher runs first among due jobs; default 0. */
  priority?: number;
  /**
   * Id for the job instead of a generated one, so its owner can find it again (e.g. `port-scan:<scanId>`).
   * Enqueueing an id that already exists returns the existing job, as BullMQ does.
   */
  jobId?: string;
  /**
   * At most one unfinished job per key: enqueueing again while one is waiting or active returns it
   * instead of adding a second.
   */
  dedupeKey?: string;
}

export interface JobInfo<P = unknown, R = unknown> {
  id: string;
  kind: string;
  payload: P;
  state: JobState;
  /** Runs started and not handed back, lost ones included. */
  attemptsMade: number;
  /** As `JobContext.maxAttempts`: `attempts` plus the runs lost so far. */
  maxAttempts: number;
  progress: unknown;
  result: R | undefined;
  /** Message of the last failure, kept while retries are pending. */
  error: string | undefined;
  cancelRequested: boolean;
  runAt: string;
  createdAt: string;
  finishedAt: string | undefined;
}

export interface JobContext<P = unknown> {
  id: string;
  kind: string;
  payload: P;
  /** 1 for the first run; every run counts, one lost with its worker too. */
  attempt: number;
  /**
   * Runs the job may have in all: its `attempts`, plus one for each run lost with its worker (see
   * `DEFAULT_MAX_LOST_RUNS`). `attempt === maxAttempts` is the last one: if it fails, the job fails.
   */
  maxAttempts: number;
  /** Aborted when the job is cancelled or the worker shuts down; handlers stop promptly. */
  signal: AbortSignal;
  updateProgress(progress: unknown): Promise<void>;
}

export type JobHandler<P = unknown, R = unknown> = (ctx: JobContext<P>) => Promise<R>;

export interface ProcessOptions {
  /** Jobs of this kind run at once in this process. */
  concurrency: number;
}

export interface Worker {
  /**
   * Stops taking jobs. Running jobs get `graceMs` to finish; after that their signal is aborted and
   * they are handed back (state waiting, same attempt budget) for another worker.
   */
  close(options?: { graceMs?: number }): Promise<void>;
}

export interface SchedulerOptions {
  /** Period between two produced jobs, ms. */
  everyMs: number;
}

export interface JobQueue {
  enqueue<P>(kind: string, payload: P, options?: EnqueueOptions): Promise<JobInfo<P>>;
  /**
   * Creates or updates the job scheduler `name`: one job of `kind` with `payload` is produced per
   * period of `everyMs` for every process sharing the backend together (BullMQ job schedulers; a
   * table in the embedded queue), the first one at once. Periods missed while no worker ran produce
   * one job, not one each. Produced jobs run once (no retries: the next period is the retry) and are
   * removed when they complete. Every process may call this at start; it is idempotent.
   */
  upsertScheduler<P>(name: string, kind: string, payload: P, options: SchedulerOptions): Promise<void>;
  /** Stops the scheduler `name`; false when there was none. */
  removeScheduler(name: string): Promise<boolean>;
  process<P, R>(kind: string, handler: JobHandler<P, R>, options: ProcessOptions): Worker;
  get(id: string): Promise<JobInfo | undefined>;
  /**
   * A waiting job becomes cancelled at once; an active one gets its signal aborted and ends as
   * cancelled when its handler returns. Finished jobs are left as they are. Undefined for unknown ids.
   */
  cancel(id: string): Promise<JobInfo | undefined>;
  /** Resolves with the job once it is completed, failed or cancelled; rejects after timeoutMs. */
  waitUntilFinished(id: string, timeoutMs: number): Promise<JobInfo>;
  /** Counts by state, for /metrics and /readyz. */
  counts(): Promise<Record<JobState, number>>;
  /** Closes workers and releases connections. */
  close(): Promise<void>;
}

/** Thrown by a handler to fail the job at once, without further attempts (bad input, not a glitch). */
export class UnrecoverableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnrecoverableError';
  }
}

/** Delay before attempt number `attempt + 1`, given `attempt` attempts have failed. */
export function backoffDelay(backoff: BackoffOptions, failedAttempts: number): number {
  if (backoff.type === 'fixed') return backoff.delayMs;
  return backoff.delayMs * 2 ** Math.max(0, failedAttempts - 1);
}

export const DEFAULT_ATTEMPTS = 3;
/**
 * A job lost with its worker more often than this fails ("worker lost the job N times") instead of
 * running again. Losses have their own budget, apart from `attempts`: a worker killed by a deploy, a
 * node failure or a neighbour's memory is not the job failing, and a long job running through many
 * such kills must not fail for them (the kill test lost one job 9 times in 19 kills; a job is lost at
 * most once per dead process); but a job that kills every worker that runs it must still end.
 */
export const DEFAULT_MAX_LOST_RUNS = 25;
export const DEFAULT_BACKOFF: BackoffOptions = { type: 'exponential', delayMs: 1000 };
