import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cleanupCli, runBin, tempDir } from '../testing/cli.js';

/** Spawned processes on a busy 2-core machine: generous, never a speed assertion. */
const SPAWN_TIMEOUT_MS = 120_000;

// `portcullis migrate` through the built binary, on the embedded SQLite store in a temporary data dir.
//
// Not covered here: migrate against PostgreSQL. The CLI has no option to choose a schema, and running
// it with DATABASE_URL=postgres://…/test would migrate the shared `public` schema of the test
// database; the migrations themselves are proven on PostgreSQL by the store suites, each in a schema
// of its own (src/testing/databases.ts).

beforeAll(() => assertBuilt());
afterAll(async () => {
  await cleanupCli();
});

describe('portcullis migrate (SQLite)', { timeout: SPAWN_TIMEOUT_MS }, () => {
  it('applies the migrations to a fresh data dir, then reports it up to date; --check exits 1 before (creating nothing) and 0 after', async () => {
    const dataDir = path.join(tempDir(), 'data');
    const env = { PORTCULLIS_DATA_DIR: dataDir };
    const db = path.join(dataDir, 'portcullis.sqlite');

    const pending = await runBin(['migrate', '--check'], { env });
    expect(pending.code, pending.stderr).toBe(1);
    expect(pending.stdout).toBe('');
    expect(pending.stderr).toMatch(/no database in .* yet; every migration is pending/);
    // A check creates nothing.
    expect(existsSync(dataDir)).toBe(false);

    const first = await runBin(['migrate'], { env });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(new RegExp(`^${escape(db)}: applied 0001_port_scans, 0002_jobs`, 'm'));
    expect(first.stderr).toBe('');
    expect(existsSync(db)).toBe(true);

    const second = await runBin(['migrate'], { env });
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout.trim()).toBe(`${db}: already up to date`);

    const check = await runBin(['migrate', '--check'], { env });
    expect(check.code, check.stderr).toBe(0);
    expect(check.stdout.trim()).toBe(`${db}: up to date`);
    expect(check.stderr).toBe('');
  });

  it('exits 2 without touching anything when DATABASE_URL is not a postgres:// URL, and hides its password', async () => {
    const dataDir = path.join(tempDir(), 'data');
    const run = await runBin(['migrate'], { env: { PORTCULLIS_DATA_DIR: dataDir, DATABASE_URL: 'mysql://admin:s3cret@127.0.0.1/db' } });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/DATABASE_URL must be a postgres:\/\/ or postgresql:\/\/ URL/);
    expect(run.stderr).toMatch(/config\.invalid/);
    expect(run.stderr).not.toContain('s3cret');
    expect(existsSync(dataDir)).toBe(false);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
