import { setTimeout as delay } from 'node:timers/promises';
import { timeOrderedId } from '../shared/ids.js';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { Metrics } from '../metrics/index.js';
import {
  PortSet,
  countPorts,
  findPingPort,
  formatPortSet,
  mergeHostBlocks,
  parsePortSpec,
  pingCandidates,
  scanHosts,
  selectConnector,
  serviceDetection,
  summarizeHost,
} from '../portscan/index.js';
import type { FdBudget, HostBlock, PortLists, ServiceDetector } from '../portscan/index.js';
import { deserializePlan, planAddresses, planTargets, serializePlan } from '../scope/index.js';
import type { Resolver, ScopePolicy, TargetPlan } from '../scope/index.js';
import { PortcullisError, describeError } from '../shared/errors.js';
import type { PortCounts, PortScanOptions, ScanStats } from '../shared/model.js';
import type { Store } from '../store/index.js';
import type { AddressLease, HostEntry, PortScanRecord, TlsScanRecord } from '../store/index.js';
import { targetKey } from '../tls/target.js';
import type { JobContext, JobHandler, JobQueue } from './queue.js';
import { UnrecoverableError } from './queue.js';

export const PORT_SCAN_JOB = 'port-scan';

/** The queue id of a scan's job: one job per scan, found again for cancellation and reconciliation. */
export function portScanJobId(scanId: string): string {
  return `${PORT_SCAN_JOB}:${scanId}`;
}

export const PORT_SCAN_SHARD_JOB = 'port-scan-shard';
export const PORT_SCAN_FINALIZE_JOB = 'port-scan-finalize';

export function portScanShardJobId(scanId: string, shard: number): string {
  return `${portScanJobId(scanId)}:shard:${shard}`;
}

export function portScanFinalizeJobId(scanId: string): string {
  return `${portScanJobId(scanId)}:finalize`;
}

/** Every queue job a scan may have: its own, its shards' and its finalize job. */
export function portScanJobIds(scan: { id: string; shards: number | undefined }): string[] {
  const shards = Array.from({ length: scan.shards ?? 0 }, (_, shard) => portScanShardJobId(scan.id, shard));
  return [portScanJobId(scan.id), ...shards, ...(scan.shards === undefined ? [] : [portScanFinalizeJobId(scan.id)])];
}

export interface PortScanJobPayload {
  scanId: string;
}

export interface PortScanShardPayload extends PortScanJobPayload {
  /** 0-based; `shardBlock` tells which addresses and ports it scans. */
  shard: number;
  hostsPerShard: number;
  /** Absent: every port of the scan (hosts are not split). */
  portsPerShard?: number;
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
  /** Enqueues a sharded scan's shard jobs and its finalize job. */
  queue: JobQueue;
  portLists: PortLists;
  detectService: ServiceDetector;
  config: Config;
  logger: Logger;
  metrics?: Metrics | undefined;
  /** Sockets shared by every port-scan job of this process (`worker.connections`); one per scan when absent. */
  connectionBudget?: FdBudget | undefined;
  /** How often the handler stores progress and looks for a cancellation, ms. */
  checkpointMs?: number;
  /** Submits a TLS scan of `ip:port` targets for a scan with options.assessTls (runtime wires submitTlsScan). */
  submitTlsScan?: ((hosts: string[], portScanId: string) => Promise<TlsScanRecord>) | undefined;
}

/** Finished hosts are stored this many at a time (or this many rows), in one transaction. */
const BATCH_HOSTS = 512;
const BATCH_ROWS = 4096;

type Outcome = { status: string; shards?: number };

export interface ShardPlan {
  /** Addresses in each shard's block; 1 when ports are split. */
  hostsPerShard: number;
  /** Ports in each shard's block: the whole port set unless one host's ports are more than a shard. */
  portsPerShard: number;
  /** Port blocks per host (1: hosts are not split). */
  portBlocks: number;
  shards: number;
}

/**
 * Hosts are split into port blocks only in scans of fewer addresses than this: with more, one shard
 * per host already gives more shards than workers run at once, and port blocks would only multiply
 * the jobs (a /16 × 65,535 ports in blocks of 8,192 would be 524,288 of them).
 */
export const PORT_BLOCKS_BELOW_HOSTS = 64;

/**
 * How a scan is split into shard jobs of about `shardProbes` probes each: blocks of whole hosts
 * (a host scanned by one worker keeps its timing and its summary in one place); only when one host's
 * port set is larger than a shard, and there are few hosts, is each host split into port blocks of
 * equal size, which the shard storing the last block merges. One shard means the scan runs as a
 * single job. Pure.
 */
export function shardPlan(addressCount: number, portCount: number, shardProbes: number): ShardPlan {
  if (shardProbes <= 0 || addressCount * portCount <= shardProbes) return { hostsPerShard: addressCount, portsPerShard: portCount, portBlocks: 1, shards: 1 };
  if (portCount > shardProbes && addressCount < PORT_BLOCKS_BELOW_HOSTS) {
    const portBlocks = Math.ceil(portCount / shardProbes);
    return { hostsPerShard: 1, portsPerShard: Math.ceil(portCount / portBlocks), portBlocks, shards: addressCount * portBlocks };
  }
  const hostsPerShard = Math.max(1, Math.floor(shardProbes / Math.max(1, portCount)));
  return { hostsPerShard, portsPerShard: portCount, portBlocks: 1, shards: Math.ceil(addressCount / hostsPerShard) };
}

/** The addresses (a run of the plan's order) and ports (a run of the sorted port set) of one shard. Pure. */
export function shardBlock(shard: number, payload: Pick<PortScanShardPayload, 'hostsPerShard' | 'portsPerShard'>, portCount: number): ShardBlock {
  const portsPerShard = payload.portsPerShard ?? portCount;
  const portBlocks = Math.max(1, Math.ceil(portCount / portsPerShard));
  const part = shard % portBlocks;
  return {
    firstHost: Math.floor(shard / portBlocks) * payload.hostsPerShard,
    hostCount: payload.hostsPerShard,
    firstPort: part * portsPerShard,
    portCount: Math.min(portsPerShard, portCount - part * portsPerShard),
    ...(portBlocks > 1 ? { part: { index: part, count: portBlocks } } : {}),
  };
}

export interface ShardBlock {
  firstHost: number;
  hostCount: number;
  firstPort: number;
  portCount: number;
  /** Set when hosts are split into port blocks: this shard's block of its host. */
  part?: PortBlock;
}

interface PortBlock {
  index: number;
  count: number;
}

/** A port-block shard's block, with the scan's ports worth trying as its timing-ping port. */
interface ScannedPortBlock extends PortBlock {
  pingCandidates: readonly number[];
}

/**
 * The job of one stored port scan. A small scan is scanned here. A large one (see `shardPlan`) is
 * split: this job enqueues one `port-scan-shard` job per block (of hosts, or of one host's ports)
 * and ends; the shards run on any workers at once, and whichever stores the last host enqueues the
 * `port-scan-finalize` job, which computes the totals and ends the scan. Every job id is derived from the scan id, so a retried
 * job never enqueues twice.
 */
export function createPortScanHandler(deps: PortScanJobDeps): JobHandler<PortScanJobPayload, Outcome> {
  return async (ctx) => {
    const started = await startScan(deps, ctx.payload.scanId);
    if ('ended' in started) return { status: started.ended };
    const { scan, plan, ports } = started;
    const { hostsPerShard, portsPerShard, portBlocks, shards } = shardPlan(plan.addressCount, ports.length, deps.config.portscan.shardProbes);
    if (shards === 1) {
      const scanned = await scanAddresses(deps, ctx, started, () => planAddresses(plan));
      if (scanned !== 'done') return { status: scanned };
      return { status: await finishScan(deps, scan, ports.length) };
    }
    await deps.store.portScans.setShards(scan.id, shards);
    for (let shard = 0; shard < shards; shard++) {
      const payload: PortScanShardPayload = { scanId: scan.id, shard, hostsPerShard, ...(portBlocks > 1 ? { portsPerShard } : {}) };
      await deps.queue.enqueue<PortScanShardPayload>(PORT_SCAN_SHARD_JOB, payload, { jobId: portScanShardJobId(scan.id, shard) });
    }
    deps.logger.info({ scanId: scan.id, shards, hostsPerShard, portsPerShard, addresses: plan.addressCount, ports: ports.length }, 'port scan split into shards');
    return { status: 'sharded', shards };
  };
}

/** One shard of a split scan: its block of addresses and ports. The shard that completes the scan enqueues the finalize job. */
export function createPortScanShardHandler(deps: PortScanJobDeps): JobHandler<PortScanShardPayload, Outcome> {
  return async (ctx) => {
    const { scanId, shard } = ctx.payload;
    const started = await startScan(deps, scanId);
    if ('ended' in started) return { status: started.ended };
    const block = shardBlock(shard, ctx.payload, started.ports.length);
    const blockScan = { ...started, ports: started.ports.slice(block.firstPort, block.firstPort + block.portCount) };
    const addresses = () => slice(planAddresses(started.plan), block.firstHost, block.hostCount);
    const part = block.part !== undefined ? { ...block.part, pingCandidates: pingCandidates(started.ports) } : undefined;
    const scanned = await scanAddresses(deps, ctx, blockScan, addresses, { shard, ...(part !== undefined ? { part } : {}) });
    if (scanned !== 'done') return { status: scanned };
    const totals = await deps.store.portScans.totals(scanId);
    if (totals.hostsDone >= started.plan.addressCount) await deps.queue.enqueue<PortScanJobPayload>(PORT_SCAN_FINALIZE_JOB, { scanId }, { jobId: portScanFinalizeJobId(scanId) });
    return { status: 'done' };
  };
}

/** Ends a split scan once every host is stored: totals, the TLS follow-up, status done. */
export function createPortScanFinalizeHandler(deps: PortScanJobDeps): JobHandler<PortScanJobPayload, Outcome> {
  return async (ctx) => {
    const scan = await deps.store.portScans.get(ctx.payload.scanId);
    if (scan === undefined) throw new UnrecoverableError(`port scan ${ctx.payload.scanId} no longer exists`);
    if (scan.status !== 'queued' && scan.status !== 'running') return { status: scan.status };
    return { status: await finishScan(deps, scan, scan.portCount) };
  };
}

interface StartedScan {
  scan: PortScanRecord;
  plan: TargetPlan;
  ports: number[];
}

/** Reads the scan and marks it running; `ended` when it is already over (cancelled, failed, done). */
async function startScan(deps: PortScanJobDeps, scanId: string): Promise<StartedScan | { ended: string }> {
  const repo = deps.store.portScans;
  const scan = await repo.get(scanId);
  if (scan === undefined) throw new UnrecoverableError(`port scan ${scanId} no longer exists`);
  if (scan.status !== 'queued' && scan.status !== 'running') return { ended: scan.status };
  const startedAt = scan.startedAt ?? new Date().toISOString();
  await repo.markRunning(scanId, startedAt);
  const plan = deserializePlan((await repo.getPlan(scanId)) ?? failMissingPlan(scanId));
  return { scan: { ...scan, startedAt }, plan, ports: [...PortSet.parse(scan.portSet)] };
}

/**
 * Scans `addresses` (all of a single-job scan, or one shard's block) and stores each host as it
 * finishes. Idempotent under retries: hosts already stored by an earlier attempt are skipped, and
 * hosts are written in transactions that replace rather than add, so a job that dies mid-scan resumes
 * without duplicating or losing rows. Finished hosts are batched (by count, and at every checkpoint)
 * because one transaction per host would keep a single-threaded SQLite writer, and with it the
 * probes' event loop, busy. Cancellation (or another shard failing the scan) is read from the scan
 * row, so it works from any process. Returns `done`, or the status the scan ended with meanwhile.
 */
async function scanAddresses(
  deps: PortScanJobDeps,
  ctx: JobContext<unknown>,
  { scan, plan, ports }: StartedScan,
  /** The addresses to scan, iterated twice (a /16 is never held whole). */
  addresses: () => Iterable<string>,
  /** Set for a shard job; `part` when it scans one port block of its host. */
  sharding?: { shard: number; part?: ScannedPortBlock },
): Promise<string> {
  const scanId = scan.id;
  const repo = deps.store.portScans;
  const sharded = sharding !== undefined;
  const part = sharding?.part;
  const log = deps.logger.child({ scanId, attempt: ctx.attempt, ...(sharded ? { shard: sharding.shard } : {}), ...(part !== undefined ? { part: part.index } : {}) });
  // A shard's block is a run of the plan's address order, which is the store's ip_key order: it reads
  // back only its own hosts, not the whole scan's.
  let addressCount = 0;
  let first: string | undefined;
  let last: string | undefined;
  for (const ip of addresses()) {
    addressCount++;
    first ??= ip;
    last = ip;
  }
  const alreadyStored = sharded && first !== undefined && last !== undefined ? await repo.finishedHosts(scanId, { first, last }) : await repo.finishedHosts(scanId);
  // A port block stored by an earlier attempt is not scanned again (its host may still need merging).
  if (part !== undefined && first !== undefined && (await repo.storedParts(scanId, first)).has(part.index)) alreadyStored.add(first);
  const resumedHosts = alreadyStored.size;
  const options = effectiveOptions(scan.options, deps.config);
  log.info({ addresses: addressCount, ports: ports.length, resumedHosts }, sharded ? 'port scan shard started' : 'port scan started');

  const abort = new AbortController();
  const onJobAbort = (): void => abort.abort(ctx.signal.reason);
  ctx.signal.addEventListener('abort', onJobAbort, { once: true });
  const probesBefore = resumedHosts * ports.length;
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
  /** The scan's status when it has ended elsewhere (cancelled, or failed by another shard). */
  const endedElsewhere = async (): Promise<string | undefined> => {
    const status = (await repo.get(scanId))?.status;
    return status === 'queued' || status === 'running' ? undefined : (status ?? 'deleted');
  };
  // Politeness across scans: with a per-host cap, one scan's job at a time probes these addresses,
  // on whichever worker, so the cap holds for the installation and not just for this scan.
  const lease = options.maxHostConnections !== undefined && first !== undefined && last !== undefined ? { scanId, shard: sharding?.shard ?? -1, first, last } : undefined;
  let leaseHeld = false;
  const leaseExpiry = (): string => new Date(Date.now() + deps.config.worker.leaseMs).toISOString();
  const takeLease = (l: AddressLease) => deps.store.addressLeases.acquire(l, leaseExpiry(), new Date().toISOString());
  const checkpoint = setInterval(() => {
    void (async () => {
      await flush();
      // Renewed, never taken again: a checkpoint still running after the scan released its lease must not bring it back.
      if (lease !== undefined && leaseHeld && !(await deps.store.addressLeases.renew(lease, leaseExpiry())) && leaseHeld) {
        log.warn('address lease gone (released or removed meanwhile); scanning on');
      }
      const ended = await endedElsewhere();
      if (ended !== undefined) abort.abort(new PortcullisError('scan.cancelled', `scan ${ended}`));
      // Shards run at once: the scan's progress is what all of them stored; a single job knows it exactly.
      else if (sharded) await Promise.all([repo.progressFromHosts(scanId), ctx.updateProgress(progress)]);
      else await Promise.all([repo.updateProgress(scanId, progress), ctx.updateProgress(progress)]);
    })().catch((err: unknown) => log.warn({ err }, 'could not store scan progress'));
  }, deps.checkpointMs ?? 500);

  try {
    if (lease !== undefined) {
      const ended = await waitForAddressLease(lease, takeLease, endedElsewhere, abort.signal, log);
      if (ended !== undefined) return ended;
      leaseHeld = true;
    }
    const connector = selectConnector(deps.config.portscan.connector);
    // A port block may hold no port that answers: learn a timing-ping port from the scan's popular ones.
    const pingPort = part !== undefined && first !== undefined && resumedHosts === 0 ? await findPingPort(first, part.pingCandidates, { connector, options, signal: abort.signal }) : undefined;
    const hosts = scanHosts({
      addresses: skip(addresses(), alreadyStored),
      addressCount: addressCount - resumedHosts,
      ports,
      options,
      signal: abort.signal,
      portLists: deps.portLists,
      connector,
      pingPort,
      ...(deps.connectionBudget !== undefined ? { connectionBudget: deps.connectionBudget } : {}),
      onProgress: (e) => {
        progress = { done: probesBefore + e.done, total: scan.progress.total };
      },
      ...(options.serviceDetection === false
        ? {}
        : { services: serviceDetection(deps.detectService, options.bannerTimeoutMs ?? deps.config.portscan.bannerTimeoutMs, (ip) => plan.hostnames[ip] ?? []) }),
    });
    for await (const host of hosts) {
      if (part !== undefined) {
        await repo.saveHostPart(scanId, { ...host, part: part.index });
        countProbes(deps.metrics, countPorts(host.results));
        continue;
      }
      const { summary, listed } = summarizeHost({ ...host, hostnames: plan.hostnames[host.ip] ?? [] });
      pending.push({ host: summary, ports: listed });
      pendingRows += 1 + listed.length;
      if (pending.length >= BATCH_HOSTS || pendingRows >= BATCH_ROWS) await flush();
      deps.metrics?.hostsScanned.inc();
      countProbes(deps.metrics, summary.counts);
    }
    await flush();
    // Whichever shard finds every block of the host stored merges them (also on a retry that found its own block stored).
    if (part !== undefined && first !== undefined) {
      const merge = (blocks: HostBlock[]): HostEntry => {
        const { summary, listed } = summarizeHost({ ...mergeHostBlocks(blocks), hostnames: plan.hostnames[first] ?? [] });
        return { host: summary, ports: listed };
      };
      const merged = await repo.mergeHostParts(scanId, first, part.count, merge);
      if (merged) deps.metrics?.hostsScanned.inc();
    }
    if (sharded) await repo.progressFromHosts(scanId);
    return 'done';
  } catch (err) {
    // Hosts that finished are valid whatever stopped the scan: keep them (a retry skips them).
    await flush().catch((flushErr: unknown) => log.warn({ err: flushErr }, 'could not store finished hosts'));
    if (abort.signal.aborted) {
      const ended = await endedElsewhere();
      if (ended !== undefined) {
        log.info({ status: ended }, sharded ? 'port scan shard stopped: the scan ended' : 'port scan stopped: the scan ended');
        return ended;
      }
      // Stopped by a worker shutdown: the queue hands the job back and a later attempt resumes it.
      throw err;
    }
    const error = describeError(err);
    log.warn({ err }, sharded ? 'port scan shard attempt failed' : 'port scan attempt failed');
    // A shard that runs out of attempts fails the whole scan; the other shards stop at their next checkpoint.
    if (ctx.attempt >= ctx.maxAttempts && (await repo.finish(scanId, { status: 'failed', at: new Date().toISOString(), error }))) {
      deps.metrics?.portScansFinished.inc({ status: 'failed' });
    }
    throw err;
  } finally {
    clearInterval(checkpoint);
    ctx.signal.removeEventListener('abort', onJobAbort);
    leaseHeld = false;
    if (lease !== undefined) await deps.store.addressLeases.release(lease).catch((err: unknown) => log.warn({ err }, 'could not release the address lease; it expires by itself'));
  }
}

/** How often a job waiting for another scan of its addresses tries again, ms. */
const LEASE_RETRY_MS = 1000;

/**
 * Waits until the job holds the lease on its addresses. Returns the scan's status if it ended
 * meanwhile (cancelled while waiting); throws when `signal` aborts (worker shutdown: handed back).
 */
async function waitForAddressLease(
  lease: AddressLease,
  takeLease: (lease: AddressLease) => Promise<{ heldBy: string } | undefined>,
  endedElsewhere: () => Promise<string | undefined>,
  signal: AbortSignal,
  log: Logger,
): Promise<string | undefined> {
  let waitingFor: string | undefined;
  for (;;) {
    const held = await takeLease(lease);
    if (held === undefined) return undefined;
    if (held.heldBy !== waitingFor) {
      waitingFor = held.heldBy;
      log.info({ heldBy: held.heldBy, first: lease.first, last: lease.last }, 'waiting for another scan of these addresses to finish (per-host politeness)');
    }
    const ended = await endedElsewhere();
    if (ended !== undefined) return ended;
    await delay(LEASE_RETRY_MS, undefined, { signal });
  }
}

/** Totals, the TLS follow-up and status done, once every host of the scan is stored. Returns the final status. */
async function finishScan(deps: PortScanJobDeps, scan: PortScanRecord, portsPerHost: number): Promise<string> {
  const repo = deps.store.portScans;
  const log = deps.logger.child({ scanId: scan.id });
  const finishedAt = new Date();
  const totals = await repo.totals(scan.id);
  const stats: ScanStats = {
    hostsTotal: scan.addressCount,
    hostsUp: totals.hostsUp,
    open: totals.open,
    closed: totals.closed,
    filtered: totals.filtered,
    portsPerHost,
    durationMs: finishedAt.getTime() - Date.parse(scan.startedAt ?? scan.createdAt),
  };
  await repo.updateProgress(scan.id, { done: scan.progress.total, total: scan.progress.total });
  // Before finishing, so a retry after a crash in between still submits (at most once, see below).
  if (scan.options.assessTls === true) await submitTlsFollowUp(deps, scan.id, log);
  const ended = await repo.finish(scan.id, { status: 'done', at: finishedAt.toISOString(), stats });
  if (ended) {
    deps.metrics?.portScansFinished.inc({ status: 'done' });
    deps.metrics?.portScanDuration.observe(stats.durationMs / 1000);
  }
  log.info({ ...stats }, 'port scan finished');
  return ended ? 'done' : 'cancelled';
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
  const caps = [options.maxHostConnections, config.portscan.maxHostConnections].filter((n) => n !== undefined);
  const hostCap = caps.length > 0 ? Math.min(...caps) : undefined;
  return {
    ...options,
    concurrency: Math.min(options.concurrency ?? config.portscan.maxConcurrency, config.portscan.maxConcurrency),
    ...(hostCap !== undefined ? { maxHostConnections: hostCap } : {}),
    serviceDetection: options.serviceDetection ?? config.portscan.serviceDetection,
    bannerTimeoutMs: options.bannerTimeoutMs ?? config.portscan.bannerTimeoutMs,
  };
}

function countProbes(metrics: Metrics | undefined, counts: PortCounts): void {
  for (const state of ['open', 'closed', 'filtered'] as const) metrics?.portProbes.inc({ state }, counts[state]);
}

function* skip(addresses: Iterable<string>, done: ReadonlySet<string>): Generator<string> {
  for (const ip of addresses) if (!done.has(ip)) yield ip;
}

/** `count` items of `items` from index `first`. */
function* slice<T>(items: Iterable<T>, first: number, count: number): Generator<T> {
  let index = 0;
  for (const item of items) {
    if (index >= first + count) return;
    if (index++ >= first) yield item;
  }
}

function failMissingPlan(scanId: string): never {
  throw new UnrecoverableError(`port scan ${scanId} has no stored target plan`);
}
