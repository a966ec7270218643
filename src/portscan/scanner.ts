/**
 * The TCP connect-scan engine: nmap's ultra_scan congestion control, RTT-based timeouts and adaptive
 * retries (see timing.ts) over a pluggable connector (connect.ts).
 *
 * Shape of a scan:
 * - Addresses are pulled from `req.addresses` one at a time, only when the hosts already in flight
 *   cannot use the free window, and never more than `hostGroupSize()` at once (many hosts when there
 *   are few ports, a few when there are many), nor while finished hosts wait for the consumer.
 * - Every host probes the same port order: random, with popular ports first (nmap's
 *   `random_port_cheat`). Results are reported sorted by port.
 * - Probes in flight are bounded by the scan-wide (group) congestion window, each host's window (and
 *   `maxHostConnections`, when set: every probe to the host counts, pings and re-probes too) and the
 *   file-descriptor budget. Older hosts get first use of the window so hosts finish, and are yielded,
 *   in roughly the order they were taken.
 * - The budget may be shared by the scans of a process (`connectionBudget`). A scan it stops waits on
 *   it and is pumped again when another scan releases a socket: with none of its own in flight, it
 *   would otherwise have no reply, and no timer, to pump on.
 * - Only drops (no answer) are retransmitted, as far as the adaptive allowance permits; a port whose
 *   probes all went unanswered is filtered/no-response.
 * - Timing pings, as nmap's `doAnyPings`: the first port of a host that answers open or closed becomes
 *   its ping port (unless the request brings one, `pingPort`); once the host has been silent for
 *   1.25 s (and was sent 10 probes since the last ping) that port is probed again. The ping takes a
 *   window slot but decides nothing: its reply counts 3 times and, like every reply, is scaled by
 *   cc_scale (expected / received, at most 50), and a ping nobody answers is a drop. This is what keeps a mostly-filtered host fast: timeouts never grow the
 *   window, and with popular ports first every answer such a host gives comes in the first few
 *   milliseconds, at cc_scale ~1, so without pings the window stays at 10 + answers for the whole scan
 *   (19 for the netns benchmark's top-1000: 10.7 s). The first ping's reply, about 250 timeouts later,
 *   takes it straight to ssthresh 75 (3.7 s); nmap -d4 shows the same jump on the same host.
 *
 * Where this differs from nmap, on purpose:
 * - A self-connect (loopback only) is re-probed at once with the same try number, up to 3 times, and
 *   counts neither as a drop nor as a reply. nmap marks it timed out, so it waits the timeout plus its
 *   1 s rate-limit-detection pause and then counts the retry's answer as a drop (cwnd back to 1): that
 *   is why its full loopback scans take ~2 s instead of ~1 s about half the time. Same final states.
 * - No rate-limit-detection pause before the first retransmission of a new try number (drops are still
 *   detected from replies to retransmissions). On a filtered host nmap sits idle for that second: its
 *   probes in flight are not even timed out until the pause ends.
 * - Timing pings go to the host's own ping port only; nmap also pings a finished host of the group
 *   ("global" pings) when no host in flight has a ping port. Hosts are a rolling group here (the next
 *   address is taken as soon as there is room) rather than fixed batches, and finished hosts are gone.
 * - Popular ports go to the front in the order of nmap's list; nmap's `random_port_cheat` keeps them
 *   in their shuffled order, so on a host like the benchmark's some of its few answers may come after
 *   the first timeouts, at cc_scale > 1, by luck. Timing pings make that luck irrelevant.
 * - A probe's timeout is the host's estimate when it is sent; nmap re-checks probes in flight against
 *   the current estimate. It matters mostly for the first window, sent with the initial timeout (500
 *   ms at T4) before any RTT sample, where nmap usually has one from host discovery. The group window
 *   also applies when a single host is left (nmap then uses the host's alone); both see the same
 *   replies and the group's drops only halve it, so it is rarely the tighter one.
 */
import net from 'node:net';
import type { PortReason, PortResult, PortState } from '../shared/model.js';
import { selectConnector, type Connector, type ProbeOutcome } from './connect.js';
import { FdBudget, defaultFdBudget } from './fd-budget.js';
import { CongestionWindow, RttEstimator, SendDelay, allowedTryno, resolveTiming, timingPingDue, type ScanTiming, type TimingPingState } from './timing.js';
import type { HostScanResult, PortScanRequest, ScanProgressEvent } from './types.js';

export type { Connector, ProbeOutcome } from './connect.js';

export interface ScanPortsRequest extends PortScanRequest {
  /** Replaces the socket-level probe, e.g. with a simulated network in tests. */
  connector?: Connector;
  /** Upper bound on sockets in flight; default `min(concurrency, 0.8 × soft RLIMIT_NOFILE)`. */
  fdBudget?: number;
  /** Sockets shared with the other scans of this process (`createConnectionBudget`); replaces `fdBudget`. */
  connectionBudget?: FdBudget;
  /** Shuffles the port order; default Math.random. Tests pass a fixed one. */
  random?: () => number;
  /**
   * A port found to answer (open or closed) on the hosts before this scan, by `findPingPort`: timing
   * pings use it from the start, as nmap's use what host discovery found. A port-block shard scans a
   * block where maybe no port answers, and without a ping port its window would never grow.
   */
  pingPort?: number | undefined;
}

/** nmap's popular ports, moved to the front of the probe order (portlist.cc `random_port_cheat`). */
export const POPULAR_PORTS: readonly number[] = [80, 23, 443, 21, 22, 25, 3389, 110, 445, 139, 143, 53, 135, 3306, 8080, 1723, 111, 995, 993, 5900, 1025, 587, 8888, 199, 1720, 113, 554, 256];

/** Interval between two progress events, ms. */
export const PROGRESS_INTERVAL_MS = 200;
/** Immediate re-probes of a port after self-connects before it is treated as a timeout. */
export const MAX_SELF_CONNECT_RETRIES = 3;
/** Give up when sockets cannot be created for this long. */
export const RESOURCE_GIVE_UP_MS = 60_000;
/** Port × host slots the host group targets (host group size = this / ports, clamped). */
const GROUP_PORT_SLOTS = 8192;
const MIN_HOST_GROUP = 8;
const MAX_HOST_GROUP = 1024;

/** Hosts scanned at once for a given number of ports per host. */
export function hostGroupSize(portCount: number): number {
  return Math.min(MAX_HOST_GROUP, Math.max(MIN_HOST_GROUP, Math.ceil(GROUP_PORT_SLOTS / Math.max(1, portCount))));
}

/** Error thrown by the scan when its signal aborts it (`err.name === 'AbortError'`). */
export class PortScanAbortedError extends Error {
  override readonly name = 'AbortError';
  readonly code = 'ABORT_ERR';
  constructor(reason?: unknown) {
    super('port scan aborted', reason === undefined ? undefined : { cause: reason });
  }
}

/** A connect error nmap bails out on (ENETDOWN, ENETRESET, ECONNABORTED), or an unknown one. */
export class PortScanFatalError extends Error {
  override readonly name = 'PortScanFatalError';
  readonly code: string;
  constructor(message: string, code: string) {
    super(message);
    this.code = code;
  }
}

// Decided (state, reason) pairs, stored per port as an index + 1 (0 = undecided).
const DECISIONS: ReadonlyArray<{ state: PortState; reason: PortReason }> = [
  { state: 'open', reason: 'syn-ack' },
  { state: 'closed', reason: 'conn-refused' },
  { state: 'filtered', reason: 'no-response' },
  { state: 'filtered', reason: 'host-unreach' },
  { state: 'filtered', reason: 'net-unreach' },
  { state: 'filtered', reason: 'admin-prohibited' },
  { state: 'filtered', reason: 'proto-unreach' },
  { state: 'filtered', reason: 'dest-unreach' },
];
const decisionCode = (state: PortState, reason: PortReason): number => {
  const i = DECISIONS.findIndex((d) => d.state === state && d.reason === reason);
  return i < 0 ? 3 /* filtered/no-response */ : i + 1;
};
const CODE_OPEN = 1;
const CODE_NO_RESPONSE = 3;
/** Try numbers are packed with the port index in one retry-queue number. */
const TRY_BITS = 256;

class Host implements TimingPingState {
  readonly states: Uint8Array;
  readonly rtts: Float32Array;
  readonly tries: Uint8Array;
  readonly lastSentAt: Float64Array;
  readonly rtt: RttEstimator;
  readonly cwnd: CongestionWindow;
  readonly delay: SendDelay;
  readonly startedAt = new Date().toISOString();
  nextFresh = 0;
  /** Packed `index * 256 + tryno`, sent before fresh ports. */
  retry: number[] = [];
  retryHead = 0;
  /** Ports whose last try timed out at the current allowance, waiting for it to grow. */
  bench: number[] = [];
  active = 0;
  decided = 0;
  maxSuccessfulTry = 0;
  /** Port probes sent, retransmissions included, timing pings not (nmap `numprobes_sent`). */
  numProbesSent = 0;
  /** The timing-ping port: the request's `pingPort`, else the first port that answered open or closed. */
  pingPort: number | undefined;
  /** Last reply of any kind (nmap `lastrcvd`), and the last timing ping; both start at admission. */
  lastReplyAt: number;
  lastPingAt: number;
  /** `numProbesSent` when the last timing ping went out. */
  probesSentAtLastPing = 0;
  lastProbeSentAt = Number.NEGATIVE_INFINITY;
  selfConnects: Map<number, number> | undefined;
  inSendable = false;
  finished = false;
  readonly ip: string;
  readonly seq: number;

  constructor(ip: string, seq: number, portCount: number, timing: ScanTiming, now: number, pingPort: number | undefined) {
    this.ip = ip;
    this.seq = seq;
    this.pingPort = pingPort;
    this.lastReplyAt = now;
    this.lastPingAt = now;
    this.states = new Uint8Array(portCount);
    this.rtts = new Float32Array(portCount);
    this.tries = new Uint8Array(portCount);
    this.lastSentAt = new Float64Array(portCount);
    this.rtt = new RttEstimator(timing);
    this.cwnd = new CongestionWindow(timing, timing.hostInitialCwnd);
    this.delay = new SendDelay(timing);
  }

  /** Whether the host has a ping port, given or answered (nmap: the host has a ping probe). */
  get hasPingPort(): boolean {
    return this.pingPort !== undefined;
  }

  hasWork(portCount: number): boolean {
    return this.retryHead < this.retry.length || this.nextFresh < portCount;
  }
}

class Engine {
  readonly timing: ScanTiming;
  readonly ports: number[];
  readonly order: Uint32Array;
  readonly group: CongestionWindow;
  readonly groupRtt: RttEstimator;
  readonly fd: FdBudget;
  /** `options.maxHostConnections`, or no limit. */
  readonly maxHostConnections: number;
  readonly groupSize: number;
  readonly readyMax: number;
  readonly connector: Connector;
  readonly pingPort: number | undefined;
  readonly abort = new AbortController();
  readonly ready: HostScanResult[] = [];
  readonly sendable: Host[] = [];
  readonly iterator: Iterator<string>;
  exhausted = false;
  activeHosts = 0;
  hostSeq = 0;
  inFlight = 0;
  stopped = false;
  complete = false;
  failure: unknown;
  done = 0;
  open = 0;
  total: number;
  lastProgressAt = Number.NEGATIVE_INFINITY;
  pumping = false;
  wakeTimer: NodeJS.Timeout | undefined;
  wakeAt = Number.POSITIVE_INFINITY;
  resourceBackoffUntil = 0;
  resourceBackoffMs = 0;
  resourceTroubleSince: number | undefined;
  private notify: (() => void) | undefined;
  private readonly req: ScanPortsRequest;
  /** What the fd budget calls when another scan sharing it releases a socket. */
  private readonly onBudgetReleased = (): void => {
    try {
      this.pump();
    } catch (err) {
      this.fail(err);
    }
  };

  constructor(req: ScanPortsRequest) {
    this.req = req;
    this.timing = resolveTiming(req.options);
    this.ports = normalizePorts(req.ports);
    this.order = probeOrder(this.ports, req.random ?? Math.random);
    this.group = new CongestionWindow(this.timing, this.timing.groupInitialCwnd);
    this.groupRtt = new RttEstimator(this.timing);
    this.fd = req.connectionBudget ?? new FdBudget(req.fdBudget ?? defaultFdBudget(this.timing.concurrency));
    this.maxHostConnections = positiveIntOr(req.options?.maxHostConnections, 'maxHostConnections', Number.POSITIVE_INFINITY);
    this.groupSize = hostGroupSize(this.ports.length);
    this.readyMax = Math.max(64, this.groupSize);
    this.connector = req.connector ?? selectConnector('auto');
    this.pingPort = req.pingPort;
    this.iterator = req.addresses[Symbol.iterator]();
    this.total = Math.max(0, req.addressCount) * this.ports.length;
  }

  // ---- consumer side -------------------------------------------------------------------------

  wait(): Promise<void> {
    return new Promise((resolve) => {
      this.notify = resolve;
    });
  }

  private wake(): void {
    const n = this.notify;
    this.notify = undefined;
    n?.();
  }

  fail(err: unknown): void {
    if (this.failure !== undefined) return;
    this.failure = err;
    this.stop();
    this.wake();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.fd.stopWaiting(this.onBudgetReleased);
    if (this.wakeTimer !== undefined) clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    this.abort.abort();
    this.wake();
  }

  // ---- scheduling ----------------------------------------------------------------------------

  /** Effective window of a host (nmap `getTiming`): its own once it has answered or sent little. */
  private hostWindow(h: Host): number {
    if (h.hasPingPort || h.numProbesSent < 80) return h.cwnd.cwnd;
    if (this.group.numUpdates > 1) return this.group.cwnd;
    return this.timing.hostInitialCwnd;
  }

  /** Probe timeout (nmap `probeTimeout`): the host's estimate, else the group's, else the initial one. */
  private probeTimeout(h: Host): number {
    if (h.rtt.srtt !== undefined) return h.rtt.timeoutMs;
    if (this.groupRtt.srtt !== undefined) return this.groupRtt.timeoutMs;
    return h.rtt.timeoutMs;
  }

  private globalCanSend(now: number): boolean {
    return !this.stopped && this.inFlight < this.group.cwnd && this.fd.available() > 0 && now >= this.resourceBackoffUntil;
  }

  /** Sends as many probes as the windows allow, oldest host first, taking new hosts when useful. */
  pump(): void {
    if (this.pumping || this.stopped) return;
    this.pumping = true;
    try {
      let now = performance.now();
      let earliestDelayed = Number.POSITIVE_INFINITY;
      let i = 0;
      const n = this.ports.length;
      while (this.globalCanSend(now)) {
        let sent = false;
        while (i < this.sendable.length) {
          const h = this.sendable[i]!;
          if (!h.hasWork(n)) {
            h.inSendable = false;
            this.sendable.splice(i, 1);
            continue;
          }
          if (h.active < this.hostWindow(h) && h.active < this.maxHostConnections) {
            const delay = h.delay.delayMs;
            if (delay > 0 && now - h.lastProbeSentAt < delay) {
              earliestDelayed = Math.min(earliestDelayed, h.lastProbeSentAt + delay);
            } else {
              if (timingPingDue(h, now, this.timing.pingIntervalMs)) this.sendPing(h, now);
              else this.sendNext(h, now);
              sent = true;
              break;
            }
          }
          i++;
        }
        if (this.stopped) return;
        if (!sent && !this.admit()) break;
        now = performance.now();
      }
      if (this.resourceBackoffUntil > now) earliestDelayed = Math.min(earliestDelayed, this.resourceBackoffUntil);
      if (earliestDelayed !== Number.POSITIVE_INFINITY) this.wakeUpAt(earliestDelayed, now);
      if (this.fd.available() === 0) this.fd.waitForRelease(this.onBudgetReleased);
      this.maybeComplete();
    } finally {
      this.pumping = false;
    }
  }

  private wakeUpAt(at: number, now: number): void {
    if (this.wakeTimer !== undefined && this.wakeAt <= at) return;
    if (this.wakeTimer !== undefined) clearTimeout(this.wakeTimer);
    this.wakeAt = at;
    this.wakeTimer = setTimeout(
      () => {
        this.wakeTimer = undefined;
        this.wakeAt = Number.POSITIVE_INFINITY;
        this.pump();
      },
      Math.max(1, Math.ceil(at - now)),
    );
  }

  /** Takes the next address, if the host group and the consumer leave room. */
  private admit(): boolean {
    if (this.exhausted || this.activeHosts >= this.groupSize || this.ready.length >= this.readyMax) return false;
    let next: IteratorResult<string>;
    try {
      next = this.iterator.next();
    } catch (err) {
      this.fail(err);
      return false;
    }
    if (next.done === true) {
      this.exhausted = true;
      return false;
    }
    const ip = next.value;
    if (net.isIP(ip) === 0) {
      this.fail(new TypeError(`not an IP address: ${JSON.stringify(ip)}`));
      return false;
    }
    const h = new Host(ip, this.hostSeq++, this.ports.length, this.timing, performance.now(), this.pingPort);
    this.activeHosts++;
    if (this.ports.length === 0) {
      this.finishHost(h);
      return true;
    }
    h.inSendable = true;
    this.sendable.push(h);
    return true;
  }

  private makeSendable(h: Host): void {
    if (h.inSendable || h.finished) return;
    h.inSendable = true;
    // Keep admission order: binary search by seq.
    let lo = 0;
    let hi = this.sendable.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.sendable[mid]!.seq < h.seq) lo = mid + 1;
      else hi = mid;
    }
    this.sendable.splice(lo, 0, h);
  }

  private sendNext(h: Host, now: number): void {
    let idx: number;
    let tryno: number;
    if (h.retryHead < h.retry.length) {
      const packed = h.retry[h.retryHead++]!;
      if (h.retryHead === h.retry.length) {
        h.retry = [];
        h.retryHead = 0;
      }
      idx = Math.floor(packed / TRY_BITS);
      tryno = packed % TRY_BITS;
    } else {
      idx = this.order[h.nextFresh++]!;
      tryno = 0;
    }
    const prevSentAt = h.lastSentAt[idx]!;
    h.tries[idx] = tryno;
    h.lastSentAt[idx] = now;
    h.lastProbeSentAt = now;
    h.active++;
    h.numProbesSent++;
    this.inFlight++;
    this.fd.acquire();
    const port = this.ports[idx]!;
    let p: Promise<ProbeOutcome>;
    try {
      p = this.connector(h.ip, port, this.probeTimeout(h), this.abort.signal);
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      (outcome) => {
        try {
          this.onOutcome(h, idx, tryno, now, prevSentAt, outcome);
        } catch (err) {
          this.fail(err);
        }
      },
      (err: unknown) => this.fail(err),
    );
  }

  /**
   * A timing ping (nmap `sendPingProbe`): a connect probe to the host's ping port that takes a slot in
   * the windows like any probe but decides nothing; only its fate counts (`onPingOutcome`).
   */
  private sendPing(h: Host, now: number): void {
    h.lastPingAt = now;
    h.probesSentAtLastPing = h.numProbesSent;
    h.lastProbeSentAt = now;
    h.active++;
    this.inFlight++;
    this.fd.acquire();
    let p: Promise<ProbeOutcome>;
    try {
      p = this.connector(h.ip, h.pingPort!, this.probeTimeout(h), this.abort.signal);
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      (outcome) => {
        try {
          this.onPingOutcome(h, now, outcome);
        } catch (err) {
          this.fail(err);
        }
      },
      (err: unknown) => this.fail(err),
    );
  }

  // ---- outcomes ------------------------------------------------------------------------------

  /**
   * nmap `ultrascan_ping_update` / `markProbeTimedout` for a ping: any answer (even an ICMP error) is
   * a reply worth `pingMagnifier` replies; no answer is a drop (one decrease per burst, like a reply
   * to a retransmission). A ping is never retransmitted.
   */
  private onPingOutcome(h: Host, sentAt: number, o: ProbeOutcome): void {
    h.active--;
    this.inFlight--;
    this.fd.release(this.onBudgetReleased);
    if (this.stopped) return;
    const now = performance.now();
    switch (o.kind) {
      case 'reply':
        h.rtt.update(o.rttMs);
        this.groupRtt.update(o.rttMs);
        h.lastReplyAt = now;
        this.group.expect();
        h.cwnd.expect();
        this.group.ack(this.timing.pingMagnifier);
        h.cwnd.ack(this.timing.pingMagnifier);
        h.delay.recordReply(now, false, undefined);
        break;
      case 'drop':
        this.group.expect();
        h.cwnd.expect();
        if (h.cwnd.dropApplies(sentAt)) h.cwnd.drop(h.active, now);
        if (this.group.dropApplies(sentAt)) this.group.dropGroup(this.inFlight, now);
        h.delay.recordLostPing(now, sentAt);
        break;
      case 'fatal':
        this.fail(new PortScanFatalError(`connect to ${h.ip} port ${h.pingPort} failed with ${o.code}; bailing scan`, o.code));
        return;
      case 'resource':
        this.fd.exhausted();
        break;
      case 'self-connect':
      case 'aborted':
        break;
    }
    this.maybeFinishHost(h);
    this.pump();
  }

  private onOutcome(h: Host, idx: number, tryno: number, sentAt: number, prevSentAt: number, o: ProbeOutcome): void {
    h.active--;
    this.inFlight--;
    this.fd.release(this.onBudgetReleased);
    if (this.stopped) return;
    const now = performance.now();
    if (o.kind !== 'resource') {
      this.resourceBackoffMs = 0;
      this.resourceTroubleSince = undefined;
    }
    switch (o.kind) {
      case 'reply':
        this.onReply(h, idx, tryno, sentAt, prevSentAt, o.state, o.reason, o.rttMs, now);
        break;
      case 'drop':
        this.group.expect();
        h.cwnd.expect();
        this.onTimedOut(h, idx, tryno);
        break;
      case 'self-connect': {
        h.selfConnects ??= new Map();
        const count = (h.selfConnects.get(idx) ?? 0) + 1;
        h.selfConnects.set(idx, count);
        if (count <= MAX_SELF_CONNECT_RETRIES) {
          this.requeueFront(h, idx, tryno);
        } else {
          this.group.expect();
          h.cwnd.expect();
          this.onTimedOut(h, idx, tryno);
        }
        break;
      }
      case 'resource':
        h.numProbesSent--;
        this.fd.exhausted();
        this.resourceTroubleSince ??= now;
        if (now - this.resourceTroubleSince > RESOURCE_GIVE_UP_MS) {
          this.fail(new PortScanFatalError(`cannot open sockets (${o.code}) for ${RESOURCE_GIVE_UP_MS / 1000} s`, o.code));
          return;
        }
        this.resourceBackoffMs = Math.min(1000, Math.max(10, this.resourceBackoffMs * 2));
        this.resourceBackoffUntil = now + this.resourceBackoffMs;
        this.requeueFront(h, idx, tryno);
        break;
      case 'fatal':
        this.fail(new PortScanFatalError(`connect to ${h.ip} port ${this.ports[idx]} failed with ${o.code}; bailing scan`, o.code));
        return;
      case 'aborted':
        return;
    }
    this.maybeFinishHost(h);
    this.maybeProgress(now);
    this.pump();
  }

  private onReply(h: Host, idx: number, tryno: number, sentAt: number, prevSentAt: number, state: PortState, reason: PortReason, rttMs: number, now: number): void {
    h.rtt.update(rttMs);
    this.groupRtt.update(rttMs);
    h.lastReplyAt = now;
    // ICMP errors make poor pings (rate-limited, maybe from a router): only open/closed ports qualify.
    if (state !== 'filtered') h.pingPort ??= this.ports[idx];
    // ICMP errors (filtered) to retransmissions are often rate-limited: they may speed up, never slow down.
    const adjustTiming = !(state === 'filtered' && tryno > 0);
    if (adjustTiming) {
      this.group.expect();
      h.cwnd.expect();
      if (tryno > 0) {
        // A reply to a retransmission: the first probe or its answer was dropped.
        if (h.cwnd.dropApplies(sentAt)) h.cwnd.drop(h.active + 1, now);
        if (this.group.dropApplies(sentAt)) this.group.dropGroup(this.inFlight + 1, now);
      }
      this.group.ack();
      h.cwnd.ack();
      h.delay.recordReply(now, tryno > 0, prevSentAt);
      if (tryno > h.maxSuccessfulTry) {
        h.maxSuccessfulTry = tryno;
        h.delay.recordMaxSuccessfulTry(now, tryno);
      }
    }
    this.decide(h, idx, decisionCode(state, reason), rttMs);
  }

  private onTimedOut(h: Host, idx: number, tryno: number): void {
    const allowed = allowedTryno(h.maxSuccessfulTry, this.timing.maxRetries);
    if (tryno < allowed) this.requeue(h, idx, tryno + 1);
    else if (tryno >= this.timing.maxRetries) this.decide(h, idx, CODE_NO_RESPONSE, undefined);
    else h.bench.push(idx);
  }

  private requeue(h: Host, idx: number, tryno: number): void {
    h.retry.push(idx * TRY_BITS + tryno);
    this.makeSendable(h);
  }

  private requeueFront(h: Host, idx: number, tryno: number): void {
    if (h.retryHead > 0) h.retry[--h.retryHead] = idx * TRY_BITS + tryno;
    else h.retry.unshift(idx * TRY_BITS + tryno);
    this.makeSendable(h);
  }

  private decide(h: Host, idx: number, code: number, rttMs: number | undefined): void {
    if (h.states[idx] !== 0) return;
    h.states[idx] = code;
    h.rtts[idx] = rttMs ?? Number.NaN;
    h.decided++;
    this.done++;
    if (code === CODE_OPEN) this.open++;
  }

  private maybeFinishHost(h: Host): void {
    if (h.finished || h.active > 0 || h.hasWork(this.ports.length)) return;
    if (h.bench.length > 0) {
      // Nothing else left for this host: retransmit what the allowance now permits, give up on the rest.
      const allowed = allowedTryno(h.maxSuccessfulTry, this.timing.maxRetries);
      const bench = h.bench;
      h.bench = [];
      for (const idx of bench) {
        const t = h.tries[idx]!;
        if (t < allowed) this.requeue(h, idx, t + 1);
        else this.decide(h, idx, CODE_NO_RESPONSE, undefined);
      }
      if (h.hasWork(this.ports.length)) return;
    }
    this.finishHost(h);
  }

  private finishHost(h: Host): void {
    h.finished = true;
    this.activeHosts--;
    const results: PortResult[] = new Array<PortResult>(this.ports.length);
    for (let i = 0; i < this.ports.length; i++) {
      const d = DECISIONS[(h.states[i] || CODE_NO_RESPONSE) - 1]!;
      const r: PortResult = { ip: h.ip, port: this.ports[i]!, protocol: 'tcp', state: d.state, reason: d.reason };
      const rtt = h.rtts[i]!;
      if (h.states[i] !== CODE_NO_RESPONSE && !Number.isNaN(rtt)) r.rttMs = roundMs(rtt);
      results[i] = r;
    }
    this.ready.push({
      ip: h.ip,
      results,
      srttMs: h.rtt.srtt === undefined ? undefined : roundMs(h.rtt.srtt),
      startedAt: h.startedAt,
      finishedAt: new Date().toISOString(),
    });
    this.wake();
  }

  private maybeComplete(): void {
    if (!this.complete && this.exhausted && this.activeHosts === 0 && this.inFlight === 0) {
      this.complete = true;
      this.wake();
    }
  }

  maybeProgress(now: number): void {
    if (this.req.onProgress === undefined || now - this.lastProgressAt < PROGRESS_INTERVAL_MS) return;
    this.lastProgressAt = now;
    this.emitProgress({ done: this.done, total: Math.max(this.total, this.done), open: this.open });
  }

  emitProgress(e: ScanProgressEvent): void {
    try {
      this.req.onProgress?.(e);
    } catch (err) {
      this.fail(err);
    }
  }

  /** Stops everything: no more probes, in-flight sockets destroyed, the address source closed. */
  dispose(): void {
    this.stop();
    if (!this.exhausted) {
      this.exhausted = true;
      try {
        this.iterator.return?.();
      } catch {
        // the source's own cleanup failed; nothing left to do with it
      }
    }
  }
}

/**
 * Scans `req.ports` on every address of `req.addresses` with TCP connect probes and yields one
 * HostScanResult per host as soon as that host is finished (every port, sorted by port). Throws an
 * error named `AbortError` when `req.signal` aborts, a PortScanFatalError on connect errors nmap bails
 * out on. Breaking out of the loop stops the scan and destroys the sockets in flight.
 */
export async function* scanPorts(req: ScanPortsRequest): AsyncGenerator<HostScanResult> {
  const { signal } = req;
  if (isAborted(signal)) throw new PortScanAbortedError(signal?.reason);
  const engine = new Engine(req);
  const onAbort = (): void => engine.stop();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    engine.pump();
    for (;;) {
      if (isAborted(signal)) throw new PortScanAbortedError(signal?.reason);
      if (engine.failure !== undefined) throw engine.failure;
      const next = engine.ready.shift();
      if (next !== undefined) {
        if (engine.ready.length < engine.readyMax) engine.pump();
        yield next;
        continue;
      }
      if (engine.complete) break;
      await engine.wait();
    }
    engine.emitProgress({ done: engine.done, total: engine.done, open: engine.open });
    if (engine.failure !== undefined) throw engine.failure;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    engine.dispose();
  }
}

function positiveIntOr(value: number | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

/** Sorted, de-duplicated, validated ports. */
function normalizePorts(ports: readonly number[]): number[] {
  const seen = new Uint8Array(65536);
  for (const p of ports) {
    if (!Number.isInteger(p) || p < 1 || p > 65535) throw new RangeError(`invalid port ${String(p)}`);
    seen[p] = 1;
  }
  const out: number[] = [];
  for (let p = 1; p < 65536; p++) if (seen[p] === 1) out.push(p);
  return out;
}

/** Indices into `ports`: shuffled, then popular ports swapped to the front. */
function probeOrder(ports: readonly number[], random: () => number): Uint32Array {
  const order = new Uint32Array(ports.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  const indexOf = new Map<number, number>();
  for (let pos = 0; pos < order.length; pos++) indexOf.set(ports[order[pos]!]!, pos);
  let front = 0;
  for (const p of POPULAR_PORTS) {
    const pos = indexOf.get(p);
    if (pos === undefined) continue;
    const a = order[front]!;
    const b = order[pos]!;
    order[front] = b;
    order[pos] = a;
    indexOf.set(ports[a]!, pos);
    indexOf.set(p, front);
    front++;
  }
  return order;
}

function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
