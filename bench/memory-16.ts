/**
 * Peak memory of a /16: 127.0.0.0/16 × 10 ports (655,360 probes, all loopback; on Linux the whole
 * 127.0.0.0/8 answers), (a) through the service with SQLite, (b) through the CLI, and nmap on the
 * same scope in the same run for reference.
 *
 *   npx tsx bench/memory-16.ts
 *
 * Connects only to 127.0.0.0/16.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import {
  CLI,
  LOOP_MONITOR,
  type LoopStats,
  NMAP,
  type Server,
  ensureBuilt,
  fmt,
  freePort,
  getJson,
  listeningTcp,
  machineInfo,
  machineMarkdown,
  type CliJson,
  median,
  parseCliJson,
  parseNmapXml,
  postJson,
  procMemory,
  shellLine,
  sleep,
  startServer,
  uptime,
  writeResults,
} from './lib.js';

const TARGET = '127.0.0.0/16';
const GOAL_MB = 300;
/** Spread over the range; a port something listens on for all of 127/8 is replaced by a free one. */
const WANTED = [1, 21, 25, 135, 1433, 3389, 5900, 8443, 11211, 27017];

interface TimeV {
  code: number | null;
  maxRssKb: number;
  elapsed: string;
  wallMs: number;
  stdoutBytes: number;
  stdout: string;
}

/** Runs a command under `/usr/bin/time -v`; stdout goes to a file (for the stats), not kept in memory twice. */
function timeV(cmd: string, args: readonly string[]): Promise<TimeV> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pcbench-mem-'));
  const report = path.join(tmp, 'time.txt');
  const outFile = path.join(tmp, 'stdout');
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn('/bin/sh', ['-c', `exec /usr/bin/time -v -o "$0" "$@" > "${outFile}"`, report, cmd, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('error', reject);
    child.on('close', (code) => {
      const wallMs = performance.now() - started;
      const text = readFileSync(report, 'utf8');
      const stdout = readFileSync(outFile, 'utf8');
      rmSync(tmp, { recursive: true, force: true });
      resolve({
        code,
        maxRssKb: Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(text)?.[1]),
        elapsed: /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)/.exec(text)?.[1] ?? '',
        wallMs,
        stdoutBytes: Buffer.byteLength(stdout),
        stdout,
      });
    });
  });
}

interface ScanRow {
  id: string;
  status: string;
  error?: { code: string; message: string };
  hostsDone: number;
  durationMs?: number;
  progress: { done: number; total: number; percent: number };
  stats?: { hostsUp: number; open: number; closed: number; filtered: number; durationMs: number };
}

async function main(): Promise<void> {
  ensureBuilt();
  const machine = machineInfo();
  // A port "busy" for this benchmark is one a wildcard or 127.0.x.y listener holds.
  const busy = new Set(listeningTcp().filter((l) => l.address === '0.0.0.0' || l.address === '*' || l.address === '::' || l.address.startsWith('127.0.')).map((l) => l.port));
  const ports = WANTED.map((p) => {
    let q = p;
    while (busy.has(q)) q++;
    return q;
  });
  const portSpec = ports.join(',');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'portcullis-bench-mem-'));
  let server: Server | undefined;
  try {
    // ---- (a) the service
    const port = await freePort(20000, 32000);
    const loopFile = path.join(dataDir, 'loop.json');
    server = await startServer({ port, dataDir, nodeArgs: ['--import', LOOP_MONITOR], env: { PCBENCH_LOOP_FILE: loopFile } });
    await sleep(500);
    const idle = procMemory(server.pid);
    const samples: Array<{ t: number; rssKb: number; hostsDone: number; percent: number; pollMs: number }> = [];
    const body = { targets: [TARGET], ports: portSpec, options: { serviceDetection: false } };
    const t0 = performance.now();
    const accepted = await postJson<{ id: string }>(`${server.url}/api/v1/port-scans`, body);
    if (accepted.status !== 202) throw new Error(`POST answered ${accepted.status}: ${JSON.stringify(accepted.body)}`);
    const id = accepted.body.id;
    let final: ScanRow | undefined;
    for (;;) {
      const asked = performance.now();
      const r = await getJson<ScanRow>(`${server.url}/api/v1/port-scans/${id}?limit=1`);
      const pollMs = performance.now() - asked;
      const mem = procMemory(server.pid);
      samples.push({ t: Math.round(performance.now() - t0), rssKb: mem?.rssKb ?? NaN, hostsDone: r.body.hostsDone, percent: r.body.progress.percent, pollMs: Math.round(pollMs) });
      if (['done', 'failed', 'cancelled'].includes(r.body.status)) {
        final = r.body;
        break;
      }
      if (performance.now() - t0 > 600_000) throw new Error('the /16 scan did not finish in 10 minutes');
      await sleep(250);
    }
    const timeToResultMs = performance.now() - t0;
    const peak = procMemory(server.pid);
    await sleep(1100);
    const loop = JSON.parse(readFileSync(loopFile, 'utf8')) as LoopStats;
    if (final.status !== 'done') throw new Error(`scan ended ${final.status}: ${JSON.stringify(final)}\nserver log:\n${server.logs().slice(-4000)}`);
    await server.stop();
    server = undefined;
    const dbFile = path.join(dataDir, 'portcullis.sqlite');
    const db = new Database(dbFile, { readonly: true });
    const count = (sql: string): number => (db.prepare(sql).get(id) as { n: number }).n;
    const rows = {
      scan_hosts: count('select count(*) as n from scan_hosts where scan_id = ?'),
      port_results: count('select count(*) as n from port_results where scan_id = ?'),
      hostsUp: count(`select count(*) as n from scan_hosts where scan_id = ? and status = 'up'`),
    };
    const notClosed = db
      .prepare(`select pr.ip, pr.port, pr.state, pr.reason, sh.finished_at from port_results pr join scan_hosts sh on sh.scan_id = pr.scan_id and sh.ip = pr.ip
                where pr.scan_id = ? and pr.state <> 'closed' order by sh.finished_at`)
      .all(id) as Array<{ ip: string; port: number; state: string; reason: string; finished_at: string }>;
    // Group them by the second their host finished: bursts line up with event-loop stalls.
    const bursts = new Map<string, number>();
    for (const r of notClosed) bursts.set(r.finished_at.slice(11, 19), (bursts.get(r.finished_at.slice(11, 19)) ?? 0) + 1);
    db.close();
    const dbMb = statSync(dbFile).size / 1048576;
    const maxSampledRss = Math.max(...samples.map((s) => s.rssKb));
    console.log(`service: ${fmt(timeToResultMs)} ms to result, durationMs ${final.durationMs}, VmHWM ${fmt((peak?.hwmKb ?? NaN) / 1024, 1)} MB, rows ${JSON.stringify(rows)}`);

    // ---- (b) the CLI, and the peer on the same scope (-Pn: ours does no host discovery either);
    // two interleaved rounds each, since the machine is shared.
    const cliArgs = [CLI, 'scan', 'ports', TARGET, '-p', portSpec, '--no-service-detection', '--json'];
    const nmapArgs = ['-sT', '-n', '-Pn', '-p', portSpec, TARGET, '-oX', '-'];
    const cliRuns: Array<TimeV & { stats: CliJson['stats'] }> = [];
    const nmapRuns: Array<TimeV & { elapsedS: number; up: number; open: number; closed: number; filtered: number }> = [];
    for (let round = 1; round <= 2; round++) {
      const runCli = async (): Promise<void> => {
        const r = await timeV(process.execPath, cliArgs);
        if (r.code !== 0) throw new Error(`CLI exited ${r.code}`);
        const { stats } = parseCliJson(r.stdout);
        cliRuns.push({ ...r, stdout: '', stats });
        console.log(`CLI round ${round}: ${fmt(r.wallMs)} ms, max RSS ${fmt(r.maxRssKb / 1024, 1)} MB, engine ${stats.durationMs} ms`);
      };
      const runNmap = async (): Promise<void> => {
        const r = await timeV(NMAP, nmapArgs);
        if (r.code !== 0) throw new Error(`nmap exited ${r.code}`);
        const xml = parseNmapXml(r.stdout);
        const up = xml.hosts.filter((h) => h.status === 'up').length;
        const inState = (st: string): number => xml.hosts.reduce((n, h) => n + [...h.ports.values()].filter((v) => v.state === st).length, 0);
        const open = inState('open');
        nmapRuns.push({ ...r, stdout: '', elapsedS: xml.elapsedS, up, open, closed: inState('closed'), filtered: inState('filtered') });
        console.log(`nmap round ${round}: ${fmt(r.wallMs)} ms, max RSS ${fmt(r.maxRssKb / 1024, 1)} MB, ${up} up`);
      };
      if (round === 1) {
        await runCli();
        await runNmap();
      } else {
        await runNmap();
        await runCli();
      }
    }
    const cli = cliRuns.reduce((a, b) => (b.maxRssKb > a.maxRssKb ? b : a));
    const cliStats = cli.stats;
    const cliWall = median(cliRuns.map((r) => r.wallMs));
    const cliEngine = median(cliRuns.map((r) => r.stats.durationMs));
    const nmap = nmapRuns.reduce((a, b) => (b.maxRssKb > a.maxRssKb ? b : a));
    const nmapWall = median(nmapRuns.map((r) => r.wallMs));
    const maxPoll = samples.reduce((a, b) => (b.pollMs > a.pollMs ? b : a));
    const after = uptime();

    const svcMb = (peak?.hwmKb ?? NaN) / 1024;
    const cliMb = cli.maxRssKb / 1024;
    const pass = (mb: number): string => (mb < GOAL_MB ? 'PASS' : 'FAIL');
    const curve = samples.filter((_, i) => i % Math.max(1, Math.floor(samples.length / 12)) === 0 || i === samples.length - 1);
    const md = `# memory-16: peak memory of a /16 (127.0.0.0/16 × 10 ports = 655,360 probes)

${machineMarkdown(machine, after)}

Ports: ${portSpec} (nothing listened on them for 127.0.0.0/8 when the run started). On Linux all of 127.0.0.0/8 answers, so every
address is up with 10 closed ports.

## Commands

\`\`\`sh
npx tsx bench/memory-16.ts
# (a) PORTCULLIS_LOG_LEVEL=warn node dist/cli/main.js serve --host 127.0.0.1 --port <free> --data-dir <fresh temp dir>
#     POST /api/v1/port-scans ${JSON.stringify(body)}; GET /api/v1/port-scans/{id}?limit=1 every 250 ms (VmRSS sampled each time),
#     VmHWM from /proc/<pid>/status when the scan is done
# (b) ${shellLine('/usr/bin/time', ['-v', 'node', 'dist/cli/main.js', ...cliArgs.slice(1)])} > <file>
# peer: ${shellLine('/usr/bin/time', ['-v', 'nmap', ...nmapArgs])} > <file>
\`\`\`

## Results (goal: peak RSS < ${GOAL_MB} MB)

| run | wall / time to result | engine or scan duration | peak RSS | goal |
|---|---:|---:|---:|---|
| (a) service: POST → done | ${fmt(timeToResultMs)} ms | scan \`durationMs\` ${final.durationMs} ms | **${fmt(svcMb, 1)} MB** VmHWM (max sampled VmRSS ${fmt(maxSampledRss / 1024, 1)} MB; idle after start ${fmt((idle?.rssKb ?? NaN) / 1024, 1)} MB) | **${pass(svcMb)}** |
| (b) CLI (2 runs: median wall, higher peak) | ${fmt(cliWall)} ms (${cliRuns.map((r) => fmt(r.wallMs)).join(', ')}) | \`stats.durationMs\` ${fmt(cliEngine)} ms (${cliRuns.map((r) => r.stats.durationMs).join(', ')}) | **${fmt(cliMb, 1)} MB** max RSS (${cliRuns.map((r) => fmt(r.maxRssKb / 1024, 1)).join(', ')}) | **${pass(cliMb)}** |
| nmap 7.93, same scope (2 runs) | ${fmt(nmapWall)} ms (${nmapRuns.map((r) => fmt(r.wallMs)).join(', ')}) | elapsed ${nmapRuns.map((r) => r.elapsedS).join(', ')} s | ${fmt(nmap.maxRssKb / 1024, 1)} MB max RSS | (reference) |

- Service: status ${final.status}, hosts_done ${final.hostsDone}, stats ${JSON.stringify(final.stats)};
  rows stored: ${rows.scan_hosts} scan_hosts (${rows.hostsUp} up), ${rows.port_results} port_results (a host with no open port is stored as counts, like nmap's "Not shown", so its closed ports need no rows); SQLite file ${fmt(dbMb, 0)} MB.
- Ports the service did not report closed: ${notClosed.length === 0 ? '**none**' : `**${notClosed.length}** (${[...new Set(notClosed.map((r) => `${r.state}/${r.reason}`))].join(', ')}; hosts finished at (UTC) ${[...bursts].map(([t, n]) => `${t} ×${n}`).join(', ')}; e.g. ${notClosed.slice(0, 6).map((r) => `${r.ip}:${r.port}`).join(', ')})`}. CLI: ${cliRuns.map((r) => `${r.stats.closed} closed, ${r.stats.filtered} filtered`).join('; ')}; nmap: ${nmapRuns.map((r) => `${r.open} open, ${r.closed} closed, ${r.filtered} filtered`).join('; ')}.
- Server main event-loop stalls during the scan (measured by a 10 ms timer preloaded with \`--import bench/loop-monitor.mjs\`): max ${loop.maxStallMs} ms; ${loop.stallsOver100Ms} stalls > 100 ms (${loop.stallsOver250Ms} > 250 ms, ${loop.stallsOver1000Ms} > 1 s), ${fmt(loop.stalledMsOver100 / 1000, 1)} s in stalls > 100 ms; ${loop.stallsOver1000Ms === 0 ? 'none over 1 s' : `the ones over 1 s ended at (UTC) ${loop.worst.filter((w) => w.stallMs > 1000).map((w) => `${w.endedAt.slice(11, 19)} (${fmt(w.stallMs / 1000, 1)} s)`).sort().join(', ')}`}. The probe timeout on loopback is the template's minimum RTT timeout (100 ms at -T3/-T4).
- API responsiveness during the scan: the slowest \`GET /api/v1/port-scans/{id}?limit=1\` poll took ${fmt(maxPoll.pollMs / 1000, 1)} s (answered at ${fmt(maxPoll.t / 1000, 1)} s after the POST); polls answered: ${samples.length}.
- CLI: hosts up ${cliStats.hostsUp}, open ${cliStats.open}, closed ${cliStats.closed}, filtered ${cliStats.filtered}; JSON output ${fmt(cli.stdoutBytes / 1048576, 1)} MB.
- nmap: ${nmap.up} hosts up, ${nmap.open} open ports; XML ${fmt(nmap.stdoutBytes / 1048576, 1)} MB.
- Ratios (nmap / ours, median wall): CLI **${fmt(nmapWall / cliWall, 2)}**, service (time to result) **${fmt(nmapWall / timeToResultMs, 2)}**.

Service RSS over time (ms since POST: MB, hosts done):
${curve.map((s) => `${s.t}: ${fmt(s.rssKb / 1024, 0)} MB, ${s.hostsDone}`).join(' · ')}
`;
    writeResults('memory-16', md, {
      machine,
      uptimeAfter: after,
      ports,
      service: { timeToResultMs, final, peak, idle, rows, notClosed, loop, dbMb, samples },
      cli: { runs: cliRuns.map((r) => ({ wallMs: r.wallMs, maxRssKb: r.maxRssKb, elapsed: r.elapsed, stats: r.stats, stdoutBytes: r.stdoutBytes })), medianWallMs: cliWall },
      nmap: { args: nmapArgs, runs: nmapRuns.map((r) => ({ wallMs: r.wallMs, maxRssKb: r.maxRssKb, elapsedS: r.elapsedS, up: r.up, open: r.open, closed: r.closed, filtered: r.filtered })), medianWallMs: nmapWall },
    });
    console.log(md);
  } finally {
    if (server) await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
