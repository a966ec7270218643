import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { CompiledQuery, type DatabaseConnection, DEFAULT_MIGRATION_TABLE, type Driver, Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { PortcullisError } from '../shared/errors.js';
import { migrationProvider } from './migrations/index.js';
import type { Database } from './schema.js';
import { type SqliteConnection, type SqliteDriverChoice, openSqlite, resolveSqliteDriver } from './sqlite.js';

export type Dialect = 'sqlite' | 'postgres';

export interface DatabaseHandle {
  db: Kysely<Database>;
  dialect: Dialect;
  /** PostgreSQL schema the handle works in, when not the default search path. */
  pgSchema?: string | undefined;
  /** Where the data lives, for logs: a file path or a URL with the password masked. */
  location: string;
}

export interface DatabaseOptions {
  /** Folder for the SQLite file (`portcullis.sqlite`); ignored with a databaseUrl. */
  dataDir: string;
  /** `postgres://…` selects PostgreSQL. */
  databaseUrl?: string | undefined;
  /** PostgreSQL pool size. */
  poolSize?: number;
  /** PostgreSQL schema to use (tests isolate themselves with one schema each). */
  pgSchema?: string;
  /** SQLite file name inside dataDir, or `:memory:`. */
  sqliteFile?: string;
  /** Open an existing SQLite file read-only, creating nothing (for checks). */
  readOnly?: boolean;
  /** SQLite binding; `auto` picks the safe one for this Node version (see sqlite.ts). */
  sqliteDriver?: SqliteDriverChoice;
}

// pg returns int8/bigint as strings; every bigint we store (counts, progress) fits a JS number.
pg.types.setTypeParser(20, (v) => Number(v));

export function maskUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*)(:[^@/]*)?@/, (_m, user: string) => `//${user}${user ? ':***' : ''}@`);
}

export function openDatabase(options: DatabaseOptions): DatabaseHandle {
  if (options.databaseUrl) {
    const pool = new pg.Pool({
      connectionString: options.databaseUrl,
      max: options.poolSize ?? 10,
      ...(options.pgSchema ? { options: `-c search_path=${options.pgSchema}` } : {}),
    });
    // An idle client losing its connection must not crash the process; the next query reports it.
    pool.on('error', () => {});
    return {
      db: new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }),
      dialect: 'postgres',
      pgSchema: options.pgSchema,
      location: maskUrl(options.databaseUrl),
    };
  }
  const file = options.sqliteFile ?? 'portcullis.sqlite';
  let location = ':memory:';
  if (file !== ':memory:') {
    location = path.resolve(options.dataDir, file);
    if (!options.readOnly) {
      try {
        mkdirSync(options.dataDir, { recursive: true });
      } catch (err) {
        throw new PortcullisError('store.unavailable', `cannot create data directory ${options.dataDir}: ${(err as Error).message}`, { value: options.dataDir });
      }
    }
  }
  if (options.readOnly && file !== ':memory:' && !existsSync(location)) {
    throw new PortcullisError('store.unavailable', `no SQLite database at ${location}`, { value: location });
  }
  let sqlite: SqliteConnection;
  try {
    sqlite = openSqlite(location, { readOnly: options.readOnly === true, driver: resolveSqliteDriver(options.sqliteDriver) });
  } catch (err) {
    throw new PortcullisError('store.unavailable', `cannot open the SQLite database ${location}: ${(err as Error).message}`, { value: location });
  }
  if (!options.readOnly) sqlite.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;');
  // Several processes (serve, a CLI, a second worker) may share the file; wait instead of failing.
  sqlite.exec('PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;');
  return {
    db: new Kysely<Database>({ dialect: new ImmediateSqliteDialect({ database: sqlite.database }) }),
    dialect: 'sqlite',
    location,
  };
}

/**
 * SQLite with write transactions that take the write lock when they begin (BEGIN IMMEDIATE). Several
 * processes share the file (serve, workers, the CLI); a deferred transaction that reads and then
 * writes fails at once with "database is locked" in WAL mode when another process wrote meanwhile,
 * instead of waiting busy_timeout. Measured: 77 such failures and 2 failed scans in a 128-scan batch
 * on two workers before (bench/kill-test.ts --db sqlite --kills 0).
 */
class ImmediateSqliteDialect extends SqliteDialect {
  override createDriver(): Driver {
    const driver = super.createDriver();
    driver.beginTransaction = async (connection: DatabaseConnection) => void (await connection.executeQuery(CompiledQuery.raw('begin immediate')));
    return driver;
  }
}

export interface MigrationOutcome {
  applied: string[];
}

/**
 * Kysely's migrator looks for its bookkeeping tables in every schema unless told which one; pin it to
 * the handle's schema so databases holding several Portcullis schemas (tests, side-by-side installs)
 * never see each other's migration state.
 */
function migratorFor(handle: DatabaseHandle): Migrator {
  return new Migrator({ db: handle.db, provider: migrationProvider, ...(handle.pgSchema ? { migrationTableSchema: handle.pgSchema } : {}) });
}

export async function migrateToLatest(handle: DatabaseHandle): Promise<MigrationOutcome> {
  const migrator = migratorFor(handle);
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new PortcullisError(
      'store.unavailable',
      `database migration ${failed?.migrationName ?? ''} failed: ${error instanceof Error ? error.message : String(error)}`.replace('  ', ' '),
    );
  }
  return { applied: (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName) };
}

/** Names of migrations not yet applied, for `/readyz` and `portcullis migrate --check`. */
/**
 * Migrations not yet applied. Reads the migration table directly rather than through Kysely's
 * Migrator, whose introspection lists every table of every schema and so can fail while another
 * schema of the same database is being dropped.
 */
export async function pendingMigrations(handle: DatabaseHandle): Promise<string[]> {
  const all = Object.keys(await migrationProvider.getMigrations()).sort();
  const table = handle.pgSchema ? sql.table(`${handle.pgSchema}.${DEFAULT_MIGRATION_TABLE}`) : sql.table(DEFAULT_MIGRATION_TABLE);
  let applied: Set<string>;
  try {
    const { rows } = await sql<{ name: string }>`select name from ${table}`.execute(handle.db);
    applied = new Set(rows.map((r) => r.name));
  } catch (err) {
    // No migration table yet: nothing has been applied (PostgreSQL 42P01 undefined_table; SQLite "no such table").
    if ((err as { code?: string }).code === '42P01' || /no such table/.test((err as Error).message)) return all;
    throw err;
  }
  return all.filter((name) => !applied.has(name));
}
