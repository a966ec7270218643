import { afterEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { TEST_DIALECTS, openTestDatabase, type TestDatabase } from '../testing/databases.js';
import { migrateToLatest, pendingMigrations } from './db.js';

describe.each(TEST_DIALECTS)('store migrations on %s', (dialect) => {
  let t: TestDatabase | undefined;
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
  });

  it('applies every migration once and leaves none pending', async () => {
    t = await openTestDatabase(dialect);
    expect(await pendingMigrations(t)).toEqual([]);
    const again = await migrateToLatest(t);
    expect(again.applied).toEqual([]);
  });

  it('creates the tables the repositories use', async () => {
    t = await openTestDatabase(dialect);
    for (const table of ['port_scans', 'scan_hosts', 'port_results', 'jobs'] as const) {
      const row = await t.db.selectFrom(table).select(sql<number>`count(*)`.as('n')).executeTakeFirstOrThrow();
      expect(Number(row.n)).toBe(0);
    }
  });
});
