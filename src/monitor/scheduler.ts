import { Cron } from 'croner';
import { PORT_SCAN_JOB, portScanJobId } from '../jobs/index.js';
import type { Runtime } from '../runtime/index.js';

export interface Scheduler {
  stop(): void;
}

/** A scan is only reconciled once its job has had time to be claimed. */
const RECONCILE_GRACE_MS = 60_000;

/**
 * Marks scans failed whose job ended without finishing them (a job lost by crashed workers more
 * often than its attempts allow, or removed from the queue). Idempotent, so running it in several
 * processes at once is harmless.
 */
export async function reconcileScans(runtime: Runtime, now = Date.now()): Promise<number> {
  const repo = runtime.store.portScans;
  let fixed = 0;
  for (const status of ['queued', 'running'] as const) {
    const { items } = await repo.list({ status, createdBefore: new Date(now - RECONCILE_GRACE_MS).toISOString(), limit: 500, offset: 0 });
    for (const scan of items) {
      const job = await runtime.queue.get(portScanJobId(scan.id));
      if (job !== undefined && (job.state === 'waiting' || job.state === 'active')) continue;
      const message = job === undefined ? `its ${PORT_SCAN_JOB} job is missing from the queue` : `its job ended as ${job.state}${job.error ? `: ${job.error}` : ''}`;
      const ended = await repo.finish(scan.id, { status: 'failed', at: new Date(now).toISOString(), error: { code: 'scan.failed', message } });
      if (ended) {
        fixed++;
        runtime.metrics.portScansFinished.inc({ status: 'failed' });
        runtime.logger.warn({ scanId: scan.id, message }, 'port scan reconciled as failed');
      }
    }
  }
  return fixed;
}

/** Periodic work of a `serve` process: today the scan reconciler; schedules and expiry rescans join here. */
export function startScheduler(runtime: Runtime): Scheduler {
  const reconcile = new Cron(
    '*/30 * * * * *',
    { protect: true, unref: true, name: 'reconcile-scans' },
    async () => {
      try {
        await reconcileScans(runtime);
      } catch (err) {
        runtime.logger.error({ err }, 'scan reconciliation failed');
      }
    },
  );
  return { stop: () => reconcile.stop() };
}
