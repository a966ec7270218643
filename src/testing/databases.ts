import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { type DatabaseHandle, type Dialect, migrateToLatest, openDatabase } from '../store/index.js';
import type { SqliteDriverChoice } from '../store/index.js';

/** The PostgreSQL every test suite also runs against (CI starts it; see .ci/run). */
export const TEST_PG_URL = process.env.PORTCULLIS_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** SQLite binding under test: the one this Node version uses unless PORTCULLIS_SQLITE_DRIVER says. */
const TEST_SQLITE_DRIVER = (process.env.PORTCULLIS_SQLITE_DRIVER ?? 'auto') as SqliteDriverChoice;

export interface TestDatabase extends DatabaseHandle {
  /** Opens the same database again (a "restart"). */
  reopen(): DatabaseHandle;
  cleanup(): Promise<void>;
}

export const TEST_DIALECTS: Dialect[] = ['sqlite', 'postgres'];

/**
 * Opens a fresh, migrated, isolated database: a temporary SQLite file, or a PostgreSQL schema of its
 * own that cleanup drops. Suites run `describe.each(TEST_DIALECTS)` so every store behaviour is
 * proven on both.
 */
export async function openTestDatabase(dialect: Dialect): Promise<TestDatabase> {
  return dialect === 'sqlite' ? openSqlite() : openPostgresSchema();
}

async function openSqlite(): Promise<TestDatabase> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'portcullis-test-'));
  const open = (): DatabaseHandle => openDatabase({ dataDir, sqliteDriver: TEST_SQLITE_DRIVER });
  const handle = open();
  await migrateToLatest(handle);
  return track(handle, open, async () => rmSync(dataDir, { recursive: true, force: true }));
}

async function openPostgresSchema(): Promise<TestDatabase> {
  // Reading the catalog while a parallel suite drops its schema can fail with "does not exist": a
  // race between test files, not a fault of the code under test, so start over with a new schema.
  for (let attempt = 1; ; attempt++) {
    const schema = `t_${randomBytes(6).toString('hex')}`;
    await adminQuery(sql`create schema ${sql.id(schema)}`);
    const dropSchema = () => adminQuery(sql`drop schema if exists ${sql.id(schema)} cascade`);
    const open = (): DatabaseHandle => openDatabase({ dataDir: '', databaseUrl: TEST_PG_URL, pgSchema: schema, poolSize: 5 });
    const handle = open();
    try {
      await migrateToLatest(handle);
      return track(handle, open, dropSchema);
    } catch (err) {
      await handle.db.destroy().catch(() => {});
      await dropSchema();
      if (attempt >= 5 || !/does not exist/.test((err as Error).message)) throw err;
    }
  }
}

async function adminQuery(query: ReturnType<typeof sql>): Promise<void> {
  const admin = openDatabase({ dataDir: '', databaseUrl: TEST_PG_URL, poolSize: 1 });
  try {
    await query.execute(admin.db);
  } finally {
    await admin.db.destroy();
  }
}

function track(handle: DatabaseHandle, open: () => DatabaseHandle, remove: () => Promise<void>): TestDatabase {
  const opened: DatabaseHandle[] = [handle];
  return {
    ...handle,
    reopen: () => {
      const again = open();
      opened.push(again);
      return again;
    },
    cleanup: async () => {
      for (const h of opened) await h.db.destroy().catch(() => {});
      await remove();
    },
  };
}
