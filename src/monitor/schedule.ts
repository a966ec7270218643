/**
 * When a target runs next. Pure: the scheduler and the TLS job pass the clock, the target's schedule
 * and its certificate expiry in, and store what comes out.
 *
 * A target runs on its own schedule (interval or cron, else the global default) and, for TLS
 * targets, also `expiryRescanDays` before its earliest certificate expiry and an hour after it, so
 * a renewal (or the lack of one) is seen in time. Runs missed while nothing was running are not
 * caught up one by one: the next run is always computed from "now".
 */
import { Cron } from 'croner';
import { PortcullisError } from '../shared/errors.js';
import type { TargetSchedule } from './model.js';

export interface ExpiryPolicy {
  /** Days before the certificate expiry to assess again; 0: off. */
  expiryRescanDays: number;
  /** Assess again an hour after the expiry date. */
  rescanAfterExpiry: boolean;
}

/** Assessed again this long after the expiry, once the certificate has certainly expired or been replaced. */
const AFTER_EXPIRY_MS = 3_600_000;

/** Schedules run at most once a minute and at least once a year. */
export const SCHEDULE_LIMITS = { minSeconds: 60, maxSeconds: 31_536_000 } as const;

/** Checks a schedule value from any source (JSON body, file, config): an interval in bounds or a cron croner accepts. */
export function validateSchedule(value: unknown): TargetSchedule | PortcullisError {
  const bad = (message: string): PortcullisError => new PortcullisError('request.invalid', message, { field: 'schedule' });
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return bad('schedule must be {"everySeconds": N}, {"cron": "…"} or null for the default');
  const keys = Object.keys(value);
  const record = value as Record<string, unknown>;
  if (keys.length === 1 && keys[0] === 'everySeconds') {
    const seconds = record.everySeconds;
    const { minSeconds, maxSeconds } = SCHEDULE_LIMITS;
    if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < minSeconds || seconds > maxSeconds) {
      return bad(`schedule.everySeconds must be a whole number of seconds from ${minSeconds} (a minute) to ${maxSeconds} (a year), got ${JSON.stringify(seconds)}`);
    }
    return { everySeconds: seconds };
  }
  if (keys.length === 1 && keys[0] === 'cron') {
    const expression = record.cron;
    if (typeof expression !== 'string' || expression.trim() === '' || expression.length > 200) return bad('schedule.cron must be a cron expression of at most 200 characters, e.g. "0 3 * * *"');
    let cron: Cron;
    try {
      cron = cronOf(expression);
    } catch (err) {
      return bad(`schedule.cron "${expression}" is invalid: ${(err as Error).message.replace(/^CronPattern: /, '')}`);
    }
    const [first, second] = cron.nextRuns(2);
    if (first === undefined) return bad(`schedule.cron "${expression}" never runs`);
    if (second !== undefined && second.getTime() - first.getTime() < SCHEDULE_LIMITS.minSeconds * 1000) {
      return bad(`schedule.cron "${expression}" runs more often than once a minute; scans are at most once a minute`);
    }
    return { cron: expression.trim() };
  }
  return bad('schedule must have exactly one of "everySeconds" or "cron"');
}

function cronOf(expression: string): Cron {
  return new Cron(expression, { paused: true, timezone: 'Etc/UTC' });
}

/** The next periodic run after `now`, jitter not included. */
export function nextPeriodicRun(schedule: TargetSchedule, now: Date): Date {
  if ('everySeconds' in schedule) return new Date(now.getTime() + schedule.everySeconds * 1000);
  const next = cronOf(schedule.cron).nextRun(now);
  // A cron that never fires again (e.g. a date in the past): fall back to a year, never to "now".
  return next ?? new Date(now.getTime() + 31_536_000_000);
}

export interface NextRunInput {
  schedule: TargetSchedule;
  now: Date;
  /** Earliest certificate expiry of the target's latest assessment (TLS targets). */
  certExpiresAt?: string | null | undefined;
  expiry: ExpiryPolicy;
  /** Random delay in ms added to the periodic run (spreads load); never to expiry rescans. */
  jitterMs: number;
}

/** The earliest of the periodic run and the expiry-driven rescans still ahead. */
export function nextRunAt(input: NextRunInput): Date {
  const periodic = nextPeriodicRun(input.schedule, input.now).getTime() + Math.max(0, input.jitterMs);
  const rescan = expiryRescanAt(input.certExpiresAt, input.now, input.expiry);
  return new Date(rescan === undefined ? periodic : Math.min(periodic, rescan.getTime()));
}

/** The next expiry-driven rescan after `now` (N days before the expiry, or an hour after it), if any. */
export function expiryRescanAt(certExpiresAt: string | null | undefined, now: Date, policy: ExpiryPolicy): Date | undefined {
  const expiry = certExpiresAt ? Date.parse(certExpiresAt) : Number.NaN;
  if (Number.isNaN(expiry)) return undefined;
  const candidates: number[] = [];
  const before = expiry - policy.expiryRescanDays * 86_400_000;
  if (policy.expiryRescanDays > 0 && before > now.getTime()) candidates.push(before);
  const after = expiry + AFTER_EXPIRY_MS;
  if (policy.rescanAfterExpiry && after > now.getTime()) candidates.push(after);
  return candidates.length === 0 ? undefined : new Date(Math.min(...candidates));
}
