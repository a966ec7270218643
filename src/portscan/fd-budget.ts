/**
 * File-descriptor budget of the connect scan: every probe in flight holds one socket. Node cannot read
 * or raise RLIMIT_NOFILE, so the soft limit is read from /proc/self/limits where it exists (Linux),
 * and 1024 (the usual default soft limit) is assumed elsewhere. The budget leaves 20 % of the limit to
 * the rest of the process (database, HTTP server, service detection) and shrinks when the system says
 * EMFILE/ENFILE anyway, then grows back slowly.
 *
 * A scan makes its own budget unless it is given one to share (`createConnectionBudget`): the limit is
 * per process, so a worker running several scans at once gives them all the same budget. A scan that
 * runs out of sockets with none of its own in flight gets no callback of its own to retry on; it waits
 * on the budget (`waitForRelease`) and is called back when another scan releases one.
 */
import { readFileSync } from 'node:fs';

/** Assumed soft limit when it cannot be read. */
export const FALLBACK_FD_LIMIT = 1024;
/** Share of the soft limit the scan may use. */
export const FD_SHARE = 0.8;
/** The budget never shrinks below this. */
export const MIN_FD_BUDGET = 4;

/** Soft `Max open files` from a /proc/<pid>/limits text; undefined when absent or unreadable. */
export function parseFdLimit(limitsText: string): number | undefined {
  const line = limitsText.split('\n').find((l) => l.startsWith('Max open files'));
  if (line === undefined) return undefined;
  const soft = line.slice('Max open files'.length).trim().split(/\s+/)[0];
  if (soft === 'unlimited') return Number.MAX_SAFE_INTEGER;
  const n = Number(soft);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/** The process's soft RLIMIT_NOFILE, or 1024 when /proc/self/limits is unavailable. */
export function detectFdLimit(path = '/proc/self/limits'): number {
  try {
    return parseFdLimit(readFileSync(path, 'utf8')) ?? FALLBACK_FD_LIMIT;
  } catch {
    return FALLBACK_FD_LIMIT;
  }
}

/** `min(concurrency, 0.8 × soft fd limit)`, at least MIN_FD_BUDGET. */
export function defaultFdBudget(concurrency: number, fdLimit = detectFdLimit()): number {
  return Math.max(MIN_FD_BUDGET, Math.min(concurrency, processFdShare(fdLimit)));
}

/**
 * A budget for every scan of this process to share: `limit` sockets in flight in total (never below
 * MIN_FD_BUDGET), by default 0.8 × the soft fd limit.
 */
export function createConnectionBudget(limit?: number): FdBudget {
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw new RangeError(`connection budget must be a positive integer, got ${limit}`);
  return new FdBudget(limit ?? processFdShare(detectFdLimit()));
}

function processFdShare(fdLimit: number): number {
  return Math.max(MIN_FD_BUDGET, Math.floor(FD_SHARE * fdLimit));
}

/** Called back when a socket of the budget it waits on is released; must not throw. */
export type BudgetWaiter = () => void;

/** Counts sockets in flight against a limit that adapts to EMFILE/ENFILE. */
export class FdBudget {
  /** Current limit; at most `ceiling`. */
  limit: number;
  inUse = 0;
  private releasesSinceShrink = 0;
  /** In the order they started waiting: the longest waiter gets the first free socket. */
  private readonly waiters = new Set<BudgetWaiter>();

  readonly ceiling: number;

  constructor(ceiling: number) {
    this.ceiling = ceiling;
    this.limit = Math.max(MIN_FD_BUDGET, ceiling);
  }

  available(): number {
    return Math.max(0, this.limit - this.inUse);
  }

  acquire(): void {
    this.inUse++;
  }

  /**
   * Gives a socket back and wakes waiters while sockets are free. `releaser`, its own holder, is not
   * woken by it: it handles its own release after, and others waiting get the socket first.
   */
  release(releaser?: BudgetWaiter): void {
    this.inUse--;
    // Grow back by one for every `limit` sockets released without a new exhaustion.
    if (this.limit < this.ceiling && ++this.releasesSinceShrink >= this.limit) {
      this.limit++;
      this.releasesSinceShrink = 0;
    }
    this.wakeWaiters(releaser);
  }

  /** Calls `waiter` back once, the next time another holder releases a socket and one is free. */
  waitForRelease(waiter: BudgetWaiter): void {
    this.waiters.add(waiter);
  }

  stopWaiting(waiter: BudgetWaiter): void {
    this.waiters.delete(waiter);
  }

  /** The system refused a socket: cap the budget below what was in use when it happened. */
  exhausted(): void {
    this.limit = Math.max(MIN_FD_BUDGET, Math.min(this.limit, Math.floor(this.inUse * FD_SHARE)));
    this.releasesSinceShrink = 0;
  }

  private wakeWaiters(releaser: BudgetWaiter | undefined): void {
    // A woken waiter that finds the budget full again waits anew, at the end: that is for the next release.
    let toVisit = this.waiters.size;
    for (const waiter of this.waiters) {
      if (toVisit-- === 0 || this.available() === 0) return;
      if (waiter === releaser) continue;
      this.waiters.delete(waiter);
      waiter();
    }
  }
}
