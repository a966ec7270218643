import type { Kysely } from 'kysely';

/**
 * The SSL Labs engine beside the native one. A scan may run both engines on a target (engine=both),
 * so a scan holds one assessment per target *and engine*; the target row links the SSL Labs second
 * opinion (or why there is none). SSL Labs' own JSON is kept verbatim in `raw`.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('tls_assessments_scan_target_idx').execute();
  await db.schema.createIndex('tls_assessments_scan_target_engine_idx').on('tls_assessments').columns(['scan_id', 'host', 'port', 'engine']).unique().execute();
  // JSON as SSL Labs answered it (engine ssllabs only).
  await db.schema.alterTable('tls_assessments').addColumn('raw', 'text').execute();
  // engine=both: the SSL Labs assessment of this target, or JSON {code, message} why there is none.
  await db.schema.alterTable('tls_scan_targets').addColumn('ssllabs_assessment_id', 'text').execute();
  await db.schema.alterTable('tls_scan_targets').addColumn('ssllabs_error', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('tls_scan_targets').dropColumn('ssllabs_error').execute();
  await db.schema.alterTable('tls_scan_targets').dropColumn('ssllabs_assessment_id').execute();
  await db.schema.alterTable('tls_assessments').dropColumn('raw').execute();
  await db.schema.dropIndex('tls_assessments_scan_target_engine_idx').execute();
  await db.schema.createIndex('tls_assessments_scan_target_idx').on('tls_assessments').columns(['scan_id', 'host', 'port']).unique().execute();
}
