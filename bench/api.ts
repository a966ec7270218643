/**
 * The service end to end: a port scan of 127.0.0.1-127.0.0.16 × ports 1-10000 through the API (time
 * to result, open ports found vs expected), then read latency of GET /api/v1/hosts/{ip} and of the
 * scan comparison with ~1,000,000 port_results rows seeded into the SQLite store.
 *
 *   npx tsx bench/api.ts [--requests 300] [--concurrency 8]
 *
 * Connects only to 127.0.0.0/8. The seeded rows name 10.20.0.0/24 addresses, which are data only.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { ipKey } from '../src/store/port-scans.js';
import {
  NMAP,
  ROOT,
  parseNmapXml,
  portsIn,
  runTimed,
  type Server,
  fmt,
  freePort,
  getJson,
  listeningTcp,
  machineInfo,
  machineMarkdown,
  percentile,
  postJson,
  procMemory,
  sleep,
  startServer,
  uptime,
  writeResults,
  ensureBuilt,
} from './lib.js';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) || dflt : dflt;
};
const REQUESTS = arg('--requests', 300);
const CONCURRENCY = arg('--concurrency', 8);

const SEED_SCANS = 400;
const SEED_HOSTS = 250;
const SEED_LISTED = 10;
const MEASURED_IP = '10.20.0.77';

// ------------------------------------------------------------------------------------------------
// Part 1: a real scan through the API

interface Expected {
  ip: string;
  port: number;
  kind: string;
}

/** A mix of what the service-detection stage meets: a banner, an HTTP server, silent ports. */
async function openListeners(busy: Set<number>): Promise<{ expected: Expected[]; close: () => Promise<void> }> {
  const wanted: Array<{ ip: string; port: number; kind: 'ssh' | 'http' | 'silent' }> = [
    { ip: '127.0.0.1', port: 2222, kind: 'ssh' },
    { ip: '127.0.0.2', port: 8000, kind: 'http' },
    { ip: '127.0.0.5', port: 22, kind: 'ssh' },
    { ip: '127.0.0.8', port: 9999, kind: 'silent' },
    { ip: '127.0.0.11', port: 80, kind: 'http' },
    { ip: '127.0.0.16', port: 7000, kind: 'silent' },
  ];
  const closers: Array<() => Promise<void>> = [];
  const expected: Expected[] = [];
  for (const w of wanted) {
    let port = w.port;
    while (busy.has(port)) port++;
    const sockets = new Set<net.Socket>();
    const server: net.Server =
      w.kind === 'http'
        ? http.createServer((_req, res) => {
            res.setHeader('server', 'bench-http/1.0');
            res.end('<html><head><title>bench</title></head><body>ok</body></html>');
          })
        : net.createServer((s) => {
            s.on('error', () => {});
            if (w.kind === 'ssh') s.write('SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n');
          });
    server.on('connection', (s: net.Socket) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, w.ip, () => resolve());
    });
    closers.push(
      () =>
        new Promise<void>((resolve) => {
          for (const s of sockets) s.destroy();
          server.close(() => resolve());
        }),
    );
    expected.push({ ip: w.ip, port, kind: w.kind });
  }
  return { expected, close: async () => void (await Promise.all(closers.map((c) => c()))) };
}

interface ScanDetail {
  id: string;
  status: string;
  durationMs?: number;
  hostsDone: number;
  stats?: { hostsUp: number; open: number; closed: number; filtered: number; durationMs: number };
  hosts: { items: Array<{ ip: string; ports: Array<{ port: number; state: string; service?: { name: string; product?: string; method: string } }> }>; total: number };
}

async function scanThroughApi(server: Server, body: unknown): Promise<{ timeToResultMs: number; detail: ScanDetail; polls: number }> {
  const t0 = performance.now();
  const accepted = await postJson<{ id: string }>(`${server.url}/api/v1/port-scans`, body);
  if (accepted.status !== 202) throw new Error(`POST answered ${accepted.status}: ${JSON.stringify(accepted.body)}`);
  const id = accepted.body.id;
  let polls = 0;
  for (;;) {
    polls++;
    const r = await getJson<ScanDetail>(`${server.url}/api/v1/port-scans/${id}?limit=1000`);
    if (['done', 'failed', 'cancelled'].includes(r.body.status)) {
      const timeToResultMs = performance.now() - t0;
      if (r.body.status !== 'done') throw new Error(`scan ended ${r.body.status}: ${JSON.stringify(r.body)}`);
      return { timeToResultMs, detail: r.body, polls };
    }
    if (performance.now() - t0 > 240_000) throw new Error('scan did not finish in 4 minutes');
    await sleep(50);
  }
}

// ------------------------------------------------------------------------------------------------
// Part 2: seeding

interface SeedInfo {
  scans: string[];
  portResults: number;
  scanHosts: number;
  seconds: number;
  dbBytes: number;
}

function seed(dbFile: string, listedPorts: readonly number[], portSet: string, portCount: number, serviceOf: (p: number) => string): SeedInfo {
  const t0 = performance.now();
  const db = new Database(dbFile);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  const insScan = db.prepare(`insert into port_scans (id, status, targets, exclude, ports_spec, port_set, port_count, options, plan, address_count,
    hosts_done, progress_done, progress_total, created_at, started_at, finished_at, error, stats)
    values (@id, 'done', @targets, '[]', 'top-100', @port_set, @port_count, '{"timing":4}', @plan, @n, @n, @total, @total, @created, @created, @finished, null, @stats)`);
  const insHost = db.prepare(`insert into scan_hosts (scan_id, ip, ip_key, hostnames, status, open_count, closed_count, filtered_count,
    extra_state, extra_count, extra_reasons, srtt_ms, started_at, finished_at)
    values (?, ?, ?, '[]', 'up', ?, ?, ?, 'closed', ?, ?, 0.4, ?, ?)`);
  const insPort = db.prepare(`insert into port_results (scan_id, ip, port, protocol, state, reason, rtt_ms, service_name, service_product,
    service_version, service_method, banner, tls, http) values (?, ?, ?, 'tcp', ?, ?, ?, ?, ?, ?, ?, ?, null, ?)`);

  const ips = Array.from({ length: SEED_HOSTS }, (_, i) => `10.20.0.${i + 1}`);
  const keys = ips.map((ip) => ipKey(ip));
  const scans: string[] = [];
  let portResults = 0;
  let scanHosts = 0;
  const base = Date.parse('2025-01-01T00:00:00Z');
  // Deterministic pseudo-random churn: a port's state mostly stays, sometimes flips between scans.
  const hash = (a: number, b: number, c: number): number => {
    let x = (a * 73856093) ^ (b * 19349663) ^ (c * 83492791);
    x = Math.imul(x ^ (x >>> 16), 0x45d9f3b);
    return (x ^ (x >>> 16)) >>> 0;
  };
  const closed = portCount - SEED_LISTED;
  const insertAll = db.transaction(() => {
    for (let s = 0; s < SEED_SCANS; s++) {
      const id = `00000000-0000-4000-8000-${String(s).padStart(12, '0')}`;
      scans.push(id);
      const created = new Date(base + s * 86_400_000).toISOString();
      const finished = new Date(base + s * 86_400_000 + 95_000).toISOString();
      let open = 0;
      let filtered = 0;
      const hostRows: Array<[number, number]> = [];
      for (let h = 0; h < SEED_HOSTS; h++) {
        let o = 0;
        let f = 0;
        for (let k = 0; k < SEED_LISTED; k++) {
          const usuallyOpen = hash(h, k, 0) % 3 !== 0;
          const flipped = hash(h, k, s + 1) % 20 === 0;
          if (usuallyOpen !== flipped) o++;
          else f++;
        }
        hostRows.push([o, f]);
        open += o;
        filtered += f;
      }
      insScan.run({
        id,
        targets: JSON.stringify(['10.20.0.1-10.20.0.250']),
        port_set: portSet,
        port_count: portCount,
        plan: JSON.stringify({ ranges: [{ family: 4, start: '10.20.0.1', end: '10.20.0.250' }], hostnames: {}, addressCount: SEED_HOSTS }),
        n: SEED_HOSTS,
        total: SEED_HOSTS * portCount,
        created,
        finished,
        stats: JSON.stringify({ hostsTotal: SEED_HOSTS, hostsUp: SEED_HOSTS, open, closed: closed * SEED_HOSTS, filtered, portsPerHost: portCount, durationMs: 95_000 }),
      });
      for (let h = 0; h < SEED_HOSTS; h++) {
        const [o, f] = hostRows[h] as [number, number];
        insHost.run(id, ips[h], keys[h], o, closed, f, closed, JSON.stringify({ 'conn-refused': closed }), created, finished);
        scanHosts++;
        for (let k = 0; k < SEED_LISTED; k++) {
          const port = listedPorts[k] as number;
          const isOpen = (hash(h, k, 0) % 3 !== 0) !== (hash(h, k, s + 1) % 20 === 0);
          const name = serviceOf(port);
          const banner = isOpen && port === 22 ? 'SSH-2.0-OpenSSH_9.2p1 Debian-2' : null;
          const httpInfo = isOpen && (port === 80 || port === 8080) ? JSON.stringify({ status: 200, server: 'nginx/1.24.0', title: `host ${h + 1}` }) : null;
          insPort.run(
            id,
            ips[h],
            port,
            isOpen ? 'open' : 'filtered',
            isOpen ? 'syn-ack' : 'no-response',
            isOpen ? 0.3 : null,
            isOpen ? name : null,
            banner ? 'OpenSSH' : null,
            banner ? '9.2p1' : null,
            isOpen ? (banner || httpInfo ? 'probed' : 'table') : null,
            banner,
            httpInfo,
          );
          portResults++;
        }
      }
    }
  });
  insertAll();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.exec('analyze');
  db.close();
  return { scans, portResults, scanHosts, seconds: (performance.now() - t0) / 1000, dbBytes: statSync(dbFile).size };
}

// ------------------------------------------------------------------------------------------------
// Latency

interface Latency {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
  reqPerS: number;
  bytes: number;
}

async function measure(url: string, n: number, concurrency: number, check: (status: number, body: string) => void): Promise<Latency> {
  const times: number[] = [];
  let bytes = 0;
  let next = 0;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    while (next < n) {
      next++;
      const s = performance.now();
      const res = await fetch(url);
      const text = await res.text();
      times.push(performance.now() - s);
      bytes = text.length;
      check(res.status, text);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, () => worker()));
  const total = performance.now() - t0;
  return {
    n: times.length,
    p50: percentile(times, 50),
    p95: percentile(times, 95),
    p99: percentile(times, 99),
    max: Math.max(...times),
    mean: times.reduce((a, b) => a + b, 0) / times.length,
    reqPerS: (times.length / total) * 1000,
    bytes,
  };
}

const latRow = (name: string, l: Latency): string =>
  `| ${name} | ${l.n} | ${fmt(l.p50, 1)} | ${fmt(l.p95, 1)} | ${fmt(l.p99, 1)} | ${fmt(l.max, 1)} | ${fmt(l.reqPerS, 0)} | ${fmt(l.bytes / 1024, 0)} KB |`;

// ------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  ensureBuilt();
  const machine = machineInfo();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'portcullis-bench-api-'));
  const port = await freePort(20000, 32000);
  const busyBefore = listeningTcp();
  const listeners = await openListeners(new Set(busyBefore.map((l) => l.port)));
  let server: Server | undefined;
  const out: Record<string, unknown> = { machine };
  try {
    // ---- part 1
    server = await startServer({ port, dataDir });
    await sleep(500);
    const serverMem0 = procMemory(server.pid);
    const scanBody = { targets: ['127.0.0.1-127.0.0.16'], ports: '1-10000', options: { timing: 4 } };
    const scan1 = await scanThroughApi(server, scanBody);
    const scanBodyNoDetect = { targets: ['127.0.0.1-127.0.0.16'], ports: '1-10000', options: { timing: 4, serviceDetection: false } };
    const scan2 = await scanThroughApi(server, scanBodyNoDetect);
    const serverMem1 = procMemory(server.pid);
    // The peer on the same scope, in the same run (no service detection: compare with scan 2).
    const nmapArgs = ['-sT', '-n', '-T4', '-p', '1-10000', '127.0.0.1-16', '-oX', '-'];
    const nmapRun = await runTimed(NMAP, nmapArgs);
    if (nmapRun.code !== 0) throw new Error(`nmap exited ${nmapRun.code}: ${nmapRun.stderr}`);
    const nmapXml = parseNmapXml(nmapRun.stdout);
    const nmapOpen = new Set(nmapXml.hosts.flatMap((h) => portsIn(h.ports, 'open').map((p) => `${h.ip}:${p}`)));
    const busyAfter = listeningTcp();

    // Expected: our listeners, plus other processes' listeners that cover 127.0.0.1-16 on ports ≤ 10000
    // and were there both before and after (a short-lived one may or may not be seen).
    const covers = (address: string, ip: string): boolean => address === ip || address === '0.0.0.0' || address === '::' || address === '*';
    const hostsIps = Array.from({ length: 16 }, (_, i) => `127.0.0.${i + 1}`);
    const stable = busyBefore.filter((b) => busyAfter.some((a) => a.address === b.address && a.port === b.port));
    const expectedSet = new Set<string>();
    for (const e of listeners.expected) expectedSet.add(`${e.ip}:${e.port}`);
    for (const ip of hostsIps) for (const l of stable) if (l.port <= 10000 && covers(l.address, ip)) expectedSet.add(`${ip}:${l.port}`);
    const maybe = new Set<string>();
    for (const ip of hostsIps) for (const l of [...busyBefore, ...busyAfter]) if (l.port <= 10000 && covers(l.address, ip) && !expectedSet.has(`${ip}:${l.port}`)) maybe.add(`${ip}:${l.port}`);

    const found = (d: ScanDetail): Set<string> => new Set(d.hosts.items.flatMap((h) => h.ports.filter((p) => p.state === 'open').map((p) => `${h.ip}:${p.port}`)));
    const compare = (d: ScanDetail) => {
      const f = found(d);
      return {
        found: [...f].sort(),
        missing: [...expectedSet].filter((x) => !f.has(x)).sort(),
        unexpected: [...f].filter((x) => !expectedSet.has(x) && !maybe.has(x)).sort(),
        transient: [...f].filter((x) => maybe.has(x)).sort(),
      };
    };
    const cmp1 = compare(scan1.detail);
    const cmp2 = compare(scan2.detail);
    const found2 = new Set(cmp2.found);
    const nmapVsOurs = { onlyNmap: [...nmapOpen].filter((x) => !found2.has(x)).sort(), onlyOurs: [...found2].filter((x) => !nmapOpen.has(x)).sort() };
    const services = scan1.detail.hosts.items.flatMap((h) =>
      h.ports
        .filter((p) => listeners.expected.some((e) => e.ip === h.ip && e.port === p.port))
        .map((p) => `${h.ip}:${p.port} ${p.service?.name ?? '-'}${p.service?.product ? ` (${p.service.product})` : ''} [${p.service?.method ?? '-'}]`),
    );
    console.log(`scan with detection: ${fmt(scan1.timeToResultMs)} ms to result, durationMs ${scan1.detail.durationMs}; without: ${fmt(scan2.timeToResultMs)} ms, durationMs ${scan2.detail.durationMs}`);
    console.log(`expected ${expectedSet.size} open, found ${cmp1.found.length}; missing ${cmp1.missing.join(',') || 'none'}; unexpected ${cmp1.unexpected.join(',') || 'none'}`);
    await server.stop();
    server = undefined;

    // ---- part 2: seed ~1,000,000 port_results rows
    const { parsePortSpec, formatPortSet } = (await import(pathToFileURL(path.join(ROOT, 'dist/portscan/ports.js')).href)) as typeof import('../src/portscan/ports.js');
    const { loadPortLists, serviceForPort } = (await import(pathToFileURL(path.join(ROOT, 'dist/portscan/port-lists.js')).href)) as typeof import('../src/portscan/port-lists.js');
    const lists = loadPortLists();
    const top100 = parsePortSpec('top-100', lists);
    const listed = lists.ranking.slice(0, SEED_LISTED).map((r) => r.port);
    const dbFile = path.join(dataDir, 'portcullis.sqlite');
    const seedInfo = seed(dbFile, listed, formatPortSet(top100), top100.length, (p) => serviceForPort(lists, p) ?? 'unknown');
    console.log(`seeded ${seedInfo.portResults} port_results rows, ${seedInfo.scanHosts} scan_hosts rows in ${fmt(seedInfo.seconds, 1)} s; db ${fmt(seedInfo.dbBytes / 1048576, 0)} MB`);
    const counts = (() => {
      const db = new Database(dbFile, { readonly: true });
      const n = (t: string): number => (db.prepare(`select count(*) as n from ${t}`).get() as { n: number }).n;
      const c = { port_scans: n('port_scans'), scan_hosts: n('scan_hosts'), port_results: n('port_results') };
      db.close();
      return c;
    })();

    server = await startServer({ port, dataDir });
    const hostUrl = `${server.url}/api/v1/hosts/${MEASURED_IP}`;
    let checked = false;
    const checkHost = (status: number, body: string): void => {
      if (status !== 200) throw new Error(`GET host answered ${status}: ${body.slice(0, 500)}`);
      if (!checked) {
        const j = JSON.parse(body) as { scans: number; ports: unknown[]; history: unknown[] };
        if (j.scans !== SEED_SCANS || j.ports.length !== SEED_LISTED) throw new Error(`unexpected host view: scans ${j.scans}, ports ${j.ports.length}`);
        checked = true;
      }
    };
    const ok = (what: string) => (status: number, body: string): void => {
      if (status !== 200) throw new Error(`${what} answered ${status}: ${body.slice(0, 500)}`);
    };
    await measure(hostUrl, 20, 1, checkHost); // warm-up
    const hostSeq = await measure(hostUrl, REQUESTS, 1, checkHost);
    const hostConc = await measure(hostUrl, REQUESTS * 2, CONCURRENCY, checkHost);
    const hostAll = await measure(`${hostUrl}?limit=1000`, Math.max(50, Math.floor(REQUESTS / 3)), 1, ok('GET host limit=1000'));
    const a = seedInfo.scans[SEED_SCANS - 2] as string;
    const b = seedInfo.scans[SEED_SCANS - 1] as string;
    const far = seedInfo.scans[0] as string;
    const cmpUrl = `${server.url}/api/v1/port-scans/${a}/compare/${b}`;
    await measure(cmpUrl, 5, 1, ok('compare'));
    const compareSeq = await measure(cmpUrl, Math.max(50, Math.floor(REQUESTS / 3)), 1, ok('compare'));
    const compareFar = await measure(`${server.url}/api/v1/port-scans/${far}/compare/${b}`, Math.max(50, Math.floor(REQUESTS / 3)), 1, ok('compare'));
    const listByIp = await measure(`${server.url}/api/v1/port-scans?ip=${MEASURED_IP}&limit=50`, Math.max(50, Math.floor(REQUESTS / 3)), 1, ok('list by ip'));
    const scanDetail = await measure(`${server.url}/api/v1/port-scans/${b}?limit=250`, Math.max(50, Math.floor(REQUESTS / 3)), 1, ok('scan detail'));
    const serverMem2 = procMemory(server.pid);
    const changes = (await getJson<Record<string, unknown>>(cmpUrl)).body;
    await server.stop();
    server = undefined;
    const after = uptime();

    const readGoalNote = 'no numeric goal was set for read latency';
    const md = `# api: the service end to end (SQLite)

${machineMarkdown(machine, after)}

## Commands

\`\`\`sh
npx tsx bench/api.ts --requests ${REQUESTS} --concurrency ${CONCURRENCY}
# starts: PORTCULLIS_LOG_LEVEL=warn node dist/cli/main.js serve --host 127.0.0.1 --port <free> --data-dir <fresh temp dir>
curl -X POST /api/v1/port-scans -d '${JSON.stringify(scanBody)}'     # then GET /api/v1/port-scans/{id}?limit=1000 every 50 ms until done
curl -X POST /api/v1/port-scans -d '${JSON.stringify(scanBodyNoDetect)}'
\`\`\`

## 1. Scan of 127.0.0.1-127.0.0.16 × ports 1-10000 (160,000 probes) through the API

Listeners opened by the benchmark: ${listeners.expected.map((e) => `${e.ip}:${e.port} (${e.kind})`).join(', ')}.
Other processes' listeners that answer on these addresses (ports ≤ 10000): ${[...expectedSet].filter((x) => !listeners.expected.some((e) => `${e.ip}:${e.port}` === x)).length} address:port pairs
(${[...new Set(stable.filter((l) => l.port <= 10000 && hostsIps.some((ip) => covers(l.address, ip))).map((l) => `${l.address}:${l.port}`))].join(', ')}).

| request | time to result (submit → done) | scan \`durationMs\` | stats.durationMs | hosts done | open found / expected | missing | unexpected |
|---|---:|---:|---:|---:|---:|---|---|
| \`options:{timing:4}\` (service detection on, the default) | ${fmt(scan1.timeToResultMs)} ms | ${scan1.detail.durationMs} ms | ${scan1.detail.stats?.durationMs} ms | ${scan1.detail.hostsDone} | ${cmp1.found.length} / ${expectedSet.size} | ${cmp1.missing.join(', ') || 'none'} | ${cmp1.unexpected.join(', ') || 'none'}${cmp1.transient.length ? ` (short-lived: ${cmp1.transient.join(', ')})` : ''} |
| \`options:{timing:4, serviceDetection:false}\` | ${fmt(scan2.timeToResultMs)} ms | ${scan2.detail.durationMs} ms | ${scan2.detail.stats?.durationMs} ms | ${scan2.detail.hostsDone} | ${cmp2.found.length} / ${expectedSet.size} | ${cmp2.missing.join(', ') || 'none'} | ${cmp2.unexpected.join(', ') || 'none'}${cmp2.transient.length ? ` (short-lived: ${cmp2.transient.join(', ')})` : ''} |

Same scope with the peer, in the same run: \`nmap ${nmapArgs.join(' ')}\`: ${fmt(nmapRun.wallMs)} ms wall (nmap elapsed ${nmapXml.elapsedS} s), ${nmapOpen.size} open;
**ratio nmap / ours (time to result without service detection) ${fmt(nmapRun.wallMs / scan2.timeToResultMs, 2)}**; open sets ${nmapVsOurs.onlyNmap.length + nmapVsOurs.onlyOurs.length === 0 ? 'identical' : `differ: only nmap ${nmapVsOurs.onlyNmap.join(', ') || '-'}; only ours ${nmapVsOurs.onlyOurs.join(', ') || '-'}`}.

Services detected on the benchmark's listeners: ${services.join('; ')}.
Server memory: ${fmt((serverMem0?.rssKb ?? NaN) / 1024, 1)} MB RSS idle after start; after both scans VmHWM ${fmt((serverMem1?.hwmKb ?? NaN) / 1024, 1)} MB, VmRSS ${fmt((serverMem1?.rssKb ?? NaN) / 1024, 1)} MB.

## 2. Reads with ~1,000,000 port_results rows

Seeded directly into the SQLite file with better-sqlite3 while the server was stopped (ip_key from
\`src/store/port-scans.ts\` \`ipKey()\`): ${SEED_SCANS} finished scans × ${SEED_HOSTS} hosts (10.20.0.1-250, the same
perimeter rescanned daily) × ${SEED_LISTED} listed ports (open or filtered, with some churn between scans; the other
${top100.length - SEED_LISTED} ports of top-100 counted as closed extraports). Rows: ${JSON.stringify(counts)} (the 2 real scans of part 1 included);
seeding took ${fmt(seedInfo.seconds, 1)} s; database ${fmt(seedInfo.dbBytes / 1048576, 0)} MB. ${MEASURED_IP} appears in all ${SEED_SCANS} scans.
Server restarted on the seeded file, 20 warm-up requests, then:

| request | n | p50 ms | p95 ms | p99 ms | max ms | req/s | response |
|---|---:|---:|---:|---:|---:|---:|---:|
${latRow(`GET /api/v1/hosts/${MEASURED_IP} (default limit=100 scans), sequential`, hostSeq)}
${latRow(`same, ${CONCURRENCY} concurrent clients`, hostConc)}
${latRow(`GET /api/v1/hosts/${MEASURED_IP}?limit=1000 (all ${SEED_SCANS} scans), sequential`, hostAll)}
${latRow('GET /api/v1/port-scans/{a}/compare/{b} (consecutive scans, 2 × 2,500 rows), sequential', compareSeq)}
${latRow('GET /api/v1/port-scans/{first}/compare/{last}, sequential', compareFar)}
${latRow(`GET /api/v1/port-scans?ip=${MEASURED_IP}&limit=50, sequential`, listByIp)}
${latRow('GET /api/v1/port-scans/{id}?limit=250 (one seeded scan, 250 hosts), sequential', scanDetail)}

Server memory after the reads: VmHWM ${fmt((serverMem2?.hwmKb ?? NaN) / 1024, 1)} MB, VmRSS ${fmt((serverMem2?.rssKb ?? NaN) / 1024, 1)} MB. (${readGoalNote}.)
Comparison of the two consecutive seeded scans, top-level keys: ${Object.keys(changes ?? {}).join(', ')}.
`;
    Object.assign(out, {
      uptimeAfter: after,
      scanWithDetection: { timeToResultMs: scan1.timeToResultMs, durationMs: scan1.detail.durationMs, stats: scan1.detail.stats, hostsDone: scan1.detail.hostsDone, polls: scan1.polls, ...cmp1 },
      scanWithoutDetection: { timeToResultMs: scan2.timeToResultMs, durationMs: scan2.detail.durationMs, stats: scan2.detail.stats, hostsDone: scan2.detail.hostsDone, polls: scan2.polls, ...cmp2 },
      expected: [...expectedSet].sort(),
      services,
      serverMemIdle: serverMem0,
      serverMemAfterScans: serverMem1,
      nmap: { args: nmapArgs, wallMs: nmapRun.wallMs, elapsedS: nmapXml.elapsedS, open: [...nmapOpen].sort(), ...nmapVsOurs },
      seed: { ...seedInfo, scans: seedInfo.scans.length, counts },
      latency: { hostSeq, hostConc, hostAll, compareSeq, compareFar, listByIp, scanDetail },
      serverMemAfterReads: serverMem2,
    });
    writeResults('api', md, out);
    console.log(md);
  } finally {
    if (server) await server.stop();
    await listeners.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
