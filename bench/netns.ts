/**
 * A network namespace for the benchmarks that scan hosts behind a firewall (netns-top1000.ts,
 * shard-scaling.ts --netns): a veth pair to the host, optional address blocks the namespace answers
 * for, iptables INPUT rules and a netem delay. Created by `createBenchNamespace` and always removed:
 * by `cleanup()` (call it in `finally`), and on exit, SIGINT, SIGTERM and SIGHUP.
 *
 * Every address involved must lie in 198.18.0.0/15 (RFC 2544, benchmarking): nothing routed here can
 * be anyone's network. Needs root, `ip`, `iptables` (nf_tables or legacy); `tc netem` when the kernel
 * has it. One namespace per process at a time (the veth names derive from the pid).
 */
import { type ChildProcess, type SpawnOptions, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { killLiveChildren, liveChildPids, shellLine } from './lib.js';

export interface ShOptions {
  ignoreFailure?: boolean;
}

/** Runs a command synchronously and returns its stdout; throws with its stderr unless `ignoreFailure`. */
export function sh(cmd: string, args: readonly string[], opts: ShOptions = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    if (opts.ignoreFailure) return '';
    const e = err as { stderr?: string };
    throw new Error(`${shellLine(cmd, args)} failed: ${e.stderr ?? String(err)}`);
  }
}

export interface BenchNamespaceOptions {
  /** Host end of the veth pair (a /30 with `nsIp`). */
  hostIp: string;
  /** Namespace end of the veth pair. */
  nsIp: string;
  /** CIDR blocks routed from the host to the namespace, where every address is local: each answers like a host of its own. */
  routes?: readonly string[];
  /** The namespace's iptables INPUT rules in order, each the arguments after `-A INPUT`. */
  rules: ReadonlyArray<readonly string[]>;
  /** Delay of everything the namespace sends (its replies), by netem on its veth end, when the kernel has netem. */
  netemDelayMs: number;
}

export interface BenchNamespace {
  name: string;
  vethHost: string;
  vethNs: string;
  /** Whether the netem delay is applied, or why not (for the report). */
  netem: string;
  /** Runs a command in the namespace synchronously; its stdout. */
  run(cmd: string, args: readonly string[], opts?: ShOptions): string;
  /** Starts a process in the namespace; `cleanup()` SIGKILLs it if it is still running. */
  spawn(cmd: string, args: readonly string[], options: SpawnOptions): ChildProcess;
  /** Synchronous and idempotent, so safe from 'exit' and signal handlers. */
  cleanup(): void;
}

/** 198.18.0.0/15: the only addresses a namespace of the benchmarks may use. */
function inBenchmarkRange(cidr: string): boolean {
  const [ip = '', prefix = '32'] = cidr.split('/');
  const octets = ip.split('.').map(Number);
  return octets.length === 4 && octets[0] === 198 && (octets[1] === 18 || octets[1] === 19) && Number(prefix) >= 15;
}

/** Blocks until every pid is gone or a zombie (its sockets closed), at most `timeoutMs`. */
function waitUntilDead(pids: readonly number[], timeoutMs: number): void {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + timeoutMs;
  const alive = (pid: number): boolean => {
    try {
      return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return false;
    }
  };
  while (pids.some(alive) && Date.now() < deadline) Atomics.wait(pause, 0, 0, 10);
}

export function createBenchNamespace(opts: BenchNamespaceOptions): BenchNamespace {
  const outside = [opts.hostIp, opts.nsIp, ...(opts.routes ?? [])].filter((a) => !inBenchmarkRange(a));
  if (outside.length > 0) throw new Error(`namespace addresses must lie in 198.18.0.0/15: ${outside.join(', ')}`);
  const id = `${process.pid % 100000}`;
  const name = `pcbench-${id}-${Date.now().toString(36)}`;
  const vethHost = `pcbh${id}`;
  const vethNs = `pcbn${id}`;
  const children: ChildProcess[] = [];
  let created = false;
  const running = (c: ChildProcess): boolean => c.exitCode === null && c.signalCode === null;

  const run = (cmd: string, args: readonly string[], o: ShOptions = {}): string => sh('ip', ['netns', 'exec', name, cmd, ...args], o);

  const cleanup = (): void => {
    // Scanners first, and until they are gone: once the veth is gone, the namespace's addresses would follow the default route.
    const pids = [...liveChildPids(), ...children.filter(running).flatMap((c) => (c.pid === undefined ? [] : [c.pid]))];
    killLiveChildren();
    for (const c of children) {
      try {
        if (running(c)) c.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
    waitUntilDead(pids, 5000);
    if (!created) return;
    sh('ip', ['link', 'del', vethHost], { ignoreFailure: true });
    sh('ip', ['netns', 'del', name], { ignoreFailure: true });
    created = false;
    const left = sh('ip', ['netns', 'list'], { ignoreFailure: true }).includes(name) || sh('ip', ['link', 'show'], { ignoreFailure: true }).includes(vethHost);
    console.error(left ? `[bench] WARNING: ${name} or ${vethHost} is still present` : `[bench] removed namespace ${name} and veth ${vethHost}`);
  };

  process.on('exit', cleanup);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      cleanup();
      process.exit(130);
    });
  }

  try {
    sh('ip', ['netns', 'add', name]);
    created = true;
    sh('ip', ['link', 'add', vethHost, 'type', 'veth', 'peer', 'name', vethNs]);
    sh('ip', ['link', 'set', vethNs, 'netns', name]);
    sh('ip', ['addr', 'add', `${opts.hostIp}/30`, 'dev', vethHost]);
    sh('ip', ['link', 'set', vethHost, 'up']);
    run('ip', ['addr', 'add', `${opts.nsIp}/30`, 'dev', vethNs]);
    run('ip', ['link', 'set', vethNs, 'up']);
    run('ip', ['link', 'set', 'lo', 'up']);
    for (const block of opts.routes ?? []) {
      run('ip', ['route', 'add', 'local', block, 'dev', 'lo']);
      sh('ip', ['route', 'add', block, 'via', opts.nsIp, 'dev', vethHost]);
    }
    for (const rule of opts.rules) run('iptables', ['-A', 'INPUT', ...rule]);
  } catch (err) {
    cleanup();
    throw err;
  }

  let netem: string;
  try {
    run('tc', ['qdisc', 'add', 'dev', vethNs, 'root', 'netem', 'delay', `${opts.netemDelayMs}ms`]);
    netem = `yes: \`tc qdisc add dev <ns-veth> root netem delay ${opts.netemDelayMs}ms\` (replies from the namespace are delayed ${opts.netemDelayMs} ms)`;
  } catch (err) {
    netem = `no — the kernel refused netem (${(err as Error).message.split('\n').find((l) => l.includes('Error')) ?? (err as Error).message.trim()}); the link has veth latency only`;
  }

  return {
    name,
    vethHost,
    vethNs,
    netem,
    run,
    spawn: (cmd, args, options) => {
      const child = spawn('ip', ['netns', 'exec', name, cmd, ...args], options);
      children.push(child);
      return child;
    },
    cleanup,
  };
}
