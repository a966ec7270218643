import type { FastifyReply } from 'fastify';
import type { Counter } from 'prom-client';
import type { JobQueue } from '../jobs/index.js';
import type { ScanStatus } from '../shared/model.js';

/** What DELETE needs to know about one kind of scan (port scans, TLS scans). */
export interface ScanLifecycle {
  get(id: string): Promise<{ status: ScanStatus } | undefined>;
  finish(id: string, outcome: { status: 'cancelled'; at: string }): Promise<boolean>;
  delete(id: string): Promise<unknown>;
  /** The scan's queue jobs (a split port scan has one per shard too). */
  jobIds(id: string): Promise<string[]>;
  finished: Counter<'status'>;
  links(id: string): Record<string, string>;
}

/**
 * DELETE of a scan: a queued or running scan is cancelled (202; what it finished stays stored), a
 * finished one is deleted (204). The caller has already answered 404 for an unknown id.
 */
export async function cancelOrDelete(queue: JobQueue, scans: ScanLifecycle, id: string, status: ScanStatus, reply: FastifyReply): Promise<FastifyReply> {
  if (status === 'queued' || status === 'running') {
    const changed = await scans.finish(id, { status: 'cancelled', at: new Date().toISOString() });
    // A waiting job never starts; a running one (any shard, on any worker) notices the cancelled scan at its next checkpoint.
    for (const jobId of await scans.jobIds(id)) await queue.cancel(jobId);
    if (changed) scans.finished.inc({ status: 'cancelled' });
    const now = await scans.get(id);
    return reply.status(202).send({ id, status: now?.status ?? 'cancelled', links: scans.links(id) });
  }
  await scans.delete(id);
  return reply.status(204).send(null);
}
