/**
 * Scheduled runs of the inventory. Each tick submits the targets that are due: TLS targets grouped
 * into TLS scans of up to `monitor.scanBatchSize` hosts, address targets as one port scan each.
 * Several processes may tick on the same database: a target is claimed with a compare-and-set of
 * its next run time, so exactly one of them submits it. After downtime a target that missed many
 * runs is due once, and its next run is computed from now.
 */
import { submitPortScan, submitTlsScan } from '../jobs/index.js';
import type { Runtime } from '../runtime/index.js';
import { timeOrderedId } from '../shared/ids.js';
import type { Assessment } from '../tls/model.js';
import { type TlsTarget, targetKey } from '../tls/target.js';
import type { Target } from './model.js';
import { expiryRescanAt, nextRunAt } from './schedule.js';

export interface DueRunOptions {
  now?: Date;
  /** [0, 1): the share of monitor.jitterSeconds added to a periodic run. */
  random?: () => number;
  /** Most targets claimed in one tick; the rest are due on the next. */
  limit?: number;
}

export interface DueRunOutcome {
  /** Targets this process claimed and submitted. */
  submitted: number;
  tlsScans: string[];
  portScans: string[];
  /** Targets whose submission failed (they are due again on the next tick). */
  failed: number;
}

export async function runDueTargets(runtime: Runtime, options: DueRunOptions = {}): Promise<DueRunOutcome> {
  const now = options.now ?? new Date();
  const random = options.random ?? Math.random;
  const { monitor } = runtime.config;
  const targets = runtime.store.targets;
  const outcome: DueRunOutcome = { submitted: 0, tlsScans: [], portScans: [], failed: 0 };
  const due = await targets.due(now.toISOString(), options.limit ?? 1000);

  /** Claims `target` for the scan `scanId`; false when another process claimed it first. */
  const claim = (target: Target, scanId: string): Promise<boolean> =>
    targets.claimRun(target.id, target.nextRunAt, {
      nextRunAt: nextRunAt({
        schedule: target.schedule ?? monitor.defaultSchedule,
        now,
        certExpiresAt: target.certExpiresAt,
        expiry: monitor,
        jitterMs: Math.floor(random() * monitor.jitterSeconds * 1000),
      }).toISOString(),
      lastRunAt: now.toISOString(),
      lastScanId: scanId,
    });
  /** A failed submission leaves the target due again at the next tick, not at its next period. */
  const retryLater = async (claimed: readonly Target[], err: unknown): Promise<void> => {
    outcome.failed += claimed.length;
    runtime.logger.warn({ err, targets: claimed.map((t) => t.id) }, 'scheduled scan could not be submitted');
    const retryAt = new Date(now.getTime() + monitor.tickSeconds * 1000).toISOString();
    await Promise.all(claimed.map((t) => targets.setNextRun(t.id, retryAt)));
  };

  const tls = due.filter((t) => t.kind === 'tls');
  for (let i = 0; i < tls.length; i += monitor.scanBatchSize) {
    const scanId = timeOrderedId();
    const chunk = tls.slice(i, i + monitor.scanBatchSize);
    const claimed = (await Promise.all(chunk.map(async (t) => ((await claim(t, scanId)) ? [t] : [])))).flat();
    if (claimed.length === 0) continue;
    try {
      await submitTlsScan(runtime, { id: scanId, hosts: claimed.map((t) => targetKey({ host: t.value, port: t.port })), deferChecks: true });
      outcome.tlsScans.push(scanId);
      outcome.submitted += claimed.length;
    } catch (err) {
      await retryLater(claimed, err);
    }
  }
  for (const target of due.filter((t) => t.kind === 'ports')) {
    const scanId = timeOrderedId();
    if (!(await claim(target, scanId))) continue;
    try {
      await submitPortScan(runtime, { id: scanId, targets: [target.value], ...(target.ports !== null ? { ports: target.ports } : {}) });
      outcome.portScans.push(scanId);
      outcome.submitted++;
    } catch (err) {
      await retryLater([target], err);
    }
  }
  if (outcome.submitted + outcome.failed > 0) runtime.logger.info({ ...outcome, tlsScans: outcome.tlsScans.length, portScans: outcome.portScans.length }, 'scheduled targets submitted');
  return outcome;
}

/** The earliest certificate expiry on any endpoint's validated path (leaf or intermediate), if any. */
export function earliestCertExpiry(assessment: Assessment): string | null {
  const dates = assessment.endpoints.flatMap((e) => (e.status === 'ready' ? e.certificates.map((c) => c.earliestExpiry) : [])).filter((d) => !Number.isNaN(Date.parse(d)));
  return dates.length === 0 ? null : dates.reduce((a, b) => (Date.parse(a) <= Date.parse(b) ? a : b));
}

/**
 * Called with every stored TLS assessment: notes the certificate expiry on the inventory targets of
 * that host:port and brings their next run forward when an expiry rescan falls before it.
 */
export function noteAssessment(runtime: Pick<Runtime, 'store' | 'config'>) {
  return async (target: TlsTarget, assessment: Assessment): Promise<void> => {
    const expiresAt = earliestCertExpiry(assessment);
    if (expiresAt === null) return;
    const now = new Date();
    for (const t of await runtime.store.targets.noteCertExpiry(target.host, target.port, expiresAt)) {
      const rescan = expiryRescanAt(expiresAt, now, runtime.config.monitor);
      // A target with no next run is paused: an expiry does not wake it.
      if (rescan !== undefined && t.nextRunAt !== null && rescan.getTime() < Date.parse(t.nextRunAt)) await runtime.store.targets.setNextRun(t.id, rescan.toISOString());
    }
  };
}
