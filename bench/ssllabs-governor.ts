/**
 * The SSL Labs governor under load: 1,000 host names through the product path (createRuntime with an
 * embedded SQLite store, startWorker, submitTlsScan with engine=ssllabs) against the local SSL Labs
 * emulator, with SSL Labs' real limits (25 concurrent assessments, 1 s cool-off) and its timings scaled
 * down so a run takes minutes. Measures the total time against the theoretical best
 * (hosts × T / 25 + 25 × cool-off), 429s, peak concurrency at the emulator, rows stored, CPU and RSS,
 * and where the time went (poll granularity, restart gaps). Writes bench/results/ssllabs-governor.{md,json}.
 *
 *   npx tsx bench/ssllabs-governor.ts [--scale 1/20] [--scale 1/10 …] [--hosts 1000]
 *                                     [--assessment-ms N] [--cool-off-ms N] [--poll-ms N]
 *
 * Every --scale given is one run, in order, all reported in the one results file. --assessment-ms sets
 * the scaled T (DNS phase included), --cool-off-ms the scaled cool-off and --poll-ms the scaled
 * IN_PROGRESS polling interval, overriding what the scale gives.
 *
 * Network: the SSL Labs engine talks only to the emulator on 127.0.0.1. The host names resolve, through
 * config dns.hosts, to 203.0.113.0/24 (documentation range) and nothing connects to those: the native
 * TLS engine is a stub that throws, so a fallback to it would show as a failure and a count.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildConfig, type Config } from '../src/config/index.js';
import { submitTlsScan, type TlsEngine } from '../src/jobs/index.js';
import { createRuntime, startWorker } from '../src/runtime/index.js';
import { openDatabase, type TlsTables } from '../src/store/index.js';
import type { GovernorStatus } from '../src/ssllabs/index.js';
import { type EmulatorStats, type RequestRecord, startSslLabsEmulator } from '../src/testing/ssllabs-emulator.js';
import { fmt, machineInfo, machineMarkdown, mean, percentile, procMemory, sleep, uptime, writeResults } from './lib.js';

/** SSL Labs' own figures: the published limits and documented polling, and a typical assessment. */
const REAL = {
  /** One assessment from start to READY, DNS phase included (a one-endpoint host). */
  assessmentMs: 50_000,
  dnsMs: 2_000,
  coolOffMs: 1_000,
  pollDnsMs: 5_000,
  pollMs: 10_000,
};
const MAX_ASSESSMENTS = 25;
const DEFAULT_SCALE = '1/20';
const DEFAULT_HOSTS = 1000;
const HOSTS_PER_SCAN = 100;
/** Jobs at once × hosts at once per job = targets waiting on the governor; must be ≥ MAX_ASSESSMENTS. */
const WORKER_CONCURRENCY = 10;
const TLS_CONCURRENCY = 8;
const EMAIL = 'bench@example.com';
const SAMPLE_MS = 50;
const GOAL_RATIO = 1.1;

interface Timings {
  assessmentMs: number;
  dnsMs: number;
  coolOffMs: number;
  pollDnsMs: number;
  pollMs: number;
}

interface RunParams {
  scaleText: string;
  scale: number;
  hosts: number;
  timings: Timings;
}

interface RunResult {
  params: RunParams;
  wallMs: number;
  /** From the first submit to the largest finished_at of the scans (ms resolution). */
  lastFinishedMs: number;
  submitMs: number;
  bounds: { bestMs: number; pureMs: number; coolOffMs: number; documentedPollingMs: number };
  ratio: number;
  ratioToDocumentedPolling: number;
  /** The emulator's counters without the per-host breakdown (the timeline has the per-host figures). */
  emulator: Omit<EmulatorStats, 'byHost'>;
  callCounts: Record<string, number>;
  scans: Record<string, number>;
  stored: { sslLabsAssessments: number; otherAssessments: number; targets: number; failedTargets: number };
  nativeCalls: number;
  governor: GovernorStatus;
  peaks: { governorCurrent: number; governorWaiting: number; rssMb: number };
  cpuMs: { user: number; system: number };
  timeline: Timeline;
}

/** What the emulator's request log says about how slots were used. */
interface Timeline {
  /** First submit to the first start, and to the MAX_ASSESSMENTS-th start. */
  firstStartMs: number;
  fullMs: number;
  /** Per host: start to the poll that saw READY (the governor holds the slot that long). */
  holdsMs: number[];
  /** The k+25th start after the k-th READY poll: how long a freed slot stayed empty. */
  restartGapsMs: number[];
  /** The first start to the last READY poll. */
  lastReadyMs: number;
}

function parseScale(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(?:\/(\d+(?:\.\d+)?))?$/.exec(text.trim());
  const value = m ? Number(m[1]) / Number(m[2] ?? 1) : Number.NaN;
  if (!(value > 0 && value <= 1)) throw new Error(`--scale "${text}" must be a fraction in (0, 1], e.g. 1/20 or 0.05`);
  return value;
}

function wholeMs(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new Error(`--${flag} takes a whole number of milliseconds ≥ 1, got "${raw}"`);
  return Number(raw);
}

function parseRuns(argv: string[]): RunParams[] {
  const { values } = parseArgs({
    args: argv,
    options: {
      scale: { type: 'string', multiple: true },
      hosts: { type: 'string' },
      'assessment-ms': { type: 'string' },
      'cool-off-ms': { type: 'string' },
      'poll-ms': { type: 'string' },
    },
  });
  const hosts = wholeMs('hosts', values.hosts) ?? DEFAULT_HOSTS;
  if (hosts > 9999) throw new Error('--hosts is at most 9999 (the names are h0001…h9999)');
  return (values.scale ?? [DEFAULT_SCALE]).map((scaleText) => {
    const scale = parseScale(scaleText);
    const scaled = (ms: number): number => Math.max(1, Math.round(ms * scale));
    const timings: Timings = {
      assessmentMs: wholeMs('assessment-ms', values['assessment-ms']) ?? scaled(REAL.assessmentMs),
      dnsMs: scaled(REAL.dnsMs),
      coolOffMs: wholeMs('cool-off-ms', values['cool-off-ms']) ?? scaled(REAL.coolOffMs),
      pollDnsMs: scaled(REAL.pollDnsMs),
      pollMs: wholeMs('poll-ms', values['poll-ms']) ?? scaled(REAL.pollMs),
    };
    if (timings.assessmentMs <= timings.dnsMs) throw new Error(`the assessment (${timings.assessmentMs} ms) must last longer than its DNS phase (${timings.dnsMs} ms)`);
    return { scaleText, scale, hosts, timings };
  });
}

/** Hosts the jobs can hand to the governor at once; below MAX_ASSESSMENTS the jobs, not the governor, are the limit. */
const inFlightCapacity = (hosts: number): number => Math.min(Math.ceil(hosts / HOSTS_PER_SCAN), WORKER_CONCURRENCY) * TLS_CONCURRENCY;

const hostName = (i: number): string => `h${String(i).padStart(4, '0')}.bench.example`;

/** h0001 → 203.0.113.1 … wrapping inside the documentation range (.1–.254). Data only: never connected to. */
const documentationAddress = (i: number): string => `203.0.113.${1 + ((i - 1) % 254)}`;

/**
 * How long one assessment holds a slot when polled the documented way: polls every pollDnsMs while the
 * emulator says DNS and every pollMs while IN_PROGRESS, until the first poll at or after the end.
 */
function documentedPollingHoldMs(t: Timings): number {
  let at = 0;
  for (;;) {
    at += at < t.dnsMs ? t.pollDnsMs : t.pollMs;
    if (at >= t.assessmentMs) return at;
  }
}

function bounds(params: RunParams): RunResult['bounds'] {
  const { hosts, timings } = params;
  const pureMs = (hosts * timings.assessmentMs) / MAX_ASSESSMENTS;
  const startUpMs = MAX_ASSESSMENTS * timings.coolOffMs;
  return {
    bestMs: pureMs + startUpMs,
    pureMs,
    coolOffMs: hosts * timings.coolOffMs,
    documentedPollingMs: (hosts * documentedPollingHoldMs(timings)) / MAX_ASSESSMENTS + startUpMs,
  };
}

function timelineOf(records: RequestRecord[], submittedAt: number): Timeline {
  const started = new Map<string, number>();
  const lastPoll = new Map<string, number>();
  for (const r of records) {
    if (r.call !== 'analyze' || r.status !== 200 || r.query.host === undefined) continue;
    if (r.query.startNew === 'on') started.set(r.query.host, r.at);
    else lastPoll.set(r.query.host, r.at);
  }
  const starts = [...started.values()].sort((a, b) => a - b);
  const releases = [...lastPoll.values()].sort((a, b) => a - b);
  const holdsMs = [...started].map(([host, at]) => (lastPoll.get(host) ?? Number.NaN) - at);
  const restartGapsMs = starts.slice(MAX_ASSESSMENTS).map((at, k) => at - (releases[k] as number));
  const first = starts[0] ?? Number.NaN;
  return {
    firstStartMs: first - submittedAt,
    fullMs: (starts[MAX_ASSESSMENTS - 1] ?? Number.NaN) - submittedAt,
    holdsMs,
    restartGapsMs,
    lastReadyMs: (releases[releases.length - 1] ?? Number.NaN) - first,
  };
}

function countBy<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

async function runOnce(params: RunParams): Promise<RunResult> {
  const { timings, hosts } = params;
  const names = Array.from({ length: hosts }, (_, i) => hostName(i + 1));
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'pcbench-ssllabs-'));
  const emulator = await startSslLabsEmulator({
    maxAssessments: MAX_ASSESSMENTS,
    coolOffMs: timings.coolOffMs,
    dnsMs: timings.dnsMs,
    assessmentMs: timings.assessmentMs - timings.dnsMs,
    registeredEmails: [EMAIL],
  });
  const config: Config = buildConfig(
    {},
    {
      dataDir,
      logLevel: 'warn',
      worker: { concurrency: WORKER_CONCURRENCY },
      tls: { concurrency: TLS_CONCURRENCY },
      dns: { hosts: Object.fromEntries(names.map((name, i) => [name, [documentationAddress(i + 1)]])) },
      ssllabs: { email: EMAIL, apiVersion: 'v4', baseUrl: emulator.url, pollDnsMs: timings.pollDnsMs, pollMs: timings.pollMs, coolOffMarginMs: 0 },
    },
  );
  let nativeCalls = 0;
  const nativeMustNotRun: TlsEngine = async (target) => {
    nativeCalls++;
    throw new Error(`the native TLS engine was asked to assess ${target.host}:${target.port}; this benchmark must never connect to 203.0.113.0/24`);
  };
  const database = openDatabase({ dataDir, sqliteDriver: config.sqliteDriver });
  const runtime = await createRuntime(config, { database, tlsEngine: nativeMustNotRun });
  const sslLabs = runtime.sslLabs;
  if (sslLabs === undefined) throw new Error('the SSL Labs engine is off although ssllabs.email is set');
  const worker = startWorker(runtime, WORKER_CONCURRENCY);
  const peaks = { governorCurrent: 0, governorWaiting: 0, rssMb: 0 };
  const sampler = setInterval(() => {
    const status = sslLabs.governor.status();
    peaks.governorCurrent = Math.max(peaks.governorCurrent, status.currentAssessments);
    peaks.governorWaiting = Math.max(peaks.governorWaiting, status.waiting);
    peaks.rssMb = Math.max(peaks.rssMb, process.memoryUsage().rss / 1048576);
  }, SAMPLE_MS);
  const cpuBefore = process.cpuUsage();
  const limits = bounds(params);
  // Generous: a governor three times slower than the best still finishes and is reported as such.
  const deadlineMs = 3 * limits.bestMs + 60_000;
  try {
    const submittedAt = Date.now();
    const t0 = performance.now();
    const scanIds: string[] = [];
    for (let i = 0; i < names.length; i += HOSTS_PER_SCAN) {
      const scan = await submitTlsScan(runtime, { hosts: names.slice(i, i + HOSTS_PER_SCAN), options: { engine: 'ssllabs', fresh: true } });
      scanIds.push(scan.id);
    }
    const submitMs = performance.now() - t0;
    let scans = await Promise.all(scanIds.map((id) => runtime.store.tlsAssessments.getScan(id)));
    while (scans.some((s) => s === undefined || s.status === 'queued' || s.status === 'running')) {
      if (performance.now() - t0 > deadlineMs) throw new Error(`the scans did not finish within ${fmt(deadlineMs / 1000)} s: ${JSON.stringify(countBy(scans, (s) => s?.status ?? 'missing'))}`);
      await sleep(SAMPLE_MS);
      scans = await Promise.all(scanIds.map((id) => runtime.store.tlsAssessments.getScan(id)));
    }
    const wallMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpuBefore);
    const lastFinished = Math.max(...scans.map((s) => Date.parse(s?.finishedAt ?? '')));
    const db = database.db.withTables<TlsTables>();
    const byEngine = await db.selectFrom('tls_assessments').select(['engine', db.fn.countAll<number>().as('n')]).groupBy('engine').execute();
    const engineCount = (engine: string): number => Number(byEngine.find((r) => r.engine === engine)?.n ?? 0);
    const targets = await db.selectFrom('tls_scan_targets').select([db.fn.countAll<number>().as('all'), db.fn.count<number>('error').as('failed')]).executeTakeFirstOrThrow();
    const records = emulator.requests;
    const { byHost: _perHost, ...emulatorStats } = emulator.stats;
    return {
      params,
      wallMs,
      lastFinishedMs: lastFinished - submittedAt,
      submitMs,
      bounds: limits,
      ratio: wallMs / limits.bestMs,
      ratioToDocumentedPolling: wallMs / limits.documentedPollingMs,
      emulator: emulatorStats,
      callCounts: countBy(records, (r) => (r.call === 'analyze' ? (r.query.startNew === 'on' ? 'analyze (start)' : 'analyze (poll)') : r.call ?? r.path)),
      scans: countBy(scans, (s) => s?.status ?? 'missing'),
      stored: {
        sslLabsAssessments: engineCount('ssllabs'),
        otherAssessments: byEngine.reduce((sum, r) => sum + Number(r.n), 0) - engineCount('ssllabs'),
        targets: Number(targets.all),
        failedTargets: Number(targets.failed),
      },
      nativeCalls,
      governor: sslLabs.governor.status(),
      peaks,
      cpuMs: { user: cpu.user / 1000, system: cpu.system / 1000 },
      timeline: timelineOf(records, submittedAt),
    };
  } finally {
    clearInterval(sampler);
    await worker.close({ graceMs: 1000 });
    await runtime.close();
    await database.db.destroy();
    await emulator.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const seconds = (ms: number, digits = 1): string => fmt(ms / 1000, digits);
const pass = (ok: boolean): string => (ok ? 'PASS' : '**FAIL**');

function parameterTable(runs: RunParams[]): string[] {
  const row = (label: string, real: string, pick: (r: RunParams) => string): string => `| ${label} | ${real} | ${runs.map(pick).join(' | ')} |`;
  return [
    `| parameter | SSL Labs (real) | ${runs.map((r) => `scale ${r.scaleText}`).join(' | ')} |`,
    `|---|---:|${runs.map(() => '---:').join('|')}|`,
    row('T: one assessment, start to READY', `${seconds(REAL.assessmentMs, 0)} s`, (r) => `${r.timings.assessmentMs} ms`),
    row('of which the DNS phase', `${seconds(REAL.dnsMs, 0)} s`, (r) => `${r.timings.dnsMs} ms`),
    row('cool-off between starts (newAssessmentCoolOff)', `${seconds(REAL.coolOffMs, 0)} s`, (r) => `${r.timings.coolOffMs} ms`),
    row('poll interval while DNS (ssllabs.pollDnsMs)', `${seconds(REAL.pollDnsMs, 0)} s`, (r) => `${r.timings.pollDnsMs} ms`),
    row('poll interval while IN_PROGRESS (ssllabs.pollMs)', `${seconds(REAL.pollMs, 0)} s`, (r) => `${r.timings.pollMs} ms`),
    row('max concurrent assessments', String(MAX_ASSESSMENTS), () => String(MAX_ASSESSMENTS)),
    row('hosts', '', (r) => String(r.hosts)),
  ];
}

function resultTable(results: RunResult[]): string[] {
  const row = (label: string, pick: (r: RunResult) => string): string => `| ${label} | ${results.map(pick).join(' | ')} |`;
  const by = (rec: Record<string, number>): string => Object.entries(rec).map(([k, v]) => `${k} ${v}`).join(', ');
  return [
    `| figure | ${results.map((r) => `scale ${r.params.scaleText}`).join(' | ')} |`,
    `|---|${results.map(() => '---:').join('|')}|`,
    row('**total wall**, first submit → last scan done', (r) => `**${seconds(r.wallMs)} s**`),
    row('last scan finished_at − first submit', (r) => `${seconds(r.lastFinishedMs)} s`),
    row(`theoretical best: hosts × T / ${MAX_ASSESSMENTS} + ${MAX_ASSESSMENTS} × cool-off`, (r) => `${seconds(r.bounds.bestMs)} s`),
    row(`pure bound hosts × T / ${MAX_ASSESSMENTS}`, (r) => `${seconds(r.bounds.pureMs)} s`),
    row('cool-off bound hosts × cool-off', (r) => `${seconds(r.bounds.coolOffMs)} s`),
    row('**ratio measured / best** (goal ≤ 1.10)', (r) => `**${fmt(r.ratio, 3)}** ${pass(r.ratio <= GOAL_RATIO)}`),
    row('best with the documented polling (slot held until the poll that sees READY)', (r) => `${seconds(r.bounds.documentedPollingMs)} s (hold ${documentedPollingHoldMs(r.params.timings)} ms)`),
    row('ratio measured / best with documented polling', (r) => fmt(r.ratioToDocumentedPolling, 3)),
    row('**429s at the emulator** (goal 0), by reason', (r) => `**${r.emulator.rateLimited.total}** (concurrency ${r.emulator.rateLimited.concurrency}, cool-off ${r.emulator.rateLimited.coolOff}) ${pass(r.emulator.rateLimited.total === 0)}`),
    row(`peak concurrent assessments at the emulator (≤ ${MAX_ASSESSMENTS})`, (r) => `${r.emulator.peakConcurrent} ${pass(r.emulator.peakConcurrent <= MAX_ASSESSMENTS)}`),
    row('assessments started (= hosts)', (r) => `${r.emulator.starts} ${pass(r.emulator.starts === r.params.hosts)}`),
    row('requests to the emulator, by call', (r) => `${r.emulator.requests} (${by(r.callCounts)})`),
    row("tls_assessments rows with engine='ssllabs' (= hosts), other engines", (r) => `${r.stored.sslLabsAssessments}, ${r.stored.otherAssessments} ${pass(r.stored.sslLabsAssessments === r.params.hosts && r.stored.otherAssessments === 0)}`),
    row('targets recorded / with an error', (r) => `${r.stored.targets} / ${r.stored.failedTargets} ${pass(r.stored.targets === r.params.hosts && r.stored.failedTargets === 0)}`),
    row('scans by final status', (r) => by(r.scans)),
    row(`hosts that can be in flight: min(scans, worker.concurrency) × tls.concurrency (≥ ${MAX_ASSESSMENTS} needed)`, (r) => String(inFlightCapacity(r.params.hosts))),
    row('native engine calls (must be 0)', (r) => `${r.nativeCalls} ${pass(r.nativeCalls === 0)}`),
    row('governor at the end: started / rateLimited / pauses / running', (r) => `${r.governor.started} / ${r.governor.rateLimited} / ${r.governor.pauses} / ${r.governor.running}`),
    row('governor peaks (sampled every 50 ms): in flight / jobs waiting for a start', (r) => `${r.peaks.governorCurrent} / ${r.peaks.governorWaiting}`),
    row('CPU time of the process (user + system; emulator included)', (r) => `${seconds(r.cpuMs.user + r.cpuMs.system)} s (${seconds(r.cpuMs.user)} + ${seconds(r.cpuMs.system)}), ${fmt((100 * (r.cpuMs.user + r.cpuMs.system)) / r.wallMs)} % of one core`),
    row('peak RSS during the run (sampled)', (r) => `${fmt(r.peaks.rssMb)} MB`),
    row('submitting the scans', (r) => `${fmt(r.submitMs)} ms`),
  ];
}

function whereTimeWent(results: RunResult[]): string[] {
  const row = (label: string, pick: (r: RunResult) => string): string => `| ${label} | ${results.map(pick).join(' | ')} |`;
  const dist = (xs: number[]): string => `${fmt(mean(xs))} / ${fmt(percentile(xs, 50))} / ${fmt(percentile(xs, 99))} / ${fmt(Math.max(...xs))}`;
  return [
    `| from the emulator's request log | ${results.map((r) => `scale ${r.params.scaleText}`).join(' | ')} |`,
    `|---|${results.map(() => '---:').join('|')}|`,
    row('first submit → first start (queue pick-up, `info`)', (r) => `${fmt(r.timeline.firstStartMs)} ms`),
    row(`first submit → ${MAX_ASSESSMENTS}th start (ideal ${MAX_ASSESSMENTS - 1} × cool-off after the first)`, (r) => `${fmt(r.timeline.fullMs)} ms (ideal ${fmt(r.timeline.firstStartMs + (MAX_ASSESSMENTS - 1) * r.params.timings.coolOffMs)})`),
    row('slot held per assessment, start → READY poll, ms: mean / p50 / p99 / max', (r) => dist(r.timeline.holdsMs)),
    row('of which after READY (poll granularity), mean ms', (r) => `${fmt(mean(r.timeline.holdsMs) - r.params.timings.assessmentMs)} (${fmt((100 * (mean(r.timeline.holdsMs) - r.params.timings.assessmentMs)) / r.params.timings.assessmentMs, 1)} % of T)`),
    row(`freed slot → next start (k+${MAX_ASSESSMENTS}th start − kth READY poll), ms: mean / p50 / p99 / max`, (r) => dist(r.timeline.restartGapsMs)),
    row('effective cycle per slot: wall × 25 / hosts', (r) => `${fmt((r.wallMs * MAX_ASSESSMENTS) / r.params.hosts)} ms`),
    row('first start → last READY poll', (r) => `${seconds(r.timeline.lastReadyMs)} s`),
  ];
}

function verdict(r: RunResult): string {
  const overshoot = mean(r.timeline.holdsMs) - r.params.timings.assessmentMs;
  const gap = mean(r.timeline.restartGapsMs);
  const head = `Scale ${r.params.scaleText}: ${seconds(r.wallMs)} s for ${r.params.hosts} hosts, ${fmt(r.ratio, 3)} × the best (${seconds(r.bounds.bestMs)} s): ${r.ratio <= GOAL_RATIO ? 'within' : 'outside'} the 10 % goal.`;
  return `${head} Each slot was held ${fmt(overshoot)} ms past the end of its assessment on average (the READY state is only seen at the next documented poll) and stayed empty ${fmt(gap)} ms before the next start; with the documented polling the best is ${seconds(r.bounds.documentedPollingMs)} s and the run took ${fmt(r.ratioToDocumentedPolling, 3)} × that.`;
}

async function main(): Promise<void> {
  const runs = parseRuns(process.argv.slice(2));
  const machine = machineInfo();
  console.log(`[bench] SSL Labs governor, ${runs.length} run(s); real timings: T ${REAL.assessmentMs} ms (DNS ${REAL.dnsMs} ms), cool-off ${REAL.coolOffMs} ms, polls ${REAL.pollDnsMs}/${REAL.pollMs} ms, max ${MAX_ASSESSMENTS}`);
  const results: RunResult[] = [];
  for (const params of runs) {
    const { timings: t } = params;
    console.log(`[bench] scale ${params.scaleText}: ${params.hosts} hosts, T ${t.assessmentMs} ms (DNS ${t.dnsMs} ms), cool-off ${t.coolOffMs} ms, polls ${t.pollDnsMs}/${t.pollMs} ms; best ${seconds(bounds(params).bestMs)} s`);
    if (inFlightCapacity(params.hosts) < MAX_ASSESSMENTS) console.warn(`[bench] only ${inFlightCapacity(params.hosts)} hosts can be in flight with ${params.hosts} hosts: the jobs, not the governor, will be the limit`);
    const result = await runOnce(params);
    console.log(`[bench] scale ${params.scaleText}: ${seconds(result.wallMs)} s, ratio ${fmt(result.ratio, 3)}, 429s ${result.emulator.rateLimited.total}, peak ${result.emulator.peakConcurrent}`);
    results.push(result);
  }
  const vmHwmMb = (procMemory(process.pid)?.hwmKb ?? Number.NaN) / 1024;
  const md = [
    '# SSL Labs governor: 1,000 hosts through the local SSL Labs emulator',
    '',
    machineMarkdown(machine, uptime()),
    '- Ran from src/ through tsx, in one process: the emulator (src/testing/ssllabs-emulator.ts) and the product path.',
    `- Command: \`npx tsx bench/ssllabs-governor.ts ${process.argv.slice(2).join(' ')}\``.replace(/ `$/, '`'),
    '',
    `Product path: \`createRuntime(config)\` with an embedded SQLite store in a temp folder, \`startWorker(runtime, ${WORKER_CONCURRENCY})\`, and the hosts \`h0001.bench.example\`… submitted with \`submitTlsScan\` as ${Math.ceil((results[0]?.params.hosts ?? DEFAULT_HOSTS) / HOSTS_PER_SCAN)} scans of ${HOSTS_PER_SCAN} with \`options: { engine: 'ssllabs', fresh: true }\`. Config: \`worker.concurrency ${WORKER_CONCURRENCY}\`, \`tls.concurrency ${TLS_CONCURRENCY}\` (${WORKER_CONCURRENCY * TLS_CONCURRENCY} hosts of ${WORKER_CONCURRENCY} jobs queue at the governor, which lets ${MAX_ASSESSMENTS} run), \`ssllabs: { email: '${EMAIL}', apiVersion: 'v4', baseUrl: <emulator on 127.0.0.1>, pollDnsMs, pollMs, coolOffMarginMs: 0 }\`, \`dns.hosts\` mapping every name to an address in 203.0.113.0/24 (documentation range, never connected to; the native TLS engine is a stub that throws if called). The emulator enforces ${MAX_ASSESSMENTS} concurrent assessments and the cool-off with 429s, and takes T per assessment (DNS phase, then the testing phase) measured on its own clock.`,
    '',
    '## Parameters',
    '',
    ...parameterTable(runs),
    '',
    '## Results',
    '',
    ...resultTable(results),
    '',
    `Peak RSS of the whole process (VmHWM, all runs): ${fmt(vmHwmMb)} MB.`,
    '',
    '## Where the time went',
    '',
    ...whereTimeWent(results),
    '',
    results.map(verdict).join('\n\n'),
    '',
  ].join('\n');
  console.log(`\n${md}`);
  writeResults('ssllabs-governor', md, { machine, real: REAL, maxAssessments: MAX_ASSESSMENTS, workerConcurrency: WORKER_CONCURRENCY, tlsConcurrency: TLS_CONCURRENCY, hostsPerScan: HOSTS_PER_SCAN, vmHwmMb, results });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
