import { afterEach, describe, expect, it } from 'vitest';
import { TEST_DIALECTS, openTestDatabase, type TestDatabase } from '../testing/databases.js';
import { createAddressLeaseRepository } from './address-leases.js';

const T0 = Date.parse('2026-11-22T03:00:00.000Z');
const at = (ms: number): string => new Date(T0 + ms).toISOString();

describe.each(TEST_DIALECTS)('address leases on %s', (dialect) => {
  let db: TestDatabase | undefined;
  afterEach(async () => {
    await db?.cleanup();
    db = undefined;
  });

  it('refuses a range overlapping another job’s live lease (another scan’s, or another port block of the host), in address order, and allows the rest', async () => {
    db = await openTestDatabase(dialect);
    const leases = createAddressLeaseRepository(db);
    expect(await leases.acquire({ scanId: 'a', shard: -1, first: '127.0.0.1', last: '127.0.0.9' }, at(30_000), at(0))).toBeUndefined();
    // 127.0.0.10 sorts after .9 as an address, not as text.
    expect(await leases.acquire({ scanId: 'b', shard: 0, first: '127.0.0.10', last: '127.0.0.20' }, at(30_000), at(0))).toBeUndefined();
    expect(await leases.acquire({ scanId: 'c', shard: 0, first: '127.0.0.9', last: '127.0.0.9' }, at(30_000), at(0))).toEqual({ heldBy: 'a' });
    expect(await leases.acquire({ scanId: 'c', shard: 1, first: '127.0.0.0', last: '127.0.1.0' }, at(30_000), at(0))).toMatchObject({ heldBy: expect.stringMatching(/^[ab]$/) });
    // Another shard of the same scan on other hosts, and renewing one's own lease, are not conflicts;
    // another port block of the same host is (its connections would add to the per-host cap).
    expect(await leases.acquire({ scanId: 'b', shard: 1, first: '127.0.0.21', last: '127.0.0.21' }, at(30_000), at(0))).toBeUndefined();
    expect(await leases.acquire({ scanId: 'b', shard: 2, first: '127.0.0.21', last: '127.0.0.21' }, at(30_000), at(0))).toEqual({ heldBy: 'b' });
    expect(await leases.acquire({ scanId: 'a', shard: -1, first: '127.0.0.1', last: '127.0.0.9' }, at(60_000), at(1000))).toBeUndefined();
    expect(await leases.renew({ scanId: 'b', shard: 0 }, at(60_000))).toBe(true);
    expect(await leases.renew({ scanId: 'z', shard: 0 }, at(60_000))).toBe(false);
  });

  it('frees a range when its lease is released or expires', async () => {
    db = await openTestDatabase(dialect);
    const leases = createAddressLeaseRepository(db);
    await leases.acquire({ scanId: 'a', shard: -1, first: '127.0.0.1', last: '127.0.0.4' }, at(30_000), at(0));
    await leases.acquire({ scanId: 'b', shard: -1, first: '127.0.1.1', last: '127.0.1.4' }, at(30_000), at(0));
    await leases.release({ scanId: 'a', shard: -1 });
    expect(await leases.acquire({ scanId: 'c', shard: -1, first: '127.0.0.2', last: '127.0.0.2' }, at(30_000), at(0))).toBeUndefined();
    // b's worker died: past its expiry the range is free.
    expect(await leases.acquire({ scanId: 'd', shard: -1, first: '127.0.1.2', last: '127.0.1.2' }, at(90_000), at(30_001))).toBeUndefined();
  });

  it('grants one of many simultaneous requests for the same range', async () => {
    db = await openTestDatabase(dialect);
    const handles = [db, db.reopen(), db.reopen()];
    const outcomes = await Promise.all(
      Array.from({ length: 12 }, (_, i) => createAddressLeaseRepository(handles[i % handles.length]!).acquire({ scanId: `s${i}`, shard: -1, first: '127.0.0.1', last: '127.0.0.255' }, at(30_000), at(0))),
    );
    expect(outcomes.filter((o) => o === undefined)).toHaveLength(1);
  });
});
