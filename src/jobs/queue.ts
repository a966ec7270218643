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
  /** Total attempts including the first; default 3. */
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
  attemptsMade: number;
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
  /** 1 for the first attempt. */
  attempt: number;
  /** Attempts the job may use in all; `attempt === maxAttempts` is the last one. */
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

export interface JobQueue {
  enqueue<P>(kind: string, payload: P, options?: EnqueueOptions): Promise<JobInfo<P>>;
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
export const DEFAULT_BACKOFF: BackoffOptions = { type: 'exponential', delayMs: 1000 };
