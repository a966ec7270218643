/**
 * Throughput scaling across worker processes (issue 6, "Measured"): one fixed workload — port scans of
 * loopback blocks and native TLS assessments of local endpoints — run with 1, 2 and 4 `portcullis
 * worker` processes on BullMQ (Redis at 127.0.0.1:6379) and PostgreSQL (a scratch database per
 * setting): jobs per minute for each, with the workers' CPU time and the usual duplicate/gap checks.
 * Then the same across worker processes against the SSL Labs emulator, where workers mostly wait:
 * that part is bench/ssllabs-workers.ts, run as it is with `--workers <same list>`, its figures read
 * back from bench/results/ssllabs-workers.json (jobs/min, assessments/min, peak concurrent
 * assessments at the emulator vs the global limit of 25).
 *
 *   npx tsx bench/worker-scaling.ts [--workers 1,2,4] [--ssllabs-hosts 1000 | --no-ssllabs]
 *
 * Everything connects to 127.0.0.0/8 only (see kill-test.ts for the workload; the SSL Labs part's host
 * names resolve to 203.0.113.0/24 as data and are never connected to).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildConfig } from '../src/config/index.js';
import { createRuntime, type Runtime } from '../src/runtime/index.js';
import {
  REDIS_URL,
  RESULTS_DIR,
  ROOT,
  type ScaleWorkload,
  type ScratchDatabase,
  type SubmittedWorkload,
  type TlsEndpoints,
  type WorkerProcess,
  checkWorkload,
  createScratchPostgres,
  deleteRedisKeys,
  ensureBuilt,
  fmt,
  killLiveChildren,
  machineInfo,
  machineMarkdown,
  procCpuMs,
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

const TLS_ADDRESSES = 8;
const TLS_FIXTURES = ['modern', 'ecdsa'];
const LEASE_MS = 30_000;
const SETTING_TIMEOUT_MS = 300_000;
/** As in ssllabs-workers.ts: its scans have 100 hosts each and its limit is 25 concurrent assessments. */
const SSLLABS_HOSTS_PER_SCAN = 100;
const SSLLABS_MAX = 25;

interface NativeRun {
  workers: number;
  wallS: number;
  jobs: number;
  jobsPerMin: number;
  portScansDone: number;
  tlsScansDone: number;
  notDone: number;
  /** CPU of the worker processes during the batch (start-up excluded), and of the TLS endpoints' process. */
  workerCpuS: number;
  endpointCpuS: number;
  duplicates: number;
  gaps: number;
  rows: { hosts: number; ports: number; tlsAssessments: number };
  loadBefore: string;
}

async function runNative(workers: number, concurrency: number, workload: ScaleWorkload, tls: TlsEndpoints): Promise<NativeRun> {
  const prefix = `pcbench-scaling-${process.pid}-${Date.now()}`;
  const loadBefore = uptime();
  let scratch: ScratchDatabase | undefined;
  let runtime: Runtime | undefined;
  let submitted: SubmittedWorkload | undefined;
  const procs: WorkerProcess[] = [];
  try {
    scratch = await createScratchPostgres('scaling');
    runtime = await createRuntime(buildConfig({}, { logLevel: 'warn', databaseUrl: scratch.url, redisUrl: REDIS_URL, redisPrefix: prefix }));
    const env = workerEnv({ databaseUrl: scratch.url, redisUrl: REDIS_URL, redisPrefix: prefix, concurrency, leaseMs: LEASE_MS });
    procs.push(...(await Promise.all(Array.from({ length: workers }, () => startWorkerProcess(env)))));
    const cpuAtStart = procs.map((p) => procCpuMs(p.pid) ?? 0);
    const endpointCpuAtStart = procCpuMs(tls.pid) ?? 0;
    submitted = await submitWorkload(runtime, workload, tls);
    const { outcomes, finishedMs, timedOut } = await waitForWorkload(runtime, submitted, SETTING_TIMEOUT_MS);
    const workerCpuMs = procs.reduce((sum, p, i) => sum + (procCpuMs(p.pid) ?? 0) - (cpuAtStart[i] ?? 0), 0);
    const endpointCpuMs = (procCpuMs(tls.pid) ?? 0) - endpointCpuAtStart;
    if (timedOut) console.error(`[bench] ${workers} workers: the batch did not finish within ${SETTING_TIMEOUT_MS / 1000} s`);
    const integrity = await checkWorkload(runtime, submitted);
    const wallS = (finishedMs - submitted.submittedMs) / 1000;
    const jobs = outcomes.length;
    return {
      workers,
      wallS,
      jobs,
      jobsPerMin: (jobs * 60) / wallS,
      portScansDone: outcomes.filter((o) => o.kind === 'port' && o.status === 'done').length,
      tlsScansDone: outcomes.filter((o) => o.kind === 'tls' && o.status === 'done').length,
      notDone: outcomes.filter((o) => o.status !== 'done').length,
      workerCpuS: workerCpuMs / 1000,
      endpointCpuS: endpointCpuMs / 1000,
      duplicates: integrity.duplicatePortRows + integrity.duplicateHostRows + integrity.duplicateTlsAssessments + integrity.duplicateTlsTargets,
      gaps: integrity.gaps.length,
      rows: { hosts: integrity.rows.hosts, ports: integrity.rows.ports, tlsAssessments: integrity.rows.tlsAssessments },
      loadBefore,
    };
  } finally {
    await Promise.all(procs.map((p) => stopWorkerProcess(p)));
    for (const l of submitted?.listeners ?? []) await l.close();
    await runtime?.close();
    await deleteRedisKeys(prefix);
    await scratch?.drop();
  }
}

interface SslLabsRun {
  workers: number;
  hosts: number;
  wallMs: number;
  ratio: number;
  peakConcurrent: number;
  rateLimited: { total: number };
  assessed: number;
  failed: number;
}

/** bench/ssllabs-workers.ts as it is (it writes its own results), then its runs read back. */
async function runSslLabs(workerList: string, hosts: number): Promise<SslLabsRun[]> {
  const child = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), ['bench/ssllabs-workers.ts', '--workers', workerList, '--hosts', String(hosts)], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`bench/ssllabs-workers.ts exited ${code}`);
  return (JSON.parse(readFileSync(path.join(RESULTS_DIR, 'ssllabs-workers.json'), 'utf8')) as { runs: SslLabsRun[] }).runs;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      workers: { type: 'string', default: '1,2,4' },
      concurrency: { type: 'string', default: '2' },
      'port-scans': { type: 'string', default: '48' },
      addresses: { type: 'string', default: '2048' },
      'tls-scans': { type: 'string', default: '16' },
      'tls-targets': { type: 'string', default: '12' },
      'ssllabs-hosts': { type: 'string', default: '1000' },
      'no-ssllabs': { type: 'boolean', default: false },
    },
  });
  const counts = values.workers.split(',').map(Number);
  const concurrency = Number(values.concurrency);
  const workload: ScaleWorkload = {
    portScans: Number(values['port-scans']),
    addressesPerScan: Number(values.addresses),
    ports: await workloadPorts(),
    tlsScans: Number(values['tls-scans']),
    tlsTargetsPerScan: Number(values['tls-targets']),
  };
  ensureBuilt();
  const machine = machineInfo();
  process.once('SIGINT', () => {
    killLiveChildren();
    process.exit(130);
  });
  const native: NativeRun[] = [];
  const tls = await startTlsEndpoints(TLS_ADDRESSES, TLS_FIXTURES);
  try {
    for (const workers of counts) {
      console.log(`[bench] native workload, ${workers} worker process(es) × concurrency ${concurrency}`);
      const run = await runNative(workers, concurrency, workload, tls);
      console.log(`[bench]   ${fmt(run.wallS, 1)} s for ${run.jobs} jobs: ${fmt(run.jobsPerMin, 1)} jobs/min; worker CPU ${fmt(run.workerCpuS, 1)} s; not done ${run.notDone}, duplicates ${run.duplicates}, gaps ${run.gaps}`);
      native.push(run);
    }
  } finally {
    await tls.stop();
  }

  const sslLabsHosts = Number(values['ssllabs-hosts']);
  const sslLabs = values['no-ssllabs'] ? [] : await runSslLabs(values.workers, sslLabsHosts);

  const base = native[0];
  const nativeRows = native.map(
    (r) =>
      `| ${r.workers} | ${fmt(r.wallS, 1)} s | **${fmt(r.jobsPerMin, 1)}** | ${base ? `${fmt(r.jobsPerMin / base.jobsPerMin, 2)}×` : ''} | ${fmt(r.workerCpuS, 1)} s (${fmt((r.workerCpuS / r.wallS) * 100)} % of one core) | ${fmt(r.endpointCpuS, 1)} s | ${r.portScansDone} + ${r.tlsScansDone} / ${r.jobs} | ${r.duplicates} / ${r.gaps} | \`${r.loadBefore.replace(/^.*load average: /, '')}\` |`,
  );
  const sslRows = sslLabs.map((r) => {
    const minutes = r.wallMs / 60_000;
    return `| ${r.workers} | ${fmt(r.wallMs / 1000, 1)} s | **${fmt(r.hosts / SSLLABS_HOSTS_PER_SCAN / minutes, 2)}** | ${fmt(r.assessed / minutes)} | ${fmt(r.ratio, 3)} | **${r.peakConcurrent}** / ${SSLLABS_MAX}: ${r.peakConcurrent <= SSLLABS_MAX ? 'PASS' : 'FAIL'} | ${r.rateLimited.total} | ${r.assessed} / ${r.failed} |`;
  });
  const markdown = [
    '# Throughput across worker processes (BullMQ + PostgreSQL; SSL Labs emulator)',
    '',
    machineMarkdown(machine, uptime()),
    `- Command: \`npx tsx bench/worker-scaling.ts --workers ${values.workers}${values['no-ssllabs'] ? ' --no-ssllabs' : ` --ssllabs-hosts ${sslLabsHosts}`}\``,
    '',
    '## Native workload',
    '',
    `- Per setting: a scratch PostgreSQL database, a Redis prefix of its own, N \`node dist/cli/main.js worker\` processes (PORTCULLIS_WORKER_CONCURRENCY=${concurrency}: ${concurrency} port-scan and ${concurrency} TLS-scan jobs at once per process), started and ready before the clock starts.`,
    `- Workload (the same every setting), submitted by this process through \`submitPortScan\`/\`submitTlsScan\`: ${workload.portScans} port scans of consecutive /${32 - Math.log2(workload.addressesPerScan)} blocks from 127.1.0.0 (${workload.addressesPerScan} addresses × ${workload.ports.length} ports, no service detection, 2 × 2 listeners per block) and ${workload.tlsScans} TLS scans of ${workload.tlsTargetsPerScan} endpoints (fresh native assessments; ${TLS_FIXTURES.join(', ')} on 127.0.1.1-${TLS_ADDRESSES}, served by a child process whose CPU is shown apart).`,
    '- Wall time: first submit to the last scan finished (polled every 250 ms). Jobs = scans.',
    '',
    '| worker processes | wall | jobs/min | vs 1 worker | CPU of the workers | CPU of the TLS endpoints | done (port + TLS) / jobs | duplicates / gaps | load average before |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    ...nativeRows,
    '',
    ...(sslLabs.length > 0
      ? [
          '## SSL Labs emulator (workers mostly wait)',
          '',
          `- \`bench/ssllabs-workers.ts --workers ${values.workers} --hosts ${sslLabsHosts}\` (its own table: \`ssllabs-workers.md\`): ${sslLabsHosts} host names as scans of ${SSLLABS_HOSTS_PER_SCAN} (jobs), BullMQ on Redis with the SSL Labs budget shared in Redis, worker processes of concurrency 10, timings at 1/20 of SSL Labs' (T 2.5 s), global limit ${SSLLABS_MAX} concurrent assessments, counted by the emulator.`,
          '',
          '| worker processes | wall | jobs/min | assessments/min | wall / best possible | peak concurrent assessments / limit | 429s | assessed / failed |',
          '|---:|---:|---:|---:|---:|---:|---:|---:|',
          ...sslRows,
          '',
        ]
      : []),
  ].join('\n');
  writeResults('worker-scaling', markdown, { machine, concurrency, workload, native, sslLabs });
}

await main();
