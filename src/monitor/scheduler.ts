import { PORT_SCAN_JOB, TLS_SCAN_JOB, portScanJobIds, tlsScanJobId } from '../jobs/index.js';
import type { JobInfo, Worker } from '../jobs/queue.js';
import type { Runtime } from '../runtime/index.js';
import { runDueTargets } from './runs.js';

export interface Scheduler {
  stop(): void;
}

/** A scan is only reconciled once its job has had time to be claimed. */
const RECONCILE_GRACE_MS = 60_000;

interface ReconciledKind<S extends { id: string }> {
  job: string;
  /** Every queue job that may still be working on the scan. */
  jobIds(scan: S): string[];
  list(status: 'queued' | 'running', createdBefore: string): Promise<{ items: S[] }>;
  finish(scanId: string, at: string, message: string): Promise<boolean>;
  counted(): void;
}

function reconciledKinds(runtime: Runtime): Array<ReconciledKind<{ id: string; shards?: number | undefined }>> {
  const { portScans, tlsAssessments } = runtime.store;
  const failure = (at: string, message: string) => ({ status: 'failed' as const, at, error: { code: 'scan.failed', message } });
  return [
    {
      job: PORT_SCAN_JOB,
      jobIds: (scan) => portScanJobIds({ id: scan.id, shards: scan.shards }),
      list: (status, createdBefore) => portScans.list({ status, createdBefore, limit: 500, offset: 0 }),
      finish: (id, at, message) => portScans.finish(id, failure(at, message)),
      counted: () => runtime.metrics.portScansFinished.inc({ status: 'failed' }),
    },
    {
      job: TLS_SCAN_JOB,
      jobIds: (scan) => [tlsScanJobId(scan.id)],
      list: (status, createdBefore) => tlsAssessments.listScans({ status, createdBefore, limit: 500, offset: 0 }),
      finish: (id, at, message) => tlsAssessments.finish(id, failure(at, message)),
      counted: () => runtime.metrics.tlsScansFinished.inc({ status: 'failed' }),
    },
  ];
}

/**
 * Marks port and TLS scans failed whose jobs (a split port scan's shards and finalize job included)
 * all ended without finishing them (a job lost by crashed workers more often than its attempts
 * allow, or removed from the queue). Idempotent, so running it
 * in several processes at once is harmless.
 */
export async function reconcileScans(runtime: Runtime, now = Date.now()): Promise<number> {
  const createdBefore = new Date(now - RECONCILE_GRACE_MS).toISOString();
  let fixed = 0;
  for (const kind of reconciledKinds(runtime)) {
    for (const status of ['queued', 'running'] as const) {
      const { items } = await kind.list(status, createdBefore);
      for (const scan of items) {
        const jobs = await jobsUnlessOneIsLive(runtime, kind.jobIds(scan));
        if (jobs === 'live') continue;
        // The first job that ended without finishing the scan says why (a failed shard, say).
        const ended = jobs.find((job) => job !== undefined && job.state !== 'completed') ?? jobs[0];
        const message = ended === undefined ? `its ${kind.job} job is missing from the queue` : `its job ended as ${ended.state}${ended.error ? `: ${ended.error}` : ''}`;
        if (await kind.finish(scan.id, new Date(now).toISOString(), message)) {
          fixed++;
          kind.counted();
          runtime.logger.warn({ scanId: scan.id, kind: kind.job, message }, 'scan reconciled as failed');
        }
      }
    }
  }
  return fixed;
}

/** Jobs read at once while looking for a live one. */
const JOB_READ_CHUNK = 32;

/**
 * The scan's jobs, in `ids` order, or `live` as soon as one is waiting or active. Read from the
 * last: a split scan's shards run in the order they were queued, so while it runs its last shards
 * (or its finalize job) are live and one chunk of reads settles it, not one read per shard.
 */
async function jobsUnlessOneIsLive(runtime: Runtime, ids: readonly string[]): Promise<'live' | Array<JobInfo | undefined>> {
  const jobs: Array<JobInfo | undefined> = new Array(ids.length);
  for (let end = ids.length; end > 0; end -= JOB_READ_CHUNK) {
    const start = Math.max(0, end - JOB_READ_CHUNK);
    const chunk = await Promise.all(ids.slice(start, end).map((id) => runtime.queue.get(id)));
    if (chunk.some((job) => job !== undefined && (job.state === 'waiting' || job.state === 'active'))) return 'live';
    jobs.splice(start, chunk.length, ...chunk);
  }
  return jobs;
}

/** Job kinds (and scheduler names) of the periodic work. */
export const RECONCILE_SCANS_JOB = 'monitor.reconcile-scans';
export const DUE_TARGETS_JOB = 'monitor.due-targets';
const RECONCILE_EVERY_MS = 30_000;

/**
 * Registers the periodic work as job schedulers of the queue: the scan reconciler and the
 * inventory's due runs. The queue produces each period's job once for all processes (BullMQ job
 * schedulers, or the embedded queue's scheduler table), and whichever worker is free runs it; so
 * with any number of `serve` and `worker` processes the scheduler runs in one place at a time.
 * Idempotent: every `serve` calls it at start, which also applies a changed tick.
 */
export async function scheduleMonitoring(runtime: Pick<Runtime, 'queue' | 'config'>): Promise<void> {
  await runtime.queue.upsertScheduler(RECONCILE_SCANS_JOB, RECONCILE_SCANS_JOB, {}, { everyMs: RECONCILE_EVERY_MS });
  await runtime.queue.upsertScheduler(DUE_TARGETS_JOB, DUE_TARGETS_JOB, {}, { everyMs: runtime.config.monitor.tickSeconds * 1000 });
}

/** The handlers of the periodic work, run by every worker (one job of each at a time per process). */
export function processMonitoring(runtime: Runtime): Worker[] {
  return [
    runtime.queue.process(RECONCILE_SCANS_JOB, async () => ({ reconciled: await reconcileScans(runtime) }), { concurrency: 1 }),
    runtime.queue.process(
      DUE_TARGETS_JOB,
      async () => {
        const outcome = await runDueTargets(runtime);
        return { submitted: outcome.submitted, failed: outcome.failed };
      },
      { concurrency: 1 },
    ),
  ];
}
