import { timeOrderedId } from '../shared/ids.js';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { Metrics } from '../metrics/index.js';
import { formatPortSet, parsePortSpec, PortSet, scanHosts, selectConnector, serviceDetection, summarizeHost } from '../portscan/index.js';
import type { PortLists, ServiceDetector } from '../portscan/index.js';
import { deserializePlan, planAddresses, planTargets, serializePlan } from '../scope/index.js';
import type { Resolver, ScopePolicy } from '../scope/index.js';
import { PortcullisError, describeError } from '../shared/errors.js';
import type { PortScanOptions, ScanStats } from '../shared/model.js';
import type { Store } from '../store/index.js';
import type { HostEntry, PortScanRecord, TlsScanRecord } from '../store/index.js';
import { targetKey } from '../tls/target.js';
import type { JobContext, JobHandler, JobQueue } from './queue.js';
import { UnrecoverableError } from './queue.js';

export const PORT_SCAN_JOB = 'port-scan';

/** The queue id of a scan's job: one job per scan, found again for cancellation and reconciliation. */
export function portScanJobId(scanId: string): string {
  return `${PORT_SCAN_JOB}:${scanId}`;
}

export interface PortScanJobPayload {
  scanId: string;
}

export interface PortScanSubmission {
  /** Chosen by the caller when it must know the id before submitting (the scheduler); otherwise generated. */
  id?: string | undefined;
  targets: string[];
  exclude?: string[] | undefined;
  ports?: string | undefined;
  options?: PortScanOptions | undefined;
  /** The principal asking (its concurrent-scan quota counts this scan). */
  requestedBy?: string | undefined;
}

export interface SubmitDeps {
  store: Store;
  queue: JobQueue;
  resolver: Resolver;
  policy: ScopePolicy;
  portLists: PortLists;
  config: Config;
  metrics?: Metrics | undefined;
}

/**
 * Validates a port-scan request, resolves and checks every address against the scope policy, stores
 * the scan as queued and enqueues its job. Nothing is stored when any of that fails.
 */
export async function submitPortScan(deps: SubmitDeps, request: PortScanSubmission): Promise<PortScanRecord> {
  try {
    const portSpec = request.ports ?? deps.config.portscan.defaultPorts;
    const ports = parsePortSpec(portSpec, deps.portLists);
    const plan = await planTargets(request.targets, {
      exclude: request.exclude ?? [],
      resolver: deps.resolver,
      policy: deps.policy,
      maxAddresses: deps.config.scope.maxAddressesPerScan,
    });
    const record = await deps.store.portScans.create({
      id: request.id ?? timeOrderedId(),
      targets: request.targets,
      exclude: request.exclude ?? [],
      ports: portSpec,
      portSet: formatPortSet(ports),
      portCount: ports.length,
      options: request.options ?? {},
      plan: serializePlan(plan),
      addressCount: plan.addressCount,
      createdAt: new Date().toISOString(),
      requestedBy: request.requestedBy,
    });
    try {
      await deps.queue.enqueue<PortScanJobPayload>(PORT_SCAN_JOB, { scanId: record.id }, { jobId: portScanJobId(record.id) });
    } catch (err) {
      await deps.store.portScans.delete(record.id);
      throw new PortcullisError('queue.unavailable', `the scan could not be queued: ${describeError(err).message}`);
    }
    deps.metrics?.portScansSubmitted.inc({ outcome: 'accepted' });
    return record;
  } catch (err) {
    deps.metrics?.portScansSubmitted.inc({ outcome: 'rejected' });
    throw err;
  }
}

export interface PortScanJobDeps {
  store: Store;
  portLists: PortLists;
  detectService: ServiceDetector;
  config: Config;
  logger: Logger;
  metrics?: Metrics | undefined;
  /** How often the handler stores progress and looks for a cancellation, ms. */
  checkpointMs?: number;
  /** Submits a TLS scan of `ip:port` targets for a scan with options.assessTls (runtime wires submitTlsScan). */
  submitTlsScan?: ((hosts: string[], portScanId: string) => Promise<TlsScanRecord>) | undefined;
}

/** Finished hosts are stored this many at a time (or this many rows), in one transaction. */
const BATCH_HOSTS = 512;
const BATCH_ROWS = 4096;

/**
 * Runs one stored port scan. Idempotent under retries: hosts already stored by an earlier attempt are
 * skipped, and hosts are written in transactions that replace rather than add, so a job that dies
 * mid-scan resumes without duplicating or losing rows. Finished hosts are batched (by count, and at
 * every checkpoint) because one transaction per host would keep a single-threaded SQLite writer, and
 * with it the probes' event loop, busy. Cancellation is read from the scan row, so it works from any
 * process.
 */
export function createPortScanHandler(deps: PortScanJobDeps): JobHandler<PortScanJobPayload, { status: string }> {
  return async (ctx: JobContext<PortScanJobPayload>) => {
    const { scanId } = ctx.payload;
    const repo = deps.store.portScans;
    const scan = await repo.get(scanId);
    if (scan === undefined) throw new UnrecoverableError(`port scan ${scanId} no longer exists`);
    if (scan.status !== 'queued' && scan.status !== 'running') return { status: scan.status };

    const startedAt = scan.startedAt ?? new Date().toISOString();
    await repo.markRunning(scanId, startedAt);
    const log = deps.logger.child({ scanId, attempt: ctx.attempt });
    const plan = deserializePlan((await repo.getPlan(scanId)) ?? failMissingPlan(scanId));
    const ports = [...PortSet.parse(scan.portSet)];
    const alreadyStored = await repo.finishedHosts(scanId);
    const options = effectiveOptions(scan.options, deps.config);
    log.info({ addresses: plan.addressCount, ports: ports.length, resumedHosts: alreadyStored.size }, 'port scan started');

    const abort = new AbortController();
    const onJobAbort = (): void => abort.abort(ctx.signal.reason);
    ctx.signal.addEventListener('abort', onJobAbort, { once: true });
    const probesBefore = alreadyStored.size * ports.length;
    let progress = { done: probesBefore, total: scan.progress.total };

    let pending: HostEntry[] = [];
    let pendingRows = 0;
    let storing: Promise<void> = Promise.resolve();
    /** Stores the hosts waiting so far; batches are written one after another, in order. */
    const flush = (): Promise<void> => {
      if (pending.length > 0) {
        const batch = pending;
        pending = [];
        pendingRows = 0;
        storing = storing.then(() => repo.saveHosts(scanId, batch));
      }
      return storing;
    };
    const checkpoint = setInterval(() => {
      void (async () => {
        await flush();
        const current = await repo.get(scanId);
        if (current?.status === 'cancelled') abort.abort(new PortcullisError('scan.cancelled', 'scan cancelled'));
        else await Promise.all([repo.updateProgress(scanId, progress), ctx.updateProgress(progress)]);
      })().catch((err: unknown) => log.warn({ err }, 'could not store scan progress'));
    }, deps.checkpointMs ?? 500);

    try {
      const hosts = scanHosts({
        addresses: skip(planAddresses(plan), alreadyStored),
        addressCount: plan.addressCount - alreadyStored.size,
        ports,
        options,
        signal: abort.signal,
        portLists: deps.portLists,
        connector: selectConnector(deps.config.portscan.connector),
        onProgress: (e) => {
          progress = { done: probesBefore + e.done, total: scan.progress.total };
        },
        ...(options.serviceDetection === false
          ? {}
          : { services: serviceDetection(deps.detectService, options.bannerTimeoutMs ?? deps.config.portscan.bannerTimeoutMs, (ip) => plan.hostnames[ip] ?? []) }),
      });
      for await (const host of hosts) {
        const { summary, listed } = summarizeHost({ ...host, hostnames: plan.hostnames[host.ip] ?? [] });
        pending.push({ host: summary, ports: listed });
        pendingRows += 1 + listed.length;
        if (pending.length >= BATCH_HOSTS || pendingRows >= BATCH_ROWS) await flush();
        deps.metrics?.hostsScanned.inc();
        deps.metrics?.portProbes.inc({ state: 'open' }, summary.counts.open);
        deps.metrics?.portProbes.inc({ state: 'closed' }, summary.counts.closed);
        deps.metrics?.portProbes.inc({ state: 'filtered' }, summary.counts.filtered);
      }
      await flush();
    } catch (err) {
      // Hosts that finished are valid whatever stopped the scan: keep them (a retry skips them).
      await flush().catch((flushErr: unknown) => log.warn({ err: flushErr }, 'could not store finished hosts'));
      if (abort.signal.aborted) {
        if ((await repo.get(scanId))?.status === 'cancelled') {
          log.info('port scan cancelled');
          return { status: 'cancelled' };
        }
        // Stopped by a worker shutdown: the queue hands the job back and a later attempt resumes it.
        throw err;
      }
      const error = describeError(err);
      log.warn({ err }, 'port scan attempt failed');
      if (ctx.attempt >= ctx.maxAttempts) {
        await repo.finish(scanId, { status: 'failed', at: new Date().toISOString(), error });
        deps.metrics?.portScansFinished.inc({ status: 'failed' });
      }
      throw err;
    } finally {
      clearInterval(checkpoint);
      ctx.signal.removeEventListener('abort', onJobAbort);
    }

    const finishedAt = new Date();
    const totals = await repo.totals(scanId);
    const stats: ScanStats = {
      hostsTotal: plan.addressCount,
      hostsUp: totals.hostsUp,
      open: totals.open,
      closed: totals.closed,
      filtered: totals.filtered,
      portsPerHost: ports.length,
      durationMs: finishedAt.getTime() - Date.parse(startedAt),
    };
    await repo.updateProgress(scanId, { done: scan.progress.total, total: scan.progress.total });
    // Before finishing, so a retry after a crash in between still submits (at most once, see below).
    if (scan.options.assessTls === true) await submitTlsFollowUp(deps, scanId, log);
    const ended = await repo.finish(scanId, { status: 'done', at: finishedAt.toISOString(), stats });
    if (ended) {
      deps.metrics?.portScansFinished.inc({ status: 'done' });
      deps.metrics?.portScanDuration.observe(stats.durationMs / 1000);
    }
    log.info({ ...stats }, 'port scan finished');
    return { status: ended ? 'done' : 'cancelled' };
  };
}

/**
 * options.assessTls: one TLS scan of every open port where service detection completed a TLS
 * handshake. Submitted once per port scan (a retried job finds the earlier one); a refusal (say the
 * scope policy changed meanwhile) is logged and does not fail the port scan.
 */
async function submitTlsFollowUp(deps: PortScanJobDeps, scanId: string, log: Logger): Promise<void> {
  if (deps.submitTlsScan === undefined) return;
  const existing = await deps.store.tlsAssessments.listScans({ portScanId: scanId, limit: 1, offset: 0 });
  if (existing.total > 0) return;
  const hosts = (await deps.store.portScans.ports(scanId)).filter((p) => p.state === 'open' && p.service?.tls !== undefined).map((p) => targetKey({ host: p.ip, port: p.port }));
  if (hosts.length === 0) return;
  try {
    const tlsScan = await deps.submitTlsScan(hosts, scanId);
    log.info({ tlsScanId: tlsScan.id, targets: hosts.length }, 'TLS scan submitted for the TLS ports found');
  } catch (err) {
    log.warn({ err, targets: hosts.length }, 'could not submit the TLS scan of the TLS ports found');
  }
}

/** The scan's own options over the service's configured defaults and caps. */
export function effectiveOptions(options: PortScanOptions, config: Config): PortScanOptions {
  return {
    ...options,
    concurrency: Math.min(options.concurrency ?? config.portscan.maxConcurrency, config.portscan.maxConcurrency),
    serviceDetection: options.serviceDetection ?? config.portscan.serviceDetection,
    bannerTimeoutMs: options.bannerTimeoutMs ?? config.portscan.bannerTimeoutMs,
  };
}

function* skip(addresses: Iterable<string>, done: ReadonlySet<string>): Generator<string> {
  for (const ip of addresses) if (!done.has(ip)) yield ip;
}

function failMissingPlan(scanId: string): never {
  throw new UnrecoverableError(`port scan ${scanId} has no stored target plan`);
}
