import type { Kysely } from 'kysely';

/**
 * Politeness across workers: a port-scan job with a per-host connection cap holds a lease on the
 * address range it scans (in `ip_key` order), so no other scan's job probes those hosts meanwhile and
 * the cap holds for the whole installation, not per scan.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('address_leases')
    .addColumn('scan_id', 'text', (c) => c.notNull())
    // -1 for a scan run as one job, else the shard number.
    .addColumn('shard', 'integer', (c) => c.notNull())
    .addColumn('first_key', 'text', (c) => c.notNull())
    .addColumn('last_key', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('address_leases_pk', ['scan_id', 'shard'])
    .execute();
  await db.schema.createIndex('address_leases_range_idx').on('address_leases').columns(['first_key', 'last_key']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('address_leases').execute();
}
