import type { Kysely } from 'kysely';

/**
 * Monitoring: the inventory of targets (TLS endpoints and address blocks) with their labels and
 * schedules, and batches (a file of targets scanned once, with progress and results).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('targets')
    .addColumn('id', 'text', (c) => c.primaryKey())
    // tls: a host name or IP with a port, graded by the TLS engine; ports: an IP, CIDR or range, port-scanned.
    .addColumn('kind', 'text', (c) => c.notNull())
    // tls: canonical host (name or IP literal); ports: the canonical address target.
    .addColumn('value', 'text', (c) => c.notNull())
    // tls: the port (443 by default); ports: 0.
    .addColumn('port', 'integer', (c) => c.notNull())
    // ports: the port spec; tls: null.
    .addColumn('ports', 'text')
    // JSON Record<string, string>: owner, environment, team…
    .addColumn('labels', 'text', (c) => c.notNull())
    // JSON TargetSchedule, null: the global default.
    .addColumn('schedule', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    // When the scheduler runs the target next; null: not scheduled.
    .addColumn('next_run_at', 'text')
    .addColumn('last_run_at', 'text')
    // The scan the last run submitted (a TLS scan or a port scan, by kind).
    .addColumn('last_scan_id', 'text')
    // tls: earliest certificate expiry on any endpoint's trust path in the latest assessment (expiry-driven rescans).
    .addColumn('cert_expires_at', 'text')
    .execute();
  await db.schema.createIndex('targets_identity_idx').on('targets').columns(['kind', 'value', 'port']).unique().execute();
  await db.schema.createIndex('targets_due_idx').on('targets').columns(['next_run_at']).execute();

  await db.schema
    .createTable('batches')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('created_at', 'text', (c) => c.notNull())
    // JSON: how the submitted file was read (format, lines accepted, rejected with reasons).
    .addColumn('source', 'text', (c) => c.notNull())
    // JSON BatchOptions.
    .addColumn('options', 'text', (c) => c.notNull())
    // JSON [{kind: 'tls' | 'ports', id}]: the scans the batch submitted.
    .addColumn('scans', 'text', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('batches').execute();
  await db.schema.dropTable('targets').execute();
}
