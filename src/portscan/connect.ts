/**
 * One TCP connect probe and its classification, as nmap's connect scan does it
 * (scan_engine_connect.cc; shared/reference/port-scanning.md §1.3).
 *
 * Two implementations share the classification:
 * - `socketConnector`: a public `net.Socket`. About 0.8 s of JavaScript per 65,535 probes on a
 *   2-vCPU machine (stream machinery, an Error with a stack per refused port), so a full loopback scan
 *   takes ~2 s, twice nmap's best case.
 * - `handleConnector`: the same libuv TCP handle `net.Socket` wraps, driven directly through Node's
 *   allow-listed `process.binding('tcp_wrap')` (what `net` itself uses). Same syscalls, no stream and
 *   no Error objects: ~0.2 s of JavaScript per 65,535 probes, so a full loopback scan takes ~1.1 s,
 *   like nmap. It is used by default when the binding is present and has the expected shape; anything
 *   unexpected (a future Node without it, `--pending-deprecation`) falls back to `net.Socket`.
 * Both close connected sockets with RST (SO_LINGER 0), like nmap, so nothing lingers in TIME_WAIT.
 *
 * A timeout is only declared from `setImmediate`, after the event loop has polled for I/O: when the
 * loop was blocked (a busy store, a large JSON response), expired timers run before pending I/O, and
 * a reply that arrived during the stall would otherwise be taken for a drop, making an open port look
 * filtered.
 */
import net from 'node:net';
import { availableParallelism } from 'node:os';
import { getSystemErrorName } from 'node:util';
import { SHARE_ENV, Worker } from 'node:worker_threads';
import type { PortReason, PortState } from '../shared/model.js';

/** What one connect attempt told us. */
export type ProbeOutcome =
  /** The target answered: the port state is decided. */
  | { kind: 'reply'; state: PortState; reason: PortReason; rttMs: number; code?: string }
  /**
   * No answer within the timeout (or ETIMEDOUT/EHOSTDOWN, or an errno nmap does not know): a drop,
   * eligible for retransmission.
   */
  | { kind: 'drop'; rttMs?: number; code?: string }
  /**
   * The socket connected to itself (on loopback the kernel picked the target port as our source
   * port: TCP simultaneous open). Says nothing about the port: probe again.
   */
  | { kind: 'self-connect'; rttMs: number }
  /** Local resource exhaustion (EMFILE, ENFILE, EADDRNOTAVAIL, ENOBUFS...): no probe went out. */
  | { kind: 'resource'; code: string }
  /** nmap bails out of the scan on these: ENETDOWN, ENETRESET, ECONNABORTED. */
  | { kind: 'fatal'; code: string }
  /** The signal fired while the probe was in flight; the socket has been destroyed. */
  | { kind: 'aborted' };

/** Connects to (ip, port), gives up after `timeoutMs`, and never rejects. */
export type Connector = (ip: string, port: number, timeoutMs: number, signal?: AbortSignal) => Promise<ProbeOutcome>;

const RESOURCE_CODES = new Set(['EMFILE', 'ENFILE', 'EADDRNOTAVAIL', 'ENOBUFS', 'ENOMEM', 'EAGAIN', 'EADDRINUSE']);
const FATAL_CODES = new Set(['ENETDOWN', 'ENETRESET', 'ECONNABORTED']);

/**
 * nmap's table for a failed connect() (scan_engine_connect.cc `handleConnectResult`): the errno
 * becomes a port state and a reason, a drop, a local resource problem, or a fatal error. EPERM (a
 * local firewall rule) is read like EACCES. Exported for tests.
 */
export function classifyError(code: string | undefined, rttMs: number): ProbeOutcome {
  switch (code) {
    case 'ECONNREFUSED':
      return { kind: 'reply', state: 'closed', reason: 'conn-refused', rttMs };
    case 'EHOSTUNREACH':
      return { kind: 'reply', state: 'filtered', reason: 'host-unreach', rttMs, code };
    case 'ENETUNREACH':
      return { kind: 'reply', state: 'filtered', reason: 'net-unreach', rttMs, code };
    case 'EACCES':
    case 'EPERM':
      return { kind: 'reply', state: 'filtered', reason: 'admin-prohibited', rttMs, code };
    case 'ENOPROTOOPT':
      return { kind: 'reply', state: 'filtered', reason: 'proto-unreach', rttMs, code };
    case 'ENONET':
      return { kind: 'reply', state: 'filtered', reason: 'dest-unreach', rttMs, code };
    case 'ETIMEDOUT':
    case 'EHOSTDOWN':
      return { kind: 'drop', rttMs, code };
    default:
      if (code !== undefined && RESOURCE_CODES.has(code)) return { kind: 'resource', code };
      if (code !== undefined && FATAL_CODES.has(code)) return { kind: 'fatal', code };
      // nmap logs a "strange error" and leaves the port to time out: it ends up filtered/no-response.
      return { kind: 'drop', rttMs, code: code ?? 'EUNKNOWN' };
  }
}

// ---------------------------------------------------------------------------------------------
// Abort fan-out: one 'abort' listener per signal however many probes are in flight (EventTarget
// warns past 10 listeners and removes them in O(n)).

const abortWaiters = new WeakMap<AbortSignal, Set<() => void>>();

function onAbort(signal: AbortSignal, cb: () => void): () => void {
  let set = abortWaiters.get(signal);
  if (set === undefined) {
    const waiters = new Set<() => void>();
    set = waiters;
    abortWaiters.set(signal, waiters);
    signal.addEventListener(
      'abort',
      () => {
        abortWaiters.delete(signal);
        for (const w of waiters) w();
        waiters.clear();
      },
      { once: true },
    );
  }
  set.add(cb);
  const s = set;
  return () => s.delete(cb);
}

// ---------------------------------------------------------------------------------------------
// net.Socket connector.

const noop = (): void => {};

/** A connect probe with the public `net.Socket` API. */
export const socketConnector: Connector = (ip, port, timeoutMs, signal) =>
  new Promise<ProbeOutcome>((resolve) => {
    if (signal?.aborted === true) {
      resolve({ kind: 'aborted' });
      return;
    }
    const started = performance.now();
    const socket = new net.Socket();
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    let unregister = noop;
    const finish = (outcome: ProbeOutcome, reset: boolean): void => {
      if (done) return;
      done = true;
      if (timer !== undefined) clearTimeout(timer);
      unregister();
      socket.removeAllListeners();
      socket.on('error', noop); // a late error on a destroyed socket must not crash the process
      if (reset && !socket.destroyed) socket.resetAndDestroy();
      else socket.destroy();
      resolve(outcome);
    };
    socket.once('connect', () => {
      const rttMs = performance.now() - started;
      if (socket.localPort === port && socket.localAddress === socket.remoteAddress) finish({ kind: 'self-connect', rttMs }, true);
      else finish({ kind: 'reply', state: 'open', reason: 'syn-ack', rttMs }, true);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => finish(classifyError(err.code, performance.now() - started), false));
    timer = setTimeout(() => setImmediate(() => finish({ kind: 'drop' }, false)), timeoutMs);
    if (signal !== undefined) unregister = onAbort(signal, () => finish({ kind: 'aborted' }, false));
    socket.connect({ port, host: ip, family: net.isIPv6(ip) ? 6 : 4 });
  });

// ---------------------------------------------------------------------------------------------
// Handle connector.

interface TcpHandle {
  connect(req: ConnectReq, address: string, port: number): number;
  connect6(req: ConnectReq, address: string, port: number): number;
  getsockname(out: { address?: string; port?: number; family?: string }): number;
  getpeername(out: { address?: string; port?: number; family?: string }): number;
  reset(cb: () => void): number;
  close(cb?: () => void): void;
}
interface ConnectReq {
  oncomplete: (status: number) => void;
  address: string;
  port: number;
}
interface TcpWrapBinding {
  TCP: new (type: number) => TcpHandle;
  TCPConnectWrap: new () => ConnectReq;
  constants: { SOCKET: number };
}

function loadTcpWrap(): TcpWrapBinding | undefined {
  // process.binding is deprecated (DEP0111, documentation-only): stay off it when the user asked Node
  // to surface deprecations, so they never see a warning we caused.
  if (process.execArgv.some((f) => /^--(pending|throw)-deprecation$/.test(f)) || process.throwDeprecation === true) return undefined;
  try {
    const binding = (process as unknown as { binding?: (name: string) => unknown }).binding?.('tcp_wrap') as Partial<TcpWrapBinding> | undefined;
    if (binding === undefined || typeof binding.TCP !== 'function' || typeof binding.TCPConnectWrap !== 'function') return undefined;
    if (typeof binding.constants?.SOCKET !== 'number') return undefined;
    const proto = binding.TCP.prototype as Partial<TcpHandle>;
    if (typeof proto.connect !== 'function' || typeof proto.connect6 !== 'function' || typeof proto.getsockname !== 'function' || typeof proto.getpeername !== 'function' || typeof proto.reset !== 'function' || typeof proto.close !== 'function') return undefined;
    return binding as TcpWrapBinding;
  } catch {
    return undefined;
  }
}

const tcpWrap = loadTcpWrap();

function errorName(status: number): string | undefined {
  try {
    return getSystemErrorName(status);
  } catch {
    return undefined;
  }
}

function makeHandleConnector(b: TcpWrapBinding): Connector {
  const { TCP, TCPConnectWrap, constants } = b;
  return (ip, port, timeoutMs, signal) =>
    new Promise<ProbeOutcome>((resolve) => {
      if (signal?.aborted === true) {
        resolve({ kind: 'aborted' });
        return;
      }
      const v6 = net.isIPv6(ip);
      if (!v6 && !net.isIPv4(ip)) {
        resolve({ kind: 'fatal', code: 'EINVAL' });
        return;
      }
      const handle = new TCP(constants.SOCKET);
      const req = new TCPConnectWrap();
      let done = false;
      let timer: NodeJS.Timeout | undefined;
      let unregister = noop;
      const started = performance.now();
      const finish = (outcome: ProbeOutcome, reset: boolean): void => {
        if (done) return;
        done = true;
        if (timer !== undefined) clearTimeout(timer);
        unregister();
        // reset() sends RST and closes; it fails on a socket that is not connected.
        if (!reset || handle.reset(noop) !== 0) handle.close();
        resolve(outcome);
      };
      req.oncomplete = (status: number) => {
        if (done) return; // the handle was closed by a timeout or an abort (UV_ECANCELED)
        const rttMs = performance.now() - started;
        if (status === 0) {
          const local: { address?: string; port?: number } = {};
          handle.getsockname(local);
          let self = false;
          if (local.port === port) {
            const peer: { address?: string } = {};
            handle.getpeername(peer);
            self = local.address === peer.address;
          }
          if (self) finish({ kind: 'self-connect', rttMs }, true);
          else finish({ kind: 'reply', state: 'open', reason: 'syn-ack', rttMs }, true);
        } else {
          finish(classifyError(errorName(status), rttMs), false);
        }
      };
      req.address = ip;
      req.port = port;
      const err = v6 ? handle.connect6(req, ip, port) : handle.connect(req, ip, port);
      if (err !== 0) {
        finish(classifyError(errorName(err), performance.now() - started), false);
        return;
      }
      timer = setTimeout(() => setImmediate(() => finish({ kind: 'drop' }, false)), timeoutMs);
      if (signal !== undefined) unregister = onAbort(signal, () => finish({ kind: 'aborted' }, false));
    });
}

/** The libuv-handle connector, or undefined when this Node does not expose `tcp_wrap` as expected. */
export const handleConnector: Connector | undefined = tcpWrap === undefined ? undefined : makeHandleConnector(tcpWrap);

// ---------------------------------------------------------------------------------------------
// Two-lane connector: on loopback, connect() and close() are kernel work done synchronously in the
// calling thread (~1.2 s of CPU for 65,535 ports), so one event loop is CPU-bound. A second lane in a
// worker thread runs the same handle probes on the other core; a full loopback scan drops from ~1.4 s
// to ~0.9 s. The worker is plain JavaScript evaluated from a string (no module resolution, works from
// TypeScript sources and from dist), created on first need, and only referenced while it has probes.

/** Status the worker reports for a probe that timed out (errno values are negative). */
const WORKER_TIMEOUT = 1;

const WORKER_SOURCE = `
'use strict';
const { parentPort } = require('node:worker_threads');
const { isIPv6 } = require('node:net');
const { TCP, TCPConnectWrap, constants } = process.binding('tcp_wrap');
const TIMEOUT = ${WORKER_TIMEOUT};
const probes = new Map();
const noop = () => {};
let out = [];
let scheduled = false;
const flush = () => { scheduled = false; if (out.length === 0) return; const o = out; out = []; parentPort.postMessage(o); };
const report = (id, status, rtt, self) => { out.push(id, status, rtt, self); if (!scheduled) { scheduled = true; setImmediate(flush); } };
function settle(id, p, status, rtt, self, reset) {
  probes.delete(id);
  if (p.timer !== undefined) clearTimeout(p.timer);
  if (!reset || p.handle.reset(noop) !== 0) p.handle.close();
  report(id, status, rtt, self);
}
function start(id, ip, port, timeoutMs) {
  const handle = new TCP(constants.SOCKET);
  const req = new TCPConnectWrap();
  const p = { handle, timer: undefined };
  const started = performance.now();
  req.oncomplete = (status) => {
    if (probes.get(id) !== p) return;
    const rtt = performance.now() - started;
    if (status === 0) {
      const local = {};
      handle.getsockname(local);
      let self = 0;
      if (local.port === port) { const peer = {}; handle.getpeername(peer); if (peer.address === local.address) self = 1; }
      settle(id, p, 0, rtt, self, true);
    } else settle(id, p, status, rtt, 0, false);
  };
  req.address = ip;
  req.port = port;
  probes.set(id, p);
  const err = isIPv6(ip) ? handle.connect6(req, ip, port) : handle.connect(req, ip, port);
  if (err !== 0) { settle(id, p, err, performance.now() - started, 0, false); return; }
  p.timer = setTimeout(() => setImmediate(() => { if (probes.get(id) === p) { probes.delete(id); handle.close(); report(id, TIMEOUT, -1, 0); } }), timeoutMs);
}
parentPort.on('message', (msg) => {
  if (msg.cancel !== undefined) {
    for (const id of msg.cancel) { const p = probes.get(id); if (p !== undefined) { probes.delete(id); if (p.timer !== undefined) clearTimeout(p.timer); p.handle.close(); } }
  }
  if (msg.probe !== undefined) { const b = msg.probe; for (let i = 0; i < b.length; i += 4) start(b[i], b[i + 1], b[i + 2], b[i + 3]); }
});
`;

interface PendingProbe {
  ip: string;
  port: number;
  timeoutMs: number;
  signal: AbortSignal | undefined;
  resolve: (o: ProbeOutcome) => void;
  unregister: () => void;
}

/** Probes run by a worker thread. If the worker cannot start or dies, its probes re-run locally. */
class WorkerLane {
  broken = false;
  private worker: Worker | undefined;
  private readonly pending = new Map<number, PendingProbe>();
  private nextId = 1;
  private outbox: Array<number | string> = [];
  private cancels: number[] = [];
  private flushQueued = false;
  private readonly fallback: Connector;

  constructor(fallback: Connector) {
    this.fallback = fallback;
  }

  get inFlight(): number {
    return this.pending.size;
  }

  probe(ip: string, port: number, timeoutMs: number, signal: AbortSignal | undefined): Promise<ProbeOutcome> {
    if (signal?.aborted === true) return Promise.resolve({ kind: 'aborted' });
    const worker = this.ensureWorker();
    if (worker === undefined) return this.fallback(ip, port, timeoutMs, signal);
    return new Promise<ProbeOutcome>((resolve) => {
      const id = this.nextId++;
      const p: PendingProbe = { ip, port, timeoutMs, signal, resolve, unregister: noop };
      if (signal !== undefined) {
        p.unregister = onAbort(signal, () => {
          if (this.pending.delete(id)) {
            this.cancels.push(id);
            this.afterSizeChange();
            this.scheduleFlush();
            resolve({ kind: 'aborted' });
          }
        });
      }
      this.pending.set(id, p);
      if (this.pending.size === 1) worker.ref();
      this.outbox.push(id, ip, port, Math.max(1, Math.ceil(timeoutMs)));
      this.scheduleFlush();
    });
  }

  private ensureWorker(): Worker | undefined {
    if (this.broken) return undefined;
    if (this.worker !== undefined) return this.worker;
    try {
      const w = new Worker(WORKER_SOURCE, { eval: true, env: SHARE_ENV, stdout: false, stderr: false });
      w.unref();
      w.on('message', (batch: number[]) => this.onResults(batch));
      w.on('error', () => this.breakDown());
      w.on('exit', () => this.breakDown());
      this.worker = w;
      return w;
    } catch {
      this.broken = true;
      return undefined;
    }
  }

  private scheduleFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => {
      this.flushQueued = false;
      const w = this.worker;
      if (w === undefined || this.broken) return;
      const msg: { probe?: Array<number | string>; cancel?: number[] } = {};
      if (this.outbox.length > 0) msg.probe = this.outbox;
      if (this.cancels.length > 0) msg.cancel = this.cancels;
      this.outbox = [];
      this.cancels = [];
      if (msg.probe !== undefined || msg.cancel !== undefined) w.postMessage(msg);
    });
  }

  private afterSizeChange(): void {
    if (this.pending.size === 0) this.worker?.unref();
  }

  private onResults(batch: number[]): void {
    for (let i = 0; i < batch.length; i += 4) {
      const id = batch[i]!;
      const p = this.pending.get(id);
      if (p === undefined) continue; // aborted meanwhile
      this.pending.delete(id);
      p.unregister();
      const status = batch[i + 1]!;
      const rttMs = batch[i + 2]!;
      if (status === WORKER_TIMEOUT) p.resolve({ kind: 'drop' });
      else if (status === 0) p.resolve(batch[i + 3] === 1 ? { kind: 'self-connect', rttMs } : { kind: 'reply', state: 'open', reason: 'syn-ack', rttMs });
      else p.resolve(classifyError(errorName(status), rttMs));
    }
    this.afterSizeChange();
  }

  /** The worker failed: probes it held run again on the main thread, and so do all later ones. */
  private breakDown(): void {
    if (this.broken) return;
    this.broken = true;
    const w = this.worker;
    this.worker = undefined;
    void w?.terminate().catch(noop);
    const stranded = [...this.pending.values()];
    this.pending.clear();
    this.outbox = [];
    this.cancels = [];
    for (const p of stranded) {
      p.unregister();
      void this.fallback(p.ip, p.port, p.timeoutMs, p.signal).then(p.resolve);
    }
  }
}

/** Probes in flight on the main thread before the worker lane is used at all. */
const LOCAL_ONLY_BELOW = 16;

/** Splits probes between the main thread and a worker thread, keeping their in-flight counts even. */
function makeTwoLaneConnector(local: Connector): Connector {
  const lane = new WorkerLane(local);
  let localInFlight = 0;
  const localDone = (o: ProbeOutcome): ProbeOutcome => {
    localInFlight--;
    return o;
  };
  return (ip, port, timeoutMs, signal) => {
    if (!lane.broken && localInFlight >= LOCAL_ONLY_BELOW && lane.inFlight < localInFlight) return lane.probe(ip, port, timeoutMs, signal);
    localInFlight++;
    return local(ip, port, timeoutMs, signal).then(localDone);
  };
}

/**
 * The handle connector on two threads, or undefined without the `tcp_wrap` binding or with a single
 * CPU. Each call gets its own worker; share the result.
 */
export function createTwoLaneConnector(): Connector | undefined {
  if (handleConnector === undefined || availableParallelism() < 2) return undefined;
  return makeTwoLaneConnector(handleConnector);
}

/** Which probe implementation a scan uses; `auto` picks the fastest this Node offers. */
export type ConnectorKind = 'auto' | 'handle' | 'socket';

const chosen = new Map<ConnectorKind, Connector>();

/**
 * The connector for a kind: `auto` is two lanes of handle probes when possible, else one, else
 * `net.Socket`; `handle` is one lane of handle probes (falling back to `net.Socket`); `socket` is the
 * public `net.Socket` only. Memoised, so every scan in a process shares one worker thread.
 */
export function selectConnector(kind: ConnectorKind = 'auto'): Connector {
  let connector = chosen.get(kind);
  if (connector === undefined) {
    connector =
      kind === 'socket' ? socketConnector : kind === 'handle' ? (handleConnector ?? socketConnector) : (createTwoLaneConnector() ?? handleConnector ?? socketConnector);
    chosen.set(kind, connector);
  }
  return connector;
}
