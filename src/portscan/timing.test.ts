import { describe, expect, it } from 'vitest';
import type { TimingTemplate } from '../shared/model.js';
import { CongestionWindow, RttEstimator, SendDelay, TIMING_TEMPLATES, allowedTryno, resolveTiming, timingPingDue, type TimingPingState } from './timing.js';

describe('timing templates match nmap 7.93', () => {
  it.each([
    // level, initial, min, max, retries, scanDelay, maxScanDelay, maxParallelism
    [0, 300_000, 100, 300_000, 10, 300_000, 1000, 1],
    [1, 15_000, 100, 15_000, 10, 15_000, 1000, 1],
    [2, 1000, 100, 10_000, 10, 400, 1000, 1],
    [3, 1000, 100, 10_000, 10, 0, 1000, undefined],
    [4, 500, 100, 1250, 6, 0, 10, undefined],
    [5, 250, 50, 300, 2, 0, 5, undefined],
  ] as const)('T%i', (level, initial, min, max, retries, scanDelay, maxScanDelay, maxParallelism) => {
    expect(TIMING_TEMPLATES[level]).toEqual({
      level,
      initialRttTimeoutMs: initial,
      minRttTimeoutMs: min,
      maxRttTimeoutMs: max,
      maxRetries: retries,
      scanDelayMs: scanDelay,
      maxScanDelayMs: maxScanDelay,
      maxParallelism,
    });
  });
});

describe('resolveTiming', () => {
  it('defaults to T3 with nmap congestion constants', () => {
    const t = resolveTiming();
    expect(t).toMatchObject({
      level: 3,
      concurrency: 1000,
      lowCwnd: 1,
      maxCwnd: 300,
      groupInitialCwnd: 10,
      hostInitialCwnd: 10,
      initialSsthresh: 75,
      slowIncr: 1,
      caIncr: 1,
      ccScaleMax: 50,
      hostDropSsthreshDivisor: 1.5,
      groupDropSsthreshDivisor: 1.5,
      groupDropCwndDivisor: 2,
      boostDropRatio: 0.3,
      boostTrynoThreshold: 3,
      initialBoostMs: 5,
      pingIntervalMs: 1250,
      pingMagnifier: 3,
    });
  });

  it.each([0, 1, 2, 3, 4, 5] as const)('T%i pings after nmap\'s fixed 1.25 s, replies counting 3 times', (level) => {
    expect(resolveTiming({ timing: level })).toMatchObject({ pingIntervalMs: 1250, pingMagnifier: 3 });
  });

  it.each([
    [3, 1, 1.5, 0.3, 3],
    [4, 2, 4 / 3, 0.4, 4],
    [5, 2, 5 / 4, 0.4, 4],
  ] as const)('T%i: ca_incr %i, ssthresh divisor %f, boost ratio %f, boost tryno %i', (level, caIncr, div, ratio, tryno) => {
    const t = resolveTiming({ timing: level });
    expect(t.caIncr).toBe(caIncr);
    expect(t.hostDropSsthreshDivisor).toBeCloseTo(div);
    expect(t.boostDropRatio).toBe(ratio);
    expect(t.boostTrynoThreshold).toBe(tryno);
  });

  it.each([
    ['no concurrency', 3, undefined, 300, 1000],
    ['concurrency below 300 caps the window', 3, 50, 50, 50],
    ['the default concurrency keeps nmap\'s 300', 3, 1000, 300, 1000],
    ['concurrency raised above the default becomes the window ceiling', 4, 4000, 4000, 4000],
    ['T2 sends one at a time', 2, undefined, 1, 1000],
    ['T0 sends one at a time', 0, undefined, 1, 1000],
    ['T2 with explicit concurrency', 2, 20, 20, 20],
  ] as const)('%s', (_name, timing, concurrency, maxCwnd, cap) => {
    const t = resolveTiming({ timing: timing as TimingTemplate, ...(concurrency !== undefined ? { concurrency } : {}) });
    expect(t.maxCwnd).toBe(maxCwnd);
    expect(t.concurrency).toBe(cap);
    expect(t.groupInitialCwnd).toBe(Math.min(10, maxCwnd));
  });

  it('timeoutMs lowers the max RTT timeout and the initial and min ones above it', () => {
    expect(resolveTiming({ timing: 4, timeoutMs: 300 })).toMatchObject({ maxRttTimeoutMs: 300, initialRttTimeoutMs: 300, minRttTimeoutMs: 100 });
    expect(resolveTiming({ timing: 4, timeoutMs: 50 })).toMatchObject({ maxRttTimeoutMs: 50, initialRttTimeoutMs: 50, minRttTimeoutMs: 50 });
    expect(resolveTiming({ timing: 3, timeoutMs: 5000 })).toMatchObject({ maxRttTimeoutMs: 5000, initialRttTimeoutMs: 1000, minRttTimeoutMs: 100 });
  });

  it('maxRetries replaces the template value', () => {
    expect(resolveTiming({ timing: 4, maxRetries: 0 }).maxRetries).toBe(0);
    expect(resolveTiming({ timing: 5, maxRetries: 9 }).maxRetries).toBe(9);
  });

  it.each([[{ concurrency: 0 }], [{ concurrency: 1.5 }], [{ timeoutMs: 0 }], [{ timeoutMs: Number.NaN }], [{ maxRetries: -1 }], [{ maxRetries: 1000 }], [{ timing: 9 as TimingTemplate }]])(
    'rejects %j',
    (options) => {
      expect(() => resolveTiming(options)).toThrow(RangeError);
    },
  );
});

describe('RttEstimator (RFC 6298 with nmap clamps)', () => {
  const t4 = resolveTiming({ timing: 4 });

  it('starts at the initial timeout', () => {
    expect(new RttEstimator(t4).timeoutMs).toBe(500);
    expect(new RttEstimator(t4).srtt).toBeUndefined();
  });

  it.each([
    // first sample δ → srtt, rttvar = clamp(δ, 5, 2000), timeout = clamp(srtt + 4 rttvar, 100, 1250)
    [0.05, 0.05, 5, 100],
    [20, 20, 20, 100],
    [50, 50, 50, 250],
    [200, 200, 200, 1000],
    [400, 400, 400, 1250],
    [3000, 3000, 2000, 1250],
  ])('first sample %f ms → srtt %f, rttvar %f, timeout %f', (sample, srtt, rttvar, timeout) => {
    const e = new RttEstimator(t4);
    expect(e.update(sample)).toBe(true);
    expect(e.srtt).toBeCloseTo(srtt);
    expect(e.rttvar).toBeCloseTo(rttvar);
    expect(e.timeoutMs).toBeCloseTo(timeout);
  });

  it('later samples: srtt += err/8, rttvar += (|err| - rttvar)/4', () => {
    const e = new RttEstimator(resolveTiming({ timing: 3, timeoutMs: 100_000 }));
    e.update(100); // srtt 100, rttvar 100
    e.update(180); // err 80 → srtt 110, rttvar 95
    expect(e.srtt).toBeCloseTo(110);
    expect(e.rttvar).toBeCloseTo(95);
    expect(e.timeoutMs).toBeCloseTo(110 + 4 * 95);
    e.update(30); // err -80 → srtt 100, rttvar 91.25
    expect(e.srtt).toBeCloseTo(100);
    expect(e.rttvar).toBeCloseTo(91.25);
  });

  it.each([
    ['≥ 8 s', 8000],
    ['negative beyond -50 ms', -60],
  ])('ignores samples %s', (_name, sample) => {
    const e = new RttEstimator(t4);
    e.update(40);
    expect(e.update(sample)).toBe(false);
    expect(e.srtt).toBe(40);
  });

  it('treats a small negative sample as 10 ms', () => {
    const e = new RttEstimator(t4);
    e.update(-3);
    expect(e.srtt).toBe(10);
  });

  it('ignores a bogus delta above 1.5 s and above 3 srtt + 2 rttvar', () => {
    const e = new RttEstimator(resolveTiming({ timing: 3 }));
    e.update(10); // srtt 10, rttvar 10
    expect(e.update(1600)).toBe(false); // err 1590 > 1500 and > 50
    expect(e.srtt).toBe(10);
    const big = new RttEstimator(resolveTiming({ timing: 3 }));
    big.update(1000); // srtt 1000, rttvar 1000 → 3 srtt + 2 rttvar = 5000
    expect(big.update(2600)).toBe(true); // err 1600 > 1500 but < 5000
  });

  it('resets rttvar to 2 s when it grows past 2.3 s', () => {
    const e = new RttEstimator(resolveTiming({ timing: 3 }));
    e.update(1900); // rttvar 1900
    e.update(7500); // err 5600 < 3*1900+2*1900: rttvar = 1900 + (5600-1900)/4 = 2825 → 2000
    expect(e.rttvar).toBe(2000);
  });

  it('clamps the timeout to [min, max] and to at least the scan delay', () => {
    const e = new RttEstimator(resolveTiming({ timing: 5 }));
    e.update(1);
    expect(e.timeoutMs).toBe(50);
    const slow = new RttEstimator(resolveTiming({ timing: 5 }));
    slow.update(200);
    expect(slow.timeoutMs).toBe(300);
    const polite = new RttEstimator(resolveTiming({ timing: 2 }));
    polite.update(1);
    expect(polite.timeoutMs).toBe(400);
  });
});

describe('CongestionWindow', () => {
  const t3 = resolveTiming({ timing: 3 });
  const t4 = resolveTiming({ timing: 4 });
  const reply = (w: CongestionWindow): void => {
    w.expect();
    w.ack();
  };

  it('slow start: +1 per reply from 10 up to ssthresh 75, never beyond it', () => {
    const w = new CongestionWindow(t3, 10);
    reply(w);
    expect(w.cwnd).toBe(11);
    for (let i = 0; i < 64; i++) reply(w);
    expect(w.cwnd).toBe(75);
  });

  it.each([
    ['T3', t3, 1],
    ['T4', t4, 2],
  ] as const)('%s congestion avoidance: +ca_incr/cwnd per reply', (_name, timing, caIncr) => {
    const w = new CongestionWindow(timing, 10);
    w.cwnd = 100;
    w.ssthresh = 75;
    reply(w);
    expect(w.cwnd).toBeCloseTo(100 + caIncr / 100);
  });

  it('never grows past max_cwnd', () => {
    const w = new CongestionWindow(resolveTiming({ concurrency: 20 }), 10);
    for (let i = 0; i < 100; i++) reply(w);
    expect(w.cwnd).toBe(20);
  });

  it('cc_scale = expected / received, at most 50: growth speeds up when probes go unanswered', () => {
    const w = new CongestionWindow(t3, 10);
    for (let i = 0; i < 3; i++) w.expect(); // three timeouts
    reply(w); // expected 4, received 1 → scale 4
    expect(w.cwnd).toBe(14);
    const lossy = new CongestionWindow(t3, 10);
    for (let i = 0; i < 500; i++) lossy.expect();
    reply(lossy); // 501/1 → capped at 50, then capped at ssthresh 75
    expect(lossy.ccScale()).toBe(50);
    expect(lossy.cwnd).toBe(60);
  });

  it.each([
    ['T3', t3, 30, 20],
    ['T4', t4, 30, 22],
    ['T5', resolveTiming({ timing: 5 }), 30, 24],
    ['tiny flight', t3, 2, 2],
  ] as const)('%s host drop: cwnd → 1, ssthresh = max(in_flight / divisor, 2)', (_name, timing, inFlight, ssthresh) => {
    const w = new CongestionWindow(timing, 10);
    w.cwnd = 50;
    w.drop(inFlight, 1000);
    expect(w.cwnd).toBe(1);
    expect(w.ssthresh).toBe(ssthresh);
    expect(w.lastDropAt).toBe(1000);
  });

  it('group drop halves the window, not below the floor', () => {
    const w = new CongestionWindow(t3, 10);
    w.cwnd = 50;
    w.dropGroup(60, 5);
    expect(w.cwnd).toBe(25);
    expect(w.ssthresh).toBe(40);
    w.cwnd = 1.5;
    w.dropGroup(1, 6);
    expect(w.cwnd).toBe(1);
    expect(w.ssthresh).toBe(2);
  });

  // A host whose ports mostly time out (the netns benchmark: 9 answers among the first probes, then
  // ~2000 timeouts). Replies alone leave the window at 10 + 9; a timing ping's reply counts 3 times
  // and is scaled by cc_scale. nmap -d4 on the same host showed 31 → 75 on its first ping reply and
  // 75 → 79 on the second.
  it.each([
    // name, timing, replies first, timeouts, then: 'reply' | 'ping', cwnd after
    ['no timeouts: a ping reply is worth 3 replies', t4, 9, 0, 'ping', 22],
    ['200 timeouts: a plain reply adds cc_scale 21', t4, 9, 200, 'reply', 40],
    ['200 timeouts: a ping reply adds 3 × 21, capped at ssthresh 75', t4, 9, 200, 'ping', 75],
    ['nothing answered but the ping: cc_scale 50 × 3, capped at ssthresh', t4, 0, 500, 'ping', 75],
  ] as const)('%s', (_name, timing, replies, timeouts, last, cwnd) => {
    const w = new CongestionWindow(timing, 10);
    for (let i = 0; i < replies; i++) reply(w);
    for (let i = 0; i < timeouts; i++) w.expect();
    w.expect();
    w.ack(last === 'ping' ? timing.pingMagnifier : 1);
    expect(w.cwnd).toBeCloseTo(cwnd);
  });

  it('T4 congestion avoidance at 75 with cc_scale 50: a ping reply adds 2/75 × 50 × 3 = 4', () => {
    const w = new CongestionWindow(t4, 75);
    for (let i = 0; i < 1000; i++) w.expect();
    reply(w);
    const before = w.cwnd;
    w.expect();
    w.ack(t4.pingMagnifier);
    expect(w.cwnd - before).toBeCloseTo((2 / before) * 50 * 3);
  });

  it('one decrease per burst: only probes sent after the last drop decrease again', () => {
    const w = new CongestionWindow(t3, 10);
    expect(w.dropApplies(0)).toBe(true);
    w.drop(10, 100);
    expect(w.dropApplies(50)).toBe(false);
    expect(w.dropApplies(100)).toBe(false);
    expect(w.dropApplies(101)).toBe(true);
  });
});

describe('allowedTryno (adaptive retries)', () => {
  it.each([
    // maxSuccessfulTry, maxRetries, allowed
    [0, 10, 1],
    [0, 6, 1],
    [1, 6, 2],
    [3, 6, 4],
    [6, 6, 6],
    [9, 6, 6],
    [0, 0, 0],
    [2, 1, 1],
  ])('max_successful_tryno %i, max retries %i → %i', (mst, maxRetries, allowed) => {
    expect(allowedTryno(mst, maxRetries)).toBe(allowed);
  });
});

describe('timingPingDue (nmap doAnyPings)', () => {
  const base: TimingPingState = { hasPingPort: true, numProbesSent: 300, probesSentAtLastPing: 0, lastReplyAt: 0, lastPingAt: 0 };
  it.each([
    // name, state overrides, now, due
    ['silent for more than 1.25 s since the start', {}, 1251, true],
    ['not before 1.25 s have passed (strictly more)', {}, 1250, false],
    ['no port has answered open or closed: nothing to ping', { hasPingPort: false }, 5000, false],
    ['a reply 1 s ago', { lastReplyAt: 4000 }, 5000, false],
    ['the last reply 1.3 s ago', { lastReplyAt: 3700 }, 5000, true],
    ['pinged 1 s ago', { lastPingAt: 4000 }, 5000, false],
    ['pinged 1.3 s ago', { lastPingAt: 3700 }, 5000, true],
    ['only 9 probes since the last ping', { numProbesSent: 109, probesSentAtLastPing: 100, lastPingAt: 1000 }, 5000, false],
    ['10 probes since the last ping', { numProbesSent: 110, probesSentAtLastPing: 100, lastPingAt: 1000 }, 5000, true],
    ['fewer than 10 probes in all', { numProbesSent: 9 }, 5000, false],
  ] as const)('%s → %s', (_name, overrides, now, due) => {
    expect(timingPingDue({ ...base, ...overrides }, now)).toBe(due);
  });

  it('takes the interval from the caller', () => {
    expect(timingPingDue(base, 300, 250)).toBe(true);
    expect(timingPingDue(base, 300, 1250)).toBe(false);
  });
});

describe('SendDelay (dynamic scan delay)', () => {
  it.each([
    ['T3', 3, [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]],
    ['T4', 4, [5, 10, 10]],
    ['T5', 5, [5, 5]],
  ] as const)('%s boosts 0 → 5 ms, then doubles up to its cap', (_name, level, steps) => {
    const d = new SendDelay(resolveTiming({ timing: level }));
    expect(d.delayMs).toBe(0);
    steps.forEach((ms, i) => {
      d.boost(i);
      expect(d.delayMs).toBe(ms);
    });
  });

  it('starts at the template scan delay and keeps it as the floor of the cap (T2)', () => {
    const d = new SendDelay(resolveTiming({ timing: 2 }));
    expect(d.delayMs).toBe(400);
    d.boost(0);
    expect(d.delayMs).toBe(800);
  });

  it.each([
    ['T3 boosts past 30 % drops', 3, 11, 25, true],
    ['T3 holds at 30 % drops or less', 3, 11, 26, false],
    ['T4 needs more than 40 %', 4, 11, 16, true],
    ['T4 holds at 40 % or less', 4, 11, 17, false],
    ['needs more than 10 drops', 3, 10, 0, false],
  ] as const)('%s', (_name, level, drops, good, boosted) => {
    const d = new SendDelay(resolveTiming({ timing: level }));
    let changed = false;
    for (let i = 0; i < good; i++) changed = d.recordReply(10, false, undefined) || changed;
    for (let i = 0; i < drops; i++) changed = d.recordReply(10, true, 5) || changed;
    expect(changed).toBe(boosted);
    expect(d.delayMs).toBe(boosted ? 5 : 0);
  });

  it('only counts drops of probes first sent after the last boost', () => {
    const d = new SendDelay(resolveTiming({ timing: 3 }));
    d.boost(100);
    for (let i = 0; i < 50; i++) d.recordReply(200, true, 50); // previous try sent before the boost
    expect(d.delayMs).toBe(5);
    expect(d.droppedSinceChange).toBe(0);
    expect(d.goodSinceChange).toBe(50);
  });

  it.each([
    // name, level, pings lost after the last boost, replies, boosted
    ['11 lost pings and nothing else boost T4', 4, 11, 0, true],
    ['10 lost pings are not enough', 4, 10, 0, false],
    ['T4 holds at 40 % lost or less', 4, 11, 17, false],
  ] as const)('lost timing pings count as drops: %s', (_name, level, lost, good, boosted) => {
    const d = new SendDelay(resolveTiming({ timing: level }));
    let changed = false;
    for (let i = 0; i < good; i++) changed = d.recordReply(10, false, undefined) || changed;
    for (let i = 0; i < lost; i++) changed = d.recordLostPing(10, 5) || changed;
    expect(changed).toBe(boosted);
    expect(d.delayMs).toBe(boosted ? 5 : 0);
  });

  it('a ping sent before the last boost is not counted when lost', () => {
    const d = new SendDelay(resolveTiming({ timing: 4 }));
    d.boost(100);
    for (let i = 0; i < 20; i++) d.recordLostPing(200, 50);
    expect(d.droppedSinceChange).toBe(0);
    expect(d.delayMs).toBe(5);
  });

  it.each([
    [3, 3, false],
    [3, 4, true],
    [4, 4, false],
    [4, 5, true],
  ] as const)('T%i: max_successful_tryno %i boosts: %s', (level, tryno, boosted) => {
    const d = new SendDelay(resolveTiming({ timing: level }));
    expect(d.recordMaxSuccessfulTry(0, tryno)).toBe(boosted);
  });
});
