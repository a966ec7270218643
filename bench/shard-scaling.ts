/**
 * Sharded port scans (issue 6): ONE large port scan, run as a single job and split into shard jobs
 * over 1, 2 and 4 `portcullis worker` processes (BullMQ + PostgreSQL, concurrency 2 each), timed from
 * submit to done, with the stored result checked for duplicates and gaps.
 *
 *   npx tsx bench/shard-scaling.ts [--addresses 16384] [--ports 16] [--shard-probes <probes/16>] [--workers 1,2,4]
 *   sudo npx tsx bench/shard-scaling.ts --netns [--addresses 4096] [--ports 16 | --port-spec 1-65535] [--timing 4] [--shard-probes …] [--workers …]
 *
 * Loopback (default), a CPU-bound scan: 127.1.0.0/<n>; this process listens on 2 of its addresses ×
 * 2 ports, which the result must show open.
 *
 * --netns, a wait-bound scan: a perimeter that mostly drops packets. A network namespace (netns.ts)
 * answers for every address of 198.18.16.0/<n>; its firewall accepts one port (nothing listens: the
 * kernel's RST, closed) and drops every other TCP port (filtered), with a 10 ms netem delay when the
 * kernel has netem. `--port-spec` scans that port spec instead of our top `--ports` (say a few hosts ×
 * 1-65535 with --shard-probes 16384: each host split into port blocks). Needs root. Connects only to
 * that block, which the namespace holds; the submitting runtime's scope allows nothing else.
 *
 * No peer tool: nmap has no way to split one scan over processes.
 */
import { execFile } from 'node:child_process';
import { parseArgs } from 'node:util';
import { buildConfig } from '../src/config/index.js';
import { loadPortLists } from '../src/portscan/port-lists.js';
import { formatPortSet, parsePortSpec } from '../src/portscan/ports.js';
import { createRuntime, type Runtime } from '../src/runtime/index.js';
import type { TimingTemplate } from '../src/shared/model.js';
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
import { type BenchNamespace, createBenchNamespace } from './netns.js';

const CONCURRENCY = 2;
const LEASE_MS = 30_000;
const TIMEOUT_MS = 600_000;
/** Shards per scan when --shard-probes is not given. */
const DEFAULT_SHARDS = 16;

const NETNS_HOST_IP = '198.18.0.1';
const NETNS_NS_IP = '198.18.0.2';
/** The namespace answers for the block of this size from here (198.18.16.0/20 at most). */
const NETNS_BASE = '198.18.16.0';
const NETNS_MAX_ADDRESSES = 4096;
const NETNS_DELAY_MS = 10;

/** How the one large scan is set up, submitted and checked. */
interface Scenario {
  /** Results file name. */
  name: string;
  /** Markdown lines describing the scan and its set-up. */
  description: string[];
  /** The submitting runtime's scope.allow (empty: the default scope). */
  scopeAllow: string[];
  submit(runtime: Runtime): Promise<SubmittedWorkload>;
  /** Stored hosts whose verdicts differ from those the set-up gives every host; undefined when the scenario has no such rule. */
  wrongHosts(runtime: Runtime, scanId: string): Promise<number | undefined>;
  /** SYN-SENT sockets towards the scanned block right now (probes in flight over all workers), when measurable. */
  probesInFlight?(): Promise<number>;
}

interface Run {
  label: string;
  workers: number;
  shardProbes: number;
  shards: number;
  addresses: number;
  wallS: number;
  workerCpuS: number;
  status: string;
  hostsStored: number;
  duplicates: number;
  gaps: number;
  wrongHosts: number | undefined;
  /** Probes in flight over all workers, sampled every 500 ms while the scan ran. */
  inFlight: { mean: number; max: number } | undefined;
  loadBefore: string;
}

/** Samples `probe` every `everyMs` until stopped: mean and max. */
function sampleWhile(probe: () => Promise<number>, everyMs: number): () => { mean: number; max: number } {
  const samples: number[] = [];
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    probe()
      .then((n) => samples.push(n))
      .catch(() => undefined)
      .finally(() => (busy = false));
  }, everyMs);
  return () => {
    clearInterval(timer);
    return { mean: samples.reduce((a, b) => a + b, 0) / Math.max(1, samples.length), max: Math.max(0, ...samples) };
  };
}

async function run(workers: number, shardProbes: number, scenario: Scenario): Promise<Run> {
  const prefix = `pcbench-shards-${process.pid}-${Date.now()}`;
  const loadBefore = uptime();
  let scratch: ScratchDatabase | undefined;
  let runtime: Runtime | undefined;
  let submitted: SubmittedWorkload | undefined;
  const procs: WorkerProcess[] = [];
  try {
    scratch = await createScratchPostgres('shards');
    const scope = scenario.scopeAllow.length > 0 ? { scope: { allow: scenario.scopeAllow } } : {};
    runtime = await createRuntime(buildConfig({}, { logLevel: 'warn', databaseUrl: scratch.url, redisUrl: REDIS_URL, redisPrefix: prefix, ...scope }));
    const env = workerEnv({ databaseUrl: scratch.url, redisUrl: REDIS_URL, redisPrefix: prefix, concurrency: CONCURRENCY, leaseMs: LEASE_MS, shardProbes });
    procs.push(...(await Promise.all(Array.from({ length: workers }, () => startWorkerProcess(env)))));
    const cpuAtStart = procs.map((p) => procCpuMs(p.pid) ?? 0);
    const stopSampling = scenario.probesInFlight && sampleWhile(scenario.probesInFlight, 500);
    submitted = await scenario.submit(runtime);
    const { outcomes, finishedMs, timedOut } = await waitForWorkload(runtime, submitted, TIMEOUT_MS);
    const inFlight = stopSampling?.();
    if (timedOut) console.error(`[bench] ${workers} workers, shardProbes ${shardProbes}: the scan did not finish within ${TIMEOUT_MS / 1000} s`);
    const workerCpuMs = procs.reduce((sum, p, i) => sum + (procCpuMs(p.pid) ?? 0) - (cpuAtStart[i] ?? 0), 0);
    const integrity = await checkWorkload(runtime, submitted);
    const scanId = submitted.portScanIds[0] ?? '';
    const scan = await runtime.store.portScans.get(scanId);
    return {
      label: shardProbes === 0 ? 'one job' : `shards of ${shardProbes} probes`,
      workers,
      shardProbes,
      shards: scan?.shards ?? 1,
      addresses: scan?.addressCount ?? 0,
      wallS: (finishedMs - submitted.submittedMs) / 1000,
      workerCpuS: workerCpuMs / 1000,
      status: outcomes[0]?.status ?? 'missing',
      hostsStored: integrity.rows.hosts,
      duplicates: integrity.duplicatePortRows + integrity.duplicateHostRows,
      gaps: integrity.gaps.length + integrity.unexpectedOpen.length,
      wrongHosts: await scenario.wrongHosts(runtime, scanId),
      inFlight,
      loadBefore,
    };
  } finally {
    // Workers first: in --netns mode they must be gone before the namespace is.
    await Promise.all(procs.map((p) => stopWorkerProcess(p)));
    for (const l of submitted?.listeners ?? []) await l.close();
    await runtime?.close();
    await deleteRedisKeys(prefix);
    await scratch?.drop();
  }
}

function loopbackScenario(workload: ScaleWorkload): Scenario {
  return {
    name: 'shard-scaling',
    description: [
      `- Scan: ${workload.addressesPerScan} addresses (127.1.0.0/${32 - Math.log2(workload.addressesPerScan)}) × ${workload.ports.length} ports = ${workload.addressesPerScan * workload.ports.length} probes, no service detection; this process listens on 2 addresses × 2 ports, which must be found open.`,
    ],
    scopeAllow: [],
    submit: (runtime) => submitWorkload(runtime, workload, undefined),
    // Loopback answers every port: checkWorkload's expected open ports cover the verdicts.
    wrongHosts: async () => undefined,
  };
}

function netnsScenario(ns: BenchNamespace, block: string, ports: readonly number[], closedPort: number, timing: TimingTemplate, portSpec: string | undefined): Scenario {
  return {
    // A --port-spec run (port blocks) keeps its own results file.
    name: portSpec === undefined ? 'shard-scaling-netns' : 'shard-scaling-netns-ports',
    description: [
      `- Namespace \`pcbench-<pid>-<time>\` (bench/netns.ts), veth host ${NETNS_HOST_IP}/30, namespace ${NETNS_NS_IP}/30; host route ${block} via ${NETNS_NS_IP}; in the namespace \`ip route add local ${block} dev lo\`, so every address answers as a host.`,
      `- iptables INPUT in the namespace: ACCEPT tcp dport ${closedPort} (nothing listens: the kernel's RST, closed); DROP every other tcp port (filtered, no response).`,
      `- netem delay ${NETNS_DELAY_MS} ms applied: ${ns.netem}`,
      `- Scan: ${block} × ${ports.length} ports (${ports.length > 64 ? formatPortSet(ports) : `our top-${ports.length}: ${ports.join(',')}`}), timing T${timing}, no service detection; submitting runtime's scope.allow = ${block}. Every host must be stored once with 1 closed (${closedPort}) and ${ports.length - 1} filtered ports.`,
      '- Probes in flight: SYN-SENT sockets towards the block on the host (`ss -Htn state syn-sent dst <block>`), sampled every 500 ms over all workers.',
    ],
    scopeAllow: [block],
    submit: async (runtime) => {
      const { submitPortScan } = await import('../src/jobs/index.js');
      const submittedMs = performance.now();
      const scan = await submitPortScan(runtime, { targets: [block], ports: formatPortSet(ports), options: { serviceDetection: false, timing } });
      return { portScanIds: [scan.id], tlsScanIds: [], expectedOpen: new Map([[scan.id, new Set<string>()]]), listeners: [], submittedMs };
    },
    wrongHosts: async (runtime, scanId) => {
      const { sql } = await import('kysely');
      const result = await sql<{ n: number | string }>`
        select count(*) as n from scan_hosts h
         where h.scan_id = ${scanId}
           and not (h.open_count = 0 and h.closed_count = 1 and h.filtered_count = ${ports.length - 1}
                    and exists (select 1 from port_results r where r.scan_id = h.scan_id and r.ip = h.ip and r.port = ${closedPort} and r.state = 'closed'))`.execute(runtime.store.handle.db);
      return Number(result.rows[0]?.n);
    },
    probesInFlight: () =>
      new Promise((resolve, reject) =>
        execFile('ss', ['-Htn', 'state', 'syn-sent', 'dst', block], (err, stdout) => (err ? reject(err) : resolve(stdout.split('\n').filter((l) => l.trim() !== '').length))),
      ),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      netns: { type: 'boolean', default: false },
      addresses: { type: 'string' },
      ports: { type: 'string', default: '16' },
      'port-spec': { type: 'string' },
      'shard-probes': { type: 'string' },
      timing: { type: 'string', default: '4' },
      workers: { type: 'string', default: '1,2,4' },
    },
  });
  const addresses = Number(values.addresses ?? (values.netns ? NETNS_MAX_ADDRESSES : 16384));
  const prefixLength = 32 - Math.log2(addresses);
  if (!Number.isInteger(prefixLength)) throw new Error(`--addresses must be a power of two, got ${values.addresses}`);
  if (values.netns && addresses > NETNS_MAX_ADDRESSES) throw new Error(`--netns scans at most ${NETNS_MAX_ADDRESSES} addresses (${NETNS_BASE}/20)`);
  if (values.netns && process.getuid?.() !== 0) throw new Error('--netns needs root (network namespaces and iptables)');
  const portSpec = values['port-spec'];
  if (portSpec !== undefined && !values.netns) throw new Error('--port-spec is for --netns runs');
  const portCount = portSpec !== undefined ? parsePortSpec(portSpec, loadPortLists()).length : Number(values.ports);
  const probes = addresses * portCount;
  const shardProbes = Number(values['shard-probes'] ?? Math.ceil(probes / DEFAULT_SHARDS));
  const timing = Number(values.timing) as TimingTemplate;
  ensureBuilt();
  const machine = machineInfo();
  let namespace: BenchNamespace | undefined;
  process.once('SIGINT', () => {
    // The namespace's cleanup stops the workers and waits for them before it removes the routes.
    namespace?.cleanup();
    killLiveChildren();
    process.exit(130);
  });
  const settings: Array<[number, number]> = [[1, 0], ...values.workers.split(',').map((w): [number, number] => [Number(w), shardProbes])];
  const runs: Run[] = [];
  let scenario: Scenario;
  let command: string;
  try {
    if (values.netns) {
      const block = `${NETNS_BASE}/${prefixLength}`;
      const portLists = loadPortLists();
      const ports = parsePortSpec(portSpec ?? `top-${portCount}`, portLists);
      // The most exposed port answers, as on a typical perimeter host; the scanner probes it first.
      const closedPort = portLists.ranking[0]?.port ?? 80;
      namespace = createBenchNamespace({
        hostIp: NETNS_HOST_IP,
        nsIp: NETNS_NS_IP,
        routes: [block],
        rules: [
          ['-p', 'tcp', '--dport', String(closedPort), '-j', 'ACCEPT'],
          ['-p', 'tcp', '-j', 'DROP'],
        ],
        netemDelayMs: NETNS_DELAY_MS,
      });
      console.log(`[bench] namespace ${namespace.name} answers for ${block}; netem: ${namespace.netem}`);
      scenario = netnsScenario(namespace, block, ports, closedPort, timing, portSpec);
      command = `sudo npx tsx bench/shard-scaling.ts --netns --addresses ${addresses} ${portSpec !== undefined ? `--port-spec ${portSpec}` : `--ports ${portCount}`} --timing ${timing} --shard-probes ${shardProbes} --workers ${values.workers}`;
    } else {
      scenario = loopbackScenario({ portScans: 1, addressesPerScan: addresses, ports: await workloadPorts(portCount), tlsScans: 0, tlsTargetsPerScan: 0 });
      command = `npx tsx bench/shard-scaling.ts --addresses ${addresses} --ports ${portCount} --shard-probes ${shardProbes} --workers ${values.workers}`;
    }
    for (const [workers, probesPerShard] of settings) {
      console.log(`[bench] ${workers} worker(s), ${probesPerShard === 0 ? 'one job' : `shards of ${probesPerShard} probes`}`);
      const r = await run(workers, probesPerShard, scenario);
      const inFlight = r.inFlight ? `; probes in flight mean ${fmt(r.inFlight.mean)}, max ${r.inFlight.max}` : '';
      const wrong = r.wrongHosts !== undefined ? `, wrong verdicts ${r.wrongHosts}` : '';
      console.log(`[bench]   ${r.status} in ${fmt(r.wallS, 1)} s (${r.shards} job(s)); worker CPU ${fmt(r.workerCpuS, 1)} s; hosts ${r.hostsStored}, duplicates ${r.duplicates}, gaps ${r.gaps}${wrong}${inFlight}`);
      runs.push(r);
    }
  } finally {
    namespace?.cleanup();
  }
  const base = runs[0];
  const netns = scenario.probesInFlight !== undefined;
  const rows = runs.map((r) =>
    [
      r.workers,
      r.label,
      r.shards,
      `**${fmt(r.wallS, 1)} s**`,
      base ? `${fmt(base.wallS / r.wallS, 2)}×` : '',
      `${fmt(r.workerCpuS, 1)} s`,
      ...(netns ? [r.inFlight ? `${fmt(r.inFlight.mean)} / ${r.inFlight.max}` : ''] : []),
      r.status,
      r.hostsStored,
      `${r.duplicates} / ${r.gaps}`,
      ...(netns ? [r.wrongHosts ?? ''] : []),
      `\`${r.loadBefore.replace(/^.*load average: /, '')}\``,
    ].join(' | '),
  );
  const headers = [
    'workers',
    'how',
    'jobs',
    'wall (submit → done)',
    'speed-up vs one job',
    'worker CPU',
    ...(netns ? ['probes in flight mean / max'] : []),
    'status',
    'hosts stored',
    'duplicates / gaps',
    ...(netns ? ['hosts with wrong verdicts'] : []),
    'load before',
  ];
  const markdown = [
    `# One large port scan: single job vs shards over worker processes (BullMQ + PostgreSQL)${netns ? ', wait-bound (network namespace)' : ''}`,
    '',
    machineMarkdown(machine, uptime()),
    `- Command: \`${command}\``,
    ...scenario.description,
    `- Workers: \`portcullis worker\` from dist/, concurrency ${CONCURRENCY}.`,
    '',
    `| ${headers.join(' | ')} |`,
    `|${headers.map((h) => (['how', 'status', 'duplicates / gaps', 'load before'].includes(h) ? '---' : '---:')).join('|')}|`,
    ...rows.map((r) => `| ${r} |`),
    '',
  ].join('\n');
  console.log(markdown);
  writeResults(scenario.name, markdown, { machine, command, scan: { addresses, ports: portCount, probes, shardProbes, timing: values.netns ? timing : undefined }, runs });
}

main().catch((err: unknown) => {
  console.error(err);
  killLiveChildren();
  process.exit(1);
});
