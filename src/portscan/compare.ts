/**
 * Pure diff of two stored port scans (A = before, B = after).
 *
 * The model. A scan stores, per host, a HostSummary and only its *listed* ports; ports in the host's
 * `extraPorts` state are summarised by count (see summarize.ts). With the scan's canonical `portSet`
 * that still tells the state of every port, without 65,535 rows per host:
 *   - a listed row gives the port's state;
 *   - otherwise, a port in the side's portSet has the host's extraPorts state (no extraPorts, or a
 *     port neither listed nor summarised, is a data error: `unknown`);
 *   - a port outside the portSet is `not-scanned`: never treated as closed;
 *   - a host without a summary on one side was not scanned there: the host `appeared`/`disappeared`.
 * So the diff walks listed rows and hosts only, O(rows + hosts) plus a binary search in the port set
 * per row, and never iterates a host's 65,535 ports. A port listed on neither side is in its host's
 * extraPorts state on both; if that state itself changed (say closed → filtered behind a new
 * firewall), the host gets one `extraPorts` entry with the number of such ports instead of one
 * stateChanges row per port.
 *
 * Classification of a port present on both sides with states a → b:
 *   closed/filtered → open          newlyOpen
 *   open → closed/filtered          newlyClosed
 *   any other change               stateChanges (closed ↔ filtered, and `unknown` on either side)
 *   not-scanned ↔ open              notScanned.inA / notScanned.inB, never newlyOpen/newlyClosed
 *   not-scanned ↔ closed/filtered   nothing: no exposure either way
 *   open → open                     serviceChanges when both sides probed the service and its name,
 *                                   product, version, banner, TLS or HTTP facts differ
 * A host on both sides whose status (up / no-response) differs also gets `status`.
 * A host present on one side only: its open ports are reported in notScanned (the other side did not
 * scan the host at all). Hosts that did not answer on the only side they appear on are not reported.
 */
import ipaddr from 'ipaddr.js';
import type { HostStatus, HostSummary, PortResult, PortState, ServiceInfo } from '../shared/model.js';
import { PortSet } from './ports.js';

export interface ScanSide {
  id: string;
  createdAt: string;
  /** Canonical scanned port set, e.g. `1-1024,3306`. */
  portSet: string;
  hosts: HostSummary[];
  /** Listed port rows of every host (ports in a host's extraPorts state are not listed). */
  ports: PortResult[];
}

/** A port's state on one side: a scanned state, `not-scanned`, or `unknown` when stored data does not say. */
export type SidePortState = PortState | 'not-scanned' | 'unknown';

export interface PortTransition {
  port: number;
  from: SidePortState;
  to: SidePortState;
  /** The service seen where the port was open (B for newlyOpen, A for newlyClosed). */
  service?: ServiceInfo;
}

export interface ServiceChange {
  port: number;
  from: ServiceInfo;
  to: ServiceInfo;
  /** Fields that differ, e.g. `product`, `banner`, `tls.notAfter`, `http.title`. */
  fields: string[];
}

export interface HostComparison {
  ip: string;
  change: 'appeared' | 'disappeared' | 'changed';
  /** Set when the host is on both sides and its status differs. */
  status?: { from: HostStatus; to: HostStatus };
  newlyOpen: PortTransition[];
  newlyClosed: PortTransition[];
  stateChanges: PortTransition[];
  serviceChanges: ServiceChange[];
  /** Ports open on one side but not scanned on the other: `inA` = open in B, not scanned in A. */
  notScanned: { inA: number[]; inB: number[] };
  /**
   * Set when the host's extraPorts state differs between the sides: `count` ports scanned by both and
   * listed by neither went from one summarised state to the other.
   */
  extraPorts?: { from: Exclude<PortState, 'open'>; to: Exclude<PortState, 'open'>; count: number };
}

/** A type alias (not an interface) so it is assignable to `Record<string, number>` in response schemas. */
export type PortScanComparisonSummary = {
  hostsAppeared: number;
  hostsDisappeared: number;
  hostsChanged: number;
  newlyOpen: number;
  newlyClosed: number;
  stateChanges: number;
  serviceChanges: number;
  /** Ports (over all hosts) open on one side and not scanned on the other. */
  notScanned: number;
};

export interface PortScanComparison {
  a: { id: string; createdAt: string; portSet: string };
  b: { id: string; createdAt: string; portSet: string };
  /** Canonical sets of ports scanned by only one of the scans. */
  portsOnlyInA: string;
  portsOnlyInB: string;
  /** Hosts with at least one difference, in numeric address order. */
  hosts: HostComparison[];
  summary: PortScanComparisonSummary;
}

interface Shared {
  /** Ports scanned by both scans. */
  both: PortSet;
}

interface IndexedSide {
  portSet: PortSet;
  hosts: Map<string, HostSummary>;
  rows: Map<string, Map<number, PortResult>>;
}

export function comparePortScans(a: ScanSide, b: ScanSide): PortScanComparison {
  const A = indexSide(a);
  const B = indexSide(b);
  const shared: Shared = { both: A.portSet.intersect(B.portSet) };
  const hosts: HostComparison[] = [];

  for (const [ip, hostA] of A.hosts) {
    const hostB = B.hosts.get(ip);
    const diff = hostB === undefined ? oneSided(ip, 'disappeared', hostA, A.rows.get(ip)) : compareHost(ip, hostA, hostB, A, B, shared);
    if (diff !== undefined) hosts.push(diff);
  }
  for (const [ip, hostB] of B.hosts) {
    if (A.hosts.has(ip)) continue;
    const diff = oneSided(ip, 'appeared', hostB, B.rows.get(ip));
    if (diff !== undefined) hosts.push(diff);
  }
  sortByAddress(hosts);

  const summary: PortScanComparisonSummary = {
    hostsAppeared: 0,
    hostsDisappeared: 0,
    hostsChanged: 0,
    newlyOpen: 0,
    newlyClosed: 0,
    stateChanges: 0,
    serviceChanges: 0,
    notScanned: 0,
  };
  for (const h of hosts) {
    if (h.change === 'appeared') summary.hostsAppeared++;
    else if (h.change === 'disappeared') summary.hostsDisappeared++;
    else summary.hostsChanged++;
    summary.newlyOpen += h.newlyOpen.length;
    summary.newlyClosed += h.newlyClosed.length;
    summary.stateChanges += h.stateChanges.length;
    summary.serviceChanges += h.serviceChanges.length;
    summary.notScanned += h.notScanned.inA.length + h.notScanned.inB.length;
  }

  return {
    a: { id: a.id, createdAt: a.createdAt, portSet: A.portSet.toString() },
    b: { id: b.id, createdAt: b.createdAt, portSet: B.portSet.toString() },
    portsOnlyInA: A.portSet.difference(B.portSet).toString(),
    portsOnlyInB: B.portSet.difference(A.portSet).toString(),
    hosts,
    summary,
  };
}

function indexSide(side: ScanSide): IndexedSide {
  const hosts = new Map<string, HostSummary>();
  for (const h of side.hosts) hosts.set(h.ip, h);
  const rows = new Map<string, Map<number, PortResult>>();
  for (const r of side.ports) {
    let byPort = rows.get(r.ip);
    if (byPort === undefined) rows.set(r.ip, (byPort = new Map()));
    byPort.set(r.port, r);
  }
  return { portSet: PortSet.parse(side.portSet), hosts, rows };
}

/** State of `port` on a side where the host exists. */
function stateOn(side: IndexedSide, host: HostSummary, rows: Map<number, PortResult> | undefined, port: number): SidePortState {
  const row = rows?.get(port);
  if (row !== undefined) return row.state;
  if (!side.portSet.has(port)) return 'not-scanned';
  return host.extraPorts?.state ?? 'unknown';
}

function emptyDiff(ip: string, change: HostComparison['change']): HostComparison {
  return { ip, change, newlyOpen: [], newlyClosed: [], stateChanges: [], serviceChanges: [], notScanned: { inA: [], inB: [] } };
}

/** A host scanned on one side only: its open ports were not scanned on the other side. */
function oneSided(
  ip: string,
  change: 'appeared' | 'disappeared',
  host: HostSummary,
  rows: Map<number, PortResult> | undefined,
): HostComparison | undefined {
  if (host.status !== 'up') return undefined;
  const diff = emptyDiff(ip, change);
  const open: number[] = [];
  for (const r of rows?.values() ?? []) if (r.state === 'open') open.push(r.port);
  open.sort((x, y) => x - y);
  if (change === 'appeared') diff.notScanned.inA = open;
  else diff.notScanned.inB = open;
  return diff;
}

function compareHost(
  ip: string,
  hostA: HostSummary,
  hostB: HostSummary,
  A: IndexedSide,
  B: IndexedSide,
  shared: Shared,
): HostComparison | undefined {
  const rowsA = A.rows.get(ip);
  const rowsB = B.rows.get(ip);
  const ports = new Set<number>(rowsA?.keys());
  for (const p of rowsB?.keys() ?? []) ports.add(p);
  const sorted = [...ports].sort((x, y) => x - y);

  const diff = emptyDiff(ip, 'changed');
  if (hostA.status !== hostB.status) diff.status = { from: hostA.status, to: hostB.status };

  let listedScannedByBoth = 0;
  for (const port of sorted) {
    if (shared.both.has(port)) listedScannedByBoth++;
    const from = stateOn(A, hostA, rowsA, port);
    const to = stateOn(B, hostB, rowsB, port);
    const serviceA = rowsA?.get(port)?.service;
    const serviceB = rowsB?.get(port)?.service;
    if (from === to) {
      if (from === 'open' && serviceA !== undefined && serviceB !== undefined) {
        const fields = serviceDifferences(serviceA, serviceB);
        if (fields.length > 0) diff.serviceChanges.push({ port, from: serviceA, to: serviceB, fields });
      }
    } else if (from === 'not-scanned' || to === 'not-scanned') {
      if (to === 'open') diff.notScanned.inA.push(port);
      else if (from === 'open') diff.notScanned.inB.push(port);
    } else if (to === 'open' && (from === 'closed' || from === 'filtered')) {
      diff.newlyOpen.push(withService({ port, from, to }, serviceB));
    } else if (from === 'open' && (to === 'closed' || to === 'filtered')) {
      diff.newlyClosed.push(withService({ port, from, to }, serviceA));
    } else {
      diff.stateChanges.push({ port, from, to });
    }
  }

  const extraA = hostA.extraPorts?.state;
  const extraB = hostB.extraPorts?.state;
  if (extraA !== undefined && extraB !== undefined && extraA !== extraB) {
    const count = shared.both.size - listedScannedByBoth;
    if (count > 0) diff.extraPorts = { from: extraA, to: extraB, count };
  }

  const changed =
    diff.extraPorts !== undefined ||
    diff.status !== undefined ||
    diff.newlyOpen.length > 0 ||
    diff.newlyClosed.length > 0 ||
    diff.stateChanges.length > 0 ||
    diff.serviceChanges.length > 0 ||
    diff.notScanned.inA.length > 0 ||
    diff.notScanned.inB.length > 0;
  return changed ? diff : undefined;
}

function withService(t: PortTransition, service: ServiceInfo | undefined): PortTransition {
  return service === undefined ? t : { ...t, service };
}

const SERVICE_FIELDS = ['name', 'product', 'version', 'banner'] as const;
const TLS_FIELDS = ['version', 'cipher', 'alpn', 'subject', 'issuer', 'subjectAltNames', 'notAfter', 'selfSigned'] as const;
const HTTP_FIELDS = ['status', 'server', 'title', 'location', 'poweredBy'] as const;

/**
 * Which service facts differ. Only services probed on both sides are compared: a name from the port
 * table (`method: table`, e.g. service detection off) says nothing about the product or banner.
 */
export function serviceDifferences(a: ServiceInfo, b: ServiceInfo): string[] {
  if (a.method !== 'probed' || b.method !== 'probed') return [];
  const fields: string[] = [];
  for (const f of SERVICE_FIELDS) if (a[f] !== b[f]) fields.push(f);
  if ((a.tls === undefined) !== (b.tls === undefined)) fields.push('tls');
  else if (a.tls !== undefined && b.tls !== undefined) {
    for (const f of TLS_FIELDS) if (!sameValue(a.tls[f], b.tls[f])) fields.push(`tls.${f}`);
  }
  if ((a.http === undefined) !== (b.http === undefined)) fields.push('http');
  else if (a.http !== undefined && b.http !== undefined) {
    for (const f of HTTP_FIELDS) if (a.http[f] !== b.http[f]) fields.push(`http.${f}`);
  }
  return fields;
}

function sameValue(x: unknown, y: unknown): boolean {
  if (Array.isArray(x) && Array.isArray(y)) return x.length === y.length && x.every((v, i) => v === y[i]);
  return x === y;
}

/** Numeric address order: IPv4 before IPv6, then by bytes; anything unparsable last, by text. */
function sortByAddress(hosts: HostComparison[]): void {
  const keys = new Map<string, number[] | undefined>();
  for (const h of hosts) {
    let key: number[] | undefined;
    try {
      const addr = ipaddr.parse(h.ip);
      key = [addr.kind() === 'ipv4' ? 4 : 6, ...addr.toByteArray()];
    } catch {
      key = undefined;
    }
    keys.set(h.ip, key);
  }
  hosts.sort((x, y) => {
    const kx = keys.get(x.ip);
    const ky = keys.get(y.ip);
    if (kx === undefined || ky === undefined) {
      if (kx !== ky) return kx === undefined ? 1 : -1;
      return x.ip < y.ip ? -1 : x.ip > y.ip ? 1 : 0;
    }
    for (let i = 0; i < Math.max(kx.length, ky.length); i++) {
      const d = (kx[i] ?? -1) - (ky[i] ?? -1);
      if (d !== 0) return d;
    }
    return 0;
  });
}
