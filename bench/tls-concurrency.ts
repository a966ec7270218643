/**
 * Concurrency: 200 assessments of local endpoints (4 server configurations × 50 loopback addresses, served
 * by a child process) through the built engine (dist/), at most IN_FLIGHT at a time. Reports total time,
 * assessments per second, peak RSS of this process, and checks that every assessment settled within its
 * deadline and that no socket or timer was left behind. Writes bench/results/tls-concurrency.{md,json}.
 *
 *   npx tsx bench/tls-concurrency.ts [inFlight=16]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { ROOT, RESULTS_DIR, ensureBuilt, fmt, machineInfo, machineMarkdown, percentile, procMemory, uptime } from './lib.js';

const ADDRESSES = 50;
const CONFIGS = ['modern', 'legacy-tls10', 'ecdsa', 'tls12-strict'];
const TIMEOUT_MS = 5000;

interface Endpoint {
  name: string;
  host: string;
  port: number;
}

async function startServers(): Promise<{ root: string; endpoints: Endpoint[]; stop: () => void }> {
  const child = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), ['bench/tls-fixture-server.ts', String(ADDRESSES), ...CONFIGS], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`fixture server exited ${code}`)));
  });
  const { root, endpoints } = JSON.parse(line) as { root: string; endpoints: Endpoint[] };
  return { root, endpoints, stop: () => child.kill('SIGTERM') };
}

function activeHandles(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) counts[r] = (counts[r] ?? 0) + 1;
  return counts;
}

async function main(): Promise<void> {
  ensureBuilt();
  const inFlight = Number(process.argv[2] ?? 16);
  const machine = machineInfo();
  const engine = (await import(pathToFileURL(path.join(ROOT, 'dist/tls/index.js')).href)) as typeof import('../src/tls/index.js');
  const scope = (await import(pathToFileURL(path.join(ROOT, 'dist/scope/index.js')).href)) as typeof import('../src/scope/index.js');
  const { root, endpoints, stop } = await startServers();
  const caFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'pcbench-tls-')), 'root.pem');
  writeFileSync(caFile, root);
  const trustStore = await engine.loadTrustStore({ caFiles: [caFile] });
  const options = { resolver: scope.staticResolver({}), scopePolicy: scope.createScopePolicy({ allow: [], deny: [] }), trustStore, timeoutMs: TIMEOUT_MS, sni: 'localhost' };
  const handlesBefore = activeHandles();
  const rssSamples: number[] = [];
  const sampler = setInterval(() => rssSamples.push(process.memoryUsage().rss), 50);
  const durations: number[] = [];
  const grades: Record<string, number> = {};
  let errors = 0;
  let connections = 0;
  let warnings = 0;
  let slowest = 0;
  const started = performance.now();
  try {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < endpoints.length) {
        const endpoint = endpoints[next++] as Endpoint;
        const t0 = performance.now();
        const assessment = await engine.assess({ host: endpoint.host, port: endpoint.port }, options);
        const ms = performance.now() - t0;
        durations.push(ms);
        slowest = Math.max(slowest, ms);
        for (const e of assessment.endpoints) {
          if (e.status === 'error') errors += 1;
          grades[`${endpoint.name} ${e.grade}`] = (grades[`${endpoint.name} ${e.grade}`] ?? 0) + 1;
          connections += e.connections;
          warnings += e.warnings.length;
        }
      }
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
  } finally {
    clearInterval(sampler);
    stop();
  }
  const totalMs = performance.now() - started;
  await new Promise((r) => setTimeout(r, 200));
  const handlesAfter = activeHandles();
  const peakRssMb = (procMemory(process.pid)?.hwmKb ?? 0) / 1024;
  const md = [
    '# TLS concurrency: 200 assessments of local endpoints',
    '',
    machineMarkdown(machine, uptime()),
    '',
    `${endpoints.length} endpoints (${CONFIGS.join(', ')} × 127.0.1.1–127.0.1.${ADDRESSES}, served by a separate process), engine from dist/, at most ${inFlight} assessments in flight, per-probe deadline ${TIMEOUT_MS} ms, SNI \`localhost\` (the test certificates' name; the addresses themselves are not in them).`,
    '',
    `| assessments | in flight | total s | per second | p50 ms | p99 ms | slowest ms | peak RSS MB (VmHWM) | TCP connections | endpoint errors | probe warnings |`,
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    `| ${durations.length} | ${inFlight} | ${fmt(totalMs / 1000, 1)} | ${fmt(durations.length / (totalMs / 1000), 1)} | ${fmt(percentile(durations, 50))} | ${fmt(percentile(durations, 99))} | ${fmt(slowest)} | ${fmt(peakRssMb)} | ${connections} | ${errors} | ${warnings} |`,
    '',
    `Grades: ${Object.entries(grades).map(([k, v]) => `${k} ×${v}`).join(', ')}.`,
    `Active handles before: ${JSON.stringify(handlesBefore)}; after all settled: ${JSON.stringify(handlesAfter)} (no socket or timer left behind when they match).`,
    '',
  ].join('\n');
  writeFileSync(path.join(RESULTS_DIR, 'tls-concurrency.md'), md);
  writeFileSync(path.join(RESULTS_DIR, 'tls-concurrency.json'), JSON.stringify({ machine, inFlight, totalMs, durations, peakRssMb, connections, errors, warnings, grades, handlesBefore, handlesAfter }, null, 2));
  console.log(md);
  process.exit(0);
}

await main();
