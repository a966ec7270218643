/**
 * Timing model of the connect scan, after nmap's ultra_scan (timing.cc, scan_engine.cc; see
 * shared/reference/port-scanning.md §1). Pure: no sockets, no timers, no clock. Every function that
 * needs the time takes a `now` (milliseconds on any monotonic clock) from the caller.
 */
import type { PortScanOptions, TimingTemplate } from '../shared/model.js';

/** The values one nmap `-T` template sets. Durations in milliseconds. */
export interface TimingTemplateValues {
  level: TimingTemplate;
  initialRttTimeoutMs: number;
  minRttTimeoutMs: number;
  maxRttTimeoutMs: number;
  /** Retransmissions allowed at most (`--max-retries`); the adaptive allowance never exceeds it. */
  maxRetries: number;
  /** Fixed delay between two probes to the same host (T0-T2). */
  scanDelayMs: number;
  /** Ceiling of the dynamic, drop-driven delay for TCP (`max_tcp_scan_delay`). */
  maxScanDelayMs: number;
  /** Probes in flight at most, when the template fixes it (T0-T2 send one at a time). */
  maxParallelism: number | undefined;
}

/** nmap 7.93's templates (nmap.cc -T handling, nmap.h defaults; confirmed with `nmap -d`). */
export const TIMING_TEMPLATES: Readonly<Record<TimingTemplate, Readonly<TimingTemplateValues>>> = {
  0: { level: 0, initialRttTimeoutMs: 300_000, minRttTimeoutMs: 100, maxRttTimeoutMs: 300_000, maxRetries: 10, scanDelayMs: 300_000, maxScanDelayMs: 1000, maxParallelism: 1 },
  1: { level: 1, initialRttTimeoutMs: 15_000, minRttTimeoutMs: 100, maxRttTimeoutMs: 15_000, maxRetries: 10, scanDelayMs: 15_000, maxScanDelayMs: 1000, maxParallelism: 1 },
  2: { level: 2, initialRttTimeoutMs: 1000, minRttTimeoutMs: 100, maxRttTimeoutMs: 10_000, maxRetries: 10, scanDelayMs: 400, maxScanDelayMs: 1000, maxParallelism: 1 },
  3: { level: 3, initialRttTimeoutMs: 1000, minRttTimeoutMs: 100, maxRttTimeoutMs: 10_000, maxRetries: 10, scanDelayMs: 0, maxScanDelayMs: 1000, maxParallelism: undefined },
  4: { level: 4, initialRttTimeoutMs: 500, minRttTimeoutMs: 100, maxRttTimeoutMs: 1250, maxRetries: 6, scanDelayMs: 0, maxScanDelayMs: 10, maxParallelism: undefined },
  5: { level: 5, initialRttTimeoutMs: 250, minRttTimeoutMs: 50, maxRttTimeoutMs: 300, maxRetries: 2, scanDelayMs: 0, maxScanDelayMs: 5, maxParallelism: undefined },
};

export const DEFAULT_TIMING: TimingTemplate = 3;
/** `PortScanOptions.concurrency` when none is given. */
export const DEFAULT_CONCURRENCY = 1000;
/** Largest accepted `maxRetries` (nmap stores try numbers in a byte too). */
export const MAX_RETRIES_LIMIT = 100;
/** nmap's default `max_cwnd`. */
export const NMAP_MAX_CWND = 300;

/** Everything the scan engine needs to know about timing, from a template plus the user's options. */
export interface ScanTiming extends TimingTemplateValues {
  /** Hard cap on probes in flight (`options.concurrency`). */
  concurrency: number;
  /** Congestion window floor (`low_cwnd`). */
  lowCwnd: number;
  /** Congestion window ceiling (`max_cwnd`). */
  maxCwnd: number;
  groupInitialCwnd: number;
  hostInitialCwnd: number;
  initialSsthresh: number;
  slowIncr: number;
  /** Congestion-avoidance increment: 1 at T0-T3, 2 at T4-T5. */
  caIncr: number;
  ccScaleMax: number;
  /** ssthresh = in_flight / divisor on a drop: 3/2 (T0-T3), 4/3 (T4), 5/4 (T5). */
  hostDropSsthreshDivisor: number;
  groupDropSsthreshDivisor: number;
  groupDropCwndDivisor: number;
  /** Drop ratio above which the send delay is boosted: 0.30 (T0-T3), 0.40 (T4-T5). */
  boostDropRatio: number;
  /** `max_successful_tryno` above which the send delay is boosted: 3 (T0-T3), 4 (T4-T5). */
  boostTrynoThreshold: number;
  /** First dynamic delay for TCP. */
  initialBoostMs: number;
  /** A timing ping goes out once a host has been silent this long (`pingtime`). */
  pingIntervalMs: number;
  /** A reply to a timing ping counts as this many replies (`ping_magnifier`). */
  pingMagnifier: number;
}

/** nmap's `pingtime` (scan_engine.cc, every template): 1.25 s without any reply from a host. */
export const TIMING_PING_INTERVAL_MS = 1250;
/** nmap's `ping_magnifier`: "the fact that pings are necessary means we aren't getting much input". */
export const PING_MAGNIFIER = 3;
/** Port probes a host must have been sent since its previous timing ping (`lastping_sent_numprobes + 10`). */
export const PING_MIN_PROBES_BETWEEN = 10;

/**
 * Resolves the effective timing. `timeoutMs` lowers the max RTT timeout (and the initial and minimum
 * ones if they are above it), `maxRetries` replaces the template's, and `concurrency` caps probes in
 * flight.
 *
 * The congestion window ceiling is nmap's 300 while `concurrency` is at or below its default (1000),
 * i.e. `min(300, concurrency)`. Measured on this 2-vCPU machine, a loopback scan is CPU-bound and gets
 * no faster above ~100 probes in flight (100: 1.13 s, 300: 1.21 s, 1000: 1.33 s for 65,535 ports), so
 * 300 costs nothing locally and is nmap's proven default on real networks. A `concurrency` raised above
 * the default is read like nmap's `--max-parallelism`: an explicit request for a bigger window (high
 * bandwidth-delay paths), so the ceiling becomes `concurrency` itself. T0-T2 send one probe at a time
 * unless `concurrency` is given.
 */
export function resolveTiming(options: PortScanOptions = {}): ScanTiming {
  const level = options.timing ?? DEFAULT_TIMING;
  const t = TIMING_TEMPLATES[level];
  if (t === undefined) throw new RangeError(`unknown timing template ${String(level)}`);
  const concurrency = positiveInt(options.concurrency, 'concurrency') ?? DEFAULT_CONCURRENCY;
  let maxCwnd: number;
  if (options.concurrency === undefined && t.maxParallelism !== undefined) maxCwnd = t.maxParallelism;
  else if (concurrency > DEFAULT_CONCURRENCY) maxCwnd = concurrency;
  else maxCwnd = Math.min(NMAP_MAX_CWND, concurrency);

  let maxRtt = t.maxRttTimeoutMs;
  let minRtt = t.minRttTimeoutMs;
  let initialRtt = t.initialRttTimeoutMs;
  if (options.timeoutMs !== undefined) {
    if (!(options.timeoutMs > 0) || !Number.isFinite(options.timeoutMs)) throw new RangeError(`timeoutMs must be a positive number, got ${options.timeoutMs}`);
    maxRtt = options.timeoutMs;
    minRtt = Math.min(minRtt, maxRtt);
    initialRtt = Math.min(initialRtt, maxRtt);
  }
  let maxRetries = t.maxRetries;
  if (options.maxRetries !== undefined) {
    if (!Number.isInteger(options.maxRetries) || options.maxRetries < 0 || options.maxRetries > MAX_RETRIES_LIMIT) {
      throw new RangeError(`maxRetries must be an integer from 0 to ${MAX_RETRIES_LIMIT}, got ${options.maxRetries}`);
    }
    maxRetries = options.maxRetries;
  }
  const lowCwnd = 1;
  const aggressive = level >= 4;
  const ssthreshDivisor = level <= 3 ? 3 / 2 : level === 4 ? 4 / 3 : 5 / 4;
  return {
    ...t,
    initialRttTimeoutMs: initialRtt,
    minRttTimeoutMs: minRtt,
    maxRttTimeoutMs: maxRtt,
    maxRetries,
    concurrency,
    lowCwnd,
    maxCwnd,
    groupInitialCwnd: clamp(10, lowCwnd, maxCwnd),
    hostInitialCwnd: clamp(10, lowCwnd, maxCwnd),
    initialSsthresh: 75,
    slowIncr: 1,
    caIncr: aggressive ? 2 : 1,
    ccScaleMax: 50,
    hostDropSsthreshDivisor: ssthreshDivisor,
    groupDropSsthreshDivisor: ssthreshDivisor,
    groupDropCwndDivisor: 2,
    boostDropRatio: aggressive ? 0.4 : 0.3,
    boostTrynoThreshold: aggressive ? 4 : 3,
    initialBoostMs: 5,
    pingIntervalMs: TIMING_PING_INTERVAL_MS,
    pingMagnifier: PING_MAGNIFIER,
  };
}

/**
 * RFC 6298 round-trip estimator with nmap's clamps and outlier rules (`adjust_timeouts2`).
 * All values in milliseconds.
 */
export class RttEstimator {
  srtt: number | undefined;
  rttvar: number | undefined;
  timeoutMs: number;
  private readonly timing: Pick<ScanTiming, 'initialRttTimeoutMs' | 'minRttTimeoutMs' | 'maxRttTimeoutMs' | 'scanDelayMs'>;

  constructor(timing: Pick<ScanTiming, 'initialRttTimeoutMs' | 'minRttTimeoutMs' | 'maxRttTimeoutMs' | 'scanDelayMs'>) {
    this.timing = timing;
    this.timeoutMs = timing.initialRttTimeoutMs;
  }

  /** Feeds one round-trip sample. Returns false when the sample was rejected as bogus. */
  update(sampleMs: number): boolean {
    let delta = sampleMs;
    // nmap allows small negative samples (clock skew between pcap and gettimeofday) as 10 ms.
    if (delta < 0 && delta > -50) delta = 10;
    if (this.srtt === undefined || this.rttvar === undefined) {
      if (delta < 0) return false;
      this.srtt = delta;
      this.rttvar = Math.max(5, Math.min(delta, 2000));
    } else {
      if (delta >= 8000 || delta < 0) return false;
      const err = delta - this.srtt;
      if (err > 1500 && err > 3 * this.srtt + 2 * this.rttvar) return false;
      this.srtt += err / 8;
      this.rttvar += (Math.abs(err) - this.rttvar) / 4;
    }
    if (this.rttvar > 2300) this.rttvar = 2000;
    let timeout = clamp(this.srtt + 4 * this.rttvar, this.timing.minRttTimeoutMs, this.timing.maxRttTimeoutMs);
    if (this.timing.scanDelayMs > 0) timeout = Math.max(timeout, this.timing.scanDelayMs);
    this.timeoutMs = timeout;
    return true;
  }
}

type CwndTiming = Pick<
  ScanTiming,
  'lowCwnd' | 'maxCwnd' | 'slowIncr' | 'caIncr' | 'ccScaleMax' | 'hostDropSsthreshDivisor' | 'groupDropSsthreshDivisor' | 'groupDropCwndDivisor' | 'initialSsthresh'
>;

/** One congestion window (`ultra_timing_vals`): one for the whole scan and one per host. */
export class CongestionWindow {
  cwnd: number;
  ssthresh: number;
  /** Replies expected: incremented for every reply and every timeout. */
  numRepliesExpected = 0;
  numRepliesReceived = 0;
  numUpdates = 0;
  /** When the last decrease happened; a drop only decreases again for probes sent after it. */
  lastDropAt = Number.NEGATIVE_INFINITY;

  private readonly timing: CwndTiming;

  constructor(timing: CwndTiming, initialCwnd: number) {
    this.timing = timing;
    this.cwnd = initialCwnd;
    this.ssthresh = timing.initialSsthresh;
  }

  /** Counts a probe whose fate is now known (a reply or a timeout). */
  expect(): void {
    this.numRepliesExpected++;
    this.numUpdates++;
  }

  /** `min(expected / received, 50)`: grows the window faster when many probes go unanswered. */
  ccScale(): number {
    if (this.numRepliesReceived === 0) return 1;
    return Math.min(this.numRepliesExpected / this.numRepliesReceived, this.timing.ccScaleMax);
  }

  /**
   * A reply: slow start below ssthresh, congestion avoidance above it, both scaled by cc_scale and
   * by `scale` (`pingMagnifier` for a timing ping's reply). Call `expect()` first.
   */
  ack(scale = 1): void {
    this.numRepliesReceived++;
    if (this.cwnd < this.ssthresh) {
      this.cwnd += this.timing.slowIncr * this.ccScale() * scale;
      if (this.cwnd > this.ssthresh) this.cwnd = this.ssthresh;
    } else {
      this.cwnd += (this.timing.caIncr / this.cwnd) * this.ccScale() * scale;
    }
    if (this.cwnd > this.timing.maxCwnd) this.cwnd = this.timing.maxCwnd;
  }

  /** Whether a drop seen on a probe sent at `sentAt` may decrease the window (one decrease per burst). */
  dropApplies(sentAt: number): boolean {
    return sentAt > this.lastDropAt;
  }

  /** Host drop: back to the floor, ssthresh = max(in_flight / divisor, 2). */
  drop(inFlight: number, now: number): void {
    this.cwnd = this.timing.lowCwnd;
    this.ssthresh = Math.max(Math.trunc(inFlight / this.timing.hostDropSsthreshDivisor), 2);
    this.lastDropAt = now;
  }

  /** Group drop: halve the window (not below the floor), ssthresh = max(in_flight / divisor, 2). */
  dropGroup(inFlight: number, now: number): void {
    this.cwnd = Math.max(this.timing.lowCwnd, this.cwnd / this.timing.groupDropCwndDivisor);
    this.ssthresh = Math.max(Math.trunc(inFlight / this.timing.groupDropSsthreshDivisor), 2);
    this.lastDropAt = now;
  }
}

/**
 * Highest try number (0 = first probe) a port may be probed with (`allowedTryno`): one retransmission
 * on a clean network, one more than the highest try that ever got an answer, never above maxRetries.
 */
export function allowedTryno(maxSuccessfulTry: number, maxRetries: number): number {
  return Math.min(Math.max(1, maxSuccessfulTry + 1), maxRetries);
}

/** What `timingPingDue` looks at for one host. Times in ms on the caller's monotonic clock. */
export interface TimingPingState {
  /** The host answered a port probe open or closed: that port is its timing-ping port. */
  hasPingPort: boolean;
  /** Port probes sent to the host so far (retransmissions included, pings not). */
  numProbesSent: number;
  /** `numProbesSent` when the previous ping went out (0 before the first). */
  probesSentAtLastPing: number;
  /** Last reply of any kind from the host (port probe or ping); the host's start before the first. */
  lastReplyAt: number;
  /** Previous ping; the host's start before the first. */
  lastPingAt: number;
}

/**
 * Whether a host is due a timing ping (nmap `doAnyPings`): it has a port known to answer, has been
 * silent for longer than the ping interval, was last pinged longer ago than that, and has been sent
 * at least 10 port probes since. On a host whose ports mostly time out, replies are what grow the
 * congestion window, so without pings the window stays where the first answers left it; a ping's
 * reply counts `pingMagnifier` times, scaled by cc_scale (see `CongestionWindow.ack`), and an
 * unanswered ping is a drop.
 */
export function timingPingDue(s: TimingPingState, now: number, intervalMs: number = TIMING_PING_INTERVAL_MS): boolean {
  return s.hasPingPort && now - s.lastReplyAt > intervalMs && now - s.lastPingAt > intervalMs && s.numProbesSent >= s.probesSentAtLastPing + PING_MIN_PROBES_BETWEEN;
}

/** Dynamic per-host send delay (`send_delay_nfo`, `boostScanDelay`). */
export class SendDelay {
  delayMs: number;
  lastBoostAt = Number.NEGATIVE_INFINITY;
  goodSinceChange = 0;
  droppedSinceChange = 0;
  private readonly timing: Pick<ScanTiming, 'scanDelayMs' | 'maxScanDelayMs' | 'initialBoostMs' | 'boostDropRatio' | 'boostTrynoThreshold'>;

  constructor(timing: Pick<ScanTiming, 'scanDelayMs' | 'maxScanDelayMs' | 'initialBoostMs' | 'boostDropRatio' | 'boostTrynoThreshold'>) {
    this.timing = timing;
    this.delayMs = timing.scanDelayMs;
  }

  /**
   * Records a reply. `retransmitted` is true for a reply to try > 0 (a drop was detected) and
   * `previousSentAt` is when the try before it was sent: only drops of probes sent after the last
   * boost count. Returns true when the delay was boosted.
   */
  recordReply(now: number, retransmitted: boolean, previousSentAt: number | undefined): boolean {
    if (retransmitted && previousSentAt !== undefined && previousSentAt > this.lastBoostAt) this.droppedSinceChange++;
    else this.goodSinceChange++;
    return this.boostOnDropRatio(now);
  }

  /**
   * Records a timing ping that got no answer: a drop when it was sent after the last boost. Returns
   * true when the delay was boosted.
   */
  recordLostPing(now: number, sentAt: number): boolean {
    if (sentAt > this.lastBoostAt) this.droppedSinceChange++;
    return this.boostOnDropRatio(now);
  }

  /** More than 10 drops since the last change, at a ratio above the template's: boost. */
  private boostOnDropRatio(now: number): boolean {
    const bad = this.droppedSinceChange;
    const good = this.goodSinceChange;
    if (bad > 10 && bad / (bad + good) > this.timing.boostDropRatio) return this.boost(now);
    return false;
  }

  /** Called when max_successful_tryno rises; boosts past the template's threshold. */
  recordMaxSuccessfulTry(now: number, maxSuccessfulTry: number): boolean {
    if (maxSuccessfulTry > this.timing.boostTrynoThreshold) return this.boost(now);
    return false;
  }

  /** 0 → 5 ms, then doubling, capped at max(scanDelay, maxScanDelay). Returns whether it changed. */
  boost(now: number): boolean {
    const before = this.delayMs;
    const cap = Math.max(this.timing.maxScanDelayMs, this.timing.scanDelayMs);
    if (this.delayMs === 0) this.delayMs = this.timing.initialBoostMs;
    else this.delayMs = Math.min(this.delayMs * 2, Math.max(this.delayMs, 1000));
    this.delayMs = Math.min(this.delayMs, cap);
    this.lastBoostAt = now;
    this.droppedSinceChange = 0;
    this.goodSinceChange = 0;
    return this.delayMs !== before;
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

function positiveInt(v: number | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${v}`);
  return v;
}
