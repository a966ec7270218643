/**
 * Host discovery for a scan that may get no answer of its own: a port-block shard scans, say, ports
 * 16385-32768 of a host that drops them all, and without one port answering its congestion window
 * never grows (see the timing pings in scanner.ts). Before such a scan, the most popular ports of
 * the scan's port set are probed one at a time, as nmap's discovery connects to 80 and 443; the first
 * that answers open or closed becomes the scan's timing-ping port. Touches no store.
 */
import type { PortScanOptions } from '../shared/model.js';
import type { Connector } from './connect.js';
import { POPULAR_PORTS } from './scanner.js';
import { resolveTiming } from './timing.js';

/** Candidate ping ports of a port set: its ports nmap finds open most often, at most `count`. Pure. */
export function pingCandidates(ports: readonly number[], count = 3): number[] {
  const inSet = new Set(ports);
  return POPULAR_PORTS.filter((port) => inSet.has(port)).slice(0, count);
}

/**
 * The first of `candidates` that answers open or closed on `ip`, probed one at a time (so a per-host
 * cap of one connection holds) with the timing template's initial timeout; undefined when none does.
 */
export async function findPingPort(
  ip: string,
  candidates: readonly number[],
  { connector, options, signal }: { connector: Connector; options?: PortScanOptions | undefined; signal?: AbortSignal | undefined },
): Promise<number | undefined> {
  const timeoutMs = resolveTiming(options).initialRttTimeoutMs;
  for (const port of candidates) {
    if (signal?.aborted === true) return undefined;
    const outcome = await connector(ip, port, timeoutMs, signal);
    if (outcome.kind === 'reply' && outcome.state !== 'filtered') return port;
  }
  return undefined;
}
