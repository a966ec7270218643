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

/** A cron expression (UTC) that croner accepts, or schedule.invalid naming `field`. */
export function checkSchedule(schedule: TargetSchedule, field: string): TargetSchedule {
  if ('everySeconds' in schedule) {
    if (!Number.isInteger(schedule.everySeconds) || schedule.everySeconds < 60 || schedule.everySeconds > 31_536_000) {
      throw new PortcullisError('request.invalid', `${field}: everySeconds must be a whole number from 60 to 31536000, got ${String(schedule.everySeconds)}`, { field });
    }
    return schedule;
  }
  try {
    cronOf(schedule.cron);
  } catch (err) {
    throw new PortcullisError('request.invalid', `${field}: "${schedule.cron}" is not a cron expression: ${(err as Error).message}`, { field, value: schedule.cron });
  }
  return schedule;
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
