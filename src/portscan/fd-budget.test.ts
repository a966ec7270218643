import { describe, expect, it } from 'vitest';
import { FD_SHARE, FdBudget, MIN_FD_BUDGET, createConnectionBudget, defaultFdBudget, detectFdLimit, parseFdLimit } from './fd-budget.js';

describe('fd budget', () => {
  it('reads the soft open-files limit from /proc/self/limits text', () => {
    const text = 'Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n';
    expect(parseFdLimit(text)).toBe(1024);
    expect(parseFdLimit('Max open files            unlimited            unlimited            files')).toBe(Number.MAX_SAFE_INTEGER);
    expect(parseFdLimit('nothing here')).toBeUndefined();
  });

  it('defaults to min(concurrency, 0.8 × limit)', () => {
    expect(defaultFdBudget(1000, 1024)).toBe(819);
    expect(defaultFdBudget(300, 20_000)).toBe(300);
    expect(defaultFdBudget(1000, 3)).toBe(4);
  });

  it('shrinks below what was in use on EMFILE and grows back slowly', () => {
    const b = new FdBudget(100);
    for (let i = 0; i < 50; i++) b.acquire();
    b.exhausted();
    expect(b.limit).toBe(40);
    expect(b.available()).toBe(0);
    for (let i = 0; i < 50; i++) b.release();
    expect(b.limit).toBe(41);
  });
});

describe('shared connection budget', () => {
  /** A budget with every socket taken. */
  function fullBudget(limit: number): FdBudget {
    const b = new FdBudget(limit);
    for (let i = 0; i < limit; i++) b.acquire();
    return b;
  }

  it('is 0.8 × the soft fd limit for the whole process by default', () => {
    const b = createConnectionBudget();
    expect(b.limit).toBe(Math.max(MIN_FD_BUDGET, Math.floor(FD_SHARE * detectFdLimit())));
    expect(createConnectionBudget(64).limit).toBe(64);
    expect(() => createConnectionBudget(0)).toThrow(RangeError);
    expect(() => createConnectionBudget(2.5)).toThrow(RangeError);
  });

  it('calls a waiter back once when another holder releases a socket', () => {
    const b = fullBudget(4);
    let woken = 0;
    b.waitForRelease(() => woken++);
    b.release();
    expect(woken).toBe(1);
    b.acquire();
    b.release();
    expect(woken).toBe(1); // not waiting any more until it asks again
  });

  it('does not call the releaser back for its own release, but wakes it for another', () => {
    const b = fullBudget(4);
    let woken = 0;
    const waiter = (): void => {
      woken++;
    };
    b.waitForRelease(waiter);
    b.release(waiter);
    expect(woken).toBe(0);
    b.acquire();
    b.release();
    expect(woken).toBe(1);
  });

  it('gives a freed socket to the longest waiter first', () => {
    const b = fullBudget(4);
    const order: string[] = [];
    const takeOne = (name: string) => (): void => {
      order.push(name);
      b.acquire();
      if (b.available() === 0) b.waitForRelease(takeOne(name));
    };
    b.waitForRelease(takeOne('first'));
    b.waitForRelease(takeOne('second'));
    b.release();
    b.release();
    expect(order).toEqual(['first', 'second']);
    expect(b.available()).toBe(0);
  });

  it('keeps waking waiters while sockets are free, and none while the budget is over its limit', () => {
    const b = new FdBudget(10);
    for (let i = 0; i < 10; i++) b.acquire();
    b.exhausted(); // limit 8 with 10 in use
    const woken: string[] = [];
    b.waitForRelease(() => woken.push('not needing one')); // a spurious wake: takes nothing
    b.waitForRelease(() => {
      woken.push('taking one');
      b.acquire();
    });
    b.release();
    b.release();
    expect(woken).toEqual([]);
    b.release();
    expect(woken).toEqual(['not needing one', 'taking one']);
  });
});
