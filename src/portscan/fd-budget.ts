/**
 * File-descriptor budget of the connect scan: every probe in flight holds one socket. Node cannot read
 * or raise RLIMIT_NOFILE, so the soft limit is read from /proc/self/limits where it exists (Linux),
 * and 1024 (the usual default soft limit) is assumed elsewhere. The budget leaves 20 % of the limit to
 * the rest of the process (database, HTTP server, service detection) and shrinks when the system says
 * EMFILE/ENFILE anyway, then grows back slowly.
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
  return Math.max(MIN_FD_BUDGET, Math.min(concurrency, Math.floor(FD_SHARE * fdLimit)));
}

/** Counts sockets in flight against a limit that adapts to EMFILE/ENFILE. */
export class FdBudget {
  /** Current limit; at most `ceiling`. */
  limit: number;
  inUse = 0;
  private releasesSinceShrink = 0;

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

  release(): void {
    this.inUse--;
    // Grow back by one for every `limit` sockets released without a new exhaustion.
    if (this.limit < this.ceiling && ++this.releasesSinceShrink >= this.limit) {
      this.limit++;
      this.releasesSinceShrink = 0;
    }
  }

  /** The system refused a socket: cap the budget below what was in use when it happened. */
  exhausted(): void {
    this.limit = Math.max(MIN_FD_BUDGET, Math.min(this.limit, Math.floor(this.inUse * FD_SHARE)));
    this.releasesSinceShrink = 0;
  }
}
