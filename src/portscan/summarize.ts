/**
 * Turns one host's full scan result into what the store keeps: a HostSummary with exact counts, plus
 * the ports worth listing. Like nmap's `extraports`, the ports in the host's dominant non-open state
 * are summarised by count when there are many of them, and always on a host with no open port: a
 * sweep of a /16 over ten ports then stores 65,536 host rows instead of 655,360 port rows. Pure.
 */
import type { HostSummary, PortCounts, PortReason, PortResult } from '../shared/model.js';

/**
 * More ports than this in the dominant non-open state are summarised instead of listed. nmap
 * summarises a state once more than about 25 ports share it; we use the same order of magnitude so
 * small scans list everything and a 65,535-port scan stores a handful of rows.
 */
export const EXTRA_PORTS_THRESHOLD = 25;

export interface HostSummaryInput {
  ip: string;
  /** Every scanned port of the host. */
  results: PortResult[];
  hostnames: string[];
  srttMs?: number | undefined;
  startedAt: string;
  finishedAt: string;
}

/** Ports in each state. Pure. */
export function countPorts(results: readonly PortResult[]): PortCounts {
  const counts: PortCounts = { open: 0, closed: 0, filtered: 0 };
  for (const r of results) counts[r.state]++;
  return counts;
}

export function summarizeHost(input: HostSummaryInput): { summary: HostSummary; listed: PortResult[] } {
  const counts = countPorts(input.results);

  // Dominant non-open state: the one with more ports; a tie goes to closed.
  const dominant = counts.closed >= counts.filtered ? 'closed' : 'filtered';
  const summarise = counts[dominant] > EXTRA_PORTS_THRESHOLD || (counts.open === 0 && counts[dominant] > 0);

  const listed: PortResult[] = [];
  const reasons: Partial<Record<PortReason, number>> = {};
  for (const r of input.results) {
    if (summarise && r.state === dominant) reasons[r.reason] = (reasons[r.reason] ?? 0) + 1;
    else listed.push(r);
  }
  listed.sort((a, b) => a.port - b.port);

  const summary: HostSummary = {
    ip: input.ip,
    hostnames: [...input.hostnames],
    status: counts.open > 0 || counts.closed > 0 ? 'up' : 'no-response',
    counts,
    ...(summarise ? { extraPorts: { state: dominant, count: counts[dominant], reasons } } : {}),
    ...(input.srttMs !== undefined ? { srttMs: input.srttMs } : {}),
    startedAt: input.startedAt,
    finishedAt: input.finishedAt,
  };
  return { summary, listed };
}

/** One port block of a host, as a port-block shard scanned it. */
export type HostBlock = Omit<HostSummaryInput, 'hostnames'>;

/**
 * Joins the port blocks of one host, scanned by different shards, into the host's whole result:
 * every port once, in port order; from the first block's start to the last block's end; the mean of
 * the blocks' smoothed RTTs. Summarising it gives exactly what one job scanning the host would store. Pure.
 */
export function mergeHostBlocks(blocks: readonly HostBlock[]): HostBlock {
  const first = blocks[0];
  if (first === undefined) throw new Error('mergeHostBlocks needs at least one block');
  const srtts = blocks.map((b) => b.srttMs).filter((v) => v !== undefined);
  return {
    ip: first.ip,
    results: blocks.flatMap((b) => b.results).sort((a, b) => a.port - b.port),
    srttMs: srtts.length > 0 ? srtts.reduce((a, b) => a + b, 0) / srtts.length : undefined,
    startedAt: blocks.map((b) => b.startedAt).reduce((a, b) => (a < b ? a : b)),
    finishedAt: blocks.map((b) => b.finishedAt).reduce((a, b) => (a > b ? a : b)),
  };
}
