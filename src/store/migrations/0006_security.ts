import type { Kysely } from 'kysely';

/**
 * Security: API keys (salted hashes only; the key itself is shown once), the audit log of who
 * changed what, and who requested each scan (per-caller concurrent-scan quotas).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('api_keys')
    // `key_` + 16 base32 characters; the first part of the key the caller presents.
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    // Hex salt and HMAC-SHA256(salt, secret): the secret itself is never stored.
    .addColumn('salt', 'text', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    // JSON Scope[].
    .addColumn('scopes', 'text', (c) => c.notNull())
    // JSON string[]: CIDRs and domains this key may scan (empty: the server's policy alone).
    .addColumn('allow', 'text', (c) => c.notNull())
    .addColumn('rate_limit_per_minute', 'integer')
    .addColumn('max_concurrent_scans', 'integer')
    .addColumn('created_at', 'text', (c) => c.notNull())
    // The principal that created the key (`cli` for the command line, `bootstrap` for the first key).
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text')
    .addColumn('revoked_at', 'text')
    .addColumn('last_used_at', 'text')
    .execute();
  await db.schema.createIndex('api_keys_name_idx').on('api_keys').columns(['name']).execute();

  await db.schema
    .createTable('audit_log')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('at', 'text', (c) => c.notNull())
    // api-key, oidc or cli.
    .addColumn('actor_kind', 'text', (c) => c.notNull())
    .addColumn('actor_id', 'text', (c) => c.notNull())
    .addColumn('actor_name', 'text', (c) => c.notNull())
    // e.g. port-scan.create, tls-scan.cancel, key.revoke.
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('resource', 'text')
    // HTTP status of the request (or 0 for CLI actions): denied and failed attempts are recorded too.
    .addColumn('status', 'integer', (c) => c.notNull())
    .addColumn('source_ip', 'text')
    // JSON: method and path, or what the CLI changed.
    .addColumn('detail', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('audit_log_at_idx').on('audit_log').columns(['at', 'id']).execute();
  await db.schema.createIndex('audit_log_actor_idx').on('audit_log').columns(['actor_id', 'at']).execute();

  // Who asked for each scan (a principal id; null for the scheduler and older rows).
  await db.schema.alterTable('port_scans').addColumn('requested_by', 'text').execute();
  await db.schema.alterTable('tls_scans').addColumn('requested_by', 'text').execute();
  await db.schema.createIndex('port_scans_requester_idx').on('port_scans').columns(['requested_by', 'status']).execute();
  await db.schema.createIndex('tls_scans_requester_idx').on('tls_scans').columns(['requested_by', 'status']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('tls_scans_requester_idx').execute();
  await db.schema.dropIndex('port_scans_requester_idx').execute();
  await db.schema.alterTable('tls_scans').dropColumn('requested_by').execute();
  await db.schema.alterTable('port_scans').dropColumn('requested_by').execute();
  await db.schema.dropTable('audit_log').execute();
  await db.schema.dropTable('api_keys').execute();
}
