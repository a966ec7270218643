/**
 * Top-1000 ports of a host behind a firewall, in a network namespace this script creates and always
 * removes: nmap --top-ports 1000, nmap -p <our top-1000>, and our CLI -p top-1000, interleaved, with
 * the open/closed/filtered classification compared port by port on the identical port set.
 *
 *   sudo npx tsx bench/netns-top1000.ts [--rounds 3]
 *
 * Needs root, `ip`, `iptables` (nf_tables or legacy) and nmap. Connects only to 198.18.0.2, inside
 * the namespace (created and removed by netns.ts). `tc netem` is used for a 5 ms delay when the
 * kernel has it.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import {
  CLI,
  NMAP,
  ROOT,
  compressRanges,
  ensureBuilt,
  fmt,
  machineInfo,
  machineMarkdown,
  median,
  parseCliJson,
  parseNmapXml,
  type PortVerdict,
  runTimed,
  shellLine,
  uptime,
  writeResults,
} from './lib.js';
import { type BenchNamespace, createBenchNamespace } from './netns.js';

const ROUNDS = Number(process.argv[process.argv.indexOf('--rounds') + 1] ?? 3) || 3;
const HOST_IP = '198.18.0.1';
const NS_IP = '198.18.0.2';

/** Listening in the namespace and accepted by its firewall. */
const OPEN_PORTS = [22, 80, 443, 3306, 8080];
/** Accepted by the firewall, nothing listening: the kernel answers RST. */
const CLOSED_PORTS = [21];
/** Firewall REJECT --reject-with tcp-reset. */
const RESET_PORTS = [25];
/** Firewall REJECT with ICMP errors: how a connect() scan reads them is part of the comparison. */
const ICMP_REJECT: Array<{ port: number; with: string }> = [
  { port: 23, with: 'icmp-admin-prohibited' },
  { port: 110, with: 'icmp-port-unreachable' },
];

// ------------------------------------------------------------------------------------------------
// Namespace life cycle

let namespace: BenchNamespace | undefined;

function setUp(): BenchNamespace {
  const rules: string[][] = [
    ['-i', 'lo', '-j', 'ACCEPT'],
    ['-p', 'tcp', '-m', 'multiport', '--dports', [...OPEN_PORTS, ...CLOSED_PORTS].join(','), '-j', 'ACCEPT'],
    ...RESET_PORTS.map((p) => ['-p', 'tcp', '--dport', String(p), '-j', 'REJECT', '--reject-with', 'tcp-reset']),
    ...ICMP_REJECT.map((r) => ['-p', 'tcp', '--dport', String(r.port), '-j', 'REJECT', '--reject-with', r.with]),
    ['-j', 'DROP'],
  ];
  return createBenchNamespace({ hostIp: HOST_IP, nsIp: NS_IP, rules, netemDelayMs: 5 });
}

async function startListeners(ns: BenchNamespace): Promise<void> {
  const script = `
    const net = require('node:net');
    const ports = ${JSON.stringify(OPEN_PORTS)};
    let n = 0;
    for (const p of ports) {
      const s = net.createServer((c) => { c.on('error', () => {}); });
      s.listen(p, ${JSON.stringify(NS_IP)}, () => { if (++n === ports.length) console.log('ready'); });
    }`;
  const listener = ns.spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('namespace listeners did not start')), 10_000);
    listener.stdout?.on('data', (b: Buffer) => {
      if (b.toString().includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    listener.once('exit', (code) => reject(new Error(`namespace listener exited ${code}`)));
  });
}

// ------------------------------------------------------------------------------------------------

interface RunRecord {
  round: number;
  tool: 'nmap --top-ports 1000' | 'nmap -p <our top-1000>' | 'portcullis -p top-1000';
  wallMs: number;
  engineMs?: number;
  nmapElapsedS?: number;
  verdicts: Map<number, PortVerdict>;
}

function counts(v: Map<number, PortVerdict>): Record<string, number> {
  const c: Record<string, number> = { open: 0, closed: 0, filtered: 0 };
  for (const x of v.values()) c[x.state] = (c[x.state] ?? 0) + 1;
  return c;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('needs root (network namespaces and iptables)');
  ensureBuilt();
  const machine = machineInfo();

  const { parsePortSpec } = (await import(pathToFileURL(path.join(ROOT, 'dist/portscan/ports.js')).href)) as typeof import('../src/portscan/ports.js');
  const { loadPortLists } = (await import(pathToFileURL(path.join(ROOT, 'dist/portscan/port-lists.js')).href)) as typeof import('../src/portscan/port-lists.js');
  const ourTop = parsePortSpec('top-1000', loadPortLists());
  const ourTopSet = new Set(ourTop);
  const nmapTopGuess = nmapTopPorts(1000);
  const special = [...OPEN_PORTS, ...CLOSED_PORTS, ...RESET_PORTS, ...ICMP_REJECT.map((r) => r.port)];
  const missing = special.filter((p) => !ourTopSet.has(p) || !nmapTopGuess.has(p));
  if (missing.length > 0) throw new Error(`ports ${missing.join(',')} are not in both top-1000 lists; pick others`);

  const nmapTop = ['-sT', '-n', '-T4', '--top-ports', '1000', NS_IP, '-oX', '-'];
  const nmapSame = ['-sT', '-n', '-T4', '-p', compressRanges(ourTop), NS_IP, '-oX', '-'];
  const ours = [CLI, 'scan', 'ports', NS_IP, '-p', 'top-1000', '-T4', '--no-service-detection', '--all', '--json'];

  const runs: RunRecord[] = [];
  let netem = '';
  let nmapScanned: number[] = [];
  let diag: Diagnostic | undefined;
  let nmapDiag: { probes: number; windows: number[] } | undefined;
  try {
    namespace = setUp();
    netem = namespace.netem;
    await startListeners(namespace);
    console.log(`[bench] namespace ${namespace.name} ready: ${NS_IP} behind ${namespace.vethNs}; netem: ${netem}`);
    // Unmeasured warm-up: ARP entry, page cache.
    await runTimed(NMAP, ['-sT', '-n', '-T4', '-p', '22', NS_IP, '-oX', '-']);

    const tools: Array<RunRecord['tool']> = ['nmap --top-ports 1000', 'portcullis -p top-1000', 'nmap -p <our top-1000>'];
    for (let round = 1; round <= ROUNDS; round++) {
      // Rotate the order so no tool always runs first.
      const order = tools.map((_, i) => tools[(i + round - 1) % tools.length] as RunRecord['tool']);
      for (const tool of order) {
        if (tool === 'portcullis -p top-1000') {
          const r = await runTimed(process.execPath, ours);
          if (r.code !== 0) throw new Error(`portcullis exited ${r.code}: ${r.stderr}`);
          const json = parseCliJson(r.stdout);
          const verdicts = new Map<number, PortVerdict>();
          for (const p of json.hosts[0]?.ports ?? []) verdicts.set(p.port, { state: p.state, reason: p.reason });
          runs.push({ round, tool, wallMs: r.wallMs, engineMs: json.stats.durationMs, verdicts });
        } else {
          const r = await runTimed(NMAP, tool === 'nmap --top-ports 1000' ? nmapTop : nmapSame);
          if (r.code !== 0) throw new Error(`nmap exited ${r.code}: ${r.stderr}`);
          const xml = parseNmapXml(r.stdout);
          const host = xml.hosts[0];
          if (!host) throw new Error(`nmap reported no host: ${r.stdout.slice(0, 2000)}`);
          if (host.unlistedExtra.length > 0) throw new Error('nmap summarised ports without naming them');
          if (tool === 'nmap --top-ports 1000') nmapScanned = xml.scannedPorts;
          runs.push({ round, tool, wallMs: r.wallMs, nmapElapsedS: xml.elapsedS, verdicts: host.ports });
        }
        const last = runs[runs.length - 1] as RunRecord;
        console.log(`round ${round}: ${tool.padEnd(24)} ${fmt(last.wallMs).padStart(6)} ms${last.engineMs !== undefined ? ` (engine ${last.engineMs} ms)` : ''}  ${JSON.stringify(counts(last.verdicts))}`);
      }
    }
    // Unmeasured diagnostics: our engine's window, and nmap's (-d3 TIMING STATS, CONN lines).
    diag = await diagnoseOurs(ourTop);
    const d3 = await runTimed(NMAP, ['-sT', '-n', '-T4', '-p', compressRanges(ourTop), NS_IP, '-d3']);
    const windows = [...d3.stdout.matchAll(/Groupstats \(\d+\/\d+ incomplete\): (\d+)\//g)].map((m) => Number(m[1]));
    nmapDiag = { probes: (d3.stdout.match(/^CONN \(/gm) ?? []).length, windows: windows.filter((_, i) => i % Math.max(1, Math.floor(windows.length / 20)) === 0) };
  } finally {
    namespace?.cleanup();
  }

  // ---- analysis
  const byTool = (t: RunRecord['tool']) => runs.filter((r) => r.tool === t);
  const med = (t: RunRecord['tool']) => median(byTool(t).map((r) => r.wallMs));
  const mTop = med('nmap --top-ports 1000');
  const mSame = med('nmap -p <our top-1000>');
  const mOurs = med('portcullis -p top-1000');
  const mEngine = median(byTool('portcullis -p top-1000').map((r) => r.engineMs ?? NaN));

  // Port-by-port classification on the identical set, every round's pair.
  interface Diff {
    round: number;
    port: number;
    nmap: PortVerdict | undefined;
    ours: PortVerdict | undefined;
  }
  const stateDiffs: Diff[] = [];
  const reasonDiffs: Diff[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const a = runs.find((r) => r.round === round && r.tool === 'nmap -p <our top-1000>');
    const b = runs.find((r) => r.round === round && r.tool === 'portcullis -p top-1000');
    if (!a || !b) continue;
    for (const port of ourTop) {
      const n = a.verdicts.get(port);
      const o = b.verdicts.get(port);
      if (n?.state !== o?.state) stateDiffs.push({ round, port, nmap: n, ours: o });
      else if (n?.reason !== o?.reason) reasonDiffs.push({ round, port, nmap: n, ours: o });
    }
  }
  // nmap's own top-1000 against ours, on the ports both lists contain.
  const common = nmapScanned.filter((p) => ourTopSet.has(p));
  const topDiffs: Diff[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const a = runs.find((r) => r.round === round && r.tool === 'nmap --top-ports 1000');
    const b = runs.find((r) => r.round === round && r.tool === 'portcullis -p top-1000');
    if (!a || !b) continue;
    for (const port of common) {
      const n = a.verdicts.get(port);
      const o = b.verdicts.get(port);
      if (n?.state !== o?.state) topDiffs.push({ round, port, nmap: n, ours: o });
    }
  }
  const guessMatches = nmapScanned.length === nmapTopGuess.size && nmapScanned.every((p) => nmapTopGuess.has(p));
  const lastOurs = byTool('portcullis -p top-1000').at(-1);
  const lastNmap = byTool('nmap -p <our top-1000>').at(-1);
  const special2 = [...OPEN_PORTS, ...CLOSED_PORTS, ...RESET_PORTS, ...ICMP_REJECT.map((r) => r.port)].sort((x, y) => x - y);
  const after = uptime();
  const v = (x: PortVerdict | undefined) => (x ? `${x.state}/${x.reason}` : 'absent');

  const md = `# netns-top1000: top-1000 ports of a firewalled host in a network namespace

${machineMarkdown(machine, after)}
- netem delay 5 ms applied: ${netem}

## Set-up (created and removed by the script)

- Namespace \`pcbench-<pid>-<time>\`, veth pair: host side ${HOST_IP}/30, namespace side ${NS_IP}/30.
- Listeners in the namespace (node, bound to ${NS_IP}): ${OPEN_PORTS.join(', ')}.
- iptables INPUT in the namespace: ACCEPT lo; ACCEPT tcp ${[...OPEN_PORTS, ...CLOSED_PORTS].join(',')} (${CLOSED_PORTS.join(',')} has no listener: kernel RST);
  REJECT --reject-with tcp-reset on ${RESET_PORTS.join(',')}; ${ICMP_REJECT.map((r) => `REJECT --reject-with ${r.with} on ${r.port}`).join('; ')}; DROP everything else.
- Our top-1000 (first 1000 entries of ports/port-ranking.txt) and nmap's --top-ports 1000 share ${common.length} ports.
  All the ports above are in both lists. (nmap's list as read from its XML ${guessMatches ? 'matches' : 'differs from'} the one computed from nmap-services.)

## Commands (${ROUNDS} rounds; the order of the three rotates every round; one unmeasured nmap -p 22 warm-up)

\`\`\`sh
sudo npx tsx bench/netns-top1000.ts --rounds ${ROUNDS}
# each round, in the namespace's peer network:
${shellLine('nmap', nmapTop)}
nmap -sT -n -T4 -p <the 1000 ports of our top-1000> ${NS_IP} -oX -
${shellLine('node', ['dist/cli/main.js', ...ours.slice(1)])}
\`\`\`
(\`-n\`: no reverse DNS, so nmap sends nothing to the system resolver; ours does no reverse DNS either.)

## Results

| run | median wall ms | runs (ms) | ratio nmap / ours |
|---|---:|---|---:|
| nmap --top-ports 1000 | ${fmt(mTop)} | ${byTool('nmap --top-ports 1000').map((r) => fmt(r.wallMs)).join(', ')} | **${fmt(mTop / mOurs, 2)}** |
| nmap -p <our top-1000> | ${fmt(mSame)} | ${byTool('nmap -p <our top-1000>').map((r) => fmt(r.wallMs)).join(', ')} | **${fmt(mSame / mOurs, 2)}** |
| Portcullis -p top-1000 | ${fmt(mOurs)} | ${byTool('portcullis -p top-1000').map((r) => fmt(r.wallMs)).join(', ')} | 1 |
| (Portcullis engine \`stats.durationMs\`) | ${fmt(mEngine)} | ${byTool('portcullis -p top-1000').map((r) => r.engineMs).join(', ')} | |

Goal ≥ 1.00 (at least as fast as nmap): same port set **${mSame / mOurs >= 1 ? 'PASS' : 'FAIL'}**, nmap's own top-1000 **${mTop / mOurs >= 1 ? 'PASS' : 'FAIL'}**.

Counts (last round): nmap -p <our top-1000> ${JSON.stringify(lastNmap ? counts(lastNmap.verdicts) : {})}; Portcullis ${JSON.stringify(lastOurs ? counts(lastOurs.verdicts) : {})}.

### Classification, port by port, identical port set (${ourTop.length} ports × ${ROUNDS} rounds)

- State (open/closed/filtered) differences: **${stateDiffs.length === 0 ? 'none' : stateDiffs.length}**${stateDiffs.map((d) => `\n  - round ${d.round}, port ${d.port}: nmap ${v(d.nmap)}, ours ${v(d.ours)}`).join('')}
- Same state, different reason: **${reasonDiffs.length === 0 ? 'none' : reasonDiffs.length}**${reasonDiffs.map((d) => `\n  - round ${d.round}, port ${d.port}: nmap ${v(d.nmap)}, ours ${v(d.ours)}`).join('')}
- nmap --top-ports 1000 vs ours on the ${common.length} common ports, state differences: **${topDiffs.length === 0 ? 'none' : topDiffs.length}**

| port | firewall | nmap (last round) | Portcullis (last round) |
|---:|---|---|---|
${special2
  .map((p) => {
    const rule = OPEN_PORTS.includes(p) ? 'ACCEPT, listener' : CLOSED_PORTS.includes(p) ? 'ACCEPT, no listener' : RESET_PORTS.includes(p) ? 'REJECT tcp-reset' : `REJECT ${ICMP_REJECT.find((r) => r.port === p)?.with}`;
    return `| ${p} | ${rule} | ${v(lastNmap?.verdicts.get(p))} | ${v(lastOurs?.verdicts.get(p))} |`;
  })
  .join('\n')}
| others | DROP | ${lastNmap ? counts(lastNmap.verdicts).filtered : ''} filtered | ${lastOurs ? counts(lastOurs.verdicts).filtered : ''} filtered |

### Diagnostic (one extra unmeasured run of each, same port set)

- Portcullis engine in-process with a counting connector: ${diag ? `${fmt(diag.durationMs)} ms, ${diag.probes} connect probes (${diag.timeouts} timed out), at most ${diag.maxInFlight} in flight; in flight every 250 ms: ${diag.inFlightSamples.join(' ')}` : 'not run'}.
- nmap -d3: ${nmapDiag ? `${nmapDiag.probes} connect probes; probes in flight (Groupstats, ~20 samples over the scan): ${nmapDiag.windows.join(' ')}` : 'not run'}.
`;
  writeResults('netns-top1000', md, {
    machine,
    uptimeAfter: after,
    netem,
    commonPorts: common.length,
    nmapListMatchesServicesFile: guessMatches,
    runs: runs.map((r) => ({ ...r, verdicts: undefined, counts: counts(r.verdicts) })),
    medians: { nmapTopPorts: mTop, nmapSameSet: mSame, ours: mOurs, oursEngine: mEngine },
    ratios: { topPorts: mTop / mOurs, sameSet: mSame / mOurs },
    diagnostic: { ours: diag, nmap: nmapDiag },
    stateDiffs,
    reasonDiffs,
    topDiffs,
  });
  console.log(md);
}

interface Diagnostic {
  durationMs: number;
  probes: number;
  timeouts: number;
  maxInFlight: number;
  /** In-flight probes sampled every 250 ms. */
  inFlightSamples: number[];
}

/**
 * One extra, unmeasured run of our engine in this process with the connector wrapped, to see how many
 * probes it keeps in flight and how many it sends (nmap's -d3 TIMING STATS show its window).
 */
async function diagnoseOurs(ports: readonly number[]): Promise<Diagnostic> {
  const { scanPorts } = (await import(pathToFileURL(path.join(ROOT, 'dist/portscan/scanner.js')).href)) as typeof import('../src/portscan/scanner.js');
  const { selectConnector } = (await import(pathToFileURL(path.join(ROOT, 'dist/portscan/connect.js')).href)) as typeof import('../src/portscan/connect.js');
  const inner = selectConnector('auto');
  let inFlight = 0;
  let maxInFlight = 0;
  let probes = 0;
  let timeouts = 0;
  const samples: number[] = [];
  const timer = setInterval(() => samples.push(inFlight), 250);
  const started = performance.now();
  try {
    for await (const _ of scanPorts({
      addresses: [NS_IP],
      addressCount: 1,
      ports,
      options: { timing: 4 },
      connector: async (ip, port, timeoutMs, signal) => {
        if (ip !== NS_IP) throw new Error(`unexpected target ${ip}`);
        probes++;
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        try {
          const o = await inner(ip, port, timeoutMs, signal);
          if (o.kind === 'drop') timeouts++;
          return o;
        } finally {
          inFlight--;
        }
      },
    })) {
      /* one host */
    }
  } finally {
    clearInterval(timer);
  }
  return { durationMs: performance.now() - started, probes, timeouts, maxInFlight, inFlightSamples: samples };
}

/** nmap's --top-ports N list computed from its nmap-services frequencies (checked against its XML). */
function nmapTopPorts(n: number): Set<number> {
  const rows: Array<{ port: number; freq: number }> = [];
  for (const line of readFileSync('/usr/share/nmap/nmap-services', 'utf8').split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const [, portProto, freq] = line.split('\t');
    if (!portProto?.endsWith('/tcp')) continue;
    rows.push({ port: Number(portProto.split('/')[0]), freq: Number(freq) });
  }
  rows.sort((a, b) => b.freq - a.freq);
  return new Set(rows.slice(0, n).map((r) => r.port));
}

main().catch((err: unknown) => {
  console.error(err);
  namespace?.cleanup();
  process.exitCode = 1;
});
