import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PortcullisError } from '../shared/errors.js';
import { type SslLabsEmulator, startSslLabsEmulator } from '../testing/ssllabs-emulator.js';
import { runSslLabsAssessment } from './assess.js';
import { SslLabsClient } from './client.js';
import { SslLabsGovernor } from './governor.js';
import { type SharedBudget, redisBudget } from './shared-budget.js';

/** CI starts Redis here (.ci/run); the suite fails, never skips, when it is not reachable. */
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const EMAIL = 'secops@corp.example';

let admin: Redis;
beforeAll(async () => {
  admin = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2000, retryStrategy: () => null });
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(`Redis is required for the shared SSL Labs budget tests and is not reachable at ${REDIS_URL}: ${(err as Error).message}`);
  }
});
afterAll(() => admin.disconnect());

describe('SSL Labs budget shared through Redis', () => {
  const opened: Array<{ budget: SharedBudget; prefix: string }> = [];
  let emulator: SslLabsEmulator | undefined;
  afterEach(async () => {
    for (const { budget, prefix } of opened.splice(0)) {
      await budget.close();
      const keys = await admin.keys(`${prefix}:*`);
      if (keys.length > 0) await admin.del(...keys);
    }
    await emulator?.close();
    emulator = undefined;
  });

  /** A budget as one worker process opens it (its own connection), on a prefix shared by the "processes" of a test. */
  const budget = (prefix: string, leaseMs?: number): SharedBudget => {
    const b = redisBudget({ redis: new Redis(REDIS_URL, { maxRetriesPerRequest: 1 }), prefix, ...(leaseMs !== undefined ? { leaseMs } : {}) });
    opened.push({ budget: b, prefix });
    return b;
  };

  it('keeps several processes together to the maximum and the cool-off: no 429 from SSL Labs', async () => {
    emulator = await startSslLabsEmulator({ dnsMs: 10, assessmentMs: 40, coolOffMs: 15, maxAssessments: 4, registeredEmails: [EMAIL] });
    const prefix = `pctest-${randomUUID()}`;
    // Two "processes": each its own governor, client and Redis connection; the same email.
    const processes = [0, 1].map(() => {
      const governor = new SslLabsGovernor({ coolOffMarginMs: 0, initialMaxAssessments: 4, initialCoolOffMs: 15, shared: budget(prefix) });
      const client = new SslLabsClient({ baseUrl: (emulator as SslLabsEmulator).url, apiVersion: 'v4', email: EMAIL, onRateHeaders: (h) => governor.observe(h) });
      return { governor, client };
    });
    const hosts = Array.from({ length: 24 }, (_, i) => `h${i}.fleet.example`);
    const runs = await Promise.all(hosts.map((host, i) => runSslLabsAssessment(host, { ...(processes[i % 2] as (typeof processes)[0]), polling: { dnsMs: 5, inProgressMs: 10 } })));
    expect(runs.every((r) => r.host.status === 'READY')).toBe(true);
    expect(emulator.stats.rateLimited.total).toBe(0);
    expect(emulator.stats.peakConcurrent).toBeLessThanOrEqual(4);
    expect(emulator.stats.starts).toBe(24);
    expect(processes.map((p) => p.governor.status().started).sort()).toEqual([12, 12]);
    expect(await processes[0]?.governor.sharedStatus()).toMatchObject({ inFlight: 0, pausedUntil: null });
  });

  it('frees the slot of a process that died mid-assessment once its lease expires', async () => {
    const prefix = `pctest-${randomUUID()}`;
    const dead = budget(prefix, 150);
    const alive = budget(prefix, 150);
    const now = Date.now();
    expect(await dead.tryStart(now, 1)).toMatchObject({ ok: true });
    await dead.setNextStart(now);
    expect(await alive.tryStart(now, 1)).toEqual({ ok: false, waitMs: 0 });
    expect(await alive.tryStart(now + 200, 1)).toMatchObject({ ok: true });
  });

  it('holds every process back while one has a start in flight, and after a 503/529 pause', async () => {
    const prefix = `pctest-${randomUUID()}`;
    const [a, b] = [budget(prefix), budget(prefix)] as [SharedBudget, SharedBudget];
    const now = Date.now();
    expect(await a.tryStart(now, 10)).toMatchObject({ ok: true });
    // A's start is unanswered: B waits for the gate, not for a free slot.
    expect(await b.tryStart(now, 10)).toMatchObject({ ok: false, waitMs: expect.any(Number) });
    await a.setNextStart(now + 50);
    expect(await b.tryStart(now + 50, 10)).toMatchObject({ ok: true });
    await b.setNextStart(now + 50);

    // A pause that outlasts the test: an 80 ms one could end (on a loaded machine) before B looks.
    const governor = new SslLabsGovernor({ initialMaxAssessments: 10, initialCoolOffMs: 0, coolOffMarginMs: 0, pauseMinMs: 60_000, pauseMaxMs: 60_000, shared: a });
    await expect(governor.start(async () => Promise.reject(new PortcullisError('ssllabs.overloaded', '529', { httpStatus: 529 })), AbortSignal.timeout(200))).rejects.toThrow();
    expect((await b.status(Date.now())).pauseReason).toMatch(/529/);
    expect(await b.tryStart(Date.now(), 10)).toMatchObject({ ok: false });
  });
});
