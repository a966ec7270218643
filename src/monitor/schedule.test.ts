import { describe, expect, it } from 'vitest';
import { PortcullisError } from '../shared/errors.js';
import { nextPeriodicRun, nextRunAt, validateSchedule } from './schedule.js';

const NOW = new Date('2026-11-21T12:00:00.000Z');
const EXPIRY = { expiryRescanDays: 7, rescanAfterExpiry: true };
const DAY = 86_400_000;

describe('target schedules', () => {
  it('runs an interval target that long after now, plus jitter', () => {
    expect(nextRunAt({ schedule: { everySeconds: 3600 }, now: NOW, expiry: EXPIRY, jitterMs: 0 }).toISOString()).toBe('2026-11-21T13:00:00.000Z');
    expect(nextRunAt({ schedule: { everySeconds: 3600 }, now: NOW, expiry: EXPIRY, jitterMs: 90_000 }).toISOString()).toBe('2026-11-21T13:01:30.000Z');
  });

  it('reads cron expressions in UTC', () => {
    expect(nextPeriodicRun({ cron: '0 3 * * *' }, NOW).toISOString()).toBe('2026-11-22T03:00:00.000Z');
    expect(nextPeriodicRun({ cron: '30 12 * * 6' }, NOW).toISOString()).toBe('2026-11-21T12:30:00.000Z');
  });

  it('assesses again N days before the certificate expires, and again an hour after the expiry', () => {
    const expires = new Date(NOW.getTime() + 10 * DAY).toISOString();
    const weekly = { everySeconds: 7 * 86_400 };
    // Periodic in 7 days, expiry rescan in 3 days (10 - 7): the rescan comes first.
    expect(nextRunAt({ schedule: weekly, now: NOW, certExpiresAt: expires, expiry: EXPIRY, jitterMs: 0 }).getTime()).toBe(NOW.getTime() + 3 * DAY);
    // Inside the 7-day window: next is the hour after expiry, unless the periodic run comes first.
    const soon = new Date(NOW.getTime() + 2 * DAY).toISOString();
    expect(nextRunAt({ schedule: weekly, now: NOW, certExpiresAt: soon, expiry: EXPIRY, jitterMs: 0 }).getTime()).toBe(NOW.getTime() + 2 * DAY + 3_600_000);
    // Expired long ago: only the periodic run is left.
    const past = new Date(NOW.getTime() - 2 * DAY).toISOString();
    expect(nextRunAt({ schedule: weekly, now: NOW, certExpiresAt: past, expiry: EXPIRY, jitterMs: 0 }).getTime()).toBe(NOW.getTime() + 7 * DAY);
    // Both expiry rescans switched off.
    expect(nextRunAt({ schedule: weekly, now: NOW, certExpiresAt: expires, expiry: { expiryRescanDays: 0, rescanAfterExpiry: false }, jitterMs: 0 }).getTime()).toBe(NOW.getTime() + 7 * DAY);
  });

  it('never adds jitter to an expiry rescan', () => {
    const expires = new Date(NOW.getTime() + 8 * DAY).toISOString();
    expect(nextRunAt({ schedule: { everySeconds: 30 * 86_400 }, now: NOW, certExpiresAt: expires, expiry: EXPIRY, jitterMs: 3_600_000 }).getTime()).toBe(NOW.getTime() + DAY);
  });

  it('refuses bad schedules with the reason', () => {
    expect(validateSchedule({ cron: 'every tuesday' })).toBeInstanceOf(PortcullisError);
    expect(validateSchedule({ everySeconds: 5 })).toMatchObject({ message: expect.stringMatching(/from 60 \(a minute\)/) });
    expect(validateSchedule({ cron: '*/15 * * * *' })).toEqual({ cron: '*/15 * * * *' });
  });
});
