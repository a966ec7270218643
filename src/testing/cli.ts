import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { CliIo } from '../cli/io.js';

/**
 * Helpers for end-to-end tests of the built `portcullis` binary (dist/cli/main.js, built by
 * `npm run build`; `npm test` builds first). Every process and temporary folder they create is
 * tracked, so a suite's afterAll can remove them all even when a test failed half-way.
 */

export const CLI_BIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export function assertBuilt(): void {
  if (!existsSync(CLI_BIN)) throw new Error(`${CLI_BIN} is missing: run \`npm run build\` first (npm test does it)`);
}

/**
 * The environment of a spawned CLI: the parent's, minus every Portcullis and database setting, so a
 * DATABASE_URL or PORTCULLIS_* of the machine running the tests cannot change what is tested.
 */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('PORTCULLIS_') || k.startsWith('DATABASE_') || k === 'NODE_OPTIONS' || k === 'FORCE_COLOR') continue;
    env[k] = v;
  }
  return { ...env, NO_COLOR: '1', ...extra };
}

const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();

export function tempDir(prefix = 'portcullis-cli-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

/** Kills every child still running (SIGKILL) and removes every temporary folder. For afterAll. */
export async function cleanupCli(): Promise<void> {
  await Promise.all(
    [...children].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
  children.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface SpawnedCli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves when the process has exited (never rejects). */
  exited: Promise<CliRun>;
}

export function spawnCli(args: string[], options: { env?: Record<string, string>; cwd?: string } = {}): SpawnedCli {
  assertBuilt();
  const child = spawn(process.execPath, [CLI_BIN, ...args], {
    cwd: options.cwd ?? tempDir(),
    env: cleanEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = new Promise<CliRun>((resolve) => {
    child.once('error', (err) => {
      stderr += `spawn error: ${err.message}`;
      resolve({ code: null, signal: null, stdout, stderr });
    });
    // 'close' waits for stdout/stderr to be drained, so the output is complete.
    child.once('close', (code, signal) => {
      children.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** Runs the binary to completion; kills it and fails if it takes longer than timeoutMs. */
export async function runBin(args: string[], options: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<CliRun> {
  const run = spawnCli(args, options);
  const timeoutMs = options.timeoutMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      run.child.kill('SIGKILL');
      reject(new Error(`portcullis ${args.join(' ')} did not finish within ${timeoutMs} ms\nstdout: ${run.stdout()}\nstderr: ${run.stderr()}`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([run.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface ServeProcess extends SpawnedCli {
  port: number;
  url: string;
  dataDir: string;
  /** The admin key the first start printed, or the one passed in for a restart. */
  apiKey: string;
  /** Sends a signal and waits for the exit, failing after timeoutMs. */
  stop(signal: NodeJS.Signals, timeoutMs?: number): Promise<CliRun>;
}

/**
 * Starts `portcullis serve` on 127.0.0.1:<port> with its SQLite store in dataDir and waits until
 * /readyz answers 200.
 */
export async function startServe(options: { port: number; dataDir: string; env?: Record<string, string>; readyTimeoutMs?: number; apiKey?: string }): Promise<ServeProcess> {
  const url = `http://127.0.0.1:${options.port}`;
  const run = spawnCli(['serve'], {
    env: {
      PORTCULLIS_HOST: '127.0.0.1',
      PORTCULLIS_PORT: String(options.port),
      PORTCULLIS_DATA_DIR: options.dataDir,
      PORTCULLIS_LOG_LEVEL: 'warn',
      ...options.env,
    },
  });
  let exitedEarly: CliRun | undefined;
  void run.exited.then((r) => (exitedEarly = r));
  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  for (;;) {
    if (exitedEarly) throw new Error(`portcullis serve exited (code ${exitedEarly.code}, signal ${exitedEarly.signal}) before it was ready\nstdout: ${exitedEarly.stdout}\nstderr: ${exitedEarly.stderr}`);
    try {
      const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      run.child.kill('SIGKILL');
      throw new Error(`portcullis serve on ${url} was not ready after ${options.readyTimeoutMs ?? 30_000} ms\nstdout: ${run.stdout()}\nstderr: ${run.stderr()}`);
    }
    await sleep(100);
  }
  const apiKey = options.apiKey ?? printedKey(run.stderr());
  if (apiKey === undefined) {
    run.child.kill('SIGKILL');
    throw new Error(`portcullis serve on a new data directory printed no bootstrap key\nstderr: ${run.stderr()}`);
  }
  return {
    ...run,
    port: options.port,
    url,
    dataDir: options.dataDir,
    apiKey,
    stop: async (signal, timeoutMs = 20_000) => {
      run.child.kill(signal);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          run.child.kill('SIGKILL');
          reject(new Error(`portcullis serve did not exit within ${timeoutMs} ms of ${signal}\nstdout: ${run.stdout()}\nstderr: ${run.stderr()}`));
        }, timeoutMs);
      });
      try {
        return await Promise.race([run.exited, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The API key a first `serve` printed on stderr (the bootstrap admin key), if any. */
export function printedKey(stderr: string): string | undefined {
  return /pcl_[a-z2-7]{16}_[A-Za-z0-9_-]{43}/.exec(stderr)?.[0];
}

/** Minimal JSON client for the API of a spawned server. */
export async function apiJson(method: 'GET' | 'POST' | 'DELETE', url: string, body: unknown, apiKey: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${apiKey}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** Polls a scan until it is done, failed or cancelled. */
export async function waitForScanDone(server: { url: string; apiKey: string }, id: string, timeoutMs = 60_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { status, body } = await apiJson('GET', `${server.url}/api/v1/port-scans/${id}?hosts=all&limit=1000`, undefined, server.apiKey);
    if (status === 200 && ['done', 'failed', 'cancelled'].includes(body.status)) return body;
    if (Date.now() > deadline) throw new Error(`scan ${id} still ${body?.status} after ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** Captured in-process CLI streams for runCli (not a TTY); writes are recorded synchronously. */
export function captureIo(env: Record<string, string | undefined> = {}): CliIo & { out(): string; err(): string } {
  let out = '';
  let err = '';
  const stdout = new Writable({ write: (chunk: Buffer | string, _enc, cb) => ((out += chunk.toString()), cb()) });
  const stderr = new Writable({ write: (chunk: Buffer | string, _enc, cb) => ((err += chunk.toString()), cb()) });
  return { stdout, stderr, env, out: () => out, err: () => err };
}

/**
 * startServe on a port that was free a moment ago (bound on 127.0.0.1 and released). Another process
 * could take it in between, so a start that fails is retried on a new port.
 */
export async function startServeOnFreePort(options: { dataDir: string; env?: Record<string, string>; apiKey?: string }): Promise<ServeProcess> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    try {
      return await startServe({ ...options, port });
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * A range of `width` ports below the usual ephemeral range on which nothing listens right now,
 * read from /proc/net/tcp{,6} (no connection is made), so a wide loopback scan touches only the
 * listeners a test starts itself and not the machine's own services. Without /proc (not Linux) it
 * falls back to 20000-(20000+width-1).
 */
export function quietPortRange(width: number, from = 10_000, to = 32_000): { first: number; last: number } {
  const listening = new Set<number>();
  let readable = false;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
      readable = true;
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // cols[1] is local address:port in hex, cols[3] the state (0A = LISTEN).
      if (cols.length > 3 && cols[3] === '0A') listening.add(parseInt(cols[1]!.split(':').pop()!, 16));
    }
  }
  if (!readable) return { first: 20_000, last: 20_000 + width - 1 };
  for (let first = from; first + width - 1 <= to; ) {
    const busy = [...listening].filter((p) => p >= first && p < first + width);
    if (busy.length === 0) return { first, last: first + width - 1 };
    first = Math.max(...busy) + 1;
  }
  throw new Error(`no ${width} consecutive free ports between ${from} and ${to}`);
}
