import { Cron } from 'croner';
import { PORT_SCAN_JOB, TLS_SCAN_JOB, portScanJobId, tlsScanJobId } from '../jobs/index.js';
import type { Runtime } from '../runtime/index.js';
import { runDueTargets } from './runs.js';

export interface Scheduler {
  stop(): void;
}

/** A scan is only reconciled once its job has had time to be claimed. */
const RECONCILE_GRACE_MS = 60_000;

interface ReconciledKind {
  job: string;
  jobId(scanId: string): string;
  list(status: 'queued' | 'running', createdBefore: string): Promise<{ items: Array<{ id: string }> }>;
  finish(scanId: string, at: string, message: string): Promise<boolean>;
  counted(): void;
}

function reconciledKinds(runtime: Runtime): ReconciledKind[] {
  const { portScans, tlsAssessments } = runtime.store;
  const failure = (at: string, message: string) => ({ status: 'failed' as const, at, error: { code: 'scan.failed', message } });
  return [
    {
      job: PORT_SCAN_JOB,
      jobId: portScanJobId,
      list: (status, createdBefore) => portScans.list({ status, createdBefore, limit: 500, offset: 0 }),
      finish: (id, at, message) => portScans.finish(id, failure(at, message)),
      counted: () => runtime.metrics.portScansFinished.inc({ status: 'failed' }),
    },
    {
      job: TLS_SCAN_JOB,
      jobId: tlsScanJobId,
      list: (status, createdBefore) => tlsAssessments.listScans({ status, createdBefore, limit: 500, offset: 0 }),
      finish: (id, at, message) => tlsAssessments.finish(id, failure(at, message)),
      counted: () => runtime.metrics.tlsScansFinished.inc({ status: 'failed' }),
    },
  ];
}

/**
 * Marks port and TLS scans failed whose job ended without finishing them (a job lost by crashed
 * workers more often than its attempts allow, or removed from the queue). Idempotent, so running it
 * in several processes at once is harmless.
 */
export async function reconcileScans(runtime: Runtime, now = Date.now()): Promise<number> {
  const createdBefore = new Date(now - RECONCILE_GRACE_MS).toISOString();
  let fixed = 0;
  for (const kind of reconciledKinds(runtime)) {
    for (const status of ['queued', 'running'] as const) {
      const { items } = await kind.list(status, createdBefore);
      for (const scan of items) {
        const job = await runtime.queue.get(kind.jobId(scan.id));
        if (job !== undefined && (job.state === 'waiting' || job.state === 'active')) continue;
        const message = job === undefined ? `its ${kind.job} job is missing from the queue` : `its job ended as ${job.state}${job.error ? `: ${job.error}` : ''}`;
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

/** Periodic work of a `serve` process: the scan reconciler and the inventory's due runs. */
export function startScheduler(runtime: Runtime): Scheduler {
  const every = (name: string, seconds: number, work: () => Promise<unknown>): Cron =>
    new Cron('* * * * * *', { interval: seconds, protect: true, unref: true, name }, async () => {
      try {
        await work();
      } catch (err) {
        runtime.logger.error({ err }, `${name} failed`);
      }
    });
  const jobs = [every('reconcile-scans', 30, () => reconcileScans(runtime)), every('due-targets', runtime.config.monitor.tickSeconds, () => runDueTargets(runtime))];
  return { stop: () => jobs.forEach((job) => job.stop()) };
}
