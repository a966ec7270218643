import { setMaxListeners } from 'node:events';
import { readdirSync } from 'node:fs';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { PortScanOptions } from '../shared/model.js';
import type { Connector, ProbeOutcome } from './connect.js';
import { createConnectionBudget } from './fd-budget.js';
import { PortScanFatalError, hostGroupSize, scanPorts, type ScanPortsRequest } from './scanner.js';
import type { HostScanResult, ScanProgressEvent } from './types.js';

// ---- loopback fixtures ------------------------------------------------------------------------

const servers: net.Server[] = [];
const sockets: net.Socket[] = [];

async function listenOn(host: string, port = 0): Promise<number> {
  const server = net.createServer((s) => {
    sockets.push(s);
    s.on('error', () => {});
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  servers.push(server);
  return (server.address() as net.AddressInfo).port;
}

/** A port that was bound and released: closed (nothing listens), as long as nobody grabs it. */
async function releasedPort(host = '127.0.0.1'): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, host, resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

async function collect(gen: AsyncGenerator<HostScanResult>): Promise<HostScanResult[]> {
  const out: HostScanResult[] = [];
  for await (const h of gen) out.push(h);
  return out;
}

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---- simulated network ------------------------------------------------------------------------

interface SimReply {
  /** ms until the outcome; a drop defaults to the probe's timeout, everything else to 1 ms. */
  after?: number;
  outcome: ProbeOutcome;
}
type Behaviour = (ip: string, port: number, attempt: number, timeoutMs: number) => SimReply;

const closed = (rttMs = 1): ProbeOutcome => ({ kind: 'reply', state: 'closed', reason: 'conn-refused', rttMs });
const open = (rttMs = 1): ProbeOutcome => ({ kind: 'reply', state: 'open', reason: 'syn-ack', rttMs });
const drop: ProbeOutcome = { kind: 'drop' };

/**
 * A connector that answers from a script, counts attempts per (ip, port) and samples probes in flight,
 * in all (`inFlight`) and to the probe's address (`hostInFlight`), each probe included.
 */
function simulate(behave: Behaviour) {
  const attempts = new Map<string, number>();
  const calls: Array<{ ip: string; port: number; attempt: number; inFlight: number; hostInFlight: number; timeoutMs: number; at: number }> = [];
  const aborted: string[] = [];
  let inFlight = 0;
  const inFlightTo = new Map<string, number>();
  const seenSignals = new WeakSet<AbortSignal>();
  const connector: Connector = (ip, port, timeoutMs, signal) => {
    const key = `${ip}:${port}`;
    const attempt = attempts.get(key) ?? 0;
    attempts.set(key, attempt + 1);
    inFlight++;
    const hostInFlight = (inFlightTo.get(ip) ?? 0) + 1;
    inFlightTo.set(ip, hostInFlight);
    calls.push({ ip, port, attempt, inFlight, hostInFlight, timeoutMs, at: performance.now() });
    const { after, outcome } = behave(ip, port, attempt, timeoutMs);
    const delay = after ?? (outcome.kind === 'drop' ? timeoutMs : 1);
    return new Promise<ProbeOutcome>((resolve) => {
      let settled = false;
      const settle = (result: ProbeOutcome): void => {
        settled = true;
        inFlight--;
        inFlightTo.set(ip, inFlightTo.get(ip)! - 1);
        resolve(result);
      };
      const timer = setTimeout(() => {
        if (!settled) settle(outcome);
      }, delay);
      if (signal !== undefined) {
        if (!seenSignals.has(signal)) {
          seenSignals.add(signal);
          setMaxListeners(0, signal);
        }
        signal.addEventListener(
          'abort',
          () => {
            if (settled) return;
            clearTimeout(timer);
            aborted.push(key);
            settle({ kind: 'aborted' });
          },
          { once: true },
        );
      }
    });
  };
  return {
    connector,
    calls,
    aborted,
    attemptsOf: (port: number, ip = '127.0.0.1') => attempts.get(`${ip}:${port}`) ?? 0,
    get inFlight() {
      return inFlight;
    },
  };
}

function req(partial: Partial<ScanPortsRequest> & { ports: readonly number[] }): ScanPortsRequest {
  const addresses = partial.addresses ?? ['127.0.0.1'];
  return { addresses, addressCount: partial.addressCount ?? [...addresses].length, ...partial };
}

const fast: PortScanOptions = { timing: 4, timeoutMs: 40 };

// ---- real loopback ----------------------------------------------------------------------------

describe('scanPorts on loopback', () => {
  let openPorts: number[];
  let closedPorts: number[];

  beforeAll(async () => {
    openPorts = [await listenOn('127.0.0.1'), await listenOn('127.0.0.1'), await listenOn('127.0.0.1')];
    closedPorts = [await releasedPort(), await releasedPort()];
  });

  it('classifies listeners open/syn-ack and released ports closed/conn-refused, like nmap', async () => {
    const hosts = await collect(scanPorts(req({ ports: [...openPorts, ...closedPorts], options: { timing: 4 } })));
    expect(hosts).toHaveLength(1);
    const host = hosts[0]!;
    expect(host.ip).toBe('127.0.0.1');
    for (const r of host.results) {
      const expected = openPorts.includes(r.port) ? { state: 'open', reason: 'syn-ack' } : { state: 'closed', reason: 'conn-refused' };
      expect(r).toMatchObject({ ip: '127.0.0.1', protocol: 'tcp', ...expected });
      expect(r.rttMs).toBeGreaterThanOrEqual(0);
    }
    expect(host.srttMs).toBeGreaterThanOrEqual(0);
    expect(Date.parse(host.finishedAt)).toBeGreaterThanOrEqual(Date.parse(host.startedAt));
  });

  it('reports every requested port exactly once, sorted by port', async () => {
    const ports = [closedPorts[1]!, openPorts[2]!, 1, closedPorts[0]!, openPorts[0]!, openPorts[2]!, 65535, 80];
    const [host] = await collect(scanPorts(req({ ports, options: { timing: 4 } })));
    const unique = [...new Set(ports)].sort((a, b) => a - b);
    expect(host!.results.map((r) => r.port)).toEqual(unique);
    expect(host!.results.every((r) => r.state === 'open' || r.state === 'closed')).toBe(true);
  });

  it('scans several loopback hosts and yields each with all its ports', async () => {
    const only2 = await listenOn('127.0.0.2');
    const ports = [only2, openPorts[0]!, closedPorts[0]!];
    const addresses = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'];
    const hosts = await collect(scanPorts(req({ addresses, ports, options: { timing: 4 } })));
    expect(hosts.map((h) => h.ip).sort()).toEqual(addresses);
    for (const h of hosts) {
      expect(h.results.map((r) => r.port)).toEqual([...ports].sort((a, b) => a - b));
      const state = (port: number) => h.results.find((r) => r.port === port)!.state;
      expect(state(only2)).toBe(h.ip === '127.0.0.2' ? 'open' : 'closed');
      // openPorts[0] listens on 127.0.0.1 only
      expect(state(openPorts[0]!)).toBe(h.ip === '127.0.0.1' ? 'open' : 'closed');
      expect(state(closedPorts[0]!)).toBe('closed');
    }
  });

  it('finds the same open ports in a full 1-65535 scan as the listeners it knows of', async () => {
    const ports = Array.from({ length: 65535 }, (_, i) => i + 1);
    const started = performance.now();
    const [host] = await collect(scanPorts(req({ ports, options: { timing: 4 } })));
    const elapsed = performance.now() - started;
    expect(host!.results).toHaveLength(65535);
    const openSet = new Set(host!.results.filter((r) => r.state === 'open').map((r) => r.port));
    for (const p of openPorts) expect(openSet.has(p)).toBe(true);
    for (const p of closedPorts) expect(openSet.has(p)).toBe(false);
    expect(host!.results.every((r) => r.reason === (r.state === 'open' ? 'syn-ack' : 'conn-refused'))).toBe(true);
    expect(elapsed).toBeLessThan(15_000); // ~1 s alone; generous for a loaded CI machine
  });

  it('stops quickly on abort, destroys its sockets and throws an AbortError', async () => {
    const ports = Array.from({ length: 65535 }, (_, i) => i + 1);
    const before = openFds();
    const ac = new AbortController();
    let abortedAt = 0;
    setTimeout(() => {
      abortedAt = performance.now();
      ac.abort(new Error('user cancelled'));
    }, 100);
    const err = await collect(scanPorts(req({ ports, options: { timing: 4 }, signal: ac.signal }))).catch((e: unknown) => e);
    const stoppedAfter = performance.now() - abortedAt;
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name).toBe('AbortError');
    expect(stoppedAfter).toBeLessThan(500);
    await sleep(100);
    expect(openFds()).toBeLessThanOrEqual(before + 2);
  });

  it('throws an AbortError at once when the signal is already aborted', async () => {
    const gen = scanPorts(req({ ports: [1], signal: AbortSignal.abort() }));
    await expect(gen.next()).rejects.toMatchObject({ name: 'AbortError' });
  });
});

// ---- simulated network ------------------------------------------------------------------------

describe('scanPorts on a simulated network', () => {
  it('retries a dropped probe and classifies the port from the reply', async () => {
    const sim = simulate((_ip, port, attempt) => (port === 22 && attempt === 0 ? { outcome: drop } : { outcome: port === 80 ? open() : closed() }));
    const [host] = await collect(scanPorts(req({ ports: [22, 80, 443], options: fast, connector: sim.connector })));
    expect(host!.results.map((r) => [r.port, r.state, r.reason])).toEqual([
      [22, 'closed', 'conn-refused'],
      [80, 'open', 'syn-ack'],
      [443, 'closed', 'conn-refused'],
    ]);
    expect(sim.attemptsOf(22)).toBe(2);
    expect(sim.attemptsOf(80)).toBe(1);
  });

  it('gives an unanswered port one retransmission on a clean network, then filtered/no-response', async () => {
    const sim = simulate(() => ({ outcome: drop }));
    const ports = [1, 2, 3, 4, 5];
    const [host] = await collect(scanPorts(req({ ports, options: fast, connector: sim.connector })));
    for (const r of host!.results) {
      expect(r).toMatchObject({ state: 'filtered', reason: 'no-response' });
      expect(r.rttMs).toBeUndefined();
    }
    for (const p of ports) expect(sim.attemptsOf(p)).toBe(2);
    expect(host!.srttMs).toBeUndefined();
  });

  it('sends a single probe per port with maxRetries 0', async () => {
    const sim = simulate(() => ({ outcome: drop }));
    const [host] = await collect(scanPorts(req({ ports: [7, 8], options: { ...fast, maxRetries: 0 }, connector: sim.connector })));
    expect(host!.results.every((r) => r.state === 'filtered')).toBe(true);
    expect(sim.attemptsOf(7)).toBe(1);
    expect(sim.attemptsOf(8)).toBe(1);
  });

  it('raises the retry allowance after a reply to a retransmission (benched ports get another try)', async () => {
    // Port 10 answers its second probe only after port 20's second probe already timed out: port 20
    // waits on the bench until the allowance grows to 2, then its third probe gets the reply.
    const sim = simulate((_ip, port, attempt, timeoutMs) => {
      if (port === 10) return attempt === 0 ? { outcome: drop } : { after: 150, outcome: closed() };
      if (port === 20) return attempt < 2 ? { outcome: drop, after: timeoutMs } : { outcome: closed() };
      return { outcome: closed() };
    });
    const [host] = await collect(scanPorts(req({ ports: [10, 20, 30], options: fast, connector: sim.connector })));
    expect(host!.results.map((r) => r.state)).toEqual(['closed', 'closed', 'closed']);
    expect(sim.attemptsOf(10)).toBe(2);
    expect(sim.attemptsOf(20)).toBe(3);
  });

  it('never retransmits past maxRetries', async () => {
    const sim = simulate((_ip, port, attempt) => (port === 1 ? (attempt === 0 ? { outcome: drop } : { outcome: closed() }) : { outcome: drop }));
    // Port 1 proves try 1 gets answers (allowance 2), but maxRetries 1 caps the others at 2 probes.
    const [host] = await collect(scanPorts(req({ ports: [1, 2, 3], options: { ...fast, maxRetries: 1 }, connector: sim.connector })));
    expect(host!.results.map((r) => r.state)).toEqual(['closed', 'filtered', 'filtered']);
    expect(sim.attemptsOf(2)).toBe(2);
    expect(sim.attemptsOf(3)).toBe(2);
  });

  it('re-probes a self-connect instead of reporting it open', async () => {
    const sim = simulate((_ip, port, attempt) => (port === 40000 && attempt === 0 ? { outcome: { kind: 'self-connect', rttMs: 0.1 } } : { outcome: closed() }));
    const [host] = await collect(scanPorts(req({ ports: [40000, 40001], options: { ...fast, maxRetries: 0 }, connector: sim.connector })));
    expect(host!.results[0]).toMatchObject({ port: 40000, state: 'closed', reason: 'conn-refused' });
    expect(sim.attemptsOf(40000)).toBe(2);
  });

  it('treats a port that keeps self-connecting as unanswered', async () => {
    const sim = simulate(() => ({ outcome: { kind: 'self-connect', rttMs: 0.1 } }));
    const [host] = await collect(scanPorts(req({ ports: [40000], options: fast, connector: sim.connector })));
    expect(host!.results[0]).toMatchObject({ state: 'filtered', reason: 'no-response' });
  });

  it('backs off on EMFILE and probes again without spending a try', async () => {
    const sim = simulate((_ip, port, attempt) => (port === 5 && attempt < 2 ? { outcome: { kind: 'resource', code: 'EMFILE' } } : { outcome: closed() }));
    const [host] = await collect(scanPorts(req({ ports: [5, 6], options: { ...fast, maxRetries: 0 }, connector: sim.connector })));
    expect(host!.results[0]).toMatchObject({ port: 5, state: 'closed' });
    expect(sim.attemptsOf(5)).toBe(3);
  });

  it('reports filtered reasons from ICMP-style errors', async () => {
    const reasons = ['host-unreach', 'net-unreach', 'admin-prohibited', 'proto-unreach'] as const;
    const sim = simulate((_ip, port) => ({ outcome: { kind: 'reply', state: 'filtered', reason: reasons[port - 1]!, rttMs: 2 } }));
    const [host] = await collect(scanPorts(req({ ports: [1, 2, 3, 4], options: fast, connector: sim.connector })));
    expect(host!.results.map((r) => [r.state, r.reason])).toEqual(reasons.map((r) => ['filtered', r]));
    expect(host!.results.every((r) => r.rttMs === 2)).toBe(true);
  });

  it('bails out on errors nmap treats as fatal', async () => {
    const sim = simulate(() => ({ outcome: { kind: 'fatal', code: 'ENETDOWN' } }));
    const err = await collect(scanPorts(req({ ports: [1], options: fast, connector: sim.connector }))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PortScanFatalError);
    expect((err as PortScanFatalError).code).toBe('ENETDOWN');
  });

  it('fails when the connector rejects', async () => {
    const connector: Connector = () => Promise.reject(new Error('boom'));
    await expect(collect(scanPorts(req({ ports: [1], connector })))).rejects.toThrow('boom');
  });

  it('rejects an address that is not an IP', async () => {
    const sim = simulate(() => ({ outcome: closed() }));
    await expect(collect(scanPorts(req({ addresses: ['example.com'], ports: [1], connector: sim.connector })))).rejects.toThrow(TypeError);
  });

  it('yields hosts with no results when no ports are asked for', async () => {
    const sim = simulate(() => ({ outcome: closed() }));
    const hosts = await collect(scanPorts(req({ addresses: ['127.0.0.1', '::1'], ports: [], connector: sim.connector })));
    expect(hosts.map((h) => [h.ip, h.results.length])).toEqual([
      ['127.0.0.1', 0],
      ['::1', 0],
    ]);
    expect(sim.calls).toHaveLength(0);
  });

  it('grows the congestion window on replies and shrinks it when drops are detected', async () => {
    // Ports 1-1500 answer in 10 ms. Ports 1501-1700 lose their first probe and answer the second:
    // each such reply is a detected drop. The identity port order keeps the two phases apart.
    let dropDetectedAt: number | undefined;
    const sim = simulate((_ip, port, attempt) => {
      if (port <= 1500) return { after: 10, outcome: closed(10) };
      if (attempt === 0) return { outcome: drop };
      return { after: 10, outcome: closed(10) };
    });
    const connector: Connector = (ip, port, t, s) =>
      sim.connector(ip, port, t, s).then((o) => {
        if (port > 1500 && o.kind === 'reply' && dropDetectedAt === undefined) dropDetectedAt = sim.calls.length;
        return o;
      });
    const ports = Array.from({ length: 1700 }, (_, i) => i + 1);
    await collect(scanPorts(req({ ports, options: { timing: 4, timeoutMs: 30 }, connector, random: () => 0.999999 })));
    const phase1 = sim.calls.filter((c) => c.port <= 1500);
    const peak = Math.max(...phase1.map((c) => c.inFlight));
    expect(phase1[0]!.inFlight).toBeLessThanOrEqual(10); // initial window
    expect(peak).toBeGreaterThan(50); // slow start then congestion avoidance
    expect(dropDetectedAt).toBeDefined();
    // The host window fell to 1: nothing is sent until the probes in flight drain below the regrowing window.
    const nextSend = sim.calls[dropDetectedAt!];
    expect(nextSend).toBeDefined();
    expect(nextSend!.inFlight).toBeLessThan(peak * 0.75);
  });

  it('keeps probes in flight within the fd budget', async () => {
    const sim = simulate(() => ({ after: 3, outcome: closed() }));
    const ports = Array.from({ length: 300 }, (_, i) => i + 1);
    await collect(scanPorts(req({ ports, options: fast, connector: sim.connector, fdBudget: 5 })));
    expect(Math.max(...sim.calls.map((c) => c.inFlight))).toBe(5);
  });

  it('keeps two scans sharing a connection budget within it in total, and both complete', async () => {
    const sim = simulate((_ip, port) => ({ after: 5, outcome: port % 10 === 0 ? open() : closed() }));
    const budget = createConnectionBudget(6);
    const ports = Array.from({ length: 100 }, (_, i) => i + 1);
    const scan = (addresses: string[]) => collect(scanPorts(req({ addresses, ports, options: fast, connector: sim.connector, connectionBudget: budget })));
    const [first, second] = await Promise.all([scan(['127.0.0.1', '127.0.0.2']), scan(['127.0.0.3', '127.0.0.4'])]);
    expect(Math.max(...sim.calls.map((c) => c.inFlight))).toBe(6);
    const ofSecond = (c: { ip: string }) => c.ip === '127.0.0.3' || c.ip === '127.0.0.4';
    expect(sim.calls.findIndex(ofSecond)).toBeLessThan(sim.calls.findLastIndex((c) => !ofSecond(c))); // they did run at once
    for (const [hosts, addresses] of [
      [first, ['127.0.0.1', '127.0.0.2']],
      [second, ['127.0.0.3', '127.0.0.4']],
    ] as const) {
      expect(hosts.map((h) => h.ip).sort()).toEqual(addresses);
      for (const h of hosts) expect(h.results.map((r) => r.state)).toEqual(ports.map((p) => (p % 10 === 0 ? 'open' : 'closed')));
    }
    expect(budget.inUse).toBe(0);
  });

  it('resumes a scan waiting only on the shared budget with the first socket another scan releases', async () => {
    const holderIp = '127.0.0.1';
    const sim = simulate((ip) => ({ after: ip === holderIp ? 200 : 1, outcome: closed() }));
    const budget = createConnectionBudget(4);
    const holder = collect(scanPorts(req({ addresses: [holderIp], ports: [1, 2, 3, 4, 5, 6, 7, 8], options: { timing: 4 }, connector: sim.connector, connectionBudget: budget })));
    const waiter = collect(scanPorts(req({ addresses: ['127.0.0.2'], ports: [1, 2, 3], options: { timing: 4 }, connector: sim.connector, connectionBudget: budget })));
    await Promise.resolve();
    // The holder took every socket (its window is 10); the waiter has nothing in flight to be called back on.
    expect(sim.calls.map((c) => c.ip)).toEqual([holderIp, holderIp, holderIp, holderIp]);
    let stallTimer: NodeJS.Timeout | undefined;
    const stalled = new Promise<'stalled'>((resolve) => {
      stallTimer = setTimeout(() => resolve('stalled'), 5000);
    });
    const [waited] = await Promise.all([Promise.race([waiter, stalled]), holder]);
    clearTimeout(stallTimer);
    expect(waited).not.toBe('stalled');
    expect((waited as HostScanResult[])[0]!.results.map((r) => r.state)).toEqual(['closed', 'closed', 'closed']);
    // Handed the first socket the holder released, before the holder sent its own fifth probe.
    expect(sim.calls.findIndex((c) => c.ip !== holderIp)).toBe(4);
    expect(Math.max(...sim.calls.map((c) => c.inFlight))).toBe(4);
  });

  it('keeps probes in flight within concurrency', async () => {
    const sim = simulate(() => ({ after: 2, outcome: closed() }));
    const ports = Array.from({ length: 2000 }, (_, i) => i + 1);
    await collect(scanPorts(req({ ports, options: { timing: 4, concurrency: 25 }, connector: sim.connector })));
    expect(Math.max(...sim.calls.map((c) => c.inFlight))).toBe(25);
  });

  it('reports progress at most every ~200 ms and ends at the total', async () => {
    const sim = simulate(() => ({ after: 40, outcome: closed() }));
    const events: Array<ScanProgressEvent & { at: number }> = [];
    const ports = Array.from({ length: 1500 }, (_, i) => i + 1);
    const addresses = ['127.0.0.1', '127.0.0.2'];
    await collect(
      scanPorts(
        req({
          addresses,
          ports,
          options: { timing: 4, concurrency: 100 },
          connector: sim.connector,
          onProgress: (e) => events.push({ ...e, at: performance.now() }),
        }),
      ),
    );
    expect(events.length).toBeGreaterThan(2);
    const last = events.at(-1)!;
    expect(last).toMatchObject({ done: 3000, total: 3000, open: 0 });
    for (let i = 1; i < events.length; i++) {
      expect(events[i]!.done).toBeGreaterThanOrEqual(events[i - 1]!.done);
      if (i < events.length - 1) expect(events[i]!.at - events[i - 1]!.at).toBeGreaterThanOrEqual(190);
    }
    expect(events.slice(0, -1).every((e) => e.total === 3000)).toBe(true);
  });

  it('consumes addresses lazily and closes the source when the consumer stops', async () => {
    let pulled = 0;
    let closedSource = false;
    function* addresses(): Generator<string> {
      try {
        for (let i = 0; i < 2000; i++) {
          pulled++;
          yield `127.0.${Math.floor(i / 250)}.${(i % 250) + 1}`;
        }
      } finally {
        closedSource = true;
      }
    }
    const sim = simulate(() => ({ after: 2, outcome: closed() }));
    const ports = Array.from({ length: 100 }, (_, i) => i + 1);
    const group = hostGroupSize(ports.length);
    let seen = 0;
    let pulledAtFirst = 0;
    for await (const host of scanPorts({ addresses: addresses(), addressCount: 2000, ports, options: fast, connector: sim.connector })) {
      if (seen === 0) pulledAtFirst = pulled;
      expect(host.results).toHaveLength(100);
      if (++seen === 3) break;
    }
    expect(pulledAtFirst).toBeLessThanOrEqual(group + 1);
    expect(pulled).toBeLessThan(2000);
    expect(closedSource).toBe(true);
    await sleep(20);
    const callsAfterBreak = sim.calls.length;
    await sleep(50);
    expect(sim.calls.length).toBe(callsAfterBreak);
    expect(sim.inFlight).toBe(0);
  });

  it('stops a scan waiting on timeouts promptly on abort', async () => {
    const sim = simulate(() => ({ after: 60_000, outcome: drop }));
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const started = performance.now();
    const err = await collect(scanPorts(req({ ports: [1, 2, 3], options: { timing: 3 }, signal: ac.signal, connector: sim.connector }))).catch((e: unknown) => e);
    expect((err as Error).name).toBe('AbortError');
    expect(performance.now() - started).toBeLessThan(1000);
    expect(sim.aborted.sort()).toEqual(['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3']);
  });

  it('scans many hosts with few ports in parallel', async () => {
    const sim = simulate(() => ({ after: 20, outcome: closed() }));
    const addresses = Array.from({ length: 200 }, (_, i) => `127.0.1.${i + 1}`);
    const started = performance.now();
    const hosts = await collect(scanPorts(req({ addresses, ports: [22, 80], options: fast, connector: sim.connector })));
    expect(hosts).toHaveLength(200);
    expect(new Set(sim.calls.map((c) => c.ip)).size).toBe(200);
    expect(Math.max(...sim.calls.map((c) => c.inFlight))).toBeGreaterThan(20); // many hosts at once
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('uses the measured RTT for later timeouts', async () => {
    const sim = simulate((_ip, port) => ({ after: 1, outcome: port < 100 ? closed(2) : drop }));
    const ports = Array.from({ length: 120 }, (_, i) => i + 1);
    await collect(scanPorts(req({ ports, options: { timing: 4 }, connector: sim.connector, random: () => 0.999999 })));
    expect(sim.calls[0]!.timeoutMs).toBe(500); // T4 initial
    expect(sim.calls.at(-1)!.timeoutMs).toBe(100); // srtt ~2 ms: clamped to the 100 ms floor
  });
});

// ---- simulated network on a simulated clock ----------------------------------------------------
// Fake timers (performance.now included) run seconds of probe timeouts in milliseconds and make the
// number of timeout rounds a scan needs exact: nothing here depends on how fast the machine is.

describe('scanPorts on a mostly-filtered simulated host (simulated clock)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate', 'clearImmediate', 'performance', 'Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** Runs a scan to completion on the fake clock; returns its hosts and its simulated duration. */
  async function runSimulated(request: ScanPortsRequest, limitMs = 600_000): Promise<{ hosts: HostScanResult[]; elapsedMs: number }> {
    const started = performance.now();
    let hosts: HostScanResult[] | undefined;
    let failure: unknown;
    let settled = false;
    collect(scanPorts(request)).then(
      (h) => {
        hosts = h;
        settled = true;
      },
      (err: unknown) => {
        failure = err;
        settled = true;
      },
    );
    while (!settled && performance.now() - started < limitMs) await vi.advanceTimersByTimeAsync(10);
    if (failure !== undefined) throw failure;
    if (hosts === undefined) throw new Error(`scan still running after ${limitMs} simulated ms`);
    return { hosts, elapsedMs: performance.now() - started };
  }

  const ports1000 = Array.from({ length: 1000 }, (_, i) => i + 1);
  const hostUnreach = (rttMs = 1): ProbeOutcome => ({ kind: 'reply', state: 'filtered', reason: 'host-unreach', rttMs });
  // Like the netns benchmark: a handful of popular ports answer (all within the first window of the
  // popular-first order), the other ~990 are dropped. 80 answers with an ICMP error, so the first
  // open/closed answer, 23, is the one timing pings go to.
  const answering: Record<number, () => ProbeOutcome> = { 80: () => hostUnreach(), 23: () => closed(), 443: () => open(), 21: () => closed(), 22: () => open(), 25: () => closed(), 110: () => closed() };

  it('timing pings lift the window, so ~2000 probes need a bounded number of 100 ms timeout rounds', async () => {
    const sim = simulate((_ip, port) => ({ outcome: answering[port]?.() ?? drop }));
    const { hosts, elapsedMs } = await runSimulated(req({ ports: ports1000, options: { timing: 4 }, connector: sim.connector, random: () => 0.999999 }));
    const results = hosts[0]!.results;
    for (const r of results) {
      const expected = answering[r.port]?.();
      if (expected?.kind === 'reply') expect(r).toMatchObject({ state: expected.state, reason: expected.reason });
      else expect(r).toMatchObject({ state: 'filtered', reason: 'no-response' });
    }
    // Every dropped port: one probe and one retransmission; answering ports once, except the ping port.
    for (const p of ports1000) if (answering[p] === undefined) expect(sim.attemptsOf(p)).toBe(2);
    for (const p of [80, 443, 21, 22, 25, 110]) expect(sim.attemptsOf(p)).toBe(1); // 80 answered with ICMP: never a ping port
    const pings = sim.attemptsOf(23) - 1;
    expect(pings).toBeGreaterThanOrEqual(1);
    expect(pings).toBeLessThanOrEqual(4); // one per 1.25 s of silence at most
    // Replies alone leave the window at 10 + 7 (~117 rounds for 1993 probes). The first ping's reply
    // (cc_scale ~20, × 3) takes it to ssthresh 75; nmap -d4 shows the same jump on the same kind of host.
    expect(Math.max(...sim.calls.map((c) => c.inFlight))).toBeGreaterThanOrEqual(70);
    const timeoutMs = sim.calls.at(-1)!.timeoutMs;
    expect(timeoutMs).toBe(100);
    expect(elapsedMs / timeoutMs).toBeLessThanOrEqual(45); // ~38 rounds; ~117 without timing pings
  });

  it('a block of ports none of which answers grows its window through a ping port given by the request', async () => {
    // A port-block shard's view of the same host: ports 1001-2000 all dropped; 23, outside the block, answers.
    const sim = () => simulate((_ip, port) => ({ outcome: port === 23 ? closed() : drop }));
    const block = Array.from({ length: 1000 }, (_, i) => i + 1001);
    const without = sim();
    const slow = await runSimulated(req({ ports: block, options: { timing: 4 }, connector: without.connector, random: () => 0.999999 }));
    const withPing = sim();
    const fast = await runSimulated(req({ ports: block, options: { timing: 4 }, connector: withPing.connector, random: () => 0.999999, pingPort: 23 }));
    for (const { hosts } of [slow, fast]) expect(hosts[0]!.results.every((r) => r.state === 'filtered' && r.port > 1000)).toBe(true);
    expect(without.attemptsOf(23)).toBe(0);
    expect(withPing.attemptsOf(23)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...without.calls.map((c) => c.inFlight))).toBeLessThanOrEqual(10);
    expect(Math.max(...withPing.calls.map((c) => c.inFlight))).toBeGreaterThanOrEqual(70);
    expect(fast.elapsedMs).toBeLessThan(slow.elapsedMs / 2);
  });

  it('an unanswered timing ping is a drop: the host window collapses to 1', async () => {
    // Port 23 answers its first probe only: the timing ping to it is lost.
    const sim = simulate((_ip, port, attempt) => ({ outcome: port === 23 && attempt === 0 ? closed() : port === 22 ? open() : drop }));
    const ports = Array.from({ length: 200 }, (_, i) => i + 1);
    const { hosts } = await runSimulated(req({ ports, options: { timing: 4 }, connector: sim.connector, random: () => 0.999999 }));
    expect(hosts[0]!.results.find((r) => r.port === 23)).toMatchObject({ state: 'closed' });
    const ping = sim.calls.find((c) => c.port === 23 && c.attempt === 1);
    expect(ping).toBeDefined();
    expect(ping!.at).toBeGreaterThan(1250);
    const lostAt = ping!.at + ping!.timeoutMs;
    const before = sim.calls.filter((c) => c.at < ping!.at);
    const after = sim.calls.filter((c) => c.at > lostAt);
    expect(Math.max(...before.map((c) => c.inFlight))).toBeGreaterThanOrEqual(10);
    expect(after.length).toBeGreaterThan(0);
    expect(Math.max(...after.map((c) => c.inFlight))).toBe(1); // cwnd 1, and no reply ever regrows it
  });

  it('keeps at most maxHostConnections probes in flight to each address, pings and re-probes included, with unchanged results', async () => {
    // Two slow, mostly-filtered hosts: answers take 50 ms; 80, probed first, becomes the timing-ping
    // port; 150 self-connects once and is re-probed.
    const answers: Record<number, ProbeOutcome> = { 80: closed(50), 22: open(50), 443: open(50), 150: closed(50) };
    const behave: Behaviour = (_ip, port, attempt) => {
      if (port === 150 && attempt === 0) return { after: 50, outcome: { kind: 'self-connect', rttMs: 50 } };
      const answer = answers[port];
      return answer === undefined ? { outcome: drop } : { after: 50, outcome: answer };
    };
    const addresses = ['127.0.0.1', '127.0.0.2'];
    const ports = Array.from({ length: 300 }, (_, i) => i + 1);
    const scan = async (options: PortScanOptions) => {
      const sim = simulate(behave);
      const { hosts } = await runSimulated(req({ addresses, ports, options, connector: sim.connector, random: () => 0.999999 }));
      return { sim, results: [...hosts].sort((a, b) => a.ip.localeCompare(b.ip)).map((h) => h.results) };
    };
    const maxToOneAddress = (s: ReturnType<typeof simulate>) => Math.max(...s.calls.map((c) => c.hostInFlight));

    const capped = await scan({ timing: 4, maxHostConnections: 3 });
    const uncapped = await scan({ timing: 4 });
    expect(maxToOneAddress(uncapped.sim)).toBeGreaterThan(3);
    expect(maxToOneAddress(capped.sim)).toBe(3);
    expect(Math.max(...capped.sim.calls.map((c) => c.inFlight))).toBeGreaterThan(3); // a cap per address, not per scan
    for (const ip of addresses) {
      expect(capped.sim.attemptsOf(80, ip)).toBeGreaterThan(1); // timing pings went out under the cap
      expect(capped.sim.attemptsOf(150, ip)).toBe(2);
    }
    expect(capped.results).toEqual(uncapped.results);
  });

  it('rejects a maxHostConnections that is not a positive integer', async () => {
    const sim = simulate(() => ({ outcome: closed() }));
    await expect(collect(scanPorts(req({ ports: [1], options: { maxHostConnections: 0 }, connector: sim.connector })))).rejects.toThrow(RangeError);
  });

  it('sends no timing pings while replies keep coming', async () => {
    // Closed ports answer throughout (every 4th port): the host is never silent for 1.25 s.
    const sim = simulate((_ip, port) => ({ outcome: port % 4 === 0 ? closed() : drop }));
    await runSimulated(req({ ports: ports1000, options: { timing: 4 }, connector: sim.connector, random: () => 0.999999 }));
    for (const p of ports1000) expect(sim.attemptsOf(p)).toBe(p % 4 === 0 ? 1 : 2);
  });
});
