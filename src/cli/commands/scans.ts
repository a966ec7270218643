import { Command } from '@commander-js/extra-typings';
import { type CliIo, renderTable, writeJson } from '../io.js';
import { API_KEY_OPTION, SERVER_OPTION, api, serverTarget } from '../server-api.js';
import { parseIntOption } from '../options.js';

interface ScanSummary {
  id: string;
  status: string;
  targets: string[];
  ports: string;
  addressCount: number;
  progress: { percent: number };
  createdAt: string;
  durationMs?: number;
  stats?: { hostsUp: number; open: number };
  error?: { message: string };
}

export function scansCommand(io: CliIo) {
  const scans = new Command('scans').description('List, show and compare port scans stored by a running Portcullis server');

  scans
    .command('list')
    .description('List port scans, newest first')
    .option(...SERVER_OPTION)
    .option(...API_KEY_OPTION)
    .option('--status <status>', 'only scans with this status (queued, running, done, failed, cancelled)')
    .option('--ip <address>', 'only scans with results for this address')
    .option('--target <text>', 'only scans whose targets contain this text')
    .option('--limit <n>', 'how many', '20')
    .option('--json', 'print the API response as JSON')
    .action(async (opts) => {
      const params = new URLSearchParams({ limit: String(parseIntOption(opts.limit, '--limit', 1, 500)) });
      if (opts.status) params.set('status', opts.status);
      if (opts.ip) params.set('ip', opts.ip);
      if (opts.target) params.set('target', opts.target);
      const page = await api<{ items: ScanSummary[]; total: number }>(serverTarget(io, opts), `api/v1/port-scans?${params}`);
      if (opts.json) return writeJson(io, page);
      const rows = page.items.map((s) => [
        s.id,
        s.status,
        `${s.progress.percent}%`,
        s.targets.join(' ').slice(0, 40),
        s.ports.slice(0, 20),
        s.stats ? `${s.stats.hostsUp}/${s.addressCount}` : `-/${s.addressCount}`,
        s.stats ? String(s.stats.open) : '',
        s.createdAt,
      ]);
      io.stdout.write(`${await renderTable(io, ['ID', 'STATUS', 'DONE', 'TARGETS', 'PORTS', 'UP', 'OPEN', 'CREATED'], rows)}\n${page.items.length} of ${page.total} scan(s)\n`);
    });

  scans
    .command('show')
    .description('Show one scan: status, progress and each host\'s open ports')
    .argument('<id>', 'scan id')
    .option(...SERVER_OPTION)
    .option(...API_KEY_OPTION)
    .option('--all-hosts', 'include hosts that did not answer')
    .option('--json', 'print the API response as JSON')
    .action(async (id, opts) => {
      const scan = await api<
        ScanSummary & {
          hosts: { items: Array<{ ip: string; hostnames: string[]; status: string; counts: { closed: number; filtered: number }; ports: Array<{ port: number; state: string; reason: string; service?: { name: string; product?: string; version?: string; banner?: string } }> }>; total: number };
        }
      >(serverTarget(io, opts), `api/v1/port-scans/${encodeURIComponent(id)}?hosts=${opts.allHosts ? 'all' : 'up'}&limit=1000`);
      if (opts.json) return writeJson(io, scan);
      io.stdout.write(`Scan ${scan.id}: ${scan.status} (${scan.progress.percent}%)\nTargets: ${scan.targets.join(' ')}\nPorts: ${scan.ports}\n`);
      if (scan.error) io.stdout.write(`Error: ${scan.error.message}\n`);
      for (const host of scan.hosts.items) {
        io.stdout.write(`\nHost ${host.ip}${host.hostnames.length ? ` (${host.hostnames.join(', ')})` : ''}: ${host.status}, ${host.counts.closed} closed, ${host.counts.filtered} filtered\n`);
        if (host.ports.length > 0) {
          const rows = host.ports.map((p) => [`${p.port}/tcp`, p.state, p.reason, p.service?.name ?? '', [p.service?.product, p.service?.version].filter(Boolean).join(' ') || (p.service?.banner ?? '').slice(0, 60)]);
          io.stdout.write(`${await renderTable(io, ['PORT', 'STATE', 'REASON', 'SERVICE', 'DETAILS'], rows)}\n`);
        }
      }
      io.stdout.write(`\n${scan.hosts.total} host(s)\n`);
    });

  scans
    .command('compare')
    .description('Compare two scans: newly open/closed ports, state and service changes, hosts appeared/disappeared')
    .argument('<a>', 'older scan id')
    .argument('<b>', 'newer scan id')
    .option(...SERVER_OPTION)
    .option(...API_KEY_OPTION)
    .option('--json', 'print the API response as JSON')
    .action(async (a, b, opts) => {
      const diff = await api<{
        complete: boolean;
        summary: Record<string, number>;
        hosts: Array<{ ip: string; change: string; newlyOpen: Array<{ port: number }>; newlyClosed: Array<{ port: number; to?: string }>; stateChanges: Array<{ port: number; from: string; to: string }>; serviceChanges: Array<{ port: number }>; notScanned: { inA: number[]; inB: number[] } }>;
      }>(serverTarget(io, opts), `api/v1/port-scans/${encodeURIComponent(a)}/compare/${encodeURIComponent(b)}`);
      if (opts.json) return writeJson(io, diff);
      if (!diff.complete) io.stdout.write('Note: at least one scan has not finished; this compares what is stored so far.\n');
      if (diff.hosts.length === 0) io.stdout.write('No differences.\n');
      for (const h of diff.hosts) {
        io.stdout.write(`\n${h.ip}: ${h.change}\n`);
        for (const p of h.newlyOpen) io.stdout.write(`  + ${p.port}/tcp open\n`);
        for (const p of h.newlyClosed) io.stdout.write(`  - ${p.port}/tcp no longer open${p.to ? ` (${p.to})` : ''}\n`);
        for (const p of h.stateChanges) io.stdout.write(`  ~ ${p.port}/tcp ${p.from} -> ${p.to}\n`);
        for (const p of h.serviceChanges) io.stdout.write(`  ~ ${p.port}/tcp service changed\n`);
        if (h.notScanned.inA.length) io.stdout.write(`  ? not scanned in ${a}: ${h.notScanned.inA.join(',')}\n`);
        if (h.notScanned.inB.length) io.stdout.write(`  ? not scanned in ${b}: ${h.notScanned.inB.join(',')}\n`);
      }
      io.stdout.write(`\n${Object.entries(diff.summary).map(([k, v]) => `${k}: ${v}`).join(', ')}\n`);
    });
  return scans;
}
