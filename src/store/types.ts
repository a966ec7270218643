import type { HostSummary, PortResult, PortScanOptions, ScanProgress, ScanStats, ScanStatus } from '../shared/model.js';
import type { SerializedPlan } from '../scope/index.js';

export interface PortScanRecord {
  id: string;
  status: ScanStatus;
  targets: string[];
  exclude: string[];
  /** The port spec as the user gave it, e.g. `top-1000`. */
  ports: string;
  /** Canonical list of the ports scanned on every host, e.g. `1-1024,3306`. */
  portSet: string;
  portCount: number;
  options: PortScanOptions;
  addressCount: number;
  hostsDone: number;
  progress: ScanProgress;
  createdAt: string;
  startedAt: string | undefined;
  finishedAt: string | undefined;
  error: { code: string; message: string } | undefined;
  stats: ScanStats | undefined;
  /** Shard jobs the scan's addresses were split into; undefined while it runs (or ran) as one job. */
  shards: number | undefined;
}

export interface NewPortScan {
  id: string;
  targets: string[];
  exclude: string[];
  ports: string;
  portSet: string;
  portCount: number;
  options: PortScanOptions;
  plan: SerializedPlan;
  addressCount: number;
  createdAt: string;
  /** The principal asking (concurrent-scan quotas); undefined for the scheduler. */
  requestedBy?: string | undefined;
}

export interface PortScanFilter {
  status?: ScanStatus | undefined;
  /** Scans whose target list contains this text. */
  target?: string | undefined;
  /** Scans that stored a result for this exact address. */
  ip?: string | undefined;
  createdAfter?: string | undefined;
  createdBefore?: string | undefined;
  limit: number;
  offset: number;
}

export interface ScanOutcome {
  status: Extract<ScanStatus, 'done' | 'failed' | 'cancelled'>;
  at: string;
  stats?: ScanStats | undefined;
  error?: { code: string; message: string } | undefined;
}

export interface PortScanTotals {
  hostsDone: number;
  hostsUp: number;
  open: number;
  closed: number;
  filtered: number;
}

/** One finished host of a scan with the ports listed for it. */
export interface HostEntry {
  host: HostSummary;
  ports: PortResult[];
}

/** One port block of one host, scanned by a port-block shard and kept until the host's blocks are merged. */
export interface HostPart {
  ip: string;
  /** 0-based block of the scan's port set. */
  part: number;
  /** Every port of the block. */
  results: PortResult[];
  srttMs?: number | undefined;
  startedAt: string;
  finishedAt: string;
}

export interface PortScanRepository {
  create(scan: NewPortScan): Promise<PortScanRecord>;
  get(id: string): Promise<PortScanRecord | undefined>;
  getPlan(id: string): Promise<SerializedPlan | undefined>;
  /** Newest first. */
  list(filter: PortScanFilter): Promise<{ items: PortScanRecord[]; total: number }>;
  /** queued → running (also running → running on a retried job). Sets startedAt once. */
  markRunning(id: string, at: string): Promise<void>;
  updateProgress(id: string, progress: ScanProgress): Promise<void>;
  /** Records that the scan was split into `count` shard jobs. */
  setShards(id: string, count: number): Promise<void>;
  /** Sets progress from the hosts stored so far (all ports of a stored host are done): for sharded scans. */
  progressFromHosts(id: string): Promise<void>;
  /** Ends the scan unless it already ended; returns false if it had (e.g. cancelled meanwhile). */
  finish(id: string, outcome: ScanOutcome): Promise<boolean>;
  /**
   * Stores finished hosts and their listed ports in one transaction. Idempotent: storing a host again
   * (a retried job) replaces it, never duplicates rows; hostsDone counts each address once.
   */
  saveHosts(scanId: string, entries: readonly HostEntry[]): Promise<void>;
  /** Addresses stored for the scan; only those from `first` to `last` in address order when given (a shard's block). */
  finishedHosts(scanId: string, between?: { first: string; last: string }): Promise<Set<string>>;
  /** Stores one port block of a host (replacing an earlier attempt's); nothing once the host is merged. */
  saveHostPart(scanId: string, part: HostPart): Promise<void>;
  /** Port blocks of `ip` stored and not yet merged. */
  storedParts(scanId: string, ip: string): Promise<Set<number>>;
  /**
   * Once all `parts` blocks of `ip` are stored: removes them and stores `merge(blocks)` as the host,
   * in one transaction. False when blocks are missing, or another job merged them first.
   */
  mergeHostParts(scanId: string, ip: string, parts: number, merge: (blocks: HostPart[]) => HostEntry): Promise<boolean>;
  totals(scanId: string): Promise<PortScanTotals>;
  /** Hosts in address order. */
  hosts(scanId: string, page: { limit: number; offset: number; onlyUp?: boolean }): Promise<{ items: HostSummary[]; total: number }>;
  /** Listed port rows of the scan, optionally only for some addresses, ordered by ip then port. */
  ports(scanId: string, ips?: readonly string[]): Promise<PortResult[]>;
  delete(id: string): Promise<boolean>;
}

export interface HostHistoryEntry {
  scan: Pick<PortScanRecord, 'id' | 'status' | 'createdAt' | 'finishedAt' | 'portSet'>;
  host: HostSummary;
  /** Listed ports of this host in that scan (ports in the host's extraPorts state are not listed). */
  ports: PortResult[];
}

export interface HostRepository {
  /** Every scan that stored a result for the address, newest first. */
  history(ip: string, page: { limit: number; offset: number }): Promise<{ items: HostHistoryEntry[]; total: number }>;
}
