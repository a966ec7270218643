/**
 * A worker process for the kill tests (`node --import tsx worker-child.ts`). Environment:
 * - PORTCULLIS_CHILD_DATA_DIR: SQLite data dir; or PORTCULLIS_CHILD_PG_URL + PORTCULLIS_CHILD_PG_SCHEMA.
 * - PORTCULLIS_CHILD_LEASE_MS: the queue's lease (default 1000).
 * - PORTCULLIS_CHILD_MODE:
 *   - `work` (default): processes step jobs, printing `READY` and then `STEP <n>` per step, until killed.
 *   - `close-and-exit`: enqueues and runs one step job, closes the queue without touching the
 *     database handle, prints `CLOSED`, and must then exit on its own: proof that no queue timer keeps
 *     the process alive after close (SQLite holds no event-loop handles of its own).
 */
import { openDatabase } from '../../store/index.js';
import { DatabaseQueue } from '../db-queue.js';
import { STEP_JOB, type StepJobPayload, stepJobHandler } from './step-job.js';

const env = process.env;
const handle = env.PORTCULLIS_CHILD_PG_URL
  ? openDatabase({ dataDir: '', databaseUrl: env.PORTCULLIS_CHILD_PG_URL, pgSchema: env.PORTCULLIS_CHILD_PG_SCHEMA ?? 'public', poolSize: 3 })
  : openDatabase({ dataDir: env.PORTCULLIS_CHILD_DATA_DIR ?? '.' });
const logger = {
  warn: (obj: object, msg?: string) => console.error('WARN', msg, obj),
  error: (obj: object, msg?: string) => console.error('ERROR', msg, obj),
};
const queue = new DatabaseQueue({ handle, leaseMs: Number(env.PORTCULLIS_CHILD_LEASE_MS ?? 1000), pollMs: 50, logger });

async function main(): Promise<void> {
  const mode = env.PORTCULLIS_CHILD_MODE ?? 'work';
  if (mode === 'work') {
    queue.process(STEP_JOB, stepJobHandler(handle.db, (step) => console.log(`STEP ${step}`)), { concurrency: 1 });
    console.log('READY');
    return;
  }
  if (mode === 'close-and-exit') {
    const worker = queue.process(STEP_JOB, stepJobHandler(handle.db), { concurrency: 2 });
    const job = await queue.enqueue<StepJobPayload>(STEP_JOB, { steps: 2, stepMs: 10 });
    // A delayed job and a pending retry leave wake-up timers behind; close must clear them too.
    await queue.enqueue<StepJobPayload>(STEP_JOB, { steps: 1, stepMs: 10 }, { delayMs: 600_000 });
    const done = await queue.waitUntilFinished(job.id, 10_000);
    await worker.close({ graceMs: 1000 });
    await queue.close();
    console.log(`CLOSED ${done.state}`);
    return;
  }
  throw new Error(`unknown PORTCULLIS_CHILD_MODE ${mode}`);
}

main().catch((err: unknown) => {
  console.error('FATAL', err);
  process.exit(1);
});
