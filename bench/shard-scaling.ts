/**
 * Sharded port scans (issue 6): ONE large port scan, run as a single job and split into shard jobs
 * over 1, 2 and 4 `portcullis worker` processes (BullMQ + PostgreSQL, concurrency 2 each), timed from
 * submit to done, with the stored result checked for duplicates and gaps.
 *
 *   npx tsx bench/shard-scaling.ts [--addresses 16384] [--ports 16] [--shard-probes 16384] [--workers 1,2,4]
 *
 * Loopback only: the scan covers 127.1.0.0/<n>; this process listens on 2 of its addresses × 2 ports,
 * which the result must show open. No peer tool: nmap has no way to split one scan over processes.
 */
import { parseArgs } from 'node:util';
import { buildConfig } from '../src/config/index.js';
import { createRuntime, type Runtime } from '../src/runtime/index.js';
import {
  REDIS_URL,
  type ScaleWorkload,
  type ScratchDatabase,
  type SubmittedWorkload,
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
  startWorkerProcess,
  stopWorkerProcess,
  submitWorkload,
  uptime,
  waitForWorkload,
  workerEnv,
  workloadPorts,
  writeResults,
} from './lib.js';

const CONCURRENCY = 2;
const LEASE_MS = 30_000;
const TIMEOUT_MS = 600_000;

interface Run {
  label: string;
  workers: number;
  shardProbes: number;
  shards: number;
  wallS: number;
  workerCpuS: number;
  status: string;
  hostsStored: number;
  duplicates: number;
  gaps: number;
  loadBefore: string;
}

async function run(workers: number, shardProbes: number, workload: ScaleWorkload): Promise<Run> {
  const prefix = `pcbench-shards-${process.pid}-${Date.now()}`;
  const loadBefore = uptime();
  let scratch: ScratchDatabase | undefined;
  let runtime: Runtime | undefined;
  let submitted: SubmittedWorkload | undefined;
  const procs: WorkerProcess[] = [];
  try {
    scratch = await createScratchPostgres('shards');
    runtime = await createRuntime(buildConfig({}, { logLevel: 'warn', databaseUrl: scratch.url, redisUrl: REDIS_URL, redisPrefix: prefix }));
    const env = workerEnv({ databaseUrl: scratch.url, redisUrl: REDIS_URL, redisPrefix: prefix, concurrency: CONCURRENCY, leaseMs: LEASE_MS, shardProbes });
    procs.push(...(await Promise.all(Array.from({ length: workers }, () => startWorkerProcess(env)))));
    const cpuAtStart = procs.map((p) => procCpuMs(p.pid) ?? 0);
    submitted = await submitWorkload(runtime, workload, undefined);
    const { outcomes, finishedMs, timedOut } = await waitForWorkload(runtime, submitted, TIMEOUT_MS);
    if (timedOut) console.error(`[bench] ${workers} workers, shardProbes ${shardProbes}: the scan did not finish within ${TIMEOUT_MS / 1000} s`);
    const workerCpuMs = procs.reduce((sum, p, i) => sum + (procCpuMs(p.pid) ?? 0) - (cpuAtStart[i] ?? 0), 0);
    const integrity = await checkWorkload(runtime, submitted);
    const scan = await runtime.store.portScans.get(submitted.portScanIds[0] ?? '');
    return {
      label: shardProbes === 0 ? 'one job' : `shards of ${shardProbes} probes`,
      workers,
      shardProbes,
      shards: scan?.shards ?? 1,
      wallS: (finishedMs - submitted.submittedMs) / 1000,
      workerCpuS: workerCpuMs / 1000,
      status: outcomes[0]?.status ?? 'missing',
      hostsStored: integrity.rows.hosts,
      duplicates: integrity.duplicatePortRows + integrity.duplicateHostRows,
      gaps: integrity.gaps.length + integrity.unexpectedOpen.length,
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

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      addresses: { type: 'string', default: '16384' },
      ports: { type: 'string', default: '16' },
      'shard-probes': { type: 'string', default: '16384' },
      workers: { type: 'string', default: '1,2,4' },
    },
  });
  const shardProbes = Number(values['shard-probes']);
  const workload: ScaleWorkload = { portScans: 1, addressesPerScan: Number(values.addresses), ports: await workloadPorts(Number(values.ports)), tlsScans: 0, tlsTargetsPerScan: 0 };
  const probes = workload.addressesPerScan * workload.ports.length;
  ensureBuilt();
  const machine = machineInfo();
  process.once('SIGINT', () => {
    killLiveChildren();
    process.exit(130);
  });
  const settings: Array<[number, number]> = [[1, 0], ...values.workers.split(',').map((w): [number, number] => [Number(w), shardProbes])];
  const runs: Run[] = [];
  for (const [workers, probesPerShard] of settings) {
    console.log(`[bench] ${workers} worker(s), ${probesPerShard === 0 ? 'one job' : `shards of ${probesPerShard} probes`}`);
    const r = await run(workers, probesPerShard, workload);
    console.log(`[bench]   ${r.status} in ${fmt(r.wallS, 1)} s (${r.shards} job(s)); worker CPU ${fmt(r.workerCpuS, 1)} s; hosts ${r.hostsStored}, duplicates ${r.duplicates}, gaps ${r.gaps}`);
    runs.push(r);
  }
  const base = runs[0];
  const rows = runs.map(
    (r) =>
      `| ${r.workers} | ${r.label} | ${r.shards} | **${fmt(r.wallS, 1)} s** | ${base ? `${fmt(base.wallS / r.wallS, 2)}×` : ''} | ${fmt(r.workerCpuS, 1)} s | ${r.status} | ${r.hostsStored} | ${r.duplicates} / ${r.gaps} | \`${r.loadBefore.replace(/^.*load average: /, '')}\` |`,
  );
  const markdown = [
    '# One large port scan: single job vs shards over worker processes (BullMQ + PostgreSQL)',
    '',
    machineMarkdown(machine, uptime()),
    `- Command: \`npx tsx bench/shard-scaling.ts --addresses ${values.addresses} --ports ${values.ports} --shard-probes ${shardProbes} --workers ${values.workers}\``,
    `- Scan: ${workload.addressesPerScan} addresses (127.1.0.0/${32 - Math.log2(workload.addressesPerScan)}) × ${workload.ports.length} ports = ${probes} probes, no service detection; this process listens on 2 addresses × 2 ports, which must be found open. Workers: \`portcullis worker\` from dist/, concurrency ${CONCURRENCY}.`,
    '',
    '| workers | how | jobs | wall (submit → done) | speed-up vs one job | worker CPU | status | hosts stored | duplicates / gaps | load before |',
    '|---:|---|---:|---:|---:|---:|---|---:|---|---|',
    ...rows,
    '',
  ].join('\n');
  console.log(markdown);
  writeResults('shard-scaling', markdown, { machine, workload: { addresses: workload.addressesPerScan, ports: workload.ports.length, probes }, runs });
}

main().catch((err: unknown) => {
  console.error(err);
  killLiveChildren();
  process.exit(1);
});
