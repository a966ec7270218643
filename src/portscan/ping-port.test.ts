import { describe, expect, it } from 'vitest';
import type { Connector, ProbeOutcome } from './connect.js';
import { findPingPort, pingCandidates } from './ping-port.js';

describe('pingCandidates', () => {
  it('takes the scan’s ports nmap finds open most often, in that order, at most three', () => {
    expect(pingCandidates(Array.from({ length: 65_535 }, (_, i) => i + 1))).toEqual([80, 23, 443]);
    expect(pingCandidates([5, 22, 8080, 9999])).toEqual([22, 8080]);
    expect(pingCandidates([5, 9999])).toEqual([]);
  });
});

describe('findPingPort', () => {
  function connectorAnswering(answers: Record<number, ProbeOutcome>) {
    const probed: Array<{ port: number; timeoutMs: number }> = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const connector: Connector = async (_ip, port, timeoutMs) => {
      probed.push({ port, timeoutMs });
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      await new Promise((r) => setTimeout(r, 1));
      inFlight--;
      return answers[port] ?? { kind: 'drop' };
    };
    return { connector, probed, maxInFlight: () => maxInFlight };
  }

  it('returns the first candidate answering open or closed, probing one at a time with the template’s initial timeout', async () => {
    const c = connectorAnswering({ 23: { kind: 'reply', state: 'filtered', reason: 'host-unreach', rttMs: 1 }, 443: { kind: 'reply', state: 'closed', reason: 'conn-refused', rttMs: 1 }, 22: { kind: 'reply', state: 'open', reason: 'syn-ack', rttMs: 1 } });
    expect(await findPingPort('127.0.0.1', [80, 23, 443, 22], { connector: c.connector, options: { timing: 4 } })).toBe(443);
    // 80 dropped, 23 answered with an ICMP error (a poor ping), 443 refused: 22 is never tried.
    expect(c.probed).toEqual([80, 23, 443].map((port) => ({ port, timeoutMs: 500 })));
    expect(c.maxInFlight()).toBe(1);
  });

  it('finds nothing when no candidate answers, and probes nothing once the scan is stopped', async () => {
    const c = connectorAnswering({});
    expect(await findPingPort('127.0.0.1', [80, 443], { connector: c.connector })).toBeUndefined();
    expect(c.probed.map((p) => [p.port, p.timeoutMs])).toEqual([
      [80, 1000],
      [443, 1000],
    ]);
    const stopped = connectorAnswering({ 80: { kind: 'reply', state: 'open', reason: 'syn-ack', rttMs: 1 } });
    expect(await findPingPort('127.0.0.1', [80], { connector: stopped.connector, signal: AbortSignal.abort() })).toBeUndefined();
    expect(stopped.probed).toEqual([]);
  });
});
