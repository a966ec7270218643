import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('tls_scans')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('status', 'text', (c) => c.notNull())
    // JSON string[]: the hosts as requested; `targets` is their parsed, canonical host:port list.
    .addColumn('hosts', 'text', (c) => c.notNull())
    .addColumn('targets', 'text', (c) => c.notNull())
    .addColumn('options', 'text', (c) => c.notNull())
    // The port scan that asked for this TLS scan (options.assessTls), if any.
    .addColumn('port_scan_id', 'text')
    // Targets in all; how many are done is counted from tls_scan_targets when read, so concurrent
    // writers never race on a counter.
    .addColumn('progress_total', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('started_at', 'text')
    .addColumn('finished_at', 'text')
    .addColumn('error', 'text')
    .execute();
  await db.schema.createIndex('tls_scans_created_idx').on('tls_scans').columns(['created_at', 'id']).execute();
  await db.schema.createIndex('tls_scans_status_idx').on('tls_scans').columns(['status', 'created_at']).execute();
  await db.schema.createIndex('tls_scans_port_scan_idx').on('tls_scans').column('port_scan_id').execute();

  await db.schema
    .createTable('tls_assessments')
    .addColumn('id', 'text', (c) => c.primaryKey())
    // The scan that ran it; null for assessments stored outside a scan (imports).
    .addColumn('scan_id', 'text')
    .addColumn('host', 'text', (c) => c.notNull())
    .addColumn('port', 'integer', (c) => c.notNull())
    .addColumn('sni', 'text')
    .addColumn('engine', 'text', (c) => c.notNull())
    .addColumn('criteria_version', 'text', (c) => c.notNull())
    .addColumn('started_at', 'text', (c) => c.notNull())
    .addColumn('finished_at', 'text', (c) => c.notNull())
    // Worst grade across the endpoints; null when no endpoint could be graded.
    .addColumn('grade', 'text')
    // JSON [{ip, status, grade, gradeTrustIgnored}]: enough for history lists without the full document.
    .addColumn('endpoints', 'text', (c) => c.notNull())
    // JSON Assessment, the whole document.
    .addColumn('assessment', 'text', (c) => c.notNull())
    .execute();
  // One assessment per scan and target, so a retried job replaces instead of adding (NULL scan ids never collide).
  await db.schema.createIndex('tls_assessments_scan_target_idx').on('tls_assessments').columns(['scan_id', 'host', 'port']).unique().execute();
  // History of host:port newest first, and the freshest assessment of host:port younger than the max age.
  await db.schema.createIndex('tls_assessments_target_idx').on('tls_assessments').columns(['host', 'port', 'finished_at']).execute();
  // History of a host across ports.
  await db.schema.createIndex('tls_assessments_host_idx').on('tls_assessments').columns(['host', 'finished_at']).execute();

  await db.schema
    .createTable('tls_scan_targets')
    .addColumn('scan_id', 'text', (c) => c.notNull().references('tls_scans.id').onDelete('cascade'))
    .addColumn('host', 'text', (c) => c.notNull())
    .addColumn('port', 'integer', (c) => c.notNull())
    // The assessment answering this target: run by this scan, or reused (cached = 1) from an earlier one.
    .addColumn('assessment_id', 'text')
    .addColumn('cached', 'integer', (c) => c.notNull().defaultTo(0))
    // JSON {code, message} when the target could not be assessed at all (unresolvable, out of scope).
    .addColumn('error', 'text')
    .addColumn('finished_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('tls_scan_targets_pk', ['scan_id', 'host', 'port'])
    .execute();
  await db.schema.createIndex('tls_scan_targets_assessment_idx').on('tls_scan_targets').column('assessment_id').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('tls_scan_targets').execute();
  await db.schema.dropTable('tls_assessments').execute();
  await db.schema.dropTable('tls_scans').execute();
}
