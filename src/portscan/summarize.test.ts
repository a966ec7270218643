import { describe, expect, it } from 'vitest';
import type { PortReason, PortResult, PortState } from '../shared/model.js';
import { EXTRA_PORTS_THRESHOLD, mergeHostBlocks, summarizeHost } from './summarize.js';

const IP = '192.0.2.10';
const REASON: Record<PortState, PortReason> = { open: 'syn-ack', closed: 'conn-refused', filtered: 'no-response' };

/** `n` ports in `state`, numbered from `first`. */
function ports(state: PortState, n: number, first: number): PortResult[] {
  return Array.from({ length: n }, (_, i) => ({ ip: IP, port: first + i, protocol: 'tcp' as const, state, reason: REASON[state] }));
}

function host(results: PortResult[], srttMs?: number) {
  return summarizeHost({
    ip: IP,
    results,
    hostnames: ['www.example.test'],
    ...(srttMs !== undefined ? { srttMs } : {}),
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:00:05.000Z',
  });
}

describe('summarizeHost', () => {
  it('summarises above a named threshold of 25 ports', () => {
    expect(EXTRA_PORTS_THRESHOLD).toBe(25);
  });

  it.each<{ name: string; open: number; closed: number; filtered: number; extra?: { state: 'closed' | 'filtered'; count: number }; listed: number }>([
    { name: 'few closed ports are all listed', open: 2, closed: 25, filtered: 0, listed: 27 },
    { name: 'more than 25 closed ports are summarised', open: 2, closed: 26, filtered: 0, extra: { state: 'closed', count: 26 }, listed: 2 },
    { name: 'more than 25 filtered ports are summarised', open: 1, closed: 3, filtered: 900, extra: { state: 'filtered', count: 900 }, listed: 4 },
    { name: 'the dominant state wins', open: 0, closed: 40, filtered: 30, extra: { state: 'closed', count: 40 }, listed: 30 },
    { name: 'a tie goes to closed', open: 0, closed: 30, filtered: 30, extra: { state: 'closed', count: 30 }, listed: 30 },
    { name: 'only the dominant state is summarised even if the other is large', open: 0, closed: 26, filtered: 27, extra: { state: 'filtered', count: 27 }, listed: 26 },
    { name: 'all open ports are always listed', open: 100, closed: 0, filtered: 0, listed: 100 },
    { name: 'a full scan of a firewalled host stores a few rows', open: 3, closed: 2, filtered: 65530, extra: { state: 'filtered', count: 65530 }, listed: 5 },
    { name: 'nothing scanned', open: 0, closed: 0, filtered: 0, listed: 0 },
    { name: 'a host with no open port is summarised even below the threshold (sweeps store one row per host)', open: 0, closed: 10, filtered: 0, extra: { state: 'closed', count: 10 }, listed: 0 },
    { name: 'a silent host with no open port keeps its few closed ports listed', open: 0, closed: 2, filtered: 8, extra: { state: 'filtered', count: 8 }, listed: 2 },
  ])('$name', ({ open, closed, filtered, extra, listed }) => {
    const results = [...ports('filtered', filtered, 10000), ...ports('open', open, 1), ...ports('closed', closed, 5000)];
    const { summary, listed: rows } = host(results);
    expect(summary.counts).toEqual({ open, closed, filtered });
    if (extra === undefined) expect(summary.extraPorts).toBeUndefined();
    else expect(summary.extraPorts).toMatchObject(extra);
    expect(rows).toHaveLength(listed);
    expect(rows.filter((r) => r.state === 'open')).toHaveLength(open);
    if (extra !== undefined) expect(rows.some((r) => r.state === extra.state)).toBe(false);
    expect(rows.map((r) => r.port)).toEqual(rows.map((r) => r.port).sort((a, b) => a - b));
  });

  it('counts the reasons of the summarised ports', () => {
    const results = [...ports('filtered', 30, 100), ...ports('filtered', 5, 200).map((r) => ({ ...r, reason: 'host-unreach' as const }))];
    expect(host(results).summary.extraPorts).toEqual({ state: 'filtered', count: 35, reasons: { 'no-response': 30, 'host-unreach': 5 } });
  });

  it.each<[string, PortResult[], 'up' | 'no-response']>([
    ['an open port means up', [...ports('open', 1, 80), ...ports('filtered', 99, 1000)], 'up'],
    ['a closed port (RST) means up', [...ports('closed', 1, 80), ...ports('filtered', 99, 1000)], 'up'],
    ['only filtered ports means no response', ports('filtered', 1000, 1), 'no-response'],
    ['no ports at all means no response', [], 'no-response'],
  ])('%s', (_name, results, status) => {
    expect(host(results).summary.status).toBe(status);
  });

  it('keeps identity, hostnames, times and srtt', () => {
    const { summary } = host(ports('open', 1, 22), 12.5);
    expect(summary).toMatchObject({
      ip: IP,
      hostnames: ['www.example.test'],
      srttMs: 12.5,
      startedAt: '2026-01-01T00:00:00.000Z',
      finishedAt: '2026-01-01T00:00:05.000Z',
    });
    expect('srttMs' in host(ports('open', 1, 22)).summary).toBe(false);
  });
});

describe('mergeHostBlocks', () => {
  it('joins port blocks whose dominant states differ into what scanning the whole host gives', () => {
    // Block 0 is mostly closed, block 1 mostly filtered: summarising each block alone would lose ports.
    const block0 = [...ports('closed', 30, 1), ...ports('open', 1, 31)];
    const block1 = [...ports('filtered', 40, 32), ...ports('closed', 2, 72)];
    const at = (s: number) => `2026-01-01T00:00:0${s}.000Z`;
    const merged = mergeHostBlocks([
      { ip: IP, results: block1, srttMs: 3, startedAt: at(1), finishedAt: at(4) },
      { ip: IP, results: block0, srttMs: 1, startedAt: at(0), finishedAt: at(2) },
    ]);
    expect(merged).toEqual({ ip: IP, results: [...block0, ...block1], srttMs: 2, startedAt: at(0), finishedAt: at(4) });
    const whole = host([...block0, ...block1], 2);
    expect(summarizeHost({ ...merged, hostnames: ['www.example.test'], startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:00:05.000Z' })).toEqual(whole);
    expect(whole.summary.extraPorts).toMatchObject({ state: 'filtered', count: 40 });
    expect(mergeHostBlocks([{ ip: IP, results: [], startedAt: at(0), finishedAt: at(0) }]).srttMs).toBeUndefined();
  });
});
