/**
 * Kill test (issue 6, "Measured"): a batch of port scans and TLS scans on the shared queue, 2
 * `portcullis worker` processes, and one of them SIGKILLed 20 times at random moments, each time
 * replaced by a new one. At the end: scans submitted, completed, failed, lost (must be 0), duplicate
 * result rows (must be 0) and gaps (a scan done with hosts, targets or open ports missing).
 *
 *   npx tsx bench/kill-test.ts [--queue bullmq|embedded] [--db postgres|sqlite] [--kills 20] [--seed N]
 *
 * Default: BullMQ on the Redis at 127.0.0.1:6379 (REDIS_URL; a prefix of its own, deleted after) and a
 * scratch PostgreSQL database (created next to the test database, dropped after). `--queue embedded`
 * runs the same against the embedded queue (the jobs table of that database), which is shared by
 * processes just the same, so killing a worker process tests its lease recovery. The workers run from
 * dist/ (rebuilt when stale). Everything connects to 127.0.0.0/8 only: port scans of consecutive
 * blocks from 127.1.0.0 (listeners of this process on two addresses of each) and TLS scans of the fixture endpoints
 * on 127.0.1.x (bench/tls-fixture-server.ts, a child process).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildConfig } from '../src/config/index.js';
import { createRuntime, type Runtime } from '../src/runtime/index.js';
import {
  REDIS_URL,
  type ScaleWorkload,
  type ScanOutcome,
  type ScratchDatabase,
  type SubmittedWorkload,
  type TlsEndpoints,
  type WorkerProcess,
  checkWorkload,
  createScratchPostgres,
  deleteRedisKeys,
  ensureBuilt,
  fmt,
  isUnfinished,
  killLiveChildren,
  machineInfo,
  machineMarkdown,
  seededRandom,
  sleep,
  startTlsEndpoints,
  startWorkerProcess,
  stopWorkerProcess,
  submitWorkload,
  uptime,
  waitForWorkload,
  workerEnv,
  workloadPorts,
  writeResults,
} from './lib.js';

const DEFAULT_KILLS = 20;
const TLS_ADDRESSES = 8;
const TLS_FIXTURES = ['modern', 'ecdsa'];
/** After the last kill, how long the batch may take to drain. */
const DRAIN_TIMEOUT_MS = 240_000;

interface Kill {
  atS: number;
  worker: number;
  pid: number;
  /** Jobs active in the whole queue just before (all workers). */
  activeJobs: number;
  replacement: number;
  replacementReadyMs: number;
}

/** Lost: its scan never finished, or its job was failed because workers kept dying under it. */
function isLost(o: ScanOutcome): boolean {
  return isUnfinished(o) || o.status === 'missing' || /worker lost the job/.test(`${o.job?.error ?? ''} ${o.error ?? ''}`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      queue: { type: 'string', default: 'bullmq' },
      db: { type: 'string', default: 'postgres' },
      kills: { type: 'string', default: String(DEFAULT_KILLS) },
      workers: { type: 'string', default: '2' },
      concurrency: { type: 'string', default: '2' },
      'lease-ms': { type: 'string', default: '4000' },
      'port-scans': { type: 'string', default: '96' },
      addresses: { type: 'string', default: '2048' },
      'tls-scans': { type: 'string', default: '32' },
      'tls-targets': { type: 'string', default: '12' },
      'min-gap-ms': { type: 'string', default: '1000' },
      'max-gap-ms': { type: 'string', default: '5000' },
      seed: { type: 'string' },
      // Splits every port scan into shard jobs of this many probes (0: one job per scan, the default;
      // fewer than the 4 ports per host: each host in port blocks).
      'shard-probes': { type: 'string', default: '0' },
    },
  });
  const queueKind = values.queue;
  const dbKind = values.db;
  if (queueKind !== 'bullmq' && queueKind !== 'embedded') throw new Error('--queue is bullmq or embedded');
  if (dbKind !== 'postgres' && dbKind !== 'sqlite') throw new Error('--db is postgres or sqlite');
  const kills = Number(values.kills);
  const workerCount = Number(values.workers);
  const concurrency = Number(values.concurrency);
  const leaseMs = Number(values['lease-ms']);
  const [minGapMs, maxGapMs] = [Number(values['min-gap-ms']), Number(values['max-gap-ms'])];
  const shardProbes = Number(values['shard-probes']);
  const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
  const random = seededRandom(seed);
  const workload: ScaleWorkload = {
    portScans: Number(values['port-scans']),
    addressesPerScan: Number(values.addresses),
    ports: await workloadPorts(),
    tlsScans: Number(values['tls-scans']),
    tlsTargetsPerScan: Number(values['tls-targets']),
  };

  ensureBuilt();
  const machine = machineInfo();
  const prefix = `pcbench-kill-${process.pid}-${Date.now()}`;
  let scratch: ScratchDatabase | undefined;
  let dataDir: string | undefined;
  let tls: TlsEndpoints | undefined;
  let runtime: Runtime | undefined;
  let submitted: SubmittedWorkload | undefined;
  const workers: WorkerProcess[] = [];
  const everyWorker: WorkerProcess[] = [];
  process.once('SIGINT', () => {
    killLiveChildren();
    process.exit(130);
  });
  try {
    tls = await startTlsEndpoints(TLS_ADDRESSES, TLS_FIXTURES);
    if (dbKind === 'postgres') scratch = await createScratchPostgres('kill');
    else dataDir = mkdtempSync(path.join(os.tmpdir(), 'pcbench-kill-'));
    const settings = {
      databaseUrl: scratch?.url,
      dataDir,
      redisUrl: queueKind === 'bullmq' ? REDIS_URL : undefined,
      redisPrefix: prefix,
      concurrency,
      leaseMs,
      shardProbes,
    };
    runtime = await createRuntime(
      buildConfig(
        {},
        {
          logLevel: 'warn',
          redisPrefix: prefix,
          worker: { leaseMs },
          ...(settings.databaseUrl !== undefined ? { databaseUrl: settings.databaseUrl } : {}),
          ...(settings.dataDir !== undefined ? { dataDir: settings.dataDir } : {}),
          ...(settings.redisUrl !== undefined ? { redisUrl: settings.redisUrl } : {}),
        },
      ),
    );
    const env = workerEnv(settings);
    const startOne = async (): Promise<WorkerProcess> => {
      const w = await startWorkerProcess(env);
      workers.push(w);
      everyWorker.push(w);
      return w;
    };
    for (let i = 0; i < workerCount; i++) await startOne();
    console.log(`[bench] ${queueKind} queue on ${dbKind}, ${workerCount} workers × concurrency ${concurrency}, lease ${leaseMs} ms, seed ${seed}`);

    submitted = await submitWorkload(runtime, workload, tls);
    const t0 = submitted.submittedMs;
    const jobs = workload.portScans + workload.tlsScans;
    console.log(`[bench] submitted ${workload.portScans} port scans (${workload.addressesPerScan} addresses × ${workload.ports.length} ports) and ${workload.tlsScans} TLS scans (${workload.tlsTargetsPerScan} targets)`);

    const killLog: Kill[] = [];
    let finished = false;
    const draining = waitForWorkload(runtime, submitted, DRAIN_TIMEOUT_MS + kills * (maxGapMs + 5000)).then((r) => {
      finished = true;
      return r;
    });
    // Replacements start in the background, so the kills keep their random pace whatever start-up costs.
    const replacements: Array<Promise<WorkerProcess>> = [];
    for (let k = 0; k < kills && !finished; k++) {
      await sleep(minGapMs + random() * (maxGapMs - minGapMs));
      if (finished) break;
      // Only workers that are up can be killed; right after a kill the other one may still be starting.
      while (workers.length === 0) await Promise.race(replacements);
      const victim = workers.splice(Math.floor(random() * workers.length), 1)[0] as WorkerProcess;
      const activeJobs = (await runtime.queue.counts()).active;
      victim.proc.kill('SIGKILL');
      await victim.exited;
      const kill: Kill = { atS: (performance.now() - t0) / 1000, worker: victim.index, pid: victim.pid, activeJobs, replacement: 0, replacementReadyMs: 0 };
      killLog.push(kill);
      console.log(`[bench]   kill ${k + 1} at ${fmt(kill.atS, 1)} s: worker ${victim.index} (pid ${victim.pid}), ${activeJobs} jobs active in the queue`);
      const started = performance.now();
      const replacement = startOne().then((w) => {
        kill.replacement = w.index;
        kill.replacementReadyMs = performance.now() - started;
        return w;
      });
      replacement.catch(() => undefined); // reported by the Promise.all below
      replacements.push(replacement);
    }
    await Promise.all(replacements);
    const { outcomes, finishedMs, timedOut } = await draining;
    const wallS = (finishedMs - t0) / 1000;
    const integrity = await checkWorkload(runtime, submitted);
    const shardJobs = Number(
      (await runtime.store.handle.db.selectFrom('port_scans').select((eb) => eb.fn.coalesce(eb.fn.sum<number>('shard_count'), eb.lit(0)).as('n')).executeTakeFirstOrThrow()).n,
    );
    const lost = outcomes.filter(isLost);
    const completed = outcomes.filter((o) => o.status === 'done');
    const failed = outcomes.filter((o) => !isLost(o) && o.status !== 'done');
    const attempts = outcomes.map((o) => o.job?.attemptsMade ?? 0);
    // What the workers said about jobs they took over from a killed one.
    const logs = everyWorker.flatMap((w) => w.logs);
    // "worker lost the job N times" (BullMQ: when the next run starts, and again on later runs; embedded
    // queue: when the lease is recovered): the highest N per job is how often that job was lost.
    const lostByJob = new Map<string, number>();
    for (const l of logs) {
      const times = typeof l.msg === 'string' ? /worker lost the job (\d+) time/.exec(l.msg)?.[1] : undefined;
      if (times !== undefined) lostByJob.set(String(l.jobId), Math.max(Number(times), lostByJob.get(String(l.jobId)) ?? 0));
    }
    const lostRuns = [...lostByJob.values()].reduce((a, b) => a + b, 0);
    const mostLost = Math.max(0, ...lostByJob.values());
    /** Jobs by how many runs they lost, per kind: e.g. { 'tls-scan': { 1: 5, 2: 3 } }. */
    const lostHistogram: Record<string, Record<number, number>> = {};
    for (const [jobId, times] of lostByJob) {
      const kind = jobId.split(':')[0] as string;
      const byTimes = (lostHistogram[kind] ??= {});
      byTimes[times] = (byTimes[times] ?? 0) + 1;
    }
    const histogramText = Object.entries(lostHistogram)
      .map(([kind, byTimes]) => `${kind}: ${Object.entries(byTimes).map(([times, n]) => `${n} × ${times}`).join(', ')}`)
      .join('; ');
    const resumedPortScans = new Set(logs.filter((l) => (l.msg === 'port scan started' || l.msg === 'port scan shard started') && Number(l.resumedHosts) > 0).map((l) => l.scanId)).size;
    const resumedTlsScans = logs.filter((l) => l.msg === 'TLS scan started' && Number(l.resumed) > 0).length;
    const workerErrors = logs.filter((l) => l.level >= 50).map((l) => `${l.msg ?? ''} ${JSON.stringify(l.err ?? '')}`.slice(0, 300));
    // Why attempts failed (the handlers log each failed attempt with its error).
    const failedAttempts = logs
      .filter((l) => typeof l.msg === 'string' && l.msg.endsWith('attempt failed'))
      .map((l) => ({ scan: l.scanId ?? l.tlsScanId, attempt: l.attempt, error: (l.err as { message?: string; stack?: string } | undefined)?.stack?.split('\n').slice(0, 4).join(' | ') }));
    const result = {
      queue: queueKind,
      db: dbKind,
      seed,
      leaseMs,
      workers: workerCount,
      concurrency,
      workload,
      kills: killLog,
      wallS,
      timedOut,
      jobsSubmitted: jobs,
      jobsCompleted: completed.length,
      jobsFailed: failed.length,
      jobsLost: lost.length,
      lostDetail: lost,
      failedDetail: failed,
      maxAttemptsMade: Math.max(...attempts),
      jobsRunMoreThanOnce: attempts.filter((n) => n > 1).length,
      lostRuns,
      jobsLostAtLeastOnce: lostByJob.size,
      mostLostRunsOfOneJob: mostLost,
      lostHistogram,
      resumedPortScans,
      resumedTlsScans,
      integrity,
      workerErrors,
      failedAttempts,
    };
    const pass = lost.length === 0 && integrity.gaps.length === 0 && integrity.duplicatePortRows + integrity.duplicateHostRows + integrity.duplicateTlsAssessments + integrity.duplicateTlsTargets === 0;
    console.log(
      `[bench] ${fmt(wallS, 1)} s: submitted ${jobs}, completed ${completed.length}, failed ${failed.length}, lost ${lost.length}; duplicates port ${integrity.duplicatePortRows} host ${integrity.duplicateHostRows} TLS ${integrity.duplicateTlsAssessments}/${integrity.duplicateTlsTargets}; gaps ${integrity.gaps.length} → ${pass ? 'PASS' : 'FAIL'}`,
    );
    for (const o of [...lost, ...failed]) console.log(`[bench]   ${o.kind} scan ${o.id}: ${o.status} ${o.error ?? ''} (job ${o.job?.state} after ${o.job?.attemptsMade} runs: ${o.job?.error ?? ''})`);
    for (const g of integrity.gaps) console.log(`[bench]   gap: ${g}`);

    const killRows = killLog.map((k, i) => `| ${i + 1} | ${fmt(k.atS, 1)} s | ${k.worker} (pid ${k.pid}) | ${k.activeJobs} | ${k.replacement} (${fmt(k.replacementReadyMs)} ms) |`);
    const name = `kill-test-${queueKind}-${dbKind}${kills === DEFAULT_KILLS ? '' : `-${kills}-kills`}${shardProbes > 0 ? (shardProbes < workload.ports.length ? '-port-blocks' : '-sharded') : ''}`;
    const markdown = [
      `# Kill test: ${queueKind === 'bullmq' ? 'BullMQ on Redis' : 'embedded queue'}, ${dbKind === 'postgres' ? 'PostgreSQL' : 'SQLite'}, ${kills} SIGKILLs`,
      '',
      machineMarkdown(machine, uptime()),
      `- Command: \`npx tsx bench/kill-test.ts --queue ${queueKind} --db ${dbKind} --kills ${kills} --seed ${seed} --workers ${workerCount} --concurrency ${concurrency} --lease-ms ${leaseMs} --port-scans ${workload.portScans} --addresses ${workload.addressesPerScan} --tls-scans ${workload.tlsScans} --tls-targets ${workload.tlsTargetsPerScan} --min-gap-ms ${minGapMs} --max-gap-ms ${maxGapMs}${shardProbes > 0 ? ` --shard-probes ${shardProbes}` : ''}\``,
      `- Store: ${dbKind === 'postgres' ? 'a scratch PostgreSQL database on 127.0.0.1:5432, dropped after' : 'one SQLite data dir shared by every process'}; queue: ${queueKind === 'bullmq' ? `BullMQ on ${REDIS_URL} under a prefix of its own, deleted after` : 'the embedded queue (jobs table of that database)'}.`,
      `- Workers: ${workerCount} \`node dist/cli/main.js worker\` processes (PORTCULLIS_WORKER_CONCURRENCY=${concurrency}: that many port-scan and that many TLS-scan jobs at once each, PORTCULLIS_JOB_LEASE_MS=${leaseMs}). A random one of those up is SIGKILLed after a random ${minGapMs}-${maxGapMs} ms and a replacement started (in the background), ${kills} times.`,
      `- Workload, submitted by this process through \`submitPortScan\`/\`submitTlsScan\` (store + queue, no HTTP): ${workload.portScans} port scans of consecutive /${32 - Math.log2(workload.addressesPerScan)} blocks from 127.1.0.0 (${workload.addressesPerScan} addresses × ${workload.ports.length} ports ${workload.ports.join(',')}, no service detection; listeners of this process on 2 addresses × 2 ports of each block) and ${workload.tlsScans} TLS scans of ${workload.tlsTargetsPerScan} endpoints each (fresh, native engine; ${TLS_FIXTURES.join(', ')} on 127.0.1.1-${TLS_ADDRESSES}, served by a child process).`,
      '',
      '| figure | value | goal |',
      '|---|---:|---|',
      `| jobs submitted (scans) | ${jobs} | |`,
      ...(shardProbes > 0 ? [`| port-scan shard jobs (${shardProbes < workload.ports.length ? 'port blocks: each host split' : 'blocks of hosts'}) | ${shardJobs} | |`] : []),
      `| jobs completed (scan done) | ${completed.length} | |`,
      `| jobs failed (for another reason than the kills) | ${failed.length} | |`,
      `| **jobs lost** (never finished, or failed because workers died under them) | **${lost.length}** | 0: ${lost.length === 0 ? 'PASS' : 'FAIL'} |`,
      `| **duplicate rows**: port results / hosts / TLS assessments / TLS scan targets | **${integrity.duplicatePortRows} / ${integrity.duplicateHostRows} / ${integrity.duplicateTlsAssessments} / ${integrity.duplicateTlsTargets}** | 0: ${integrity.duplicatePortRows + integrity.duplicateHostRows + integrity.duplicateTlsAssessments + integrity.duplicateTlsTargets === 0 ? 'PASS' : 'FAIL'} |`,
      `| **gaps** (done with hosts, targets or expected open ports missing) | **${integrity.gaps.length}** | 0: ${integrity.gaps.length === 0 ? 'PASS' : 'FAIL'} |`,
      `| open ports no listener of ours explains | ${integrity.unexpectedOpen.length} | |`,
      `| SIGKILLs during the batch | ${killLog.length} | ${kills}${killLog.length < kills ? ' (the batch finished first: make it bigger)' : ''} |`,
      `| runs lost with a killed worker and run again (from the workers' "worker lost the job N times" logs): in all / jobs / most of one job | ${lostRuns} / ${lostByJob.size} / ${mostLost} | |`,
      `| jobs by runs lost (jobs × times) | ${histogramText || 'none'} | |`,
      `| scans resumed with results of a killed run (port scans with hosts stored / TLS scans with targets stored) | ${resumedPortScans} / ${resumedTlsScans} | |`,
      `| jobs run more than once / most runs of one job (\`attemptsMade\`) | ${result.jobsRunMoreThanOnce} / ${result.maxAttemptsMade} | |`,
      `| rows stored: hosts / port results / TLS assessments / TLS scan targets | ${integrity.rows.hosts} / ${integrity.rows.ports} / ${integrity.rows.tlsAssessments} / ${integrity.rows.tlsTargets} | |`,
      `| batch wall time (submit to last scan finished) | ${fmt(wallS, 1)} s${timedOut ? ' (timed out)' : ''} | |`,
      `| errors logged by workers / failed attempts logged (a handler error, retried while attempts are left) | ${workerErrors.length} / ${failedAttempts.length} | |`,
      '',
      ...(lost.length + failed.length > 0 ? ['Lost or failed scans:', '', ...[...lost, ...failed].map((o) => `- ${o.kind} scan ${o.id}: ${o.status} ${o.error ?? ''} (job ${o.job?.state}, ${o.job?.attemptsMade} runs: ${o.job?.error ?? ''})`), ''] : []),
      ...(integrity.gaps.length > 0 ? ['Gaps:', '', ...integrity.gaps.map((g) => `- ${g}`), ''] : []),
      ...(failedAttempts.length > 0 ? ['Failed attempts (first 10):', '', ...failedAttempts.slice(0, 10).map((a) => `- scan ${String(a.scan)} attempt ${String(a.attempt)}: ${a.error ?? ''}`), ''] : []),
      '| kill | at (from submit) | worker killed | jobs active in the queue just before (runs of killed workers not yet taken back included) | replacement (ready after) |',
      '|---:|---:|---|---:|---|',
      ...killRows,
      '',
    ].join('\n');
    writeResults(name, markdown, { machine, ...result });
    process.exitCode = pass ? 0 : 1;
  } finally {
    await Promise.all(workers.map((w) => stopWorkerProcess(w)));
    for (const l of submitted?.listeners ?? []) await l.close();
    await runtime?.close();
    await tls?.stop();
    if (queueKind === 'bullmq') await deleteRedisKeys(prefix);
    await scratch?.drop();
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
    killLiveChildren();
  }
}

await main();
