import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyError, createTwoLaneConnector, handleConnector, socketConnector, type Connector } from './connect.js';

// Loopback fixtures only: an accepting listener (open), a port bound then released (closed) and a
// listener whose accept queue is full, so the kernel silently drops further SYNs (no reply).

let openServer: net.Server;
let openPort: number;
let closedPort: number;
let blackhole: ChildProcess | undefined;
let blackholePort: number | undefined;
let filler: net.Socket | undefined;
const accepted: net.Socket[] = [];

async function listen(server: net.Server, host = '127.0.0.1'): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return (server.address() as net.AddressInfo).port;
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  const port = await listen(s);
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** A python listener with backlog 0 and one queued connection: new SYNs get no answer. */
async function startBlackhole(): Promise<void> {
  if (spawnSync('python3', ['-c', 'pass']).status !== 0) return;
  const code = "import socket,sys\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\nsys.stdin.read()";
  const child = spawn('python3', ['-c', code], { stdio: ['pipe', 'pipe', 'ignore'] });
  blackhole = child;
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve(Number(String(d).trim())));
    child.once('error', reject);
  });
  await new Promise<void>((resolve, reject) => {
    filler = net.connect(port, '127.0.0.1', resolve);
    filler.once('error', reject);
  });
  blackholePort = port;
}

beforeAll(async () => {
  openServer = net.createServer((s) => {
    accepted.push(s);
    s.on('error', () => {});
  });
  openPort = await listen(openServer);
  closedPort = await freePort();
  await startBlackhole();
});

afterAll(async () => {
  for (const s of accepted) s.destroy();
  filler?.destroy();
  blackhole?.kill();
  await new Promise<void>((resolve) => openServer.close(() => resolve()));
});

describe('classifyError follows nmap connect-scan classification', () => {
  it.each([
    ['ECONNREFUSED', { kind: 'reply', state: 'closed', reason: 'conn-refused' }],
    ['EHOSTUNREACH', { kind: 'reply', state: 'filtered', reason: 'host-unreach' }],
    ['ENETUNREACH', { kind: 'reply', state: 'filtered', reason: 'net-unreach' }],
    ['EACCES', { kind: 'reply', state: 'filtered', reason: 'admin-prohibited' }],
    ['EPERM', { kind: 'reply', state: 'filtered', reason: 'admin-prohibited' }],
    ['ENOPROTOOPT', { kind: 'reply', state: 'filtered', reason: 'proto-unreach' }],
    ['ENONET', { kind: 'reply', state: 'filtered', reason: 'dest-unreach' }],
    ['ETIMEDOUT', { kind: 'drop' }],
    ['EHOSTDOWN', { kind: 'drop' }],
    ['EMFILE', { kind: 'resource' }],
    ['ENFILE', { kind: 'resource' }],
    ['EADDRNOTAVAIL', { kind: 'resource' }],
    ['ENETDOWN', { kind: 'fatal' }],
    ['ECONNABORTED', { kind: 'fatal' }],
    ['EWHATEVER', { kind: 'drop', code: 'EWHATEVER' }],
  ] as const)('%s', (code, expected) => {
    expect(classifyError(code, 1.5)).toMatchObject(expected);
  });
});

const connectors: Array<[string, Connector | undefined]> = [
  ['net.Socket connector', socketConnector],
  ['handle connector', handleConnector],
  ['two-lane connector', createTwoLaneConnector()],
];

describe.each(connectors)('%s', (name, connector) => {
  const run = connector === undefined ? it.skip : it;
  const c = connector as Connector;

  run('reports a listening port open/syn-ack with its RTT', async () => {
    const o = await c('127.0.0.1', openPort, 2000);
    expect(o).toMatchObject({ kind: 'reply', state: 'open', reason: 'syn-ack' });
    expect(o.kind === 'reply' && o.rttMs >= 0 && o.rttMs < 2000).toBe(true);
  });

  run('reports a released port closed/conn-refused', async () => {
    expect(await c('127.0.0.1', closedPort, 2000)).toMatchObject({ kind: 'reply', state: 'closed', reason: 'conn-refused' });
  });

  run('reports ::1 like 127.0.0.1', async () => {
    const v6 = net.createServer((s) => {
      s.on('error', () => {});
      s.destroy();
    });
    let port: number;
    try {
      port = await listen(v6, '::1');
    } catch {
      return; // no IPv6 loopback here
    }
    try {
      expect(await c('::1', port, 2000)).toMatchObject({ kind: 'reply', state: 'open' });
    } finally {
      await new Promise<void>((resolve) => v6.close(() => resolve()));
    }
  });

  run('classifies many concurrent probes (both lanes busy)', async () => {
    const probes = Array.from({ length: 200 }, (_, i) => c('127.0.0.1', i % 2 === 0 ? openPort : closedPort, 2000));
    const outcomes = await Promise.all(probes);
    outcomes.forEach((o, i) => expect(o).toMatchObject({ kind: 'reply', state: i % 2 === 0 ? 'open' : 'closed' }));
  });

  run('closes connected probes with RST, leaving no TIME_WAIT', async () => {
    if (spawnSync('ss', ['-V']).status !== 0) return;
    for (let i = 0; i < 20; i++) await c('127.0.0.1', openPort, 2000);
    await new Promise((r) => setTimeout(r, 50));
    const out = spawnSync('ss', ['-Htan', 'state', 'time-wait', `( sport = :${openPort} or dport = :${openPort} )`], { encoding: 'utf8' }).stdout;
    expect(out.trim()).toBe('');
  });

  run('reports a drop when nothing answers within the timeout', async (ctx) => {
    if (blackholePort === undefined) ctx.skip();
    const started = performance.now();
    expect(await c('127.0.0.1', blackholePort!, 150)).toMatchObject({ kind: 'drop' });
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(140);
    expect(elapsed).toBeLessThan(1000);
  });

  run('resolves aborted at once when the signal fires mid-probe', async (ctx) => {
    if (blackholePort === undefined) ctx.skip();
    const ac = new AbortController();
    const probes = Array.from({ length: 40 }, () => c('127.0.0.1', blackholePort!, 10_000, ac.signal));
    setTimeout(() => ac.abort(), 30);
    const started = performance.now();
    const outcomes = await Promise.all(probes);
    expect(performance.now() - started).toBeLessThan(1000);
    for (const o of outcomes) expect(o).toEqual({ kind: 'aborted' });
  });

  run('does not take a reply that arrived while the event loop was blocked for a drop', async () => {
    const probe = c('127.0.0.1', openPort, 20);
    // Block this thread well past the timeout: the kernel completes the connect meanwhile, and when
    // the loop resumes the expired timer runs before the pending I/O.
    const until = performance.now() + 200;
    while (performance.now() < until);
    expect(await probe).toMatchObject({ kind: 'reply', state: 'open', reason: 'syn-ack' });
  });

  run('does not start a probe on an aborted signal', async () => {
    expect(await c('127.0.0.1', openPort, 1000, AbortSignal.abort())).toEqual({ kind: 'aborted' });
  });

  it(`${name}: is available or deliberately skipped`, () => {
    if (name === 'net.Socket connector') expect(connector).toBeDefined();
  });
});
