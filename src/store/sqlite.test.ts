import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PortcullisError } from '../shared/errors.js';
import { migrateToLatest, openDatabase } from './db.js';
import { type SqliteDriver, resolveSqliteDriver } from './sqlite.js';

describe('resolveSqliteDriver', () => {
  it.each([
    ['auto', '20.20.2', 'better-sqlite3'],
    ['auto', '22.23.3', 'better-sqlite3'],
    ['auto', '24.21.0', 'node:sqlite'],
    ['auto', '26.0.0', 'node:sqlite'],
    ['better-sqlite3', '24.21.0', 'better-sqlite3'],
    ['node:sqlite', '22.23.3', 'node:sqlite'],
  ] as const)('%s on Node %s uses %s', (choice, version, expected) => {
    expect(resolveSqliteDriver(choice, version)).toBe(expected);
  });
});

/** Bindings this runtime can use safely: node:sqlite where Node has it, better-sqlite3 12 below Node 24. */
function usableDrivers(): SqliteDriver[] {
  const drivers: SqliteDriver[] = [];
  if (Number(process.versions.node.split('.')[0]) < 24) drivers.push('better-sqlite3');
  try {
    createRequire(import.meta.url)('node:sqlite');
    drivers.push('node:sqlite');
  } catch {
    // Node 20: no built-in SQLite.
  }
  return drivers;
}

describe.each(usableDrivers())('the embedded store through %s', (driver) => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const tempDir = (): string => {
    const d = mkdtempSync(path.join(tmpdir(), 'portcullis-sqlite-'));
    dirs.push(d);
    return d;
  };

  it('migrates, writes with RETURNING, reads back, and persists across a reopen', async () => {
    const dataDir = tempDir();
    const handle = openDatabase({ dataDir, sqliteDriver: driver });
    await migrateToLatest(handle);
    const now = new Date().toISOString();
    const row = await handle.db
      .insertInto('jobs')
      .values({ id: 'j1', queue: 'q', kind: 'k', payload: '{}', state: 'waiting', priority: 0, attempts_made: 0, max_attempts: 3, backoff: '{}', run_at: now, lease_owner: null, lease_until: null, progress: null, result: null, error: null, dedupe_key: null, created_at: now, updated_at: now, finished_at: null })
      .returning(['id', 'cancel_requested'])
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ id: 'j1', cancel_requested: 0 });
    const updated = await handle.db.updateTable('jobs').set({ state: 'active' }).where('id', '=', 'j1').executeTakeFirst();
    expect(Number(updated.numUpdatedRows)).toBe(1);
    await handle.db.destroy();

    const again = openDatabase({ dataDir, sqliteDriver: driver, readOnly: true });
    expect(await again.db.selectFrom('jobs').select(['id', 'state']).execute()).toEqual([{ id: 'j1', state: 'active' }]);
    await expect(again.db.deleteFrom('jobs').execute()).rejects.toThrow(/readonly/i);
    await again.db.destroy();
  });

  it('opening a missing file read-only fails clearly and creates nothing', () => {
    const dataDir = path.join(tempDir(), 'absent');
    try {
      openDatabase({ dataDir, sqliteDriver: driver, readOnly: true });
      throw new Error('expected an error');
    } catch (err) {
      expect(err).toBeInstanceOf(PortcullisError);
      expect((err as PortcullisError).code).toBe('store.unavailable');
      expect((err as Error).message).toContain('no SQLite database at');
    }
  });
});
