import type { Kysely } from 'kysely';
import type { Scope } from '../auth/principal.js';
import { PortcullisError } from '../shared/errors.js';
import type { DatabaseHandle } from './db.js';
import type { ApiKeysTable, Database } from './schema.js';
import type { TlsTables } from './tls-assessments.js';

/** An API key as lists and the API show it: never the secret, its salt or its hash. */
export interface ApiKeyRecord {
  id: string;
  name: string;
  scopes: Scope[];
  allow: string[];
  rateLimitPerMinute: number | undefined;
  maxConcurrentScans: number | undefined;
  createdAt: string;
  createdBy: string;
  expiresAt: string | undefined;
  revokedAt: string | undefined;
  lastUsedAt: string | undefined;
}

export interface NewApiKey extends Omit<ApiKeyRecord, 'revokedAt' | 'lastUsedAt'> {
  salt: string;
  hash: string;
}

export interface ApiKeyRepository {
  create(key: NewApiKey): Promise<ApiKeyRecord>;
  /** The record with what verification needs. */
  getCredential(id: string): Promise<(ApiKeyRecord & { salt: string; hash: string }) | undefined>;
  get(id: string): Promise<ApiKeyRecord | undefined>;
  /** Oldest first; revoked keys only when asked. */
  list(options?: { includeRevoked?: boolean }): Promise<ApiKeyRecord[]>;
  /** Sets revokedAt unless already revoked; false when the key is unknown or was already revoked. */
  revoke(id: string, at: string): Promise<boolean>;
  touch(id: string, at: string): Promise<void>;
  count(): Promise<number>;
  /** Port and TLS scans of this principal that are queued or running. */
  activeScans(principalId: string): Promise<number>;
}

function parseList(raw: string, what: string): string[] {
  try {
    const value: unknown = JSON.parse(raw);
    if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value;
  } catch {
    // fall through: reported below
  }
  throw new PortcullisError('internal', `stored ${what} is not a JSON list of strings`);
}

function recordFromRow(row: ApiKeysTable): ApiKeyRecord {
  return {
    id: row.id,
    name: row.name,
    scopes: parseList(row.scopes, `scopes of key ${row.id}`) as Scope[],
    allow: parseList(row.allow, `allow-list of key ${row.id}`),
    rateLimitPerMinute: row.rate_limit_per_minute ?? undefined,
    maxConcurrentScans: row.max_concurrent_scans ?? undefined,
    createdAt: row.created_at,
    createdBy: row.created_by,
    expiresAt: row.expires_at ?? undefined,
    revokedAt: row.revoked_at ?? undefined,
    lastUsedAt: row.last_used_at ?? undefined,
  };
}

const ACTIVE = ['queued', 'running'];

export function createApiKeyRepository(handle: DatabaseHandle): ApiKeyRepository {
  const db: Kysely<Database & TlsTables> = handle.db.withTables<TlsTables>();
  return {
    async create(key) {
      const row: ApiKeysTable = {
        id: key.id,
        name: key.name,
        salt: key.salt,
        hash: key.hash,
        scopes: JSON.stringify(key.scopes),
        allow: JSON.stringify(key.allow),
        rate_limit_per_minute: key.rateLimitPerMinute ?? null,
        max_concurrent_scans: key.maxConcurrentScans ?? null,
        created_at: key.createdAt,
        created_by: key.createdBy,
        expires_at: key.expiresAt ?? null,
        revoked_at: null,
        last_used_at: null,
      };
      await db.insertInto('api_keys').values(row).execute();
      return recordFromRow(row);
    },
    async getCredential(id) {
      const row = await db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? undefined : { ...recordFromRow(row), salt: row.salt, hash: row.hash };
    },
    async get(id) {
      const row = await db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? undefined : recordFromRow(row);
    },
    async list(options = {}) {
      let query = db.selectFrom('api_keys').selectAll().orderBy('created_at').orderBy('id');
      if (options.includeRevoked !== true) query = query.where('revoked_at', 'is', null);
      return (await query.execute()).map(recordFromRow);
    },
    async revoke(id, at) {
      const result = await db.updateTable('api_keys').set({ revoked_at: at }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },
    async touch(id, at) {
      await db.updateTable('api_keys').set({ last_used_at: at }).where('id', '=', id).execute();
    },
    async count() {
      const row = await db.selectFrom('api_keys').select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow();
      return Number(row.n);
    },
    async activeScans(principalId) {
      const [ports, tls] = await Promise.all([
        db.selectFrom('port_scans').select((eb) => eb.fn.countAll<number | string>().as('n')).where('requested_by', '=', principalId).where('status', 'in', ACTIVE).executeTakeFirstOrThrow(),
        db.selectFrom('tls_scans').select((eb) => eb.fn.countAll<number | string>().as('n')).where('requested_by', '=', principalId).where('status', 'in', ACTIVE).executeTakeFirstOrThrow(),
      ]);
      return Number(ports.n) + Number(tls.n);
    },
  };
}
