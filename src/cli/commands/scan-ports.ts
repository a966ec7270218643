import { Command, Option } from '@commander-js/extra-typings';
import { loadConfig } from '../../config/index.js';
import { loadPortLists, parsePortSpec, scanHosts, selectConnector, serviceDetection, summarizeHost } from '../../portscan/index.js';
import type { ServiceDetector } from '../../portscan/index.js';
import { createResolver, createScopePolicy, parseIp, planAddresses, planTargets } from '../../scope/index.js';
import type { Resolver } from '../../scope/index.js';
import type { HostSummary, PortResult, TimingTemplate } from '../../shared/model.js';
import { type CliIo, renderTable, writeJson } from '../io.js';
import { parseIntOption } from '../options.js';

export interface ScanPortsDeps {
  /** Tests map names to loopback; otherwise built from the config's dns section. */
  resolver?: Resolver;
  detectService?: ServiceDetector;
}

interface HostOutput {
  summary: HostSummary;
  results: PortResult[];
}

/** `portcullis scan ports`: runs the engine in this process, no server, no store. */
export function scanPortsCommand(io: CliIo, deps: ScanPortsDeps = {}) {
  return new Command('ports')
    .description('Scan TCP ports of targets in this process (no server needed) and print the open ports with their services')
    .argument('<targets...>', 'IPv4/IPv6 addresses, CIDR blocks (10.0.0.0/24), dash ranges (10.0.0.1-20) or hostnames')
    .option('-p, --ports <spec>', 'ports: 22,80,443 | 1-1024 | - (all 65535) | top-N | a named list (web, databases, …)')
    .option('--exclude <targets>', 'comma-separated addresses, ranges or hostnames to leave out')
    .option('--json', 'print one JSON document instead of a table')
    .option('--all', 'also list closed and filtered ports')
    .addOption(new Option('-T, --timing <0-5>', 'timing template, as nmap -T0..-T5').default('3').choices(['0', '1', '2', '3', '4', '5']))
    .option('--timeout <ms>', 'upper bound of the adaptive per-probe timeout (ms)')
    .option('--concurrency <n>', 'maximum probes in flight')
    .option('--max-retries <n>', 'maximum retransmissions of an unanswered probe')
    .option('--max-host-connections <n>', 'politeness: most connections in flight to one address (env PORTCULLIS_MAX_HOST_CONNECTIONS)')
    .option('--no-service-detection', 'do not probe open ports for banners, HTTP or TLS')
    .option('--banner-timeout <ms>', 'how long to wait for a server-first banner (ms)')
    .addHelpText(
      'after',
      `
Output: a table per host on a terminal; --json prints
  {"hosts":[{"ip","hostnames","status","ports":[{"port","protocol","state","reason","service","product","version","banner","tls","http"}]}],
   "stats":{"scannedPorts","hosts","hostsUp","open","closed","filtered","durationMs"}}
with open ports only unless --all.

Exit codes: 0 scan done, 1 scan error, 2 usage error (bad target or port spec, target out of scope).

Examples:
  portcullis scan ports 127.0.0.1 -p 1-65535 -T4
  portcullis scan ports 10.0.0.0/24 db.internal -p databases --json
  portcullis scan ports 192.0.2.0/28 --exclude 192.0.2.1 -p top-100 --all`,
    )
    .action(async (targets, opts) => {
      const config = await loadConfig(io.env);
      const portLists = loadPortLists(config.portscan.portListFile);
      const ports = parsePortSpec(opts.ports ?? config.portscan.defaultPorts, portLists, '--ports');
      const plan = await planTargets(targets, {
        exclude: opts.exclude ? opts.exclude.split(',').map((s) => s.trim()).filter(Boolean) : [],
        resolver: deps.resolver ?? createResolver(config.dns),
        policy: createScopePolicy(config.scope),
        maxAddresses: config.scope.maxAddressesPerScan,
      });
      const bannerTimeoutMs = opts.bannerTimeout !== undefined ? parseIntOption(opts.bannerTimeout, '--banner-timeout', 1, 60000) : config.portscan.bannerTimeoutMs;
      const hostCap =
        opts.maxHostConnections !== undefined ? parseIntOption(opts.maxHostConnections, '--max-host-connections', 1, 10000) : config.portscan.maxHostConnections;
      const options = {
        timing: Number(opts.timing) as TimingTemplate,
        ...(opts.timeout !== undefined ? { timeoutMs: parseIntOption(opts.timeout, '--timeout', 50, 60000) } : {}),
        ...(opts.concurrency !== undefined ? { concurrency: parseIntOption(opts.concurrency, '--concurrency', 1, 10000) } : {}),
        ...(opts.maxRetries !== undefined ? { maxRetries: parseIntOption(opts.maxRetries, '--max-retries', 0, 10) } : {}),
        ...(hostCap !== undefined ? { maxHostConnections: hostCap } : {}),
      };

      const total = plan.addressCount * ports.length;
      // Loaded only when used: start-up time counts in every short scan.
      const bar =
        io.stderr.isTTY && !opts.json
          ? await import('cli-progress').then(
              ({ default: cliProgress }) =>
                new cliProgress.SingleBar(
                  { stream: io.stderr, format: 'scanning [{bar}] {percentage}% | {value}/{total} probes | {open} open | ETA {eta_formatted}', hideCursor: true },
                  cliProgress.Presets.shades_classic,
                ),
            )
          : undefined;
      bar?.start(total, 0, { open: 0 });
      const abort = new AbortController();
      const onSignal = (): void => abort.abort(new Error('interrupted'));
      process.once('SIGINT', onSignal);

      const started = Date.now();
      const hosts: HostOutput[] = [];
      const totals = { open: 0, closed: 0, filtered: 0 };
      try {
        for await (const host of scanHosts({
          addresses: planAddresses(plan),
          addressCount: plan.addressCount,
          ports,
          options,
          signal: abort.signal,
          portLists,
          connector: selectConnector(config.portscan.connector),
          onProgress: (e) => bar?.update(e.done, { open: e.open }),
          ...(opts.serviceDetection
            ? { services: serviceDetection(deps.detectService ?? (await import('../../portscan/detect/index.js')).detectService, bannerTimeoutMs, (ip) => plan.hostnames[ip] ?? []) }
            : {}),
        })) {
          const { summary } = summarizeHost({ ...host, hostnames: plan.hostnames[host.ip] ?? [] });
          totals.open += summary.counts.open;
          totals.closed += summary.counts.closed;
          totals.filtered += summary.counts.filtered;
          // Without --all only open ports are printed: drop the rest now so a /16 never sits in memory.
          if (opts.all || summary.status === 'up') hosts.push({ summary, results: opts.all ? host.results : host.results.filter((r) => r.state === 'open') });
        }
      } finally {
        bar?.stop();
        process.removeListener('SIGINT', onSignal);
      }
      hosts.sort((a, b) => compareAddresses(a.summary.ip, b.summary.ip));
      const stats = {
        scannedPorts: ports.length,
        hosts: plan.addressCount,
        hostsUp: hosts.filter((h) => h.summary.status === 'up').length,
        open: totals.open,
        closed: totals.closed,
        filtered: totals.filtered,
        durationMs: Date.now() - started,
      };
      if (opts.json) writeJson(io, { hosts: hosts.filter((h) => opts.all || h.summary.status === 'up').map((h) => hostJson(h, opts.all === true)), stats });
      else await printTable(io, hosts, stats, opts.all === true);
    });
}

function hostJson({ summary, results }: HostOutput, all: boolean) {
  return {
    ip: summary.ip,
    hostnames: summary.hostnames,
    status: summary.status,
    ports: results
      .filter((r) => all || r.state === 'open')
      .map((r) => ({
        port: r.port,
        protocol: r.protocol,
        state: r.state,
        reason: r.reason,
        ...(r.service !== undefined ? { service: r.service.name } : {}),
        ...(r.service?.product !== undefined ? { product: r.service.product } : {}),
        ...(r.service?.version !== undefined ? { version: r.service.version } : {}),
        ...(r.service?.banner !== undefined ? { banner: r.service.banner } : {}),
        ...(r.service?.tls !== undefined ? { tls: r.service.tls } : {}),
        ...(r.service?.http !== undefined ? { http: r.service.http } : {}),
      })),
  };
}

async function printTable(io: CliIo, hosts: HostOutput[], stats: { scannedPorts: number; hosts: number; hostsUp: number; open: number; durationMs: number }, all: boolean): Promise<void> {
  for (const { summary, results } of hosts) {
    if (summary.status !== 'up' && !all) continue;
    const names = summary.hostnames.length > 0 ? ` (${summary.hostnames.join(', ')})` : '';
    io.stdout.write(`\nHost ${summary.ip}${names}: ${summary.status}${summary.srttMs !== undefined ? `, srtt ${summary.srttMs.toFixed(2)} ms` : ''}\n`);
    const shown = results.filter((r) => all || r.state === 'open');
    const notShown = all ? [] : (['closed', 'filtered'] as const).map((state) => [state, summary.counts[state]] as const).filter(([, n]) => n > 0);
    if (notShown.length > 0) io.stdout.write(`Not shown: ${notShown.map(([state, n]) => `${n} ${state}`).join(', ')}\n`);
    if (shown.length === 0) continue;
    const rows = shown.map((r) => [`${r.port}/${r.protocol}`, r.state, r.reason, serviceLabel(r), details(r)]);
    io.stdout.write(`${await renderTable(io, ['PORT', 'STATE', 'REASON', 'SERVICE', 'DETAILS'], rows)}\n`);
  }
  const secs = (stats.durationMs / 1000).toFixed(2);
  io.stdout.write(`\nScanned ${stats.scannedPorts} port(s) on ${stats.hosts} address(es) in ${secs} s: ${stats.hostsUp} up, ${stats.open} open port(s).\n`);
}

function serviceLabel(r: PortResult): string {
  if (r.service === undefined) return '';
  return r.service.method === 'table' ? `${r.service.name}?` : r.service.name;
}

function details(r: PortResult): string {
  const s = r.service;
  if (s === undefined) return '';
  const parts: string[] = [];
  if (s.product) parts.push(s.version ? `${s.product} ${s.version}` : s.product);
  if (s.http) parts.push(`HTTP ${s.http.status}${s.http.title ? ` "${s.http.title}"` : ''}`);
  if (s.tls) parts.push(`TLS ${s.tls.version ?? ''}${s.tls.subject ? ` ${s.tls.subject}` : ''}`.trim());
  if (parts.length === 0 && s.banner) parts.push(s.banner);
  const text = parts.join('; ');
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** IPv4 before IPv6, numerically within a family. */
function compareAddresses(a: string, b: string): number {
  const x = parseIp(a);
  const y = parseIp(b);
  if (x === undefined || y === undefined) return a.localeCompare(b);
  return x.family !== y.family ? x.family - y.family : x.value < y.value ? -1 : x.value > y.value ? 1 : 0;
}
