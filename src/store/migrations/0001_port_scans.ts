import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('port_scans')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('targets', 'text', (c) => c.notNull())
    .addColumn('exclude', 'text', (c) => c.notNull())
    .addColumn('ports_spec', 'text', (c) => c.notNull())
    .addColumn('port_set', 'text', (c) => c.notNull())
    .addColumn('port_count', 'integer', (c) => c.notNull())
    .addColumn('options', 'text', (c) => c.notNull())
    .addColumn('plan', 'text', (c) => c.notNull())
    .addColumn('address_count', 'bigint', (c) => c.notNull())
    .addColumn('hosts_done', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('progress_done', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('progress_total', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('started_at', 'text')
    .addColumn('finished_at', 'text')
    .addColumn('error', 'text')
    .addColumn('stats', 'text')
    .execute();
  await db.schema.createIndex('port_scans_created_idx').on('port_scans').columns(['created_at', 'id']).execute();
  await db.schema.createIndex('port_scans_status_idx').on('port_scans').columns(['status', 'created_at']).execute();

  await db.schema
    .createTable('scan_hosts')
    .addColumn('scan_id', 'text', (c) => c.notNull().references('port_scans.id').onDelete('cascade'))
    .addColumn('ip', 'text', (c) => c.notNull())
    // Sortable form of the address (family digit + zero-padded hex bytes), so hosts list in address
    // order on both dialects: 127.0.0.9 < 127.0.0.10, every IPv4 before any IPv6.
    .addColumn('ip_key', 'text', (c) => c.notNull())
    .addColumn('hostnames', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('open_count', 'integer', (c) => c.notNull())
    .addColumn('closed_count', 'integer', (c) => c.notNull())
    .addColumn('filtered_count', 'integer', (c) => c.notNull())
    .addColumn('extra_state', 'text')
    .addColumn('extra_count', 'integer', (c) => c.notNull())
    .addColumn('extra_reasons', 'text')
    .addColumn('srtt_ms', 'real')
    .addColumn('started_at', 'text', (c) => c.notNull())
    .addColumn('finished_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('scan_hosts_pk', ['scan_id', 'ip'])
    .execute();
  // Host history: every scan that covered one IP, newest first.
  await db.schema.createIndex('scan_hosts_ip_idx').on('scan_hosts').columns(['ip', 'scan_id']).execute();
  // Hosts of one scan in address order (paging through a scan's hosts and its port rows).
  await db.schema.createIndex('scan_hosts_order_idx').on('scan_hosts').columns(['scan_id', 'ip_key', 'ip']).execute();

  await db.schema
    .createTable('port_results')
    .addColumn('scan_id', 'text', (c) => c.notNull())
    .addColumn('ip', 'text', (c) => c.notNull())
    .addColumn('port', 'integer', (c) => c.notNull())
    .addColumn('protocol', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('rtt_ms', 'real')
    .addColumn('service_name', 'text')
    .addColumn('service_product', 'text')
    .addColumn('service_version', 'text')
    .addColumn('service_method', 'text')
    .addColumn('banner', 'text')
    .addColumn('tls', 'text')
    .addColumn('http', 'text')
    .addPrimaryKeyConstraint('port_results_pk', ['scan_id', 'ip', 'protocol', 'port'])
    .addForeignKeyConstraint('port_results_host_fk', ['scan_id', 'ip'], 'scan_hosts', ['scan_id', 'ip'], (fk) => fk.onDelete('cascade'))
    .execute();
  await db.schema.createIndex('port_results_ip_idx').on('port_results').columns(['ip', 'port', 'scan_id']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('port_results').execute();
  await db.schema.dropTable('scan_hosts').execute();
  await db.schema.dropTable('port_scans').execute();
}
