import { describe, expect, it } from 'vitest';
import { PortcullisError } from '../shared/errors.js';
import { SslLabsGovernor } from './governor.js';

const rateLimited = (): PortcullisError => new PortcullisError('ssllabs.rate-limited', '429', { httpStatus: 429 });

describe('SSL Labs governor', () => {
  it('never has more assessments running than the maximum, and starts the next one when a lease is released', async () => {
    const governor = new SslLabsGovernor({ initialMaxAssessments: 2, initialCoolOffMs: 0, coolOffMarginMs: 0 });
    let running = 0;
    let peak = 0;
    const job = async (): Promise<void> => {
      const { lease } = await governor.start(async () => {
        running++;
        peak = Math.max(peak, running);
      });
      await new Promise((r) => setTimeout(r, 20));
      running--;
      lease.release();
    };
    await Promise.all(Array.from({ length: 7 }, job));
    expect(peak).toBe(2);
    expect(governor.status()).toMatchObject({ started: 7, running: 0, waiting: 0, rateLimited: 0 });
  });

  it('leaves at least the cool-off (plus margin) between two starts, measured from the previous answer', async () => {
    const governor = new SslLabsGovernor({ initialMaxAssessments: 10, initialCoolOffMs: 40, coolOffMarginMs: 10 });
    const answeredAt: number[] = [];
    const sentAt: number[] = [];
    await Promise.all(
      Array.from({ length: 4 }, () =>
        governor.start(async () => {
          sentAt.push(performance.now());
          await new Promise((r) => setTimeout(r, 5));
          answeredAt.push(performance.now());
        }),
      ),
    );
    for (let i = 1; i < sentAt.length; i++) expect((sentAt[i] as number) - (answeredAt[i - 1] as number)).toBeGreaterThanOrEqual(49);
  });

  it('counts the server-reported current assessments (other processes with the same email) against the maximum', async () => {
    const governor = new SslLabsGovernor({ initialMaxAssessments: 3, initialCoolOffMs: 0, coolOffMarginMs: 0 });
    governor.observe({ max: 3, current: 3 });
    let started = false;
    const pending = governor.start(async () => {
      started = true;
    });
    await new Promise((r) => setTimeout(r, 30));
    expect(started).toBe(false);
    expect(governor.status()).toMatchObject({ currentAssessments: 3, reportedCurrent: 3, waiting: 1 });
    governor.observe({ current: 2 });
    (await pending).lease.release();
    expect(started).toBe(true);
  });

  it('backs off after a 429 and tries again, doubling the wait on consecutive 429s, never in a tight loop', async () => {
    const governor = new SslLabsGovernor({ initialMaxAssessments: 5, initialCoolOffMs: 0, coolOffMarginMs: 0, rateLimitBackoffMs: 20 });
    const attempts: number[] = [];
    const { result } = await governor.start(async () => {
      attempts.push(performance.now());
      if (attempts.length < 3) throw rateLimited();
      return 'started';
    });
    expect(result).toBe('started');
    expect((attempts[1] as number) - (attempts[0] as number)).toBeGreaterThanOrEqual(19);
    expect((attempts[2] as number) - (attempts[1] as number)).toBeGreaterThanOrEqual(39);
    expect(governor.status()).toMatchObject({ rateLimited: 2, started: 1 });
  });

  it('pauses every new start after a 503 or 529 for a jittered time within the configured window', async () => {
    const governor = new SslLabsGovernor({ initialMaxAssessments: 5, initialCoolOffMs: 0, coolOffMarginMs: 0, pauseMinMs: 40, pauseMaxMs: 60, random: () => 0.5 });
    const attempts: number[] = [];
    const first = governor.start(async () => {
      attempts.push(performance.now());
      if (attempts.length === 1) throw new PortcullisError('ssllabs.overloaded', '529', { httpStatus: 529 });
    });
    await new Promise((r) => setTimeout(r, 5));
    expect(governor.status().pauseReason).toMatch(/529 \(overloaded\)/);
    expect(governor.status().pausedUntil).not.toBeNull();
    await first;
    expect((attempts[1] as number) - (attempts[0] as number)).toBeGreaterThanOrEqual(49);
    expect(governor.status().pauses).toBe(1);
  });

  it('passes other errors (500, configuration) straight to the caller and frees the slot', async () => {
    const governor = new SslLabsGovernor({ initialMaxAssessments: 1, initialCoolOffMs: 0, coolOffMarginMs: 0 });
    await expect(governor.start(async () => Promise.reject(new PortcullisError('ssllabs.internal-error', 'boom')))).rejects.toMatchObject({ code: 'ssllabs.internal-error' });
    const { lease } = await governor.start(async () => 'ok');
    lease.release();
    expect(governor.status()).toMatchObject({ running: 0, started: 1 });
  });

  it('gives up waiting for a slot when the job is cancelled, without holding up the others', async () => {
    const governor = new SslLabsGovernor({ initialMaxAssessments: 1, initialCoolOffMs: 0, coolOffMarginMs: 0 });
    const { lease } = await governor.start(async () => 'first');
    const abort = new AbortController();
    const cancelled = governor.start(async () => 'never', abort.signal);
    abort.abort(new PortcullisError('scan.cancelled', 'scan cancelled'));
    await expect(cancelled).rejects.toMatchObject({ code: 'scan.cancelled' });
    lease.release();
    const next = await governor.start(async () => 'next');
    expect(next.result).toBe('next');
  });
});
