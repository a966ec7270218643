/**
 * Shapes shared by engines, store, API and CLI. Engines produce them; everything else reads them.
 * Pure types only: no behaviour lives here.
 */

export type PortState = 'open' | 'closed' | 'filtered';

/** Why a port got its state, with nmap's reason vocabulary so users can compare results. */
export type PortReason =
  | 'syn-ack'
  | 'conn-refused'
  | 'no-response'
  | 'host-unreach'
  | 'net-unreach'
  | 'admin-prohibited'
  | 'proto-unreach'
  | 'dest-unreach';

export interface TlsServiceInfo {
  /** Negotiated protocol, e.g. `TLSv1.3`. */
  version?: string;
  cipher?: string;
  alpn?: string;
  subject?: string;
  issuer?: string;
  subjectAltNames?: string[];
  notAfter?: string;
  selfSigned?: boolean;
}

export interface HttpServiceInfo {
  status: number;
  server?: string;
  title?: string;
  location?: string;
  poweredBy?: string;
}

export interface ServiceInfo {
  /** Service name, e.g. `ssh`, `http`, `https`, `smtp`, `redis`; `unknown` when nothing matched. */
  name: string;
  product?: string;
  version?: string;
  /** First line(s) of what the service said, printable characters only, bounded in length. */
  banner?: string;
  /** Set when the port completed a TLS handshake: the TLS engine can assess it later. */
  tls?: TlsServiceInfo;
  http?: HttpServiceInfo;
  /** `probed` when we talked to the service, `table` when the name only comes from the port ranking. */
  method: 'probed' | 'table';
}

export interface PortResult {
  ip: string;
  port: number;
  protocol: 'tcp';
  state: PortState;
  reason: PortReason;
  /** Round-trip time of the probe that decided the state, in milliseconds. */
  rttMs?: number;
  service?: ServiceInfo;
}

export type HostStatus = 'up' | 'no-response';

export interface PortCounts {
  open: number;
  closed: number;
  filtered: number;
}

/**
 * Per-host outcome. Like nmap's `extraports`, ports in the host's dominant non-open state are summarised
 * by count instead of being listed; every other scanned port has its own PortResult. Together with the
 * scan's scanned port set this tells the exact state of every scanned port without storing 65,535 rows.
 */
export interface HostSummary {
  ip: string;
  hostnames: string[];
  status: HostStatus;
  counts: PortCounts;
  extraPorts?: { state: Exclude<PortState, 'open'>; count: number; reasons: Partial<Record<PortReason, number>> };
  /** Smoothed round-trip time seen for this host, in milliseconds. */
  srttMs?: number;
  startedAt: string;
  finishedAt: string;
}

export type ScanStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

/** Timing templates, as nmap's -T0..-T5. */
export type TimingTemplate = 0 | 1 | 2 | 3 | 4 | 5;

export interface PortScanOptions {
  /** nmap-style timing template; default 3 (normal). */
  timing?: TimingTemplate;
  /** Upper bound for the adaptive per-probe timeout, ms. */
  timeoutMs?: number;
  /** Maximum probes in flight (the congestion window never grows past it). */
  concurrency?: number;
  /** Most connections in flight to one address at once (politeness); default unlimited (the host's congestion window decides). */
  maxHostConnections?: number;
  /** Maximum retransmissions of an unanswered probe. */
  maxRetries?: number;
  /** Probe open ports for their service (banner, HTTP, TLS). Default true. */
  serviceDetection?: boolean;
  /** How long to wait for a server-speaks-first banner, ms. */
  bannerTimeoutMs?: number;
  /** Also grade the TLS of open ports where service detection completed a TLS handshake (one TLS scan). */
  assessTls?: boolean;
}

export interface ScanProgress {
  done: number;
  total: number;
}

export interface ScanStats {
  hostsTotal: number;
  hostsUp: number;
  open: number;
  closed: number;
  filtered: number;
  /** Number of ports scanned per host. */
  portsPerHost: number;
  durationMs: number;
}
