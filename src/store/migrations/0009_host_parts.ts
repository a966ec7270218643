import type { Kysely } from 'kysely';

/**
 * Port-block shards: when a scan's port set is larger than a shard, one host's ports are split over
 * several shard jobs. Each stores its block of the host here; the shard that finds every block stored
 * merges them into the host's scan_hosts/port_results rows and deletes them, in one transaction.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('scan_host_parts')
    .addColumn('scan_id', 'text', (c) => c.notNull().references('port_scans.id').onDelete('cascade'))
    .addColumn('ip', 'text', (c) => c.notNull())
    // 0-based port block of the scan's port set.
    .addColumn('part', 'integer', (c) => c.notNull())
    // Ports in the block: the scan's progress counts them before the host is merged.
    .addColumn('probes', 'integer', (c) => c.notNull())
    .addColumn('srtt_ms', 'real')
    .addColumn('started_at', 'text', (c) => c.notNull())
    .addColumn('finished_at', 'text', (c) => c.notNull())
    // JSON: every port of the block (PortResult without the address), so the merged host is summarised exactly.
    .addColumn('results', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('scan_host_parts_pk', ['scan_id', 'ip', 'part'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('scan_host_parts').execute();
}
