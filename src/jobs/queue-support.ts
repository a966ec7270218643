/**
 * Pieces both queue implementations (the embedded database queue and BullMQ) share: the logger
 * fallback, error helpers, and the checks on enqueue and worker options, so both refuse the same
 * bad input with the same words.
 */
import type { BackoffOptions, JobState } from './queue.js';

/** Where a queue reports what it cannot hand to a job (a lost lease, a failed write-back). */
export interface QueueLogger {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const defaultQueueLogger: QueueLogger = {
  warn: (obj, msg) => console.warn(msg ?? '', obj),
  error: (obj, msg) => console.error(msg ?? '', obj),
};

export const FINISHED_STATES: ReadonlySet<JobState> = new Set<JobState>(['completed', 'failed', 'cancelled']);

/** setTimeout's largest delay. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

/**
 * By name too: a handler loaded through another module instance (a loader, a bundle) throws its own
 * copy of the class.
 */
export function isUnrecoverable(err: unknown): boolean {
  return err instanceof Error && err.name === 'UnrecoverableError';
}

export function abortError(message: string): Error {
  const err = new Error(message);
  err.name = 'AbortError';
  return err;
}

export function checkInteger(name: string, value: number, min: number, max = 2 ** 31 - 1): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
}

export function checkDuration(name: string, value: number, min: number): void {
  if (!Number.isFinite(value) || value < min) throw new RangeError(`${name} must be a number of milliseconds >= ${min}, got ${value}`);
}

export function checkBackoff(backoff: BackoffOptions): void {
  if (backoff.type !== 'fixed' && backoff.type !== 'exponential') {
    throw new RangeError(`backoff.type must be 'fixed' or 'exponential', got ${String(backoff.type)}`);
  }
  checkDuration('backoff.delayMs', backoff.delayMs, 0);
}
