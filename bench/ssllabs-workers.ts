/**
 * The SSL Labs governor across worker processes (issue: "the same with 2 worker processes"): 1,000
 * hosts through the local SSL Labs emulator with the scaled-out deployment — BullMQ on the Redis at
 * 127.0.0.1:6379 (REDIS_URL overrides) and N `startWorker` processes sharing one SQLite data dir and
 * the SSL Labs budget in Redis. Same scaled timings as ssllabs-governor.ts at 1/20: T 2.5 s (DNS
 * 0.1 s), cool-off 50 ms, polls 250/500 ms, 25 concurrent.
 *
 *   npx tsx bench/ssllabs-workers.ts [--workers 1,2] [--hosts 1000]
 *
 * Host names resolve to 203.0.113.0/24 (documentation range) and are never connected to: the SSL Labs
 * engine only talks to the emulator on 127.0.0.1, and every process's native engine throws if called.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { buildConfig, type Config } from '../src/config/index.js';
import { submitTlsScan, type TlsEngine } from '../src/jobs/index.js';
import { createRuntime, startWorker } from '../src/runtime/index.js';
import { startSslLabsEmulator } from '../src/testing/ssllabs-emulator.js';
import { ROOT, fmt, machineInfo, machineMarkdown, sleep, uptime, writeResults } from './lib.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const T = { assessmentMs: 2500, dnsMs: 100, coolOffMs: 50, pollDnsMs: 250, pollMs: 500 };
const MAX = 25;
const HOSTS_PER_SCAN = 100;
const WORKER_CONCURRENCY = 10;
const TLS_CONCURRENCY = 8;
const EMAIL = 'bench@example.com';

const nativeMustNotRun: TlsEngine = async (target) => {
  throw new Error(`the native TLS engine was asked to assess ${target.host}:${target.port}; this benchmark never connects to 203.0.113.0/24`);
};

function benchConfig(dataDir: string, prefix: string, emulatorUrl: string, hosts: number): Config {
  const names = Array.from({ length: hosts }, (_, i) => `h${String(i + 1).padStart(4, '0')}.bench.example`);
  return buildConfig(
    {},
    {
      dataDir,
      logLevel: 'warn',
      redisUrl: REDIS_URL,
      redisPrefix: prefix,
      worker: { concurrency: WORKER_CONCURRENCY },
      tls: { concurrency: TLS_CONCURRENCY },
      dns: { hosts: Object.fromEntries(names.map((n, i) => [n, [`203.0.113.${1 + (i % 254)}`]])) },
      ssllabs: { email: EMAIL, apiVersion: 'v4', baseUrl: emulatorUrl, pollDnsMs: T.pollDnsMs, pollMs: T.pollMs, coolOffMarginMs: 0 },
    },
  );
}

/** Child mode: one worker process, until SIGTERM. */
async function child(args: { dataDir: string; prefix: string; url: string; hosts: number }): Promise<void> {
  const runtime = await createRuntime(benchConfig(args.dataDir, args.prefix, args.url, args.hosts), { tlsEngine: nativeMustNotRun });
  const worker = startWorker(runtime, WORKER_CONCURRENCY);
  process.stdout.write('ready\n');
  process.once('SIGTERM', () => void worker.close({ graceMs: 1000 }).then(() => runtime.close()).then(() => process.exit(0)));
}

async function runWith(workers: number, hosts: number) {
  const emulator = await startSslLabsEmulator({ maxAssessments: MAX, coolOffMs: T.coolOffMs, dnsMs: T.dnsMs, assessmentMs: T.assessmentMs - T.dnsMs, registeredEmails: [EMAIL] });
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'pcbench-ssllabs-workers-'));
  const prefix = `pcbench-${randomUUID()}`;
  const config = benchConfig(dataDir, prefix, emulator.url, hosts);
  const runtime = await createRuntime(config, { tlsEngine: nativeMustNotRun });
  const children: ChildProcess[] = [];
  try {
    for (let i = 0; i < workers; i++) {
      const c = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), ['bench/ssllabs-workers.ts', '--child', JSON.stringify({ dataDir, prefix, url: emulator.url, hosts })], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
      children.push(c);
      await new Promise<void>((resolve, reject) => {
        c.stdout?.once('data', () => resolve());
        c.once('exit', (code) => reject(new Error(`worker ${i} exited ${code}`)));
      });
    }
    const names = Array.from({ length: hosts }, (_, i) => `h${String(i + 1).padStart(4, '0')}.bench.example`);
    const t0 = performance.now();
    const ids: string[] = [];
    for (let i = 0; i < names.length; i += HOSTS_PER_SCAN) ids.push((await submitTlsScan(runtime, { hosts: names.slice(i, i + HOSTS_PER_SCAN), options: { engine: 'ssllabs', fresh: true } })).id);
    let scans = await Promise.all(ids.map((id) => runtime.store.tlsAssessments.getScan(id)));
    while (scans.some((s) => s?.status === 'queued' || s?.status === 'running')) {
      if (performance.now() - t0 > 600_000) throw new Error('scans did not finish within 10 minutes');
      await sleep(100);
      scans = await Promise.all(ids.map((id) => runtime.store.tlsAssessments.getScan(id)));
    }
    const wallMs = performance.now() - t0;
    const results = (await Promise.all(ids.map((id) => runtime.store.tlsAssessments.scanResults(id)))).flat();
    const bestMs = (hosts * T.assessmentMs) / MAX + MAX * T.coolOffMs;
    const stats = emulator.stats;
    return {
      workers,
      hosts,
      wallMs,
      bestMs,
      ratio: wallMs / bestMs,
      rateLimited: stats.rateLimited,
      peakConcurrent: stats.peakConcurrent,
      starts: stats.starts,
      assessed: results.filter((r) => r.assessment?.engine === 'ssllabs').length,
      failed: results.filter((r) => r.error !== undefined).length,
      scans: scans.map((s) => s?.status),
    };
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
    await runtime.close();
    await emulator.close();
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { workers: { type: 'string', default: '1,2' }, hosts: { type: 'string', default: '1000' }, child: { type: 'string' } } });
  if (values.child !== undefined) return child(JSON.parse(values.child));
  const machine = machineInfo();
  const runs = [];
  for (const workers of values.workers.split(',').map(Number)) {
    console.log(`[bench] ${workers} worker process(es), ${values.hosts} hosts`);
    const run = await runWith(workers, Number(values.hosts));
    console.log(`[bench]   ${fmt(run.wallMs / 1000, 1)} s, ratio ${fmt(run.ratio, 3)}, 429s ${run.rateLimited.total}, peak ${run.peakConcurrent}, assessed ${run.assessed}, failed ${run.failed}`);
    runs.push(run);
  }
  const rows = runs.map(
    (r) =>
      `| ${r.workers} | ${fmt(r.wallMs / 1000, 1)} s | ${fmt(r.bestMs / 1000, 1)} s | **${fmt(r.ratio, 3)}** ${r.ratio <= 1.1 ? 'PASS' : 'FAIL'} | **${r.rateLimited.total}** (concurrency ${r.rateLimited.concurrency}, cool-off ${r.rateLimited.coolOff}) | ${r.peakConcurrent} | ${r.starts} | ${r.assessed} / ${r.failed} |`,
  );
  const markdown = [
    '# SSL Labs governor across worker processes (BullMQ + Redis-shared budget)',
    '',
    machineMarkdown(machine, uptime()),
    `- Command: \`npx tsx bench/ssllabs-workers.ts --workers ${values.workers} --hosts ${values.hosts}\``,
    `- Scaled timings (1/20 of SSL Labs' real 50 s assessment, 1 s cool-off, 5 s / 10 s polls): T ${T.assessmentMs} ms (DNS ${T.dnsMs} ms), cool-off ${T.coolOffMs} ms, polls ${T.pollDnsMs}/${T.pollMs} ms, max ${MAX} concurrent.`,
    `- Each worker process: \`createRuntime\` with REDIS_URL (BullMQ queue, SSL Labs budget in Redis), \`startWorker(runtime, ${WORKER_CONCURRENCY})\`, tls.concurrency ${TLS_CONCURRENCY}; one shared SQLite data dir; the parent submits ${values.hosts} hosts as scans of ${HOSTS_PER_SCAN} and runs the emulator.`,
    '',
    '| worker processes | total wall | best (hosts × T / 25 + 25 × cool-off) | ratio (goal ≤ 1.10) | 429s at the emulator (goal 0) | peak concurrent (≤ 25) | starts | assessed / failed |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
  ].join('\n');
  writeResults('ssllabs-workers', markdown, { machine, timings: T, runs });
}

await main();
