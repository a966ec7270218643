import { describe, expect, it } from 'vitest';
import { timeOrderedId } from './ids.js';

describe('timeOrderedId', () => {
  it('makes RFC 9562 version-7 UUIDs carrying the time', () => {
    const id = timeOrderedId(Date.UTC(2026, 10, 21, 12, 0, 0));
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(Date.UTC(2026, 10, 21, 12, 0, 0));
  });

  it('sorts in the order ids were made, also within one millisecond and past 4,096 ids in it', () => {
    const now = Date.now() + 60_000;
    const ids = Array.from({ length: 10_000 }, () => timeOrderedId(now));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('never goes backwards when the clock does', () => {
    const later = timeOrderedId(Date.now() + 120_000);
    expect(timeOrderedId(Date.now()) > later).toBe(true);
  });
});
