/**
 * Full TCP port range of 127.0.0.1: nmap -sT -p- -T4 against our CLI (-p 1-65535 -T4, no service
 * detection), interleaved rounds in the same run, whole-process wall time, open sets compared.
 *
 *   npx tsx bench/loopback-full.ts [--rounds 5]
 *
 * Connects only to 127.0.0.1.
 */
import {
  CLI,
  NMAP,
  compressRanges,
  ensureBuilt,
  fmt,
  listenOn,
  listeningTcp,
  machineInfo,
  machineMarkdown,
  mean,
  median,
  parseCliJson,
  parseNmapXml,
  portsIn,
  portsListeningFor,
  runTimed,
  shellLine,
  uptime,
  writeResults,
} from './lib.js';

const TARGET = '127.0.0.1';
const ROUNDS = Number(process.argv[process.argv.indexOf('--rounds') + 1] ?? 5) || 5;
/** Listener ports spread over the range; a busy one is replaced by a nearby free one. */
const WANTED_PORTS = [1, 999, 8081, 23456, 44321, 65535];

interface Round {
  round: number;
  order: string;
  nmapWallMs: number;
  nmapElapsedS: number;
  nmapRssKb: number | undefined;
  oursWallMs: number;
  oursDurationMs: number;
  oursRssKb: number | undefined;
  nmapOpen: number[];
  oursOpen: number[];
  identical: boolean;
  onlyNmap: number[];
  onlyOurs: number[];
  listenersSeen: { nmap: boolean; ours: boolean };
  /** Disagreements on ports that are not the benchmark's and were not listening both before and after the round. */
  transientDisagreements: number[];
  oursCounts: { open: number; closed: number; filtered: number };
  nmapCounts: { open: number; closed: number; filtered: number };
}

async function main(): Promise<void> {
  ensureBuilt();
  const machine = machineInfo();
  const busy = new Set(listeningTcp().map((l) => l.port));
  const ports = WANTED_PORTS.map((p) => {
    let q = p;
    while (busy.has(q)) q = q === 65535 ? 2 : q + 1;
    return q;
  });
  const listeners = await listenOn(TARGET, ports);
  console.log(`[bench] listeners on ${TARGET}: ${ports.join(', ')}`);

  // -n: no reverse DNS. For 127.0.0.1 nmap answers from /etc/hosts anyway; -n guarantees no query ever
  // leaves for the system resolver (outside the addresses a benchmark may reach).
  const nmapArgs = ['-sT', '-n', '-p-', '-T4', TARGET, '-oX', '-'];
  const oursArgs = [CLI, 'scan', 'ports', TARGET, '-p', '1-65535', '-T4', '--no-service-detection', '--json'];
  const rounds: Round[] = [];
  const foreignSeen = new Set<number>();
  try {
    // One unmeasured warm-up of each (page cache, nmap's data files, node's compile cache).
    await runTimed(NMAP, nmapArgs);
    await runTimed(process.execPath, oursArgs);

    for (let i = 1; i <= ROUNDS; i++) {
      const before = portsListeningFor(TARGET);
      const nmapFirst = i % 2 === 1;
      const runNmap = () => runTimed(NMAP, nmapArgs, { measureRss: true });
      const runOurs = () => runTimed(process.execPath, oursArgs, { measureRss: true });
      let nmap;
      let ours;
      if (nmapFirst) {
        nmap = await runNmap();
        ours = await runOurs();
      } else {
        ours = await runOurs();
        nmap = await runNmap();
      }
      const after = portsListeningFor(TARGET);
      for (const p of [...before, ...after]) if (!ports.includes(p)) foreignSeen.add(p);
      if (nmap.code !== 0) throw new Error(`nmap exited ${nmap.code}: ${nmap.stderr}`);
      if (ours.code !== 0) throw new Error(`portcullis exited ${ours.code}: ${ours.stderr}`);

      const xml = parseNmapXml(nmap.stdout);
      const host = xml.hosts[0];
      if (!host) throw new Error('nmap reported no host');
      const json = parseCliJson(ours.stdout);
      const nmapOpen = portsIn(host.ports, 'open');
      const oursOpen = (json.hosts[0]?.ports ?? []).filter((p) => p.state === 'open').map((p) => p.port).sort((a, b) => a - b);
      const onlyNmap = nmapOpen.filter((p) => !oursOpen.includes(p));
      const onlyOurs = oursOpen.filter((p) => !nmapOpen.includes(p));
      const count = (s: string) => [...host.ports.values()].filter((v) => v.state === s).length;
      const r: Round = {
        round: i,
        order: nmapFirst ? 'nmap, ours' : 'ours, nmap',
        nmapWallMs: nmap.wallMs,
        nmapElapsedS: xml.elapsedS,
        nmapRssKb: nmap.maxRssKb,
        oursWallMs: ours.wallMs,
        oursDurationMs: json.stats.durationMs,
        oursRssKb: ours.maxRssKb,
        nmapOpen,
        oursOpen,
        identical: onlyNmap.length === 0 && onlyOurs.length === 0,
        onlyNmap,
        onlyOurs,
        listenersSeen: { nmap: ports.every((p) => nmapOpen.includes(p)), ours: ports.every((p) => oursOpen.includes(p)) },
        transientDisagreements: [...onlyNmap, ...onlyOurs].filter((p) => !ports.includes(p) && !(before.has(p) && after.has(p))),
        oursCounts: { open: json.stats.open, closed: json.stats.closed, filtered: json.stats.filtered },
        nmapCounts: { open: count('open'), closed: count('closed'), filtered: count('filtered') },
      };
      rounds.push(r);
      console.log(
        `round ${i} (${r.order}): nmap ${fmt(r.nmapWallMs)} ms (elapsed ${r.nmapElapsedS}s, ${fmt((r.nmapRssKb ?? NaN) / 1024, 1)} MB) | ours ${fmt(r.oursWallMs)} ms (engine ${r.oursDurationMs} ms, ${fmt((r.oursRssKb ?? NaN) / 1024, 1)} MB) | open sets ${r.identical ? 'identical' : `DIFFER only-nmap=[${onlyNmap}] only-ours=[${onlyOurs}]`} (${nmapOpen.length} open)`,
      );
    }
  } finally {
    await listeners.close();
  }

  // Where the CLI's fixed cost goes: process start-up with no scan at all.
  const startup = { bareNode: [] as number[], cliVersion: [] as number[], cliVersionRssKb: [] as number[] };
  for (let i = 0; i < 5; i++) {
    startup.bareNode.push((await runTimed(process.execPath, ['-e', '0'])).wallMs);
    const v = await runTimed(process.execPath, [CLI, '--version'], { measureRss: true });
    startup.cliVersion.push(v.wallMs);
    startup.cliVersionRssKb.push(v.maxRssKb ?? NaN);
  }

  const mNmap = median(rounds.map((r) => r.nmapWallMs));
  const mOurs = median(rounds.map((r) => r.oursWallMs));
  const mEngine = median(rounds.map((r) => r.oursDurationMs));
  const mNmapElapsed = median(rounds.map((r) => r.nmapElapsedS * 1000));
  const mNmapRss = median(rounds.map((r) => r.nmapRssKb ?? NaN));
  const mOursRss = median(rounds.map((r) => r.oursRssKb ?? NaN));
  const ratio = mNmap / mOurs;
  const allIdentical = rounds.every((r) => r.identical);
  const unexplained = rounds.flatMap((r) => [...r.onlyNmap, ...r.onlyOurs].filter((p) => !r.transientDisagreements.includes(p)).map((p) => `round ${r.round}: ${p}`));
  const allListeners = rounds.every((r) => r.listenersSeen.nmap && r.listenersSeen.ours);
  const after = uptime();

  const md = `# loopback-full: all 65,535 TCP ports of 127.0.0.1, nmap vs Portcullis

${machineMarkdown(machine, after)}

## Commands (run alternately, ${ROUNDS} rounds, nmap first in odd rounds; one unmeasured warm-up of each first)

\`\`\`sh
npx tsx bench/loopback-full.ts --rounds ${ROUNDS}
# each round runs, under /usr/bin/time -f %M (for the peak RSS):
${shellLine('nmap', nmapArgs)}
${shellLine('node', ['dist/cli/main.js', ...oursArgs.slice(1)])}
\`\`\`

Listeners opened by the benchmark on ${TARGET}: ${ports.join(', ')}. Other listeners of the machine seen by \`ss\` during the run: ${compressRanges([...foreignSeen]) || 'none'}.

## Results

| | median | min | max |
|---|---:|---:|---:|
| nmap wall time (ms) | ${fmt(mNmap)} | ${fmt(Math.min(...rounds.map((r) => r.nmapWallMs)))} | ${fmt(Math.max(...rounds.map((r) => r.nmapWallMs)))} |
| nmap's own \`elapsed\` (ms) | ${fmt(mNmapElapsed)} | | |
| Portcullis wall time (ms) | ${fmt(mOurs)} | ${fmt(Math.min(...rounds.map((r) => r.oursWallMs)))} | ${fmt(Math.max(...rounds.map((r) => r.oursWallMs)))} |
| Portcullis engine \`stats.durationMs\` | ${fmt(mEngine)} | ${fmt(Math.min(...rounds.map((r) => r.oursDurationMs)))} | ${fmt(Math.max(...rounds.map((r) => r.oursDurationMs)))} |
| nmap peak RSS (MB) | ${fmt(mNmapRss / 1024, 1)} | | |
| Portcullis peak RSS (MB) | ${fmt(mOursRss / 1024, 1)} | | |

- Means: nmap ${fmt(mean(rounds.map((r) => r.nmapWallMs)))} ms, Portcullis ${fmt(mean(rounds.map((r) => r.oursWallMs)))} ms (ratio of means ${fmt(mean(rounds.map((r) => r.nmapWallMs)) / mean(rounds.map((r) => r.oursWallMs)), 2)}).
  nmap runs more than 1.5× its fastest: ${rounds.filter((r) => r.nmapWallMs > 1.5 * Math.min(...rounds.map((x) => x.nmapWallMs))).length} of ${rounds.length} (nmap -sT on loopback is bimodal: a self-connect costs it a timeout plus a 1 s pause; see src/portscan/scanner.ts).
- **Ratio nmap / Portcullis (median wall times): ${fmt(ratio, 2)}** — goal ≥ 1.00 (at least as fast as nmap): **${ratio >= 1 ? 'PASS' : 'FAIL'}**.
- Process start-up and exit of \`node dist/cli/main.js\` (wall − engine duration, median): ${fmt(median(rounds.map((r) => r.oursWallMs - r.oursDurationMs)))} ms.
  For scale, median of 5: \`node -e 0\` ${fmt(median(startup.bareNode))} ms; \`node dist/cli/main.js --version\` ${fmt(median(startup.cliVersion))} ms and ${fmt(median(startup.cliVersionRssKb) / 1024, 1)} MB RSS (loading the CLI's modules, no scan).
- Engine alone vs nmap's whole process: ratio nmap wall / Portcullis \`stats.durationMs\` = ${fmt(mNmap / mEngine, 2)}.
- Open sets identical in every round: **${allIdentical ? 'yes' : 'NO'}**; the benchmark's own listeners found by both tools in every round: **${allListeners ? 'yes' : 'NO'}**.
- Disagreements not explained by a short-lived listener of another process (a port not ours that \`ss\` did not show both before and after the round): **${unexplained.length === 0 ? 'none' : unexplained.join('; ')}**.

| round | order | nmap ms | ours ms | engine ms | open (nmap / ours) | closed (nmap / ours) | agreement |
|---:|---|---:|---:|---:|---|---|---|
${rounds
  .map(
    (r) =>
      `| ${r.round} | ${r.order} | ${fmt(r.nmapWallMs)} | ${fmt(r.oursWallMs)} | ${r.oursDurationMs} | ${r.nmapCounts.open} / ${r.oursCounts.open} | ${r.nmapCounts.closed} / ${r.oursCounts.closed} | ${r.identical ? 'identical' : `only nmap: ${r.onlyNmap.join(',') || '-'}; only ours: ${r.onlyOurs.join(',') || '-'}`} |`,
  )
  .join('\n')}

Open ports (round 1): ${rounds[0]?.nmapOpen.join(', ')}.
`;
  writeResults('loopback-full', md, { machine, uptimeAfter: after, startup, listeners: ports, foreignListeners: [...foreignSeen], rounds, medians: { nmapWallMs: mNmap, oursWallMs: mOurs, oursEngineMs: mEngine, nmapElapsedMs: mNmapElapsed, nmapRssKb: mNmapRss, oursRssKb: mOursRss }, ratio });
  console.log(md);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
