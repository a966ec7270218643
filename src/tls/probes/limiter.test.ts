import { describe, expect, it } from 'vitest';
import { createLimiter } from './limiter.js';

describe('createLimiter', () => {
  it('never runs more tasks at once than the limit, and runs them all', async () => {
    const limit = createLimiter(3);
    let running = 0;
    let peak = 0;
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        limit(async () => {
          running++;
          peak = Math.max(peak, running);
          await new Promise((resolve) => setTimeout(resolve, 2));
          running--;
          return i;
        }),
      ),
    );
    expect(results).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(peak).toBe(3);
  });

  it('frees the slot of a task that fails', async () => {
    const limit = createLimiter(1);
    await expect(limit(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await limit(async () => 'next')).toBe('next');
  });

  it('refuses a limit below one', () => {
    expect(() => createLimiter(0)).toThrow(RangeError);
  });
});

describe('createLimiter priorities', () => {
  it('starts waiting urgent tasks before waiting normal ones, each in FIFO order', async () => {
    const limit = createLimiter(1);
    const started: string[] = [];
    let releaseFirst = (): void => {};
    const first = limit(() => new Promise<void>((resolve) => (releaseFirst = resolve)));
    const queued = [
      limit(async () => void started.push('normal 1')),
      limit(async () => void started.push('urgent 1'), true),
      limit(async () => void started.push('normal 2')),
      limit(async () => void started.push('urgent 2'), true),
    ];
    releaseFirst();
    await Promise.all([first, ...queued]);
    expect(started).toEqual(['urgent 1', 'urgent 2', 'normal 1', 'normal 2']);
  });
});
