/**
 * Shared helpers of the benchmarks (not part of the test suite). Every helper here connects only to
 * 127.0.0.0/8 or to addresses the caller passes in (the netns benchmark passes its own namespace).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Runtime } from '../src/runtime/index.js';

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

/** Pids of the children `killLiveChildren` would kill, so a caller can wait until they are gone. */
export function liveChildPids(): number[] {
  return [...liveChildren].flatMap((c) => (c.pid !== undefined && c.exitCode === null && c.signalCode === null ? [c.pid] : []));
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

// ------------------------------------------------------------------------------------------------
// Scale-out: worker processes on a shared queue and database, a mixed workload and its checks
// (kill-test.ts, worker-scaling.ts). src/ is imported on demand, so the other benchmarks do not load it.

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A PostgreSQL database of its own, created next to the test database, migrated, dropped by `drop()`. */
export interface ScratchDatabase {
  url: string;
  drop(): Promise<void>;
}

export async function createScratchPostgres(label: string): Promise<ScratchDatabase> {
  const [{ sql }, { migrateToLatest, openDatabase }, { TEST_PG_URL }] = await Promise.all([import('kysely'), import('../src/store/index.js'), import('../src/testing/databases.js')]);
  const name = `pcbench_${label}_${randomBytes(4).toString('hex')}`;
  const admin = async (statement: ReturnType<typeof sql>): Promise<void> => {
    const handle = openDatabase({ dataDir: '', databaseUrl: TEST_PG_URL, poolSize: 1 });
    try {
      await statement.execute(handle.db);
    } finally {
      await handle.db.destroy();
    }
  };
  // FORCE: a SIGKILLed worker's connections may not be gone yet.
  const drop = (): Promise<void> => admin(sql`drop database if exists ${sql.id(name)} with (force)`);
  await admin(sql`create database ${sql.id(name)}`);
  const url = new URL(TEST_PG_URL);
  url.pathname = `/${name}`;
  const handle = openDatabase({ dataDir: '', databaseUrl: url.href, poolSize: 1 });
  try {
    await migrateToLatest(handle);
  } catch (err) {
    await handle.db.destroy();
    await drop();
    throw err;
  }
  await handle.db.destroy();
  return { url: url.href, drop };
}

/** Deletes every Redis key under `prefix:` (a benchmark's own prefix). */
export async function deleteRedisKeys(prefix: string, redisUrl = REDIS_URL): Promise<number> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (keys.length > 0) deleted += await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

/** CPU time (user + system) a live process has used so far, ms; undefined once it is gone. */
export function procCpuMs(pid: number): number | undefined {
  try {
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th of the line.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    const ticksPerSecond = 100;
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
  } catch {
    return undefined;
  }
}

/** A pino log line of a worker process. */
export interface LogLine {
  level: number;
  msg?: string;
  [key: string]: unknown;
}

export interface WorkerProcess {
  /** Order of start within the benchmark (replacements get new numbers). */
  index: number;
  pid: number;
  proc: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Parsed JSON log lines so far (stdout); anything else is kept in `stderr()`. */
  logs: LogLine[];
  stderr(): string;
}

export interface WorkerSettings {
  /** postgres://… ; without it the workers share SQLite in `dataDir`. */
  databaseUrl?: string | undefined;
  dataDir?: string | undefined;
  /** redis://… for the BullMQ queue; without it the embedded queue in the database. */
  redisUrl?: string | undefined;
  redisPrefix: string;
  concurrency: number;
  leaseMs: number;
  /** PORTCULLIS_SHARD_PROBES: port scans of more probes are split into shard jobs (0: never). */
  shardProbes?: number | undefined;
}

/** The environment of `portcullis worker` for these settings, and nothing of the caller's PORTCULLIS_* settings. */
export function workerEnv(s: WorkerSettings): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PORTCULLIS_') && k !== 'DATABASE_URL' && k !== 'REDIS_URL'));
  return {
    ...env,
    PORTCULLIS_LOG_LEVEL: 'info',
    PORTCULLIS_REDIS_PREFIX: s.redisPrefix,
    PORTCULLIS_WORKER_CONCURRENCY: String(s.concurrency),
    PORTCULLIS_JOB_LEASE_MS: String(s.leaseMs),
    ...(s.databaseUrl !== undefined ? { DATABASE_URL: s.databaseUrl } : {}),
    ...(s.dataDir !== undefined ? { PORTCULLIS_DATA_DIR: s.dataDir } : {}),
    ...(s.redisUrl !== undefined ? { REDIS_URL: s.redisUrl } : {}),
    ...(s.shardProbes !== undefined ? { PORTCULLIS_SHARD_PROBES: String(s.shardProbes) } : {}),
  };
}

let workerCount = 0;

/** Starts `node dist/cli/main.js worker` and resolves once it logged that it is ready. */
export async function startWorkerProcess(env: NodeJS.ProcessEnv): Promise<WorkerProcess> {
  const proc = spawn(process.execPath, [CLI, 'worker'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  liveChildren.add(proc);
  const logs: LogLine[] = [];
  let stderr = '';
  let ready!: () => void;
  const isReady = new Promise<void>((resolve) => (ready = resolve));
  createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    try {
      const entry = JSON.parse(line) as LogLine;
      logs.push(entry);
      if (entry.msg === 'portcullis worker ready') ready();
    } catch {
      stderr += `${line}\n`;
    }
  });
  proc.stderr?.on('data', (b: Buffer) => {
    stderr += b.toString('utf8');
    if (stderr.length > 100_000) stderr = stderr.slice(-50_000);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => {
      liveChildren.delete(proc);
      resolve({ code, signal });
    }),
  );
  const worker: WorkerProcess = { index: ++workerCount, pid: proc.pid as number, proc, exited, logs, stderr: () => stderr };
  const failed = exited.then(({ code, signal }) => {
    throw new Error(`worker ${worker.index} exited (${code ?? signal}) before it was ready: ${stderr.slice(-2000)}`);
  });
  await Promise.race([isReady, failed]);
  failed.catch(() => undefined);
  return worker;
}

/** SIGTERM (the worker hands its running jobs back), SIGKILL after `graceMs` more. */
export async function stopWorkerProcess(worker: WorkerProcess, graceMs = 20_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (worker.proc.exitCode === null && worker.proc.signalCode === null) worker.proc.kill('SIGTERM');
  const timer = setTimeout(() => worker.proc.kill('SIGKILL'), graceMs);
  const exit = await worker.exited;
  clearTimeout(timer);
  return exit;
}

/** TLS endpoints served by a child process (bench/tls-fixture-server.ts) on 127.0.1.1 … 127.0.1.<addresses>. */
export interface TlsEndpoints {
  /** PEM of the test root that signed the served certificates. */
  root: string;
  endpoints: Array<{ name: string; host: string; port: number }>;
  pid: number;
  stop(): Promise<void>;
}

export async function startTlsEndpoints(addresses: number, fixtures: readonly string[]): Promise<TlsEndpoints> {
  // node itself (not the tsx wrapper), so `pid` is the process serving, whose CPU a benchmark can read.
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/tls-fixture-server.ts', String(addresses), ...fixtures], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  liveChildren.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`TLS fixture server exited ${code}`)));
  });
  const { root, endpoints } = JSON.parse(line) as Pick<TlsEndpoints, 'root' | 'endpoints'>;
  return {
    root,
    endpoints,
    pid: child.pid as number,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
      liveChildren.delete(child);
    },
  };
}

/**
 * The mixed workload of the scale-out benchmarks: port scans of consecutive blocks from 127.1.0.0
 * (no service detection) with a few of their addresses listening, and TLS scans of the fixture
 * endpoints (always assessed afresh).
 */
export interface ScaleWorkload {
  portScans: number;
  /** Addresses per port scan, a power of two (one CIDR block each). */
  addressesPerScan: number;
  /** The ports every port scan probes; the first two are open on two addresses of each block. */
  ports: number[];
  tlsScans: number;
  tlsTargetsPerScan: number;
}

export interface SubmittedWorkload {
  portScanIds: string[];
  tlsScanIds: string[];
  /** `ip:port` of the listeners, per port scan id: what each scan must report open. */
  expectedOpen: Map<string, Set<string>>;
  listeners: Listeners[];
  submittedMs: number;
}

function ipv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** The listeners a port scan of block `i` must find: 2 addresses × the first 2 ports. */
function blockListeners(w: ScaleWorkload, i: number): Array<{ ip: string; ports: number[] }> {
  const base = ((127 << 24) >>> 0) + (1 << 16) + i * w.addressesPerScan;
  return [1, w.addressesPerScan / 2 + 1].map((offset) => ({ ip: ipv4(base + offset), ports: w.ports.slice(0, 2) }));
}

/** `count` different ports nothing listens on, for the workload's port scans: their open ports are then exactly our listeners. */
export async function workloadPorts(count = 4): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) {
    const port = await freePort(40000, 49000);
    if (!ports.includes(port)) ports.push(port);
  }
  return ports;
}

export function portScanTarget(w: ScaleWorkload, i: number): string {
  const prefix = 32 - Math.log2(w.addressesPerScan);
  if (!Number.isInteger(prefix)) throw new Error(`addressesPerScan must be a power of two, got ${w.addressesPerScan}`);
  if ((i + 1) * w.addressesPerScan > 2 ** 24 - 2 ** 16) throw new Error('the port scans do not fit in 127.1.0.0-127.255.255.255');
  return `${ipv4(((127 << 24) >>> 0) + (1 << 16) + i * w.addressesPerScan)}/${prefix}`;
}

/** Opens the listeners, then submits every scan through the product's submit functions (store + queue). */
export async function submitWorkload(runtime: Runtime, w: ScaleWorkload, tls: TlsEndpoints | undefined): Promise<SubmittedWorkload> {
  const { submitPortScan, submitTlsScan } = await import('../src/jobs/index.js');
  const endpoints = tls?.endpoints ?? [];
  if (w.tlsScans > 0 && w.tlsTargetsPerScan > endpoints.length) throw new Error(`only ${endpoints.length} TLS endpoints for ${w.tlsTargetsPerScan} targets per scan`);
  const targets = Array.from({ length: w.portScans }, (_, i) => portScanTarget(w, i));
  const listeners: Listeners[] = [];
  const plans = Array.from({ length: w.portScans }, (_, i) => blockListeners(w, i));
  for (const plan of plans) for (const l of plan) listeners.push(await listenOn(l.ip, l.ports));
  const submittedMs = performance.now();
  const portScanIds: string[] = [];
  const tlsScanIds: string[] = [];
  const expectedOpen = new Map<string, Set<string>>();
  // Interleaved, so both kinds are in the queue from the start.
  for (let i = 0; i < Math.max(w.portScans, w.tlsScans); i++) {
    if (i < w.portScans) {
      const scan = await submitPortScan(runtime, { targets: [targets[i] as string], ports: w.ports.join(','), options: { serviceDetection: false } });
      portScanIds.push(scan.id);
      expectedOpen.set(scan.id, new Set((plans[i] ?? []).flatMap((l) => l.ports.map((p) => `${l.ip}:${p}`))));
    }
    if (i < w.tlsScans) {
      const hosts = Array.from({ length: w.tlsTargetsPerScan }, (_, k) => {
        const e = endpoints[(i * w.tlsTargetsPerScan + k) % endpoints.length] as TlsEndpoints['endpoints'][number];
        return `${e.host}:${e.port}`;
      });
      tlsScanIds.push((await submitTlsScan(runtime, { hosts, options: { fresh: true } })).id);
    }
  }
  return { portScanIds, tlsScanIds, expectedOpen, listeners, submittedMs };
}

export interface ScanOutcome {
  id: string;
  kind: 'port' | 'tls';
  status: string;
  error: string | undefined;
  job: { state: string; attemptsMade: number; maxAttempts: number; error: string | undefined } | undefined;
}

/** Every scan of the workload as stored now, with its queue job. */
export async function scanOutcomes(runtime: Runtime, submitted: SubmittedWorkload): Promise<ScanOutcome[]> {
  const { portScanJobIds, tlsScanJobId } = await import('../src/jobs/index.js');
  const job = async (jobId: string): Promise<ScanOutcome['job']> => {
    const info = await runtime.queue.get(jobId);
    return info && { state: info.state, attemptsMade: info.attemptsMade, maxAttempts: info.maxAttempts, error: info.error };
  };
  const ports = submitted.portScanIds.map(async (id): Promise<ScanOutcome> => {
    const scan = await runtime.store.portScans.get(id);
    // A split scan: the job that did not complete (a failed shard), else the scan's own.
    const jobs = await Promise.all(portScanJobIds({ id, shards: scan?.shards }).map(job));
    return { id, kind: 'port', status: scan?.status ?? 'missing', error: scan?.error?.message, job: jobs.find((j) => j !== undefined && j.state !== 'completed') ?? jobs[0] };
  });
  const tls = submitted.tlsScanIds.map(async (id): Promise<ScanOutcome> => {
    const scan = await runtime.store.tlsAssessments.getScan(id);
    return { id, kind: 'tls', status: scan?.status ?? 'missing', error: scan?.error?.message, job: await job(tlsScanJobId(id)) };
  });
  return Promise.all([...ports, ...tls]);
}

export const isUnfinished = (o: ScanOutcome): boolean => o.status === 'queued' || o.status === 'running';

/** Scans of the workload still queued or running: two queries, so polling stays cheap next to the workers. */
async function unfinishedScans(runtime: Runtime, submitted: SubmittedWorkload): Promise<Array<{ id: string; kind: 'port' | 'tls' }>> {
  const { sql } = await import('kysely');
  const db = runtime.store.handle.db;
  const select = async (table: string, ids: string[], kind: 'port' | 'tls') =>
    ids.length === 0
      ? []
      : (await sql<{ id: string }>`select id from ${sql.table(table)} where id in (${sql.join(ids)}) and status in ('queued', 'running')`.execute(db)).rows.map((r) => ({ id: r.id, kind }));
  return [...(await select('port_scans', submitted.portScanIds, 'port')), ...(await select('tls_scans', submitted.tlsScanIds, 'tls'))];
}

/** Polls until every scan of the workload finished or its job did (a job failed under a scan left running), or the deadline passes. */
export async function waitForWorkload(runtime: Runtime, submitted: SubmittedWorkload, timeoutMs: number, pollMs = 250): Promise<{ outcomes: ScanOutcome[]; finishedMs: number; timedOut: boolean }> {
  const { portScanJobIds, tlsScanJobId } = await import('../src/jobs/index.js');
  const started = performance.now();
  let jobsCheckedAt = started;
  for (;;) {
    const unfinished = await unfinishedScans(runtime, submitted);
    const now = performance.now();
    let settled = unfinished.length === 0;
    // A scan left running by a job that failed never finishes: look at the jobs now and then.
    if (!settled && now - jobsCheckedAt > 2000) {
      jobsCheckedAt = now;
      const jobIds = await Promise.all(unfinished.map(async (u) => (u.kind === 'port' ? portScanJobIds({ id: u.id, shards: (await runtime.store.portScans.get(u.id))?.shards }) : [tlsScanJobId(u.id)])));
      const jobs = await Promise.all(jobIds.map((ids) => Promise.all(ids.map((id) => runtime.queue.get(id)))));
      // Settled when no scan has a job that may still finish it (a split scan: any shard or its finalize job).
      settled = jobs.every((ofScan) => !ofScan.some((j) => j !== undefined && (j.state === 'waiting' || j.state === 'active')));
    }
    if (settled || now - started > timeoutMs) return { outcomes: await scanOutcomes(runtime, submitted), finishedMs: now, timedOut: !settled };
    await sleep(pollMs);
  }
}

/** What the stored results of the workload look like: duplicates and gaps must be 0. */
export interface WorkloadIntegrity {
  /** port_results rows sharing (scan, ip, protocol, port) beyond the first. */
  duplicatePortRows: number;
  /** scan_hosts rows sharing (scan, ip) beyond the first. */
  duplicateHostRows: number;
  /** tls_assessments rows sharing (scan, host, port) beyond the first. */
  duplicateTlsAssessments: number;
  /** tls_scan_targets rows sharing (scan, host, port) beyond the first. */
  duplicateTlsTargets: number;
  /** Finished scans missing something: hosts, targets, an answer for a target, an expected open port. */
  gaps: string[];
  /** Open ports stored that no listener of ours explains (another process's wildcard listener). */
  unexpectedOpen: string[];
  rows: { hosts: number; ports: number; tlsAssessments: number; tlsTargets: number };
}

export async function checkWorkload(runtime: Runtime, submitted: SubmittedWorkload): Promise<WorkloadIntegrity> {
  const { sql } = await import('kysely');
  const db = runtime.store.handle.db;
  const count = async (query: ReturnType<typeof sql>): Promise<number> => Number(((await query.execute(db)).rows[0] as { n: number | string }).n);
  const portIds = submitted.portScanIds.length > 0 ? submitted.portScanIds : [''];
  const tlsIds = submitted.tlsScanIds.length > 0 ? submitted.tlsScanIds : [''];
  const inPort = sql`(${sql.join(portIds)})`;
  const inTls = sql`(${sql.join(tlsIds)})`;
  const surplus = (table: string, keys: string, scans: typeof inPort) =>
    count(sql`select coalesce(sum(n - 1), 0) as n from (select count(*) as n from ${sql.table(table)} where scan_id in ${scans} group by ${sql.raw(keys)} having count(*) > 1) d`);
  const integrity: WorkloadIntegrity = {
    duplicatePortRows: await surplus('port_results', 'scan_id, ip, protocol, port', inPort),
    duplicateHostRows: await surplus('scan_hosts', 'scan_id, ip', inPort),
    duplicateTlsAssessments: await surplus('tls_assessments', 'scan_id, host, port', inTls),
    duplicateTlsTargets: await surplus('tls_scan_targets', 'scan_id, host, port', inTls),
    gaps: [],
    unexpectedOpen: [],
    rows: {
      hosts: await count(sql`select count(*) as n from scan_hosts where scan_id in ${inPort}`),
      ports: await count(sql`select count(*) as n from port_results where scan_id in ${inPort}`),
      tlsAssessments: await count(sql`select count(*) as n from tls_assessments where scan_id in ${inTls}`),
      tlsTargets: await count(sql`select count(*) as n from tls_scan_targets where scan_id in ${inTls}`),
    },
  };
  const portScans = await sql<{ id: string; address_count: number | string; hosts_done: number | string; stored: number | string }>`
    select s.id, s.address_count, s.hosts_done, (select count(*) from scan_hosts h where h.scan_id = s.id) as stored
      from port_scans s where s.id in ${inPort} and s.status = 'done'`.execute(db);
  for (const s of portScans.rows) {
    if (Number(s.stored) !== Number(s.address_count) || Number(s.hosts_done) !== Number(s.address_count)) {
      integrity.gaps.push(`port scan ${s.id} done with ${s.stored} hosts stored (hosts_done ${s.hosts_done}) of ${s.address_count}`);
    }
  }
  const done = new Set(portScans.rows.map((s) => s.id));
  const open = await sql<{ scan_id: string; ip: string; port: number }>`select scan_id, ip, port from port_results where scan_id in ${inPort} and state = 'open'`.execute(db);
  const openByScan = new Map<string, Set<string>>();
  for (const r of open.rows) {
    const key = `${r.ip}:${r.port}`;
    openByScan.set(r.scan_id, (openByScan.get(r.scan_id) ?? new Set()).add(key));
    if (!submitted.expectedOpen.get(r.scan_id)?.has(key)) integrity.unexpectedOpen.push(`${r.scan_id} ${key}`);
  }
  for (const id of done) {
    for (const key of submitted.expectedOpen.get(id) ?? []) if (!openByScan.get(id)?.has(key)) integrity.gaps.push(`port scan ${id} done without the open port ${key}`);
  }
  const tlsScans = await sql<{ id: string; progress_total: number | string; stored: number | string; unanswered: number | string; dangling: number | string }>`
    select s.id, s.progress_total,
           (select count(*) from tls_scan_targets t where t.scan_id = s.id) as stored,
           (select count(*) from tls_scan_targets t where t.scan_id = s.id and t.assessment_id is null and t.error is null) as unanswered,
           (select count(*) from tls_scan_targets t where t.scan_id = s.id and t.assessment_id is not null
              and not exists (select 1 from tls_assessments a where a.id = t.assessment_id)) as dangling
      from tls_scans s where s.id in ${inTls} and s.status = 'done'`.execute(db);
  for (const s of tlsScans.rows) {
    if (Number(s.stored) !== Number(s.progress_total)) integrity.gaps.push(`TLS scan ${s.id} done with ${s.stored} of ${s.progress_total} targets stored`);
    if (Number(s.unanswered) > 0) integrity.gaps.push(`TLS scan ${s.id} done with ${s.unanswered} targets neither assessed nor failed`);
    if (Number(s.dangling) > 0) integrity.gaps.push(`TLS scan ${s.id} done with ${s.dangling} targets pointing at no stored assessment`);
  }
  return integrity;
}

/** A small seeded PRNG (mulberry32), so a benchmark's random choices can be replayed with its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
