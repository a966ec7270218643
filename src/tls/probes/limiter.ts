/**
 * A counting semaphore: at most `limit` tasks run at once, the rest wait in FIFO order, urgent ones
 * first. Urgent is for steps of a sequential chain (a removal loop): each waits on the one before, so
 * queueing it behind independent one-off connections would stretch the whole assessment.
 */
export type Limiter = <T>(task: () => Promise<T>, urgent?: boolean) => Promise<T>;

export function createLimiter(limit: number): Limiter {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`parallelism must be a positive whole number, not ${String(limit)}`);
  let running = 0;
  const waiting = { urgent: [] as Array<() => void>, normal: [] as Array<() => void> };
  const release = (): void => {
    running--;
    (waiting.urgent.shift() ?? waiting.normal.shift())?.();
  };
  return async <T>(task: () => Promise<T>, urgent = false): Promise<T> => {
    if (running >= limit) await new Promise<void>((resolve) => (urgent ? waiting.urgent : waiting.normal).push(resolve));
    running++;
    try {
      return await task();
    } finally {
      release();
    }
  };
}
