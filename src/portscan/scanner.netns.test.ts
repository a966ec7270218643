/**
 * Integration test against a real (namespaced) network path: a network namespace joined to the host
 * by a veth pair on a random 198.18.x.y/30 (RFC 2544 benchmarking space), listeners inside it, and
 * iptables inside it answering with TCP resets, ICMP errors or nothing. The scan only ever targets the
 * namespace's address. Needs root, `ip netns` and iptables; skipped otherwise. Everything created is
 * removed in afterAll, whatever happened.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PortReason, PortState } from '../shared/model.js';
import { scanPorts } from './scanner.js';
import type { HostScanResult } from './types.js';

const OPEN = [22, 80, 8080];
const RESET = 113; // REJECT --reject-with tcp-reset
const ICMP: Record<number, { rejectWith: string; state: PortState; reason: PortReason }> = {
  1001: { rejectWith: 'icmp-host-unreachable', state: 'filtered', reason: 'host-unreach' },
  1002: { rejectWith: 'icmp-net-unreachable', state: 'filtered', reason: 'net-unreach' },
  1003: { rejectWith: 'icmp-proto-unreachable', state: 'filtered', reason: 'proto-unreach' },
  // Linux reports ICMP "communication administratively prohibited" to connect() as EHOSTUNREACH,
  // so a connect scan (nmap's too) can only call it host-unreach.
  1004: { rejectWith: 'icmp-admin-prohibited', state: 'filtered', reason: 'host-unreach' },
  // ICMP port unreachable is ECONNREFUSED for TCP: closed, like a reset.
  1005: { rejectWith: 'icmp-port-unreachable', state: 'closed', reason: 'conn-refused' },
};
/** Ports 1-50 (dropped unless listed above) plus the special ones. */
const PORTS = [...new Set([...Array.from({ length: 50 }, (_, i) => i + 1), ...OPEN, RESET, ...Object.keys(ICMP).map(Number)])].sort((a, b) => a - b);

function expected(port: number): { state: PortState; reason: PortReason } {
  if (OPEN.includes(port)) return { state: 'open', reason: 'syn-ack' };
  if (port === RESET) return { state: 'closed', reason: 'conn-refused' };
  const icmp = ICMP[port];
  if (icmp !== undefined) return { state: icmp.state, reason: icmp.reason };
  return { state: 'filtered', reason: 'no-response' };
}

function run(cmd: string, args: string[]): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20_000 });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

function must(cmd: string, args: string[]): void {
  const r = run(cmd, args);
  if (!r.ok) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.out.trim()}`);
}

function missingPrerequisite(): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'needs root to create network namespaces';
  if (!run('ip', ['netns', 'list']).ok) return '`ip netns` is not available';
  if (!run('iptables', ['--version']).ok) return 'iptables is not installed';
  return undefined;
}

const tag = randomBytes(3).toString('hex');
const ns = `pcscan-${process.pid}-${tag}`;
const vethHost = `pc${tag}h`;
const vethNs = `pc${tag}n`;
let hostIp = '';
let targetIp = '';
let listener: ChildProcess | undefined;
let unavailable = missingPrerequisite();
let nsCreated = false;

function pickSubnet(): void {
  const used = run('ip', ['-4', '-o', 'addr', 'show']).out + run('ip', ['-4', 'route', 'show', 'table', 'all']).out;
  for (let i = 0; i < 20; i++) {
    const third = randomInt(0, 256);
    const base = randomInt(0, 64) * 4;
    const prefix = `198.${18 + randomInt(0, 2)}.${third}.`;
    if (used.includes(`${prefix}${base}/30`) || used.includes(`${prefix}${base + 1} `) || used.includes(`${prefix}${base + 2} `)) continue;
    hostIp = `${prefix}${base + 1}`;
    targetIp = `${prefix}${base + 2}`;
    return;
  }
  throw new Error('no free 198.18.0.0/15 /30 found');
}

async function setUp(): Promise<void> {
  pickSubnet();
  must('ip', ['netns', 'add', ns]);
  nsCreated = true;
  must('ip', ['link', 'add', vethHost, 'type', 'veth', 'peer', 'name', vethNs]);
  must('ip', ['link', 'set', vethNs, 'netns', ns]);
  must('ip', ['addr', 'add', `${hostIp}/30`, 'dev', vethHost]);
  must('ip', ['link', 'set', vethHost, 'up']);
  const inNs = (...args: string[]): void => must('ip', ['netns', 'exec', ns, ...args]);
  inNs('ip', 'link', 'set', 'lo', 'up');
  // ICMP errors are rate-limited per destination (6 at once, then 1/s): two scans back to back
  // would lose some. This namespace's limit only.
  inNs('sysctl', '-qw', 'net.ipv4.icmp_ratelimit=0');
  inNs('ip', 'addr', 'add', `${targetIp}/30`, 'dev', vethNs);
  inNs('ip', 'link', 'set', vethNs, 'up');

  // Firewall inside the namespace: open ports accepted, one reset, ICMP errors, everything else dropped.
  inNs('iptables', '-A', 'INPUT', '-i', 'lo', '-j', 'ACCEPT');
  inNs('iptables', '-A', 'INPUT', '-p', 'tcp', '-m', 'multiport', '--dports', OPEN.join(','), '-j', 'ACCEPT');
  inNs('iptables', '-A', 'INPUT', '-p', 'tcp', '--dport', String(RESET), '-j', 'REJECT', '--reject-with', 'tcp-reset');
  for (const [port, { rejectWith }] of Object.entries(ICMP)) inNs('iptables', '-A', 'INPUT', '-p', 'tcp', '--dport', port, '-j', 'REJECT', '--reject-with', rejectWith);
  inNs('iptables', '-A', 'INPUT', '-j', 'DROP');

  // Listeners inside the namespace, on the namespace's address only.
  const code = `
    const net = require('node:net');
    const ports = ${JSON.stringify(OPEN)};
    let up = 0;
    for (const p of ports) {
      net.createServer((s) => { s.on('error', () => {}); s.destroy(); })
        .listen(p, ${JSON.stringify(targetIp)}, () => { if (++up === ports.length) console.log('ready'); });
    }
    process.stdin.on('end', () => process.exit(0)); process.stdin.resume();`;
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', code], { stdio: ['pipe', 'pipe', 'pipe'] });
  listener = child;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('listeners did not start')), 10_000);
    child.stdout!.on('data', (d: Buffer) => {
      if (String(d).includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (c) => {
      clearTimeout(timer);
      reject(new Error(`listener exited with ${c}`));
    });
  });
}

function tearDown(): void {
  if (listener !== undefined && listener.exitCode === null) {
    listener.stdin?.end();
    listener.kill('SIGKILL');
  }
  if (nsCreated) run('ip', ['netns', 'del', ns]); // takes the namespace's end of the veth, its iptables and listeners with it
  if (run('ip', ['link', 'show', vethHost]).ok) run('ip', ['link', 'del', vethHost]);
}

beforeAll(async () => {
  if (unavailable !== undefined) return;
  try {
    await setUp();
  } catch (err) {
    tearDown();
    unavailable = `network namespace setup failed: ${(err as Error).message}`;
  }
}, 30_000);

afterAll(() => {
  tearDown();
});

describe(`connect scan through a network namespace${unavailable === undefined ? '' : ` (skipped: ${unavailable})`}`, () => {
  it('classifies open, reset, ICMP-rejected and dropped ports with nmap reasons', async (ctx) => {
    if (unavailable !== undefined) ctx.skip(unavailable);
    const hosts: HostScanResult[] = [];
    const started = performance.now();
    for await (const h of scanPorts({ addresses: [targetIp], addressCount: 1, ports: PORTS, options: { timing: 4, timeoutMs: 200 } })) hosts.push(h);
    const elapsed = performance.now() - started;
    expect(hosts).toHaveLength(1);
    const host = hosts[0]!;
    expect(host.ip).toBe(targetIp);
    expect(host.results.map((r) => r.port)).toEqual(PORTS);
    for (const r of host.results) expect({ port: r.port, state: r.state, reason: r.reason }).toEqual({ port: r.port, ...expected(r.port) });
    for (const r of host.results) {
      if (r.reason === 'no-response') expect(r.rttMs).toBeUndefined();
      else expect(r.rttMs).toBeGreaterThanOrEqual(0);
    }
    expect(host.srttMs).toBeGreaterThanOrEqual(0);
    expect(elapsed).toBeLessThan(10_000);
  }, 20_000);

  it('agrees with nmap -sT on every port', async (ctx) => {
    if (unavailable !== undefined) ctx.skip(unavailable);
    if (!run('nmap', ['--version']).ok) ctx.skip('nmap is not installed');
    const nmap = run('nmap', ['-sT', '-Pn', '-n', '-T4', '--max-rtt-timeout', '200ms', '--reason', '-p', PORTS.join(','), '-oX', '-', targetIp]);
    expect(nmap.ok).toBe(true);
    const theirs = new Map<number, string>();
    for (const m of nmap.out.matchAll(/<port protocol="tcp" portid="(\d+)"><state state="([a-z|]+)" reason="([a-z-]+)"/g)) theirs.set(Number(m[1]), `${m[2]}/${m[3]}`);
    // Ports in a dominant state are summarised in <extraports>, per reason, with their port ranges.
    for (const block of nmap.out.matchAll(/<extraports state="([a-z|]+)"[^>]*>([\s\S]*?)<\/extraports>/g)) {
      for (const m of block[2]!.matchAll(/<extrareasons reason="([a-z-]+)"[^>]*ports="([\d,-]+)"/g)) {
        for (const range of m[2]!.split(',')) {
          const [lo, hi] = range.split('-').map(Number);
          for (let p = lo!; p <= (hi ?? lo!); p++) theirs.set(p, `${block[1]}/${m[1]}`);
        }
      }
    }
    const hosts: HostScanResult[] = [];
    for await (const h of scanPorts({ addresses: [targetIp], addressCount: 1, ports: PORTS, options: { timing: 4, timeoutMs: 200 } })) hosts.push(h);
    for (const r of hosts[0]!.results) {
      expect(`${r.port} ${r.state}/${r.reason}`).toBe(`${r.port} ${theirs.get(r.port) ?? 'not in nmap output'}`);
    }
  }, 30_000);
});
