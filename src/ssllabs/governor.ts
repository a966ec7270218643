/**
 * The governor: the one place that decides when this process may start a new SSL Labs assessment.
 * SSL Labs allows `maxAssessments` in flight per client and a mandatory `newAssessmentCoolOff`
 * between starts; "a well-written client should never get a 429". Every job in the process starts
 * through one governor, so the limits hold however many scans run at once.
 *
 * Starts are serialised (one start request in flight at a time, first come first served). The next
 * start is timed from the *response* to the previous one, so the server always sees at least the
 * cool-off between two starts whatever the network does. The number in flight is the larger of
 * what we started and have not seen finish, and what the last response's X-Current-Assessments said
 * (which also counts assessments started by other processes with the same email).
 */
import { PortcullisError } from '../shared/errors.js';
import type { SharedBudget } from './shared-budget.js';

export interface GovernorOptions {
  /** Added to the server's cool-off (the reference client adds 100 ms). */
  coolOffMarginMs?: number;
  /** First wait after a 429; doubles on each consecutive 429, up to maxRateLimitBackoffMs. */
  rateLimitBackoffMs?: number;
  maxRateLimitBackoffMs?: number;
  /** How long all new starts pause after a 503/529: a random time in [min, max]. */
  pauseMinMs?: number;
  pauseMaxMs?: number;
  /** Limits assumed until the first response says otherwise. */
  initialMaxAssessments?: number;
  initialCoolOffMs?: number;
  now?: () => number;
  random?: () => number;
  /** The budget shared with the other processes of a scaled deployment; absent: this process is alone. */
  shared?: SharedBudget | undefined;
}

export interface RateHeaders {
  max?: number | undefined;
  current?: number | undefined;
}

export interface GovernorStatus {
  maxAssessments: number;
  /** The larger of our own running assessments and the server's X-Current-Assessments. */
  currentAssessments: number;
  /** Assessments this process started and still follows. */
  running: number;
  /** What the last response said was in flight for this client. */
  reportedCurrent: number | null;
  coolOffMs: number;
  /** Jobs waiting for their turn to start an assessment. */
  waiting: number;
  /** New starts are paused until then (after a 503/529 or repeated 429s). */
  pausedUntil: string | null;
  pauseReason: string | null;
  nextStartAt: string | null;
  started: number;
  rateLimited: number;
  pauses: number;
}

/** An assessment counted against the limit until released (finished, failed or abandoned). */
export interface StartLease {
  release(): void;
}

/** What a start attempt learnt from SSL Labs, for the governor to act on. */
export type StartRefusal = { kind: 'rate-limited' } | { kind: 'unavailable'; status: number };

const DEFAULTS = {
  coolOffMarginMs: 100,
  rateLimitBackoffMs: 30_000,
  maxRateLimitBackoffMs: 5 * 60_000,
  pauseMinMs: 15 * 60_000,
  pauseMaxMs: 30 * 60_000,
  initialMaxAssessments: 1,
  initialCoolOffMs: 1000,
};

/** How often a waiting process asks the shared budget again when all slots are taken elsewhere. */
const SHARED_RECHECK_MS = 100;
/** A running assessment's shared slot is refreshed this often (its lease lasts longer). */
const SHARED_REFRESH_MS = 30_000;

/** Classifies an error from a start call: refusals the governor retries, anything else passes through. */
export function startRefusal(err: unknown): StartRefusal | undefined {
  if (!(err instanceof PortcullisError)) return undefined;
  if (err.code === 'ssllabs.rate-limited') return { kind: 'rate-limited' };
  if (err.code === 'ssllabs.unavailable' || err.code === 'ssllabs.overloaded') return { kind: 'unavailable', status: Number(err.detail.httpStatus ?? 503) };
  return undefined;
}

export class SslLabsGovernor {
  private readonly options: typeof DEFAULTS;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly shared: SharedBudget | undefined;
  private max: number;
  private coolOffMs: number;
  private reportedCurrent: number | null = null;
  private running = 0;
  private nextStartAt = 0;
  private pausedUntil = 0;
  private pauseReason: string | null = null;
  private consecutive429 = 0;
  private counters = { started: 0, rateLimited: 0, pauses: 0 };
  /** The chain of start turns: each start waits for the previous one to be sent and answered. */
  private turn: Promise<void> = Promise.resolve();
  private waiting = 0;
  /** Wakes a start waiting for a free slot when an assessment finishes or a response reports fewer. */
  private wake: (() => void) | undefined;

  constructor(options: GovernorOptions = {}) {
    this.options = { ...DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined && typeof v === 'number')) };
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.shared = options.shared;
    this.max = this.options.initialMaxAssessments;
    this.coolOffMs = this.options.initialCoolOffMs;
  }

  /** Limits from `info` (or any source that knows them). */
  observeLimits(limits: { maxAssessments?: number | undefined; currentAssessments?: number | undefined; coolOffMs?: number | undefined }): void {
    if (limits.coolOffMs !== undefined && limits.coolOffMs >= 0) this.coolOffMs = limits.coolOffMs;
    this.observe({ max: limits.maxAssessments, current: limits.currentAssessments });
  }

  /** X-Max-Assessments / X-Current-Assessments, from every response. */
  observe(headers: RateHeaders): void {
    if (headers.max !== undefined && headers.max >= 0) this.max = headers.max;
    if (headers.current !== undefined && headers.current >= 0) this.reportedCurrent = headers.current;
    this.wake?.();
  }

  /** Pauses all new starts (503 maintenance, 529 overload): 15–30 minutes by default, with jitter. */
  pause(reason: string): number {
    const { pauseMinMs, pauseMaxMs } = this.options;
    const until = this.now() + pauseMinMs + Math.floor(this.random() * Math.max(0, pauseMaxMs - pauseMinMs));
    if (until > this.pausedUntil) {
      this.pausedUntil = until;
      this.pauseReason = reason;
    }
    this.counters.pauses++;
    void this.shared?.pause(until, reason).catch(() => {
      // Redis unreachable: this process still pauses; the others learn from their own 503s.
    });
    return this.pausedUntil;
  }

  /** When a poll may go on after a pause (polls are not starts, but a server in maintenance answers none). */
  resumeAt(): number {
    return this.pausedUntil;
  }

  /**
   * Waits for a turn and a free slot, then calls `begin` (the request that may start an assessment).
   * A 429 backs off and tries again (never a tight loop); a 503/529 pauses every start and tries
   * again after it. Any other error is returned to the caller. On success the assessment holds a
   * slot until the lease is released.
   */
  async start<T>(begin: () => Promise<T>, signal?: AbortSignal): Promise<{ result: T; lease: StartLease }> {
    this.waiting++;
    const previous = this.turn;
    let endTurn!: () => void;
    this.turn = new Promise<void>((resolve) => (endTurn = resolve));
    try {
      await previous;
      for (;;) {
        const sharedLease = await this.waitUntilAllowed(signal);
        this.running++;
        let released = false;
        const refresh = sharedLease === undefined ? undefined : setInterval(() => void this.shared?.refresh(sharedLease, this.now()).catch(() => {}), SHARED_REFRESH_MS);
        refresh?.unref();
        const lease: StartLease = {
          release: () => {
            if (released) return;
            released = true;
            this.running--;
            clearInterval(refresh);
            if (sharedLease !== undefined) void this.shared?.release(sharedLease).catch(() => {});
            this.wake?.();
          },
        };
        try {
          const result = await begin();
          this.consecutive429 = 0;
          this.counters.started++;
          await this.setNextStart(this.now() + this.coolOffMs + this.options.coolOffMarginMs);
          return { result, lease };
        } catch (err) {
          lease.release();
          const refusal = startRefusal(err);
          if (refusal === undefined) {
            await this.setNextStart(this.now() + this.coolOffMs + this.options.coolOffMarginMs);
            throw err;
          }
          if (refusal.kind === 'rate-limited') {
            this.counters.rateLimited++;
            this.consecutive429++;
            const backoff = Math.min(this.options.rateLimitBackoffMs * 2 ** (this.consecutive429 - 1), this.options.maxRateLimitBackoffMs);
            await this.setNextStart(this.now() + Math.max(backoff, this.coolOffMs + this.options.coolOffMarginMs));
          } else {
            this.pause(`SSL Labs answered ${refusal.status} (${refusal.status === 529 ? 'overloaded' : 'unavailable'})`);
            await this.setNextStart(this.now());
          }
        }
      }
    } finally {
      this.waiting--;
      endTurn();
    }
  }

  status(): GovernorStatus {
    const now = this.now();
    return {
      maxAssessments: this.max,
      currentAssessments: this.inFlight(),
      running: this.running,
      reportedCurrent: this.reportedCurrent,
      coolOffMs: this.coolOffMs,
      waiting: this.waiting,
      pausedUntil: this.pausedUntil > now ? new Date(this.pausedUntil).toISOString() : null,
      pauseReason: this.pausedUntil > now ? this.pauseReason : null,
      nextStartAt: this.nextStartAt > now ? new Date(this.nextStartAt).toISOString() : null,
      ...this.counters,
    };
  }

  /** The shared budget's view: every process's assessments in flight and their pauses; undefined when alone. */
  async sharedStatus(): Promise<{ inFlight: number; pausedUntil: string | null; pauseReason: string | null } | undefined> {
    if (this.shared === undefined) return undefined;
    const now = this.now();
    const s = await this.shared.status(now);
    return { inFlight: s.inFlight, pausedUntil: s.pausedUntil > now ? new Date(s.pausedUntil).toISOString() : null, pauseReason: s.pausedUntil > now ? s.pauseReason : null };
  }

  private inFlight(): number {
    return Math.max(this.running, this.reportedCurrent ?? 0);
  }

  /** The earliest next start, here and (releasing the shared start gate) for every process. */
  private async setNextStart(at: number): Promise<void> {
    this.nextStartAt = at;
    await this.shared?.setNextStart(at);
  }

  /** Returns once this process may start; with a shared budget, holding one of its slots (the lease id). */
  private async waitUntilAllowed(signal: AbortSignal | undefined): Promise<string | undefined> {
    for (;;) {
      signal?.throwIfAborted();
      const now = this.now();
      const until = Math.max(this.pausedUntil, this.nextStartAt);
      if (until > now) {
        await sleep(until - now, signal);
        continue;
      }
      if (this.inFlight() < this.max) {
        if (this.shared === undefined) return undefined;
        const slot = await this.shared.tryStart(now, this.max);
        if (slot.ok) return slot.lease;
        // Ask again soon: the wait may be another process's start gate, released as soon as SSL Labs answers it.
        await sleep(slot.waitMs > 0 ? Math.min(slot.waitMs, SHARED_RECHECK_MS) : SHARED_RECHECK_MS, signal);
        continue;
      }
      // Full: wait for a release or a response reporting fewer in flight. The timeout re-checks in
      // case the only news would come from another process's assessments finishing.
      await new Promise<void>((resolve, reject) => {
        const cleanUp = (): void => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          this.wake = undefined;
        };
        const onAbort = (): void => {
          cleanUp();
          reject(abortReason(signal));
        };
        const timer = setTimeout(() => {
          cleanUp();
          resolve();
        }, Math.max(1000, this.coolOffMs));
        this.wake = () => {
          cleanUp();
          resolve();
        };
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    }
  }
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortReason(signal));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortReason(signal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function abortReason(signal: AbortSignal | undefined): Error {
  return signal?.reason instanceof Error ? signal.reason : new PortcullisError('scan.cancelled', 'cancelled while waiting for SSL Labs');
}
