/**
 * Shapes of the monitoring domain: targets in the inventory, their schedules and their current
 * state. Pure types, shared by the store, the scheduler, the routes and the reports.
 */

/** tls: a host[:port] graded by the TLS engine; ports: an IP, CIDR or range scanned for open ports. */
export type TargetKind = 'tls' | 'ports';

/** Either a fixed interval or a cron expression (croner syntax, UTC); absent: the global default. */
export type TargetSchedule = { everySeconds: number } | { cron: string };

export interface Target {
  id: string;
  kind: TargetKind;
  /** tls: canonical host name or IP literal; ports: canonical IP, CIDR or range. */
  value: string;
  /** tls: the port; ports: 0. */
  port: number;
  /** ports: the port spec (e.g. `top-1000`, `22,80,443`); tls: null. */
  ports: string | null;
  labels: Record<string, string>;
  /** null: the global default schedule. */
  schedule: TargetSchedule | null;
  createdAt: string;
  updatedAt: string;
  nextRunAt: string | null;
  lastRunAt: string | null;
  lastScanId: string | null;
  /** tls: earliest certificate expiry seen in the latest assessment. */
  certExpiresAt: string | null;
}

/** What a user gives to create or import a target (before normalisation). */
export interface TargetInput {
  /** `host`, `host:port`, `[v6]:port` (tls) or an IP, CIDR, range (ports). */
  target: string;
  /**
   * Address targets: the port spec to scan (default: portscan.defaultPorts). Domain targets: the TLS
   * ports as a comma list (`443,8443`), each becoming its own host:port target; default the port in
   * `target` or 443.
   */
  ports?: string | undefined;
  labels?: Record<string, string> | undefined;
  schedule?: TargetSchedule | null | undefined;
}

/** Label filter: every given label must match exactly. */
export type LabelFilter = Record<string, string>;

/** A target input after validation: what the inventory stores (see target-import.ts normalizeTarget). */
export interface NormalizedTarget {
  kind: TargetKind;
  value: string;
  port: number;
  ports: string | null;
  labels: Record<string, string>;
  schedule: TargetSchedule | null;
  /** Which fields the input gave: an import changes only those on an existing target. */
  specified: { ports: boolean; labels: boolean; schedule: boolean };
}
