import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../config/index.js';
import { createRuntime } from '../runtime/index.js';
import { PortcullisError } from '../shared/errors.js';
import { TEST_PG_URL } from '../testing/databases.js';
import { migrateToLatest, openDatabase, pendingMigrations } from './db.js';
import type { NewPortScan } from './types.js';

const ROLES_SQL = fileURLToPath(new URL('../../deploy/postgres/roles.sql', import.meta.url));

/**
 * psql's variable interpolation, the only psql feature roles.sql uses: `:"name"` becomes a quoted
 * identifier and `:'name'` a quoted literal. Comment lines are dropped first, as psql ignores them.
 */
function interpolatePsqlVariables(script: string, variables: Record<string, string>): string {
  const lookup = (name: string): string => {
    const value = variables[name];
    if (value === undefined) throw new Error(`roles.sql uses the psql variable ${name}, which the test does not set`);
    return value;
  };
  return script
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('--'))
    .join('\n')
    .replace(/:"(\w+)"/g, (_m, name: string) => `"${lookup(name).replaceAll('"', '""')}"`)
    .replace(/:'(\w+)'/g, (_m, name: string) => `'${lookup(name).replaceAll("'", "''")}'`);
}

function urlFor(database: string, user?: string): string {
  const url = new URL(TEST_PG_URL);
  url.pathname = `/${database}`;
  if (user !== undefined) {
    url.username = user;
    url.password = '';
  }
  return url.toString();
}

async function asAdmin<T>(database: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: urlFor(database) });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

function newScan(id: string): NewPortScan {
  return {
    id,
    targets: ['192.0.2.0/30'],
    exclude: [],
    ports: 'top-10',
    portSet: '21-23,25,80,110,139,443,445,3389',
    portCount: 10,
    options: { timing: 3 },
    plan: { ranges: [{ family: 4, start: '3221225984', end: '3221225987' }], hostnames: {}, addressCount: 4 },
    addressCount: 4,
    createdAt: '2024-05-01T10:00:00.000Z',
  };
}

const suffix = randomBytes(5).toString('hex');
const database = `portcullis_lp_${suffix}`;
const ownerRole = `lp_owner_${suffix}`;
const appRole = `lp_app_${suffix}`;
const ownerUrl = urlFor(database, ownerRole);
const appUrl = urlFor(database, appRole);
// The test server trusts 127.0.0.1, so passwords are set (as the SQL requires) but never checked.
const rolesSql = interpolatePsqlVariables(readFileSync(ROLES_SQL, 'utf8'), {
  database,
  schema: 'portcullis',
  owner_role: ownerRole,
  owner_password: `owner-${suffix}`,
  app_role: appRole,
  app_password: `app-${suffix}'"quoted`,
});

/** Runs one statement as the role of `url` and returns its error (undefined if it succeeded). */
async function runAs(url: string, statement: string): Promise<{ code?: string; message: string } | undefined> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(statement);
    return undefined;
  } catch (err) {
    return err as { code?: string; message: string };
  } finally {
    await client.end();
  }
}

const asServiceRole = (statement: string) => runAs(appUrl, statement);

describe('PostgreSQL least privilege (deploy/postgres/roles.sql)', () => {
  beforeAll(async () => {
    await asAdmin(new URL(TEST_PG_URL).pathname.slice(1), (admin) => admin.query(`create database "${database}"`));
    await asAdmin(database, (admin) => admin.query(rolesSql));
  });

  afterAll(async () => {
    await asAdmin(new URL(TEST_PG_URL).pathname.slice(1), async (admin) => {
      await admin.query(`drop database if exists "${database}" with (force)`);
      await admin.query(`drop role if exists "${ownerRole}"`);
      await admin.query(`drop role if exists "${appRole}"`);
    });
  });

  it('refuses to start the service as the app role while migrations are pending, and the app role cannot apply them', async () => {
    const config = buildConfig({ DATABASE_URL: appUrl, PORTCULLIS_LOG_LEVEL: 'silent' });
    const refusal = await createRuntime(config).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(refusal).toBeInstanceOf(PortcullisError);
    expect((refusal as PortcullisError).code).toBe('store.unavailable');
    expect((refusal as Error).message).toMatch(/pending migration.*portcullis migrate/);

    const app = openDatabase({ dataDir: '', databaseUrl: appUrl, poolSize: 1 });
    try {
      await expect(migrateToLatest(app)).rejects.toThrow(/permission denied/);
    } finally {
      await app.db.destroy();
    }
  });

  it('lets the owner role migrate, then the service role stores and reads a port scan through the repositories', async () => {
    const owner = openDatabase({ dataDir: '', databaseUrl: ownerUrl, poolSize: 1 });
    try {
      await migrateToLatest(owner);
      expect(await pendingMigrations(owner)).toEqual([]);
    } finally {
      await owner.db.destroy();
    }

    const runtime = await createRuntime(buildConfig({ DATABASE_URL: appUrl, PORTCULLIS_DB_POOL_SIZE: '2', PORTCULLIS_LOG_LEVEL: 'silent' }));
    try {
      await runtime.store.portScans.create(newScan('lp-scan'));
      await runtime.store.portScans.markRunning('lp-scan', '2024-05-01T10:00:01.000Z');
      expect(await runtime.store.portScans.get('lp-scan')).toMatchObject({ id: 'lp-scan', status: 'running', targets: ['192.0.2.0/30'] });
      expect(await runtime.store.portScans.delete('lp-scan')).toBe(true);
      const job = await runtime.queue.enqueue('noop', { n: 1 });
      expect((await runtime.queue.get(job.id))?.state).toBe('waiting');
    } finally {
      await runtime.close();
    }
  });

  it('refuses DDL to the service role: no tables in its schema or in public, no temporary tables, no ALTER/DROP', async () => {
    expect(await asServiceRole('create table intruder (id int)')).toMatchObject({ code: '42501', message: expect.stringMatching(/permission denied for schema portcullis/) });
    expect(await asServiceRole('create table public.intruder (id int)')).toMatchObject({ code: '42501' });
    expect(await asServiceRole('create temporary table intruder (id int)')).toMatchObject({ code: '42501' });
    expect(await asServiceRole('alter table port_scans add column intruder int')).toMatchObject({ code: '42501', message: expect.stringMatching(/must be owner/) });
    expect(await asServiceRole('drop table port_scans')).toMatchObject({ code: '42501' });
  });

  it('grants the service role DML on tables a later migration creates, through the default privileges', async () => {
    expect(await runAs(ownerUrl, 'create table later_migration (id serial primary key, note text)')).toBeUndefined();
    expect(await asServiceRole(`insert into later_migration (note) values ('written by the service')`)).toBeUndefined();
    expect(await asServiceRole(`update later_migration set note = 'updated'`)).toBeUndefined();
    expect(await asServiceRole('delete from later_migration')).toBeUndefined();
  });
});

describe('databasePoolSize', () => {
  it('reads PORTCULLIS_DB_POOL_SIZE and the config file key, with 10 by default', () => {
    expect(buildConfig({}).databasePoolSize).toBe(10);
    expect(buildConfig({ PORTCULLIS_DB_POOL_SIZE: '25' }).databasePoolSize).toBe(25);
    expect(buildConfig({}, {}, { databasePoolSize: 4 }).databasePoolSize).toBe(4);
  });

  it('rejects a pool size that is not a whole number from 1 to 500', () => {
    expect(() => buildConfig({ PORTCULLIS_DB_POOL_SIZE: '0' })).toThrow(/PORTCULLIS_DB_POOL_SIZE must be between 1 and 500/);
    expect(() => buildConfig({ PORTCULLIS_DB_POOL_SIZE: 'many' })).toThrow(/PORTCULLIS_DB_POOL_SIZE must be a whole number/);
  });
});
