/**
 * Servers that misbehave on 127.0.0.1: hang up, reset, say nothing, trickle forever, flood. Detection
 * stays bounded in time and memory, never throws for them, and leaves no sockets or timers behind.
 */
import { randomBytes } from 'node:crypto';
import type net from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { TestServers, timer } from '../../testing/servers.js';
import { detectService, detectServiceWithPlan } from './index.js';
import type { DetectionPlan } from './plan.js';

/** For tests that sit out the banner wait and the budget: both modest, to keep the suite short. */
const BANNER_MS = 300;
const TIMEOUT_MS = 1500;
const OPTIONS = { bannerTimeoutMs: BANNER_MS, timeoutMs: TIMEOUT_MS };
/**
 * "Bounded by the budget" means: returns, and not much after the budget. This is how much after it a
 * loaded 2-core CI machine may take, generously; a detection that hangs or ignores the budget exceeds it.
 */
const SLACK_MS = 2000;
/**
 * For "must not wait": a banner wait so long that sitting it out is unmistakable on any machine, and a
 * budget three times as long, which gives a hinted probe a deadline as long as the banner wait (half of
 * what is left once a banner wait is set aside). Such tests assert they took less than half of LONG_MS,
 * and never come near it when all is well.
 */
const LONG_MS = 10_000;
const NO_WAIT = { bannerTimeoutMs: LONG_MS, timeoutMs: 3 * LONG_MS };
const servers = new TestServers();
const timings: string[] = [];
const timed = timer(timings);

/** Writes `next()` every `everyMs` until the peer goes away. */
function trickle(socket: net.Socket, next: () => string, everyMs: number, first = ''): void {
  if (first !== '') socket.write(first);
  const timer = setInterval(() => {
    if (socket.destroyed) clearInterval(timer);
    else socket.write(next());
  }, everyMs);
  socket.on('close', () => clearInterval(timer));
}

const hinted = (first: DetectionPlan['order'][number]): DetectionPlan => ({
  skipBanner: true,
  order: [first, ...(['tls', 'http', 'redis', 'postgres'] as const).filter((p) => p !== first)],
});

afterEach(() => servers.closeAll());
afterAll(() => {
  console.log(`hostile-server detection times on loopback (bannerTimeoutMs ${BANNER_MS}, timeoutMs ${TIMEOUT_MS}; ${LONG_MS} and ${3 * LONG_MS} when they must not be waited for):\n  ${timings.join('\n  ')}`);
});

describe('servers that hang up', () => {
  it('calls a server that accepts and closes at once tcpwrapped, quickly', async () => {
    const port = await servers.serve((socket) => socket.end());
    const { result, ms } = await timed('accept then close', () => detectService('127.0.0.1', port, NO_WAIT));
    expect(result).toEqual({ name: 'tcpwrapped', method: 'probed' });
    expect(ms).toBeLessThan(LONG_MS / 2); // no banner wait, no probe sitting out its share
  });

  it('calls a server that accepts and resets tcpwrapped, quickly', async () => {
    const port = await servers.serve((socket) => socket.resetAndDestroy());
    const { result, ms } = await timed('accept then reset', () => detectService('127.0.0.1', port, NO_WAIT));
    expect(result).toEqual({ name: 'tcpwrapped', method: 'probed' });
    expect(ms).toBeLessThan(LONG_MS / 2); // no banner wait, no probe sitting out its share
  });

  it('does the same on a hinted port', async () => {
    const port = await servers.serve((socket) => socket.end());
    const { result, ms } = await timed('accept then close (port hint)', () => detectServiceWithPlan('127.0.0.1', port, NO_WAIT, hinted('http')));
    expect(result).toEqual({ name: 'tcpwrapped', method: 'probed' });
    expect(ms).toBeLessThan(LONG_MS / 2); // no banner wait, no probe sitting out its share
  });

  it('reports a port that closed since the scan as unknown, without throwing', async () => {
    const port = await servers.serve(() => undefined);
    await servers.closeAll();
    const { result, ms } = await timed('connection refused', () => detectService('127.0.0.1', port, NO_WAIT));
    expect(result).toEqual({ name: 'unknown', method: 'probed' });
    expect(ms).toBeLessThan(LONG_MS / 2); // nothing waited for
  });
});

describe('servers that say nothing', () => {
  it('gives up on a silent server as unknown within timeoutMs', async () => {
    const port = await servers.serve(() => undefined);
    const { result, ms } = await timed('silent forever', () => detectService('127.0.0.1', port, OPTIONS));
    expect(result).toEqual({ name: 'unknown', method: 'probed' });
    expect(ms).toBeGreaterThan(BANNER_MS);
    expect(ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);
  });

  it('gives up on a silent server on a hinted port within timeoutMs', async () => {
    const port = await servers.serve(() => undefined);
    const { result, ms } = await timed('silent forever (port hint)', () => detectServiceWithPlan('127.0.0.1', port, OPTIONS, hinted('tls')));
    expect(result).toEqual({ name: 'unknown', method: 'probed' });
    expect(ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);
  });
});

describe('servers that trickle forever', () => {
  it('bounds a banner that never ends', async () => {
    const port = await servers.serve((socket) => trickle(socket, () => 'A', 5));
    const { result, ms } = await timed('trickled banner', () => detectService('127.0.0.1', port, OPTIONS));
    expect(result.name).toBe('unknown');
    expect(result.banner).toMatch(/^A+$/);
    expect(ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);
  });

  it('bounds an HTTP response whose headers never end', async () => {
    const port = await servers.serve((socket) => socket.once('data', () => trickle(socket, () => 'a', 5, 'HTTP/1.1 200 OK\r\nServer: slowloris\r\nX-Slow: ')));
    const { result, ms } = await timed('trickled HTTP headers (port hint)', () => detectServiceWithPlan('127.0.0.1', port, OPTIONS, hinted('http')));
    expect(result).toMatchObject({ name: 'http', product: 'slowloris', http: { status: 200 } });
    expect(ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);
  });

  it('bounds a TLS handshake that never completes', async () => {
    // A TLS record header announcing a big handshake message, then one byte every 10 ms.
    const port = await servers.serve((socket) => socket.once('data', () => trickle(socket, () => '\x00', 10, '\x16\x03\x03\x40\x00\x02')));
    const { result, ms } = await timed('trickled TLS record (port hint)', () => detectServiceWithPlan('127.0.0.1', port, OPTIONS, hinted('tls')));
    expect(['unknown', 'tls']).toContain(result.name);
    expect(ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);
  });
});

describe('servers that flood', () => {
  const TEN_MB = randomBytes(10 * 1024 * 1024);

  it('reads at most a few KiB of a 10 MB garbage banner', async () => {
    const port = await servers.serve((socket) => socket.end(TEN_MB));
    const before = process.memoryUsage().arrayBuffers;
    const { result, ms } = await timed('10 MB garbage banner', () => detectService('127.0.0.1', port, NO_WAIT));
    const grown = process.memoryUsage().arrayBuffers - before;
    expect(result.name).toBe('unknown');
    expect(result.banner?.length ?? 0).toBeGreaterThan(0);
    expect(result.banner?.length ?? 0).toBeLessThanOrEqual(512);
    expect(ms).toBeLessThan(LONG_MS / 2); // cut off at the cap, not at the banner timeout
    expect(grown).toBeLessThan(4 * 1024 * 1024);
  });

  it('reads at most a bounded prefix of a 10 MB HTTP response, body or header line', async () => {
    // Built before measuring, so that only what detection keeps of them counts.
    const bodyFlood = Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nServer: flood\r\n\r\n'), TEN_MB]);
    const headerFlood = Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nX-Flood: '), TEN_MB]);
    const body = await servers.serve((socket) => socket.once('data', () => socket.end(bodyFlood)));
    const header = await servers.serve((socket) => socket.once('data', () => socket.end(headerFlood)));
    const before = process.memoryUsage().arrayBuffers;
    const { result: r1, ms: ms1 } = await timed('10 MB HTTP body (port hint)', () => detectServiceWithPlan('127.0.0.1', body, NO_WAIT, hinted('http')));
    const grownAfterBody = process.memoryUsage().arrayBuffers - before;
    const { result: r2, ms: ms2 } = await timed('10 MB HTTP header line (port hint)', () => detectServiceWithPlan('127.0.0.1', header, NO_WAIT, hinted('http')));
    const grownAfterBoth = process.memoryUsage().arrayBuffers - before;
    expect(r1).toMatchObject({ name: 'http', product: 'flood', http: { status: 200 } });
    expect(r2).toMatchObject({ name: 'http', http: { status: 200 } });
    expect(ms1 + ms2).toBeLessThan(LONG_MS / 2); // cut off early: no banner wait, no probe deadline sat out
    expect(grownAfterBody).toBeLessThan(4 * 1024 * 1024);
    expect(grownAfterBoth).toBeLessThan(4 * 1024 * 1024);
  });

  it('survives 10 MB of garbage answered to every probe', async () => {
    const port = await servers.serve((socket) => socket.once('data', () => socket.end(TEN_MB)));
    const { result, ms } = await timed('10 MB garbage reply to probes', () => detectService('127.0.0.1', port, OPTIONS));
    expect(result.method).toBe('probed');
    expect(ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);
  });
});

describe('abort and tidiness', () => {
  it('propagates an abort promptly, and only an abort', async () => {
    const port = await servers.serve(() => undefined);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('stop now')), 50);
    const start = performance.now();
    await expect(detectService('127.0.0.1', port, { ...NO_WAIT, signal: controller.signal })).rejects.toThrow('stop now');
    expect(performance.now() - start).toBeLessThan(LONG_MS / 2); // the banner wait was cut short
  });

  it('does not even connect with an already-aborted signal', async () => {
    let connections = 0;
    const port = await servers.serve(() => connections++);
    await expect(detectService('127.0.0.1', port, { ...OPTIONS, signal: AbortSignal.abort() })).rejects.toThrow();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(connections).toBe(0);
  });

  it('shares one abort listener among many detections (no MaxListeners warning)', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on('warning', onWarning);
    try {
      const port = await servers.serve((socket) => socket.write('SSH-2.0-OpenSSH_9.6\r\n'));
      const signal = new AbortController().signal;
      const results = await Promise.all(Array.from({ length: 40 }, () => detectService('127.0.0.1', port, { ...OPTIONS, signal })));
      expect(results.every((r) => r.name === 'ssh')).toBe(true);
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('leaves no sockets or timers behind', async () => {
    const count = (kind: string): number => process.getActiveResourcesInfo().filter((r) => r === kind).length;
    await new Promise((resolve) => setTimeout(resolve, 10));
    const timersBefore = count('Timeout');
    const ssh = await servers.serve((socket) => socket.write('SSH-2.0-OpenSSH_9.6\r\n'));
    const silent = await servers.serve(() => undefined);
    const closing = await servers.serve((socket) => socket.end());
    await Promise.all([
      detectService('127.0.0.1', ssh, OPTIONS),
      detectService('127.0.0.1', silent, { bannerTimeoutMs: 50, timeoutMs: 200 }),
      detectService('127.0.0.1', closing, OPTIONS),
      detectServiceWithPlan('127.0.0.1', silent, { bannerTimeoutMs: 50, timeoutMs: 200 }, hinted('redis')),
    ]);
    await servers.closeAll();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(count('TCPSocketWrap') + count('TLSWrap')).toBe(0);
    expect(count('Timeout')).toBeLessThanOrEqual(timersBefore);
  });
});
