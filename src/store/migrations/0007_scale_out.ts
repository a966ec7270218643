import type { Kysely } from 'kysely';

/**
 * Scale-out: job schedulers kept by the embedded queue (periodic work produced once per period for
 * every process sharing the database), jobs removed once completed (what schedulers produce), and the
 * number of shards a large port scan was split into.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('job_schedulers')
    .addColumn('queue', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    // JSON payload of every job the scheduler produces.
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('every_ms', 'integer', (c) => c.notNull())
    // The next period's start; a process claims it with a compare-and-set before producing the job.
    .addColumn('next_run_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('job_schedulers_pk', ['queue', 'name'])
    .execute();
  await db.schema
    .alterTable('jobs')
    .addColumn('remove_on_complete', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  // Null: the scan runs as one job. Otherwise its addresses are split into this many shard jobs.
  await db.schema.alterTable('port_scans').addColumn('shard_count', 'integer').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('port_scans').dropColumn('shard_count').execute();
  await db.schema.alterTable('jobs').dropColumn('remove_on_complete').execute();
  await db.schema.dropTable('job_schedulers').execute();
}
