import type { PortResult, PortScanOptions, ServiceInfo } from '../shared/model.js';

/** What ports/ports2scan and ports/port-ranking.txt provide. */
export interface PortLists {
  /** Named lists from the port-list file, e.g. `web`, `databases`, `default`. */
  named: ReadonlyMap<string, readonly number[]>;
  /** Our own ranking of TCP ports, most commonly exposed first. */
  ranking: ReadonlyArray<{ port: number; service: string }>;
}

/** Result of scanning every port of one host; yielded as soon as the host is finished. */
export interface HostScanResult {
  ip: string;
  /** One result per scanned port (open, closed and filtered). */
  results: PortResult[];
  srttMs: number | undefined;
  startedAt: string;
  finishedAt: string;
}

export interface ScanProgressEvent {
  /** Probes decided so far (each port of each host counts once). */
  done: number;
  total: number;
  open: number;
}

export interface PortScanRequest {
  /** Addresses to scan, consumed lazily (a /16 is never held whole). */
  addresses: Iterable<string>;
  addressCount: number;
  ports: readonly number[];
  options?: PortScanOptions;
  signal?: AbortSignal;
  onProgress?: (event: ScanProgressEvent) => void;
}

export interface ServiceProbeOptions {
  bannerTimeoutMs: number;
  /** Connect + whole-probe budget per port. */
  timeoutMs: number;
  /** Hostname for SNI and the HTTP Host header, when the address came from a name. */
  hostname?: string;
  signal?: AbortSignal;
}

export type ServiceDetector = (ip: string, port: number, options: ServiceProbeOptions) => Promise<ServiceInfo>;
