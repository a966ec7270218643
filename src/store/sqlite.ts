import { createRequire } from 'node:module';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

/**
 * Which SQLite binding the embedded store uses.
 * - `better-sqlite3` (12.x): the only choice on Node 20, and the default on Node 22, where
 *   `node:sqlite` still prints an ExperimentalWarning.
 * - `node:sqlite`: the default on Node ≥ 24. Node 24.19 changed `node::ObjectWrap` so that
 *   better-sqlite3 ≤ 12 aborts the process (`Assertion failed: (env) != nullptr`) when a prepared
 *   statement is garbage-collected (nodejs/node#65446); better-sqlite3 13 fixes that but no longer
 *   runs on Node 20.
 */
export type SqliteDriver = 'better-sqlite3' | 'node:sqlite';
export type SqliteDriverChoice = SqliteDriver | 'auto';

export function resolveSqliteDriver(choice: SqliteDriverChoice = 'auto', nodeVersion = process.versions.node): SqliteDriver {
  if (choice !== 'auto') return choice;
  return Number(nodeVersion.split('.')[0]) >= 24 ? 'node:sqlite' : 'better-sqlite3';
}

export interface SqliteConnection {
  /** What Kysely's SqliteDialect drives. */
  database: SqliteDatabase;
  /** Runs statements that return nothing (pragmas). */
  exec(sql: string): void;
}

// Loaded on demand and synchronously: the store opens synchronously, and only one driver is used.
const require = createRequire(import.meta.url);

export function openSqlite(location: string, options: { readOnly: boolean; driver: SqliteDriver }): SqliteConnection {
  return options.driver === 'node:sqlite' ? openNodeSqlite(location, options.readOnly) : openBetterSqlite(location, options.readOnly);
}

function openBetterSqlite(location: string, readOnly: boolean): SqliteConnection {
  const Database = require('better-sqlite3') as typeof import('better-sqlite3');
  const db = new Database(location, readOnly ? { readonly: true, fileMustExist: true } : {});
  return { database: db, exec: (sql) => db.exec(sql) };
}

interface NodeSqliteStatement {
  columns(): unknown[];
  all(...parameters: unknown[]): unknown[];
  run(...parameters: unknown[]): { changes: number | bigint; lastInsertRowid: number | bigint };
  iterate(...parameters: unknown[]): IterableIterator<unknown>;
}

interface NodeSqliteDatabase {
  prepare(sql: string): NodeSqliteStatement;
  exec(sql: string): void;
  close(): void;
}

/** `node:sqlite` shaped as Kysely's SqliteDatabase: parameters spread, readers told by their columns. */
function openNodeSqlite(location: string, readOnly: boolean): SqliteConnection {
  const { DatabaseSync } = require('node:sqlite') as { DatabaseSync: new (path: string, options: { readOnly: boolean }) => NodeSqliteDatabase };
  const db = new DatabaseSync(location, { readOnly });
  const database: SqliteDatabase = {
    close: () => db.close(),
    prepare: (sql: string): SqliteStatement => {
      const statement = db.prepare(sql);
      return {
        reader: statement.columns().length > 0,
        all: (parameters) => statement.all(...parameters),
        run: (parameters) => statement.run(...parameters),
        iterate: (parameters) => statement.iterate(...parameters),
      };
    },
  };
  return { database, exec: (sql) => db.exec(sql) };
}
