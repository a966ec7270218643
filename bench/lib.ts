/**
 * Shared helpers of the benchmarks (not part of the test suite). Every helper here connects only to
 * 127.0.0.0/8 or to addresses the caller passes in (the netns benchmark passes its own namespace).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const CLI = path.join(ROOT, 'dist/cli/main.js');
export const RESULTS_DIR = path.join(ROOT, 'bench/results');
export const NMAP = process.env.NMAP ?? '/usr/bin/nmap';

// ------------------------------------------------------------------------------------------------
// Build freshness

function newestMtime(dir: string, filter: (file: string) => boolean): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p, filter));
    else if (filter(p)) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/** Builds dist/ (`npm run build`) when it is missing or older than a non-test source file. */
export function ensureBuilt(): void {
  const isSource = (f: string): boolean => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('.contract.ts') && !f.includes(`${path.sep}testing${path.sep}`);
  const stale = !existsSync(CLI) || statSync(CLI).mtimeMs < newestMtime(path.join(ROOT, 'src'), isSource);
  if (!stale) return;
  console.error('[bench] dist/ missing or older than src/: running npm run build');
  try {
    execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  } catch (err) {
    // Someone may be editing src/ right now; an existing dist/ is still a consistent build.
    if (!existsSync(CLI)) throw err;
    console.error('[bench] npm run build failed; benchmarking the existing dist/');
  }
}

// ------------------------------------------------------------------------------------------------
// Machine description

export interface MachineInfo {
  date: string;
  hostname: string;
  nproc: number;
  cpu: string;
  memTotalMb: number;
  kernel: string;
  node: string;
  nmap: string;
  gitHead: string;
  gitDirty: string[];
  uptimeBefore: string;
}

export function uptime(): string {
  try {
    return execFileSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    return `loadavg ${os.loadavg().map((x) => x.toFixed(2)).join(', ')}`;
  }
}

export function machineInfo(): MachineInfo {
  const cpuLine = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('model name'));
  const git = (args: string[]): string => {
    try {
      return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).replace(/\n+$/, '');
    } catch {
      return '';
    }
  };
  return {
    date: new Date().toISOString(),
    hostname: os.hostname(),
    nproc: Number(execFileSync('nproc', { encoding: 'utf8' }).trim()),
    cpu: cpuLine ? cpuLine.split(':')[1]?.trim() ?? '' : os.cpus()[0]?.model ?? '',
    memTotalMb: Math.round(os.totalmem() / 1024 / 1024),
    kernel: os.release(),
    node: process.version,
    nmap: (() => {
      try {
        return execFileSync(NMAP, ['--version'], { encoding: 'utf8' }).split('\n')[0]?.trim() ?? '';
      } catch {
        return 'nmap not found';
      }
    })(),
    gitHead: git(['rev-parse', '--short', 'HEAD']),
    // Read-only: `git status --porcelain` changes nothing.
    gitDirty: git(['status', '--porcelain', '--untracked-files=no']).split('\n').filter(Boolean),
    uptimeBefore: uptime(),
  };
}

export function machineMarkdown(m: MachineInfo, uptimeAfter: string): string {
  return [
    `- Date: ${m.date}`,
    `- Machine: ${m.hostname}, nproc ${m.nproc}, ${m.cpu}, ${m.memTotalMb} MB RAM, Linux ${m.kernel}`,
    `- Node ${m.node}; ${m.nmap}`,
    `- Code: git ${m.gitHead}${m.gitDirty.length > 0 ? ` with uncommitted changes in the working tree (${m.gitDirty.length} files, e.g. ${m.gitDirty.slice(0, 3).map((l) => l.slice(3)).join(', ')}) — dist/ was built from it` : ', clean working tree'}`,
    `- Load before: \`${m.uptimeBefore}\``,
    `- Load after: \`${uptimeAfter}\``,
  ].join('\n');
}

// ------------------------------------------------------------------------------------------------
// Statistics

export function median(xs: readonly number[]): number {
  return percentile(xs, 50);
}

/** Nearest-rank percentile (p in 0..100). */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

export function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

export const fmt = (x: number, digits = 0): string => (Number.isFinite(x) ? x.toFixed(digits) : String(x));

// ------------------------------------------------------------------------------------------------
// Processes

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  wallMs: number;
  stdout: string;
  stderr: string;
  /** Max resident set size in KB when run under /usr/bin/time. */
  maxRssKb?: number;
}

/**
 * Runs a command to completion and measures its wall time from spawn to exit. With `measureRss`
 * the command runs under `/usr/bin/time -f %M`, which adds one fork+exec (~1 ms) to the wall time.
 */
export function runTimed(cmd: string, args: readonly string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; measureRss?: boolean; timeoutMs?: number } = {}): Promise<RunResult> {
  const rssFile = path.join(os.tmpdir(), `pcbench-time-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const [file, argv] = opts.measureRss ? ['/usr/bin/time', ['-f', '%M', '-o', rssFile, cmd, ...args]] : [cmd, [...args]];
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(file as string, argv as string[], { cwd: opts.cwd ?? ROOT, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    liveChildren.add(child);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined;
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const wallMs = performance.now() - started;
      liveChildren.delete(child);
      if (timer) clearTimeout(timer);
      const result: RunResult = { code, signal, wallMs, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
      if (opts.measureRss) {
        try {
          const lines = readFileSync(rssFile, 'utf8').trim().split('\n');
          result.maxRssKb = Number(lines[lines.length - 1]);
          execFileSync('rm', ['-f', rssFile]);
        } catch {
          /* time(1) did not write: leave maxRssKb undefined */
        }
      }
      resolve(result);
    });
  });
}

/** Children of runTimed still running, so a benchmark can stop them before tearing its network down. */
const liveChildren = new Set<ChildProcess>();

/** SIGKILLs every child started by runTimed that has not exited yet. Synchronous. */
export function killLiveChildren(): void {
  for (const c of liveChildren) {
    try {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
  liveChildren.clear();
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** VmHWM and VmRSS of a live process, in KB. */
export function procMemory(pid: number): { hwmKb: number; rssKb: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const get = (key: string): number => Number(/\s(\d+) kB/.exec(status.split('\n').find((l) => l.startsWith(key)) ?? '')?.[1] ?? Number.NaN);
    return { hwmKb: get('VmHWM:'), rssKb: get('VmRSS:') };
  } catch {
    return undefined;
  }
}

// ------------------------------------------------------------------------------------------------
// Listeners

export interface Listeners {
  ports: number[];
  close(): Promise<void>;
}

/** Silent TCP listeners on `host` (a loopback address). */
export async function listenOn(host: string, ports: readonly number[]): Promise<Listeners> {
  const servers: net.Server[] = [];
  const sockets = new Set<net.Socket>();
  for (const port of ports) {
    const server = net.createServer((s) => {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, host, backlog: 511 }, () => resolve());
    });
    servers.push(server);
  }
  return {
    ports: [...ports],
    close: async () => {
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
}

/** A TCP port on 127.0.0.1 that was free a moment ago, within [min, max]. */
export async function freePort(min = 20000, max = 32000): Promise<number> {
  const busy = listeningTcp();
  for (let i = 0; i < 200; i++) {
    const port = min + Math.floor(Math.random() * (max - min + 1));
    if (busy.some((l) => l.port === port)) continue;
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (ok) return port;
  }
  throw new Error('no free port found');
}

export interface Listening {
  address: string;
  port: number;
}

/** TCP listeners of the machine (this network namespace), from `ss -ltnH`. */
export function listeningTcp(): Listening[] {
  const out = execFileSync('ss', ['-ltnH'], { encoding: 'utf8' });
  const result: Listening[] = [];
  for (const line of out.split('\n')) {
    const cols = line.trim().split(/\s+/);
    const local = cols[3];
    if (!local) continue;
    const i = local.lastIndexOf(':');
    let address = local.slice(0, i);
    if (address.startsWith('[') && address.endsWith(']')) address = address.slice(1, -1);
    address = address.replace(/%.*$/, '');
    result.push({ address, port: Number(local.slice(i + 1)) });
  }
  return result;
}

/** Ports that accept connections on IPv4 address `ip` according to ss (wildcards included). */
export function portsListeningFor(ip: string, listening = listeningTcp()): Set<number> {
  const ports = new Set<number>();
  for (const l of listening) {
    if (l.address === ip || l.address === '0.0.0.0' || l.address === '*' || l.address === '::' || l.address === '::ffff:' + ip) ports.add(l.port);
  }
  return ports;
}

// ------------------------------------------------------------------------------------------------
// Port ranges and nmap XML

export function expandRanges(text: string): number[] {
  const out: number[] = [];
  for (const part of text.split(',')) {
    const t = part.trim();
    if (t === '') continue;
    const [a, b] = t.split('-');
    const lo = Number(a);
    const hi = b === undefined ? lo : Number(b);
    for (let p = lo; p <= hi; p++) out.push(p);
  }
  return out;
}

export function compressRanges(ports: readonly number[]): string {
  const sorted = [...new Set(ports)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && (sorted[j + 1] as number) === (sorted[j] as number) + 1) j++;
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

export interface PortVerdict {
  state: string;
  reason: string;
}

export interface NmapHost {
  ip: string;
  status: string;
  /** Every scanned port, listed ones and those summarised in <extraports> (via extrareasons' ports). */
  ports: Map<number, PortVerdict>;
  /** Ports summarised in <extraports> whose individual ports nmap did not name. */
  unlistedExtra: Array<{ state: string; count: number }>;
}

export interface NmapRun {
  scannedPorts: number[];
  elapsedS: number;
  hosts: NmapHost[];
}

function attrs(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of tag.matchAll(/([\w-]+)="([^"]*)"/g)) out[m[1] as string] = m[2] as string;
  return out;
}

/** Parses what the benchmarks need from `nmap -oX` output (one or more hosts, TCP only). */
export function parseNmapXml(xml: string): NmapRun {
  const scaninfo = /<scaninfo [^>]*>/.exec(xml);
  const services = scaninfo ? attrs(scaninfo[0]).services ?? '' : '';
  const finished = /<finished [^>]*>/.exec(xml);
  const elapsedS = finished ? Number(attrs(finished[0]).elapsed) : Number.NaN;
  const hosts: NmapHost[] = [];
  for (const hm of xml.matchAll(/<host[\s>][\s\S]*?<\/host>/g)) {
    const block = hm[0];
    const addr = /<address addr="([^"]+)" addrtype="ipv[46]"/.exec(block)?.[1] ?? '';
    const status = /<status state="([^"]+)"/.exec(block)?.[1] ?? '';
    const ports = new Map<number, PortVerdict>();
    const unlistedExtra: Array<{ state: string; count: number }> = [];
    for (const em of block.matchAll(/<extraports ([^>]*)>([\s\S]*?)<\/extraports>/g)) {
      const ea = attrs(em[1] as string);
      let named = 0;
      for (const rm of (em[2] as string).matchAll(/<extrareasons [^>]*>/g)) {
        const ra = attrs(rm[0]);
        if (ra.ports === undefined) continue;
        for (const p of expandRanges(ra.ports)) {
          ports.set(p, { state: ea.state ?? '', reason: ra.reason ?? '' });
          named++;
        }
      }
      const count = Number(ea.count);
      if (named < count) unlistedExtra.push({ state: ea.state ?? '', count: count - named });
    }
    for (const pm of block.matchAll(/<port protocol="tcp" portid="(\d+)">\s*<state ([^>]*)>/g)) {
      const sa = attrs(pm[2] as string);
      ports.set(Number(pm[1]), { state: sa.state ?? '', reason: sa.reason ?? '' });
    }
    hosts.push({ ip: addr, status, ports, unlistedExtra });
  }
  return { scannedPorts: expandRanges(services), elapsedS, hosts };
}

/** The ports of one host in a state. */
export function portsIn(verdicts: Map<number, PortVerdict>, state: string): number[] {
  return [...verdicts].filter(([, v]) => v.state === state).map(([p]) => p).sort((a, b) => a - b);
}

// ------------------------------------------------------------------------------------------------
// Our CLI's JSON

export interface CliJson {
  hosts: Array<{ ip: string; status: string; ports: Array<{ port: number; protocol: string; state: string; reason: string; service?: string }> }>;
  stats: { scannedPorts: number; hosts: number; hostsUp: number; open: number; closed: number; filtered: number; durationMs: number };
}

export function parseCliJson(stdout: string): CliJson {
  return JSON.parse(stdout) as CliJson;
}

// ------------------------------------------------------------------------------------------------
// The service

export interface Server {
  pid: number;
  url: string;
  proc: ChildProcess;
  logs(): string;
  stop(): Promise<number | null>;
}

/** Preload that measures main event-loop stalls of the server (see loop-monitor.mjs). */
export const LOOP_MONITOR = path.join(ROOT, 'bench/loop-monitor.mjs');

export interface LoopStats {
  samples: number;
  maxStallMs: number;
  stallsOver50Ms: number;
  stallsOver100Ms: number;
  stallsOver250Ms: number;
  stallsOver1000Ms: number;
  stalledMsOver100: number;
  worst: Array<{ atMs: number; endedAt: string; stallMs: number }>;
}

/** Starts `node dist/cli/main.js serve` on 127.0.0.1:port and waits for /healthz. */
export async function startServer(opts: { port: number; dataDir: string; env?: NodeJS.ProcessEnv; nodeArgs?: string[] }): Promise<Server> {
  const env: NodeJS.ProcessEnv = { ...process.env, PORTCULLIS_LOG_LEVEL: 'warn', ...opts.env };
  delete env.DATABASE_URL;
  const proc = spawn(process.execPath, [...(opts.nodeArgs ?? []), CLI, 'serve', '--host', '127.0.0.1', '--port', String(opts.port), '--data-dir', opts.dataDir], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const keep = (b: Buffer): void => {
    log += b.toString('utf8');
    if (log.length > 200_000) log = log.slice(-100_000);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${opts.port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`server exited with ${proc.exitCode}: ${log}`);
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`server did not become healthy: ${log}`);
    }
    await sleep(100);
  }
  return {
    pid: proc.pid as number,
    url,
    proc,
    logs: () => log,
    stop: async () => {
      if (proc.exitCode !== null) return proc.exitCode;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

export async function getJson<T = unknown>(url: string, init?: RequestInit): Promise<{ status: number; body: T }> {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, body: (text === '' ? null : JSON.parse(text)) as T };
}

export async function postJson<T = unknown>(url: string, body: unknown): Promise<{ status: number; body: T }> {
  return getJson<T>(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

// ------------------------------------------------------------------------------------------------
// Results

export function writeResults(name: string, markdown: string, data: unknown): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(path.join(RESULTS_DIR, `${name}.md`), markdown);
  writeFileSync(path.join(RESULTS_DIR, `${name}.json`), `${JSON.stringify(data, null, 2)}\n`);
  console.log(`\n[bench] wrote bench/results/${name}.md and ${name}.json`);
}

/** Quoted shell form of a command line, for the results file. */
export function shellLine(cmd: string, args: readonly string[]): string {
  return [cmd, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}
