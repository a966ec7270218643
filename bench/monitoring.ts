/**
 * Monitoring at scale (issue 5, "Measured"): 10,000 domains imported from a CSV file into `serve`, scheduled
 * at once, assessed by the native engine against 100 local TLS endpoints; then the executive report's
 * response time with 100,000 stored assessments. Writes bench/results/monitoring.{md,json}.
 *
 *   npx tsx bench/monitoring.ts [--settings 2x8,4x4] [--window-s 180] [--requests 20]
 *
 * `--settings` lists worker.concurrency × tls.concurrency pairs; each gets a fresh data dir, an import
 * and a measuring window. The report phase reuses the last setting's data dir.
 *
 * Endpoints: a child process (this file with `--serve-endpoints N`) serves N HTTPS servers on
 * 127.0.1.1 … 127.0.1.N, each on its own port, cycling through four fixtures of tls-fixtures.ts with
 * a leaf for `*.bench.test` from that process's test PKI (its root goes to `tls.caFiles`, so grades are
 * real). Names resolve only through `dns.hosts`: nothing leaves 127.0.0.0/8.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { type TlsAssessmentsTable, type TlsScanTargetsTable, type TlsScansTable, endpointDigest } from '../src/store/tls-assessments.js';
import type { Assessment } from '../src/tls/model.js';
import {
  CLI,
  ROOT,
  ensureBuilt,
  fmt,
  freePort,
  machineInfo,
  machineMarkdown,
  median,
  percentile,
  procMemory,
  type Server,
  sleep,
  startServer,
  uptime,
  writeResults,
} from './lib.js';

const DOMAINS = 10_000;
const ENDPOINTS = 100;
const TARGET_ASSESSMENTS = 100_000;
const FIXTURE_NAMES = ['modern', 'legacy-tls10', 'ecdsa', 'tls12-strict'] as const;
const TEAMS = 10;
const OWNERS = 50;
const TICK_SECONDS = 2;
const SCAN_BATCH = 100;
const SAMPLE_MS = 5000;
/** The first part of the window (queue filling, first scans starting) is left out of the steady-state rate. */
const WARM_UP_S = 30;
const CLK_TCK = 100;
const DAY_MS = 86_400_000;

interface Endpoint {
  name: string;
  host: string;
  port: number;
}

const domain = (i: number): string => `d${String(i).padStart(5, '0')}.bench.test`;
/** Domains 1…10,000 map to endpoint (i mod 100). */
const endpointOf = (endpoints: readonly Endpoint[], i: number): Endpoint => endpoints[i % endpoints.length] as Endpoint;

// ------------------------------------------------------------------------------------------------
// Child mode: the TLS endpoints

async function serveEndpoints(count: number): Promise<void> {
  const { testPki } = await import('../src/testing/pki.js');
  const { TestServers } = await import('../src/testing/servers.js');
  const { FIXTURES, startFixture } = await import('./tls-fixtures.js');
  const pki = await testPki();
  const altNames = ['DNS:*.bench.test'];
  const rsaChain = [await pki.leafFor({ commonName: '*.bench.test', altNames }), pki.intermediate];
  const ecChain = [await pki.leafFor({ commonName: '*.bench.test', altNames, key: { alg: 'EC', curve: 'P-256' } }), pki.intermediate];
  const servers = new TestServers();
  const endpoints: Endpoint[] = [];
  for (let i = 0; i < count; i++) {
    const fixture = FIXTURES.find((f) => f.name === FIXTURE_NAMES[i % FIXTURE_NAMES.length]);
    if (fixture === undefined || fixture.kind !== 'openssl') throw new Error(`fixture ${FIXTURE_NAMES[i % FIXTURE_NAMES.length]} is not an OpenSSL fixture`);
    // The fixture's protocols and suites with a certificate that names the bench domains.
    const chain = fixture.name === 'ecdsa' ? ecChain : rsaChain;
    const server = await startFixture(servers, { ...fixture, options: async () => ({ ...(await fixture.options()), chain }) }, `127.0.1.${i + 1}`);
    endpoints.push({ name: fixture.name, host: server.host, port: server.port });
  }
  process.stdout.write(`${JSON.stringify({ root: pki.root.pem, endpoints })}\n`);
  process.on('SIGTERM', () => void servers.closeAll().then(() => process.exit(0)));
}

async function startEndpoints(): Promise<{ root: string; endpoints: Endpoint[]; pid: number; stop: () => void }> {
  const child = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), ['bench/monitoring.ts', '--serve-endpoints', String(ENDPOINTS)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`endpoint server exited ${code}`)));
  });
  const { root, endpoints } = JSON.parse(line) as { root: string; endpoints: Endpoint[] };
  return { root, endpoints, pid: child.pid as number, stop: () => child.kill('SIGTERM') };
}

// ------------------------------------------------------------------------------------------------
// Inputs: the import file and the config file

function importCsv(endpoints: readonly Endpoint[]): string {
  const rows = ['target,owner,team,environment'];
  for (let i = 1; i <= DOMAINS; i++) {
    const e = endpointOf(endpoints, i);
    rows.push(`${domain(i)}:${e.port},owner-${i % OWNERS},team-${i % TEAMS},${i % 3 === 0 ? 'staging' : 'prod'}`);
  }
  return `${rows.join('\n')}\n`;
}

interface Setting {
  workers: number;
  tlsConcurrency: number;
}

function configFile(endpoints: readonly Endpoint[], caFile: string, setting: Setting): object {
  const hosts: Record<string, string[]> = {};
  for (let i = 1; i <= DOMAINS; i++) hosts[domain(i)] = [endpointOf(endpoints, i).host];
  return {
    logLevel: 'warn',
    worker: { concurrency: setting.workers },
    scope: { allow: ['127.0.0.0/8', 'bench.test'] },
    dns: { hosts },
    tls: { caFiles: [caFile], concurrency: setting.tlsConcurrency },
    monitor: { tickSeconds: TICK_SECONDS, scanBatchSize: SCAN_BATCH, jitterSeconds: 0 },
  };
}

// ------------------------------------------------------------------------------------------------
// Measuring helpers

async function timedFetch(url: string, init?: RequestInit): Promise<{ ms: number; status: number; bytes: number; body: string }> {
  const t0 = performance.now();
  const res = await fetch(url, init);
  const body = await res.text();
  return { ms: performance.now() - t0, status: res.status, bytes: Buffer.byteLength(body), body };
}

/** CPU seconds (user + system) of a process so far. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** Prometheus counter value (sum over labels) of `name` from a /metrics text. */
function metric(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

function metricByLabel(text: string, name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  const re = new RegExp(`^${name}\\{[^}]*${label}="([^"]*)"[^}]*\\} (\\S+)$`);
  for (const line of text.split('\n')) {
    const m = re.exec(line);
    if (m) out[m[1] as string] = Number(m[2]);
  }
  return out;
}

interface Latencies {
  n: number;
  p50: number;
  p95: number;
  max: number;
}

const summarise = (xs: readonly number[]): Latencies => ({ n: xs.length, p50: median(xs), p95: percentile(xs, 95), max: Math.max(...xs) });
const latencyCell = (l: Latencies): string => `${fmt(l.p50, 1)} / ${fmt(l.p95, 1)} / ${fmt(l.max, 1)}`;

// ------------------------------------------------------------------------------------------------
// Phase 1: import and scheduled assessments

interface Sample {
  atS: number;
  assessments: number;
  cpuS: number;
  rssMb: number;
}

interface RunResult {
  setting: Setting;
  dataDir: string;
  importVia: 'api' | 'cli';
  importMs: number;
  importOutcomes: { added: number; updated: number; duplicates: number; rejected: number };
  firstRejections: string[];
  windowS: number;
  samples: Sample[];
  assessmentsInWindow: number;
  overallPerMin: number;
  steadyPerMin: number;
  cpuPercent: number;
  peakRssMb: number;
  healthz: Latencies;
  targetsList: Latencies;
  endpointGrades: Record<string, number>;
  /** Read-only SQLite counts after the window. */
  db: { assessments: number; targetErrors: number; scansDone: number; scansQueuedOrRunning: number; gradeCounts: Record<string, number>; assessmentBytesAvg: number };
  allDone: boolean;
}

async function importFile(server: Server, file: string, via: 'api' | 'cli'): Promise<{ ms: number; report: RunResult['importOutcomes'] & { lines: Array<{ outcome: string; reason?: string }> } }> {
  if (via === 'api') {
    const r = await timedFetch(`${server.url}/api/v1/targets/import`, { method: 'POST', headers: { 'content-type': 'text/csv' }, body: readFileSync(file) });
    if (r.status !== 200) throw new Error(`import answered ${r.status}: ${r.body.slice(0, 500)}`);
    return { ms: r.ms, report: JSON.parse(r.body) };
  }
  const t0 = performance.now();
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'targets', 'import', file, '--json', '--server', server.url], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => chunks.push(b));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(Buffer.concat(chunks).toString('utf8')) : reject(new Error(`targets import exited ${code}`))));
  });
  return { ms: performance.now() - t0, report: JSON.parse(out) };
}

function dbCounts(dataDir: string): RunResult['db'] {
  const db = new Database(path.join(dataDir, 'portcullis.sqlite'), { readonly: true });
  try {
    const one = (q: string): number => Number((db.prepare(q).get() as { n: number }).n);
    const gradeCounts: Record<string, number> = {};
    for (const r of db.prepare('select coalesce(grade, \'none\') as g, count(*) as n from tls_assessments group by g').all() as Array<{ g: string; n: number }>) gradeCounts[r.g] = r.n;
    return {
      assessments: one('select count(*) as n from tls_assessments'),
      targetErrors: one('select count(*) as n from tls_scan_targets where error is not null'),
      scansDone: one("select count(*) as n from tls_scans where status = 'done'"),
      scansQueuedOrRunning: one("select count(*) as n from tls_scans where status in ('queued', 'running')"),
      gradeCounts,
      assessmentBytesAvg: one('select coalesce(avg(length(assessment)), 0) as n from tls_assessments'),
    };
  } finally {
    db.close();
  }
}

async function monitoringRun(setting: Setting, via: 'api' | 'cli', inputs: { csvFile: string; endpoints: Endpoint[]; caFile: string }, windowS: number): Promise<RunResult> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'pcbench-monitoring-'));
  const configPath = path.join(dataDir, 'portcullis.json');
  writeFileSync(configPath, JSON.stringify(configFile(inputs.endpoints, inputs.caFile, setting)));
  const server = await startServer({ port: await freePort(), dataDir, env: { PORTCULLIS_CONFIG: configPath } });
  try {
    const { ms: importMs, report } = await importFile(server, inputs.csvFile, via);
    const importOutcomes = { added: report.added, updated: report.updated, duplicates: report.duplicates, rejected: report.rejected };
    console.error(`[bench] ${setting.workers}x${setting.tlsConcurrency}: import via ${via} ${fmt(importMs)} ms ${JSON.stringify(importOutcomes)}`);

    const started = performance.now();
    const cpu0 = cpuSeconds(server.pid);
    const samples: Sample[] = [];
    const healthz: number[] = [];
    const targetsList: number[] = [];
    let running = true;
    // The API's responsiveness while the scheduler and the workers are busy: one probe pair a second.
    const prober = (async () => {
      while (running) {
        healthz.push((await timedFetch(`${server.url}/healthz`)).ms);
        targetsList.push((await timedFetch(`${server.url}/api/v1/targets?limit=50`)).ms);
        await sleep(1000);
      }
    })();
    let metricsText = '';
    let peakRssMb = 0;
    for (;;) {
      metricsText = (await timedFetch(`${server.url}/metrics`)).body;
      const rssMb = (procMemory(server.pid)?.rssKb ?? 0) / 1024;
      peakRssMb = Math.max(peakRssMb, (procMemory(server.pid)?.hwmKb ?? 0) / 1024);
      const sample = { atS: (performance.now() - started) / 1000, assessments: metric(metricsText, 'portcullis_tls_assessment_duration_seconds_count'), cpuS: cpuSeconds(server.pid) - cpu0, rssMb };
      samples.push(sample);
      console.error(`[bench]   t=${fmt(sample.atS)} s assessments=${sample.assessments} cpu=${fmt(sample.cpuS, 1)} s rss=${fmt(rssMb)} MB`);
      if (sample.atS >= windowS || sample.assessments >= DOMAINS) break;
      await sleep(SAMPLE_MS);
    }
    running = false;
    await prober;
    const last = samples[samples.length - 1] as Sample;
    const warm = samples.find((s) => s.atS >= WARM_UP_S) ?? (samples[0] as Sample);
    const endpointGrades = metricByLabel(metricsText, 'portcullis_tls_endpoint_grades_total', 'grade');
    // Queued and running scans are cancelled through the API so that a restart on this data dir runs nothing.
    const open = await Promise.all(
      (['queued', 'running'] as const).map(async (status) => (JSON.parse((await timedFetch(`${server.url}/api/v1/tls-scans?status=${status}&limit=500`)).body) as { items: Array<{ id: string }> }).items),
    );
    for (const scan of open.flat()) await fetch(`${server.url}/api/v1/tls-scans/${scan.id}`, { method: 'DELETE' });
    const db = dbCounts(dataDir);
    return {
      setting,
      dataDir,
      importVia: via,
      importMs,
      importOutcomes,
      firstRejections: report.lines.filter((l) => l.outcome === 'rejected').slice(0, 5).map((l) => l.reason ?? ''),
      windowS: last.atS,
      samples,
      assessmentsInWindow: last.assessments,
      overallPerMin: (last.assessments / last.atS) * 60,
      steadyPerMin: last.atS > warm.atS ? ((last.assessments - warm.assessments) / (last.atS - warm.atS)) * 60 : Number.NaN,
      cpuPercent: (last.cpuS / last.atS) * 100,
      peakRssMb,
      healthz: summarise(healthz),
      targetsList: summarise(targetsList),
      endpointGrades,
      db,
      allDone: last.assessments >= DOMAINS,
    };
  } finally {
    await server.stop();
  }
}

// ------------------------------------------------------------------------------------------------
// Phase 2: 100,000 stored assessments, then the report's latency

interface SeedResult {
  realAssessments: number;
  inserted: number;
  scansInserted: number;
  totalAssessments: number;
  seedMs: number;
  dbBytes: number;
  dueTargets: number;
}

/**
 * Copies real assessment documents of phase 1 into older rows: per target ~10 assessments one day
 * apart, each made by a scan of 100 targets (as the scheduler makes them). One day in ten, a target gets
 * another fixture's document, so grades change over time and `since` reports have changes to show.
 */
async function seedAssessments(dataDir: string, endpoints: readonly Endpoint[]): Promise<SeedResult> {
  const { timeOrderedId } = (await import(pathToFileURL(path.join(ROOT, 'dist/shared/ids.js')).href)) as typeof import('../src/shared/ids.js');
  const { worstGrade } = (await import(pathToFileURL(path.join(ROOT, 'dist/tls/compare.js')).href)) as typeof import('../src/tls/compare.js');
  const t0 = performance.now();
  const db = new Database(path.join(dataDir, 'portcullis.sqlite'));
  try {
    db.pragma('journal_mode = WAL');
    const real = db.prepare('select host, port, assessment from tls_assessments where grade is not null').all() as Array<{ host: string; port: number; assessment: string }>;
    const samplesByFixture = new Map<string, Assessment[]>();
    const portToFixture = new Map(endpoints.map((e) => [e.port, e.name]));
    for (const row of real) {
      const name = portToFixture.get(row.port) ?? '';
      const list = samplesByFixture.get(name) ?? [];
      if (list.length < 8) samplesByFixture.set(name, [...list, JSON.parse(row.assessment) as Assessment]);
    }
    for (const name of FIXTURE_NAMES) if (!samplesByFixture.has(name)) throw new Error(`phase 1 produced no graded assessment of fixture ${name}`);
    const realCount = new Map<string, number>();
    for (const r of db.prepare('select host, count(*) as n from tls_assessments group by host').all() as Array<{ host: string; n: number }>) realCount.set(r.host, r.n);
    const existing = Number((db.prepare('select count(*) as n from tls_assessments').get() as { n: number }).n);

    const insertScan = db.prepare<TlsScansTable>(
      'insert into tls_scans (id, status, hosts, targets, options, port_scan_id, progress_total, created_at, started_at, finished_at, error, requested_by) values (@id, @status, @hosts, @targets, @options, @port_scan_id, @progress_total, @created_at, @started_at, @finished_at, @error, @requested_by)',
    );
    const insertAssessment = db.prepare<TlsAssessmentsTable>(
      'insert into tls_assessments (id, scan_id, host, port, sni, engine, criteria_version, started_at, finished_at, grade, endpoints, assessment, raw) values (@id, @scan_id, @host, @port, @sni, @engine, @criteria_version, @started_at, @finished_at, @grade, @endpoints, @assessment, @raw)',
    );
    const insertTarget = db.prepare<TlsScanTargetsTable>(
      'insert into tls_scan_targets (scan_id, host, port, assessment_id, cached, error, finished_at, ssllabs_assessment_id, ssllabs_error) values (@scan_id, @host, @port, @assessment_id, @cached, @error, @finished_at, @ssllabs_assessment_id, @ssllabs_error)',
    );
    const perTarget = TARGET_ASSESSMENTS / DOMAINS;
    const now = Date.now();
    let inserted = 0;
    let scansInserted = 0;
    for (let day = 1; day <= perTarget; day++) {
      db.transaction(() => {
        // Domains whose real history (phase 1 + earlier days) already has this many rows get none for this day.
        const due: number[] = [];
        for (let i = 1; i <= DOMAINS; i++) if ((realCount.get(domain(i)) ?? 0) + day <= perTarget) due.push(i);
        for (let b = 0; b < due.length; b += SCAN_BATCH) {
          const batch = due.slice(b, b + SCAN_BATCH);
          const scanStart = now - day * DAY_MS + (b / SCAN_BATCH) * 30_000;
          const scanId = timeOrderedId(scanStart);
          const keys = batch.map((i) => ({ host: domain(i), port: endpointOf(endpoints, i).port }));
          let finishedAt = scanStart;
          const rows = batch.map((i, k) => {
            const endpoint = endpointOf(endpoints, i);
            const changed = (i * 7 + day * 13) % 10 === 0;
            const fixture = changed ? FIXTURE_NAMES[(FIXTURE_NAMES.indexOf(endpoint.name as (typeof FIXTURE_NAMES)[number]) + 1) % FIXTURE_NAMES.length] : endpoint.name;
            const pool = samplesByFixture.get(fixture as string) as Assessment[];
            const source = pool[(i + day) % pool.length] as Assessment;
            const started = scanStart + k * 250;
            const ended = started + 1500 + ((i * 31 + day) % 2000);
            finishedAt = Math.max(finishedAt, ended);
            const document: Assessment = {
              ...source,
              host: domain(i),
              port: endpoint.port,
              sni: domain(i),
              startedAt: new Date(started).toISOString(),
              finishedAt: new Date(ended).toISOString(),
              endpoints: source.endpoints.map((e) => ({ ...e, ip: endpoint.host })),
            };
            // As the store writes it: the per-endpoint digest reports read instead of the document.
            const grades = document.endpoints.map(endpointDigest);
            return { document, grades };
          });
          insertScan.run({
            id: scanId,
            status: 'done',
            hosts: JSON.stringify(keys.map((t) => `${t.host}:${t.port}`)),
            targets: JSON.stringify(keys),
            options: '{}',
            port_scan_id: null,
            progress_total: batch.length,
            created_at: new Date(scanStart).toISOString(),
            started_at: new Date(scanStart).toISOString(),
            finished_at: new Date(finishedAt).toISOString(),
            error: null,
            requested_by: null,
          });
          scansInserted++;
          for (const { document, grades } of rows) {
            const id = timeOrderedId(Date.parse(document.finishedAt));
            insertAssessment.run({
              id,
              scan_id: scanId,
              host: document.host,
              port: document.port,
              sni: document.sni,
              engine: document.engine,
              criteria_version: document.criteriaVersion,
              started_at: document.startedAt,
              finished_at: document.finishedAt,
              grade: worstGrade(grades.map((g) => g.grade)),
              endpoints: JSON.stringify(grades),
              assessment: JSON.stringify(document),
              raw: null,
            });
            insertTarget.run({ scan_id: scanId, host: document.host, port: document.port, assessment_id: id, cached: 0, error: null, finished_at: document.finishedAt, ssllabs_assessment_id: null, ssllabs_error: null });
            inserted++;
          }
        }
      })();
      console.error(`[bench]   seeded day -${day}: ${inserted} rows so far`);
    }
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.exec('analyze');
    const totalAssessments = Number((db.prepare('select count(*) as n from tls_assessments').get() as { n: number }).n);
    const dueTargets = Number((db.prepare('select count(*) as n from targets where next_run_at is not null and next_run_at <= ?').get(new Date(now + 3600_000).toISOString()) as { n: number }).n);
    return { realAssessments: existing, inserted, scansInserted, totalAssessments, seedMs: performance.now() - t0, dbBytes: statSync(path.join(dataDir, 'portcullis.sqlite')).size, dueTargets };
  } finally {
    db.close();
  }
}

interface ReportTiming {
  label: string;
  path: string;
  status: number;
  firstMs: number;
  latencies: Latencies;
  bytes: number;
  note: string;
}

async function measureReports(server: Server, requests: number, probe: { team: string; since: string; targetId: string }): Promise<ReportTiming[]> {
  const cases: Array<{ label: string; path: string; note?: (body: string) => string }> = [
    { label: 'summary JSON, all 10,000 targets', path: '/api/v1/reports/summary', note: totalsNote },
    { label: `summary JSON, label.team=${probe.team}`, path: `/api/v1/reports/summary?label.team=${probe.team}`, note: totalsNote },
    { label: `summary JSON, since=${probe.since}`, path: `/api/v1/reports/summary?since=${encodeURIComponent(probe.since)}`, note: changesNote },
    { label: 'summary CSV, all targets', path: '/api/v1/reports/summary.csv', note: (b) => `${b.split('\n').filter(Boolean).length - 1} rows` },
    { label: 'summary HTML, all targets', path: '/reports/summary.html' },
    { label: 'targets list, limit=100', path: '/api/v1/targets?limit=100' },
    { label: 'one target with state', path: `/api/v1/targets/${probe.targetId}` },
  ];
  const out: ReportTiming[] = [];
  for (const c of cases) {
    const first = await timedFetch(`${server.url}${c.path}`);
    const times: number[] = [];
    let last = first;
    for (let i = 0; i < requests; i++) {
      last = await timedFetch(`${server.url}${c.path}`);
      times.push(last.ms);
    }
    out.push({ label: c.label, path: c.path, status: last.status, firstMs: first.ms, latencies: summarise(times), bytes: last.bytes, note: c.note?.(last.body) ?? '' });
    console.error(`[bench]   ${c.label}: first ${fmt(first.ms)} ms, p50 ${fmt(median(times), 1)} ms, ${last.bytes} bytes`);
  }
  return out;
}

function totalsNote(body: string): string {
  const totals = (JSON.parse(body) as { totals: Record<string, number> }).totals;
  return `tlsTargets ${totals.tlsTargets}, assessed ${totals.assessedTargets}, endpoints ${totals.endpoints}, failures ${totals.failures}`;
}

function changesNote(body: string): string {
  const report = JSON.parse(body) as { totals: Record<string, number>; changes: { grades: unknown[] } };
  return `assessed in window ${report.totals.assessedTargets}, grade changes ${report.changes.grades.length}`;
}

// ------------------------------------------------------------------------------------------------
// Main

function parseArgs(argv: readonly string[]): { settings: Setting[]; windowS: number; requests: number } {
  const value = (flag: string, fallback: string): string => {
    const i = argv.indexOf(flag);
    return i >= 0 && argv[i + 1] !== undefined ? (argv[i + 1] as string) : fallback;
  };
  const settings = value('--settings', '2x8,4x4').split(',').map((s) => {
    const [w, c] = s.split('x').map(Number);
    if (!Number.isInteger(w) || !Number.isInteger(c)) throw new Error(`--settings: "${s}" is not <workers>x<tls.concurrency>`);
    return { workers: w as number, tlsConcurrency: c as number };
  });
  return { settings, windowS: Number(value('--window-s', '180')), requests: Number(value('--requests', '20')) };
}

async function main(): Promise<void> {
  const { settings, windowS, requests } = parseArgs(process.argv.slice(2));
  ensureBuilt();
  const machine = machineInfo();
  const endpointsProc = await startEndpoints();
  const cleanup: string[] = [];
  try {
    const workDir = mkdtempSync(path.join(os.tmpdir(), 'pcbench-monitoring-in-'));
    cleanup.push(workDir);
    const caFile = path.join(workDir, 'root.pem');
    writeFileSync(caFile, endpointsProc.root);
    const csvFile = path.join(workDir, 'domains.csv');
    writeFileSync(csvFile, importCsv(endpointsProc.endpoints));
    const inputs = { csvFile, endpoints: endpointsProc.endpoints, caFile };

    const runs: RunResult[] = [];
    for (const [i, setting] of settings.entries()) {
      const run = await monitoringRun(setting, i % 2 === 0 ? 'api' : 'cli', inputs, windowS);
      runs.push(run);
      if (i < settings.length - 1) cleanup.push(run.dataDir);
    }
    const last = runs[runs.length - 1] as RunResult;
    cleanup.push(last.dataDir);

    console.error('[bench] seeding 100,000 assessments');
    const seed = await seedAssessments(last.dataDir, endpointsProc.endpoints);
    const configPath = path.join(last.dataDir, 'portcullis.json');
    const server = await startServer({ port: await freePort(), dataDir: last.dataDir, env: { PORTCULLIS_CONFIG: configPath } });
    let reports: ReportTiming[];
    let serverRssMb = 0;
    try {
      const targets = JSON.parse((await timedFetch(`${server.url}/api/v1/targets?limit=1&q=d00042`)).body) as { items: Array<{ id: string }> };
      const since = new Date(Date.now() - 3 * DAY_MS).toISOString().slice(0, 10);
      reports = await measureReports(server, requests, { team: 'team-3', since, targetId: targets.items[0]?.id ?? '' });
      serverRssMb = (procMemory(server.pid)?.hwmKb ?? 0) / 1024;
    } finally {
      await server.stop();
    }
    const uptimeAfter = uptime();
    writeResults('monitoring', markdown({ machine, uptimeAfter, runs, seed, reports, serverRssMb, windowS, requests, endpoints: endpointsProc.endpoints }), {
      machine,
      uptimeAfter,
      parameters: { domains: DOMAINS, endpoints: ENDPOINTS, fixtures: FIXTURE_NAMES, tickSeconds: TICK_SECONDS, scanBatchSize: SCAN_BATCH, windowS, warmUpS: WARM_UP_S, requests },
      runs: runs.map(({ dataDir: _dataDir, ...r }) => r),
      seed,
      reports,
      reportServerPeakRssMb: serverRssMb,
    });
  } finally {
    endpointsProc.stop();
    for (const dir of cleanup) rmSync(dir, { recursive: true, force: true });
  }
}

function markdown(r: {
  machine: ReturnType<typeof machineInfo>;
  uptimeAfter: string;
  runs: RunResult[];
  seed: SeedResult;
  reports: ReportTiming[];
  serverRssMb: number;
  windowS: number;
  requests: number;
  endpoints: Endpoint[];
}): string {
  const firstRun = r.runs[0] as RunResult;
  return [
    '# Monitoring: 10,000 imported domains, scheduled TLS assessments, report with 100,000 assessments',
    '',
    machineMarkdown(r.machine, r.uptimeAfter),
    '',
    'No peer tool: nmap, sslscan and testssl.sh have no inventory, scheduler or report to compare with.',
    '',
    '## Set-up',
    '',
    `- \`node dist/cli/main.js serve\` as a child process, fresh temp data dir (SQLite) per setting, config file (\`PORTCULLIS_CONFIG\`): \`logLevel\` warn, \`scope.allow\` [127.0.0.0/8, bench.test], \`dns.hosts\` mapping ${DOMAINS} names \`d00001.bench.test\` … \`d10000.bench.test\` to endpoint (i mod ${ENDPOINTS}), \`tls.caFiles\` the endpoints' test root, \`monitor.tickSeconds\` ${TICK_SECONDS}, \`monitor.scanBatchSize\` ${SCAN_BATCH}, \`monitor.jitterSeconds\` 0, the rest default (tls.parallelism 4, tls.timeoutMs 5000, maxAgeSeconds 3600).`,
    `- ${r.endpoints.length} HTTPS endpoints in a separate process: 127.0.1.1 … 127.0.1.${r.endpoints.length}, one port each, cycling through the fixtures ${FIXTURE_NAMES.map((n) => `\`${n}\``).join(', ')} of tls-fixtures.ts with a leaf for \`*.bench.test\` (RSA 2048, EC P-256 for ecdsa) under the test intermediate.`,
    `- Import file: CSV \`target,owner,team,environment\`, ${DOMAINS} lines \`dNNNNN.bench.test:<port>\` with ${OWNERS} owners, ${TEAMS} teams, 2 environments.`,
    `- Assessment rate: \`portcullis_tls_assessment_duration_seconds_count\` from \`GET /metrics\` every ${SAMPLE_MS / 1000} s (assessments stored by the engine), for ${r.windowS} s after the import answered; steady state from t = ${WARM_UP_S} s to the end. CPU (utime + stime) and VmRSS/VmHWM of the serve process from /proc. API responsiveness: \`GET /healthz\` then \`GET /api/v1/targets?limit=50\`, one pair a second during the window. After the window, queued and running scans are cancelled through the API (\`DELETE /api/v1/tls-scans/{id}\`); counts of rows come from a **read-only SQLite query** of the data dir.`,
    '',
    '## Import and scheduled assessments',
    '',
    '| worker.concurrency × tls.concurrency (in flight) | import via | import ms | lines/s | added / updated / dup / rejected | window s | assessments | per min overall | **per min steady** | CPU % of one core | peak RSS MB | /healthz p50/p95/max ms | /targets?limit=50 p50/p95/max ms | failed targets | endpoint grades |',
    '|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---|---|---:|---|',
    ...r.runs.map(
      (x) =>
        `| ${x.setting.workers} × ${x.setting.tlsConcurrency} (${x.setting.workers * x.setting.tlsConcurrency}) | ${x.importVia === 'api' ? '`POST /api/v1/targets/import`' : '`portcullis targets import --json` (whole process)'} | ${fmt(x.importMs)} | ${fmt(DOMAINS / (x.importMs / 1000))} | ${x.importOutcomes.added} / ${x.importOutcomes.updated} / ${x.importOutcomes.duplicates} / ${x.importOutcomes.rejected} | ${fmt(x.windowS)} | ${x.assessmentsInWindow}${x.allDone ? ' (all)' : ''} | ${fmt(x.overallPerMin)} | **${fmt(x.steadyPerMin)}** | ${fmt(x.cpuPercent)} | ${fmt(x.peakRssMb)} | ${latencyCell(x.healthz)} | ${latencyCell(x.targetsList)} | ${x.db.targetErrors} | ${Object.entries(x.endpointGrades).map(([g, n]) => `${g} ×${n}`).join(', ')} |`,
    ),
    '',
    ...r.runs.map(
      (x) =>
        `- ${x.setting.workers} × ${x.setting.tlsConcurrency}: SQLite after the window: ${x.db.assessments} assessments, ${x.db.scansDone} TLS scans done, ${x.db.scansQueuedOrRunning} still queued/running after the cancel requests, ${x.db.targetErrors} targets with an error; average assessment document ${fmt(x.db.assessmentBytesAvg)} bytes. Samples (t s: assessments): ${x.samples.map((s) => `${fmt(s.atS)}: ${s.assessments}`).join(', ')}.${x.firstRejections.length > 0 ? ` Rejections: ${x.firstRejections.join('; ')}` : ''}`,
    ),
    '',
    '## Report with 100,000 stored assessments',
    '',
    `The server of the last setting was stopped and the database seeded directly with better-sqlite3: the ${r.seed.realAssessments} real assessments of the window kept, ${r.seed.inserted} more inserted (copies of real documents of the same fixture with host, port, SNI, endpoint address and times rewritten; one day apart, ~${TARGET_ASSESSMENTS / DOMAINS} per target; one row in ten takes the next fixture's document so grades change over time), in ${r.seed.scansInserted} done TLS scans of ≤ ${SCAN_BATCH} targets with their \`tls_scan_targets\` rows, then \`analyze\`. Total ${r.seed.totalAssessments} assessments, database ${fmt(r.seed.dbBytes / 1024 / 1024)} MB, seeding ${fmt(r.seed.seedMs / 1000, 1)} s; targets due within the hour: ${r.seed.dueTargets} (so nothing was scanned during the measurement). Restarted \`serve\`, then per request type one first (cold) request and ${r.requests} sequential ones.`,
    '',
    `| request | status | first ms | p50 / p95 / max ms (n=${r.requests}) | bytes | content |`,
    '|---|---:|---:|---|---:|---|',
    ...r.reports.map((x) => `| ${x.label} (\`${x.path}\`) | ${x.status} | ${fmt(x.firstMs)} | ${latencyCell(x.latencies)} | ${x.bytes.toLocaleString('en-US')} | ${x.note} |`),
    '',
    `Peak RSS (VmHWM) of the serve process after these requests: ${fmt(r.serverRssMb)} MB.`,
    '',
    `Command: \`npx tsx bench/monitoring.ts --settings ${r.runs.map((x) => `${x.setting.workers}x${x.setting.tlsConcurrency}`).join(',')} --window-s ${r.windowS} --requests ${r.requests}\` (${firstRun.importVia} import first).`,
    '',
  ].join('\n');
}

if (process.argv[2] === '--serve-endpoints') await serveEndpoints(Number(process.argv[3]));
else {
  await main();
  // fetch's keep-alive sockets would hold the process for a while.
  process.exit(0);
}
