import type { PortState, ServiceInfo } from '../shared/model.js';
import type { HostHistoryEntry } from '../store/index.js';
import { PortSet } from './ports.js';

export type ObservedState = PortState | 'unknown';

export interface HostPortView {
  port: number;
  protocol: 'tcp';
  /** State in the latest scan that covered the port. */
  state: ObservedState;
  reason?: string;
  service?: ServiceInfo;
  lastScanId: string;
  lastScannedAt: string;
  firstSeenOpen?: string;
  lastSeenOpen?: string;
  /** Oldest first; one entry per scan where the state changed. */
  history: Array<{ scanId: string; at: string; state: ObservedState }>;
}

/**
 * Everything known about one address, from its scan history (newest first, as the store returns
 * it): for each port that any scan listed, its state in the latest scan that covered it and the
 * scans where that state changed. A port a scan did not cover leaves that scan out of the port's
 * history instead of counting as closed.
 */
export function buildHostView(entries: readonly HostHistoryEntry[]): { hostnames: string[]; ports: HostPortView[] } {
  const oldestFirst = [...entries].reverse();
  const interesting = new Set<number>();
  for (const e of entries) for (const p of e.ports) interesting.add(p.port);

  const views = new Map<number, HostPortView>();
  for (const entry of oldestFirst) {
    const scanned = PortSet.parse(entry.scan.portSet);
    const listed = new Map(entry.ports.map((p) => [p.port, p]));
    const at = entry.scan.finishedAt ?? entry.host.finishedAt;
    for (const port of interesting) {
      const row = listed.get(port);
      if (row === undefined && !scanned.has(port)) continue;
      const state: ObservedState = row?.state ?? entry.host.extraPorts?.state ?? 'unknown';
      const previous = views.get(port);
      const view: HostPortView = {
        port,
        protocol: 'tcp',
        state,
        ...(row?.reason !== undefined ? { reason: row.reason } : {}),
        ...(row?.service !== undefined ? { service: row.service } : previous?.service !== undefined && state === 'open' ? { service: previous.service } : {}),
        lastScanId: entry.scan.id,
        lastScannedAt: at,
        ...(previous?.firstSeenOpen !== undefined ? { firstSeenOpen: previous.firstSeenOpen } : state === 'open' ? { firstSeenOpen: at } : {}),
        ...(state === 'open' ? { lastSeenOpen: at } : previous?.lastSeenOpen !== undefined ? { lastSeenOpen: previous.lastSeenOpen } : {}),
        history: previous?.history ?? [],
      };
      if (previous?.state !== state) view.history.push({ scanId: entry.scan.id, at, state });
      views.set(port, view);
    }
  }
  const hostnames = [...new Set(entries.flatMap((e) => e.host.hostnames))];
  return { hostnames, ports: [...views.values()].sort((a, b) => a.port - b.port) };
}
