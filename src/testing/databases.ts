import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { type DatabaseHandle, type Dialect, migrateToLatest, openDatabase } from '../store/db.js';

/** The PostgreSQL every test suite also runs against (CI starts it; see .ci/run). */
export const TEST_PG_URL = process.env.PORTCULLIS_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase extends DatabaseHandle {
  /** Options that open the same database again (a "restart"). */
  reopen(): DatabaseHandle;
  cleanup(): Promise<void>;
}

/**
 * Opens a fresh, migrated, isolated database: a temporary SQLite file, or a PostgreSQL schema of its
 * own that cleanup drops. Suites run `describe.each(TEST_DIALECTS)` so every store behaviour is
 * proven on both.
 */
export async function openTestDatabase(dialect: Dialect): Promise<TestDatabase> {
  if (dialect === 'sqlite') {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'portcullis-test-'));
    const handle = openDatabase({ dataDir });
    await migrateToLatest(handle.db);
    const opened: DatabaseHandle[] = [handle];
    return {
      ...handle,
      reopen: () => {
        const again = openDatabase({ dataDir });
        opened.push(again);
        return again;
      },
      cleanup: async () => {
        for (const h of opened) await h.db.destroy().catch(() => {});
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  }
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const admin = openDatabase({ dataDir: '', databaseUrl: TEST_PG_URL, poolSize: 1 });
  await sql`create schema ${sql.id(schema)}`.execute(admin.db);
  await admin.db.destroy();
  const handle = openDatabase({ dataDir: '', databaseUrl: TEST_PG_URL, pgSchema: schema, poolSize: 5 });
  await migrateToLatest(handle.db);
  const opened: DatabaseHandle[] = [handle];
  return {
    ...handle,
    reopen: () => {
      const again = openDatabase({ dataDir: '', databaseUrl: TEST_PG_URL, pgSchema: schema, poolSize: 5 });
      opened.push(again);
      return again;
    },
    cleanup: async () => {
      for (const h of opened) await h.db.destroy().catch(() => {});
      const dropper = openDatabase({ dataDir: '', databaseUrl: TEST_PG_URL, poolSize: 1 });
      await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(dropper.db);
      await dropper.db.destroy();
    },
  };
}

export const TEST_DIALECTS: Dialect[] = ['sqlite', 'postgres'];
