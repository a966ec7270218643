import { readFile } from 'node:fs/promises';
import { Command, Option } from '@commander-js/extra-typings';
import type { Target } from '../../monitor/model.js';
import { formatSchedule } from '../../monitor/target-import.js';
import { CliExit, type CliIo, EXIT_FAILED, EXIT_USAGE, renderTable, writeJson } from '../io.js';
import { parseIntOption } from '../options.js';
import { API_KEY_OPTION, SERVER_OPTION, api, serverTarget } from '../server-api.js';

interface ImportReport {
  format: string;
  dryRun: boolean;
  added: number;
  updated: number;
  duplicates: number;
  rejected: number;
  lines: Array<{ line: number; target?: string; outcome: string; reason?: string; ids?: string[] }>;
}

interface EndpointState {
  ip: string;
  status: string;
  grade: string | null;
  leafExpiry: string | null;
  earliestExpiry: string | null;
}

interface TargetDetail extends Target {
  state: {
    lastRunAt: string | null;
    nextRunAt: string | null;
    assessment?: { id: string; finishedAt: string; grade: string | null; leafExpiry: string | null; earliestExpiry: string | null; endpoints: EndpointState[] } | null;
    portScan?: { id: string; status: string; finishedAt: string | null; hostsUp: number | null; openPorts: number | null } | null;
  };
}

const FORMATS = ['auto', 'text', 'csv', 'json'] as const;
type Format = (typeof FORMATS)[number];
const CONTENT_TYPES: Record<Exclude<Format, 'auto'>, string> = { text: 'text/plain', csv: 'text/csv', json: 'application/json' };

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** The content type to send a file as: the format given, else the file's extension, else text (the server sniffs). */
function contentTypeFor(file: string, format: Format): string {
  if (format !== 'auto') return CONTENT_TYPES[format];
  if (/\.csv$/i.test(file)) return CONTENT_TYPES.csv;
  if (/\.json$/i.test(file)) return CONTENT_TYPES.json;
  return CONTENT_TYPES.text;
}

/** `app.example.com:8443`, `[2001:db8::5]:443` for TLS targets; the address target as is. */
function shown(target: Pick<Target, 'kind' | 'value' | 'port'>): string {
  if (target.kind === 'ports') return target.value;
  return target.value.includes(':') ? `[${target.value}]:${target.port}` : `${target.value}:${target.port}`;
}

const labelText = (labels: Record<string, string>): string =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');

export function targetsCommand(io: CliIo) {
  const targets = new Command('targets').description('The inventory of monitored targets on a running Portcullis server: import files, list, show');

  targets
    .command('import')
    .description('Import targets from a file (one per line, CSV with a header, or JSON) and print what happened to each line; exit 1 when a line was rejected')
    .argument('<file>', 'the target file')
    .addOption(new Option('--format <format>', 'how to read the file (auto: by extension, else sniffed)').choices(FORMATS).default('auto' as Format))
    .option('--dry-run', 'validate and report without storing anything')
    .option(...SERVER_OPTION)
    .option(...API_KEY_OPTION)
    .option('--json', 'print the API response as JSON')
    .addHelpText('after', '\nCSV columns: target (required), ports, schedule ("every 6h", "cron: 0 3 * * *"); any other column is a label.\nExample:\n  portcullis targets import hosts.csv --dry-run')
    .action(async (file, opts) => {
      let content: string;
      try {
        content = await readFile(file, 'utf8');
      } catch (err) {
        throw new CliExit(EXIT_USAGE, `cannot read ${file}: ${(err as Error).message}`);
      }
      const params = new URLSearchParams({ format: opts.format, dryRun: String(opts.dryRun === true) });
      const report = await api<ImportReport>(serverTarget(io, opts), `api/v1/targets/import?${params}`, { method: 'POST', text: { body: content, contentType: contentTypeFor(file, opts.format) } });
      if (opts.json) writeJson(io, report);
      else {
        const rows = report.lines.map((l) => [String(l.line), l.outcome, l.target ?? '', l.reason ?? (l.ids ?? []).join(' ')]);
        io.stdout.write(`${await renderTable(io, ['LINE', 'OUTCOME', 'TARGET', 'DETAIL'], rows)}\n`);
        const summary = `${report.added} added, ${report.updated} updated, ${report.duplicates} duplicate, ${report.rejected} rejected (read as ${report.format})`;
        io.stdout.write(`${summary}${report.dryRun ? '; dry run: nothing was stored' : ''}\n`);
      }
      if (report.rejected > 0) throw new CliExit(EXIT_FAILED, `${report.rejected} line(s) of ${file} were rejected; the others were ${report.dryRun ? 'checked' : 'imported'}`);
    });

  targets
    .command('list')
    .description('List the inventory, ordered by target')
    .option('--label <key=value>', 'only targets with this label (repeatable: every label must match)', collect, [] as string[])
    .addOption(new Option('--kind <kind>', 'only TLS targets or port-scan targets').choices(['tls', 'ports'] as const))
    .option('--q <text>', 'only targets whose host name or address contains this text')
    .option('--limit <n>', 'how many', '100')
    .option(...SERVER_OPTION)
    .option(...API_KEY_OPTION)
    .option('--json', 'print the API response as JSON')
    .action(async (opts) => {
      const params = new URLSearchParams({ limit: String(parseIntOption(opts.limit, '--limit', 1, 1000)) });
      for (const label of opts.label) {
        const eq = label.indexOf('=');
        if (eq <= 0) throw new CliExit(EXIT_USAGE, `--label must be key=value, e.g. --label owner=alice; got "${label}"`);
        params.append(`label.${label.slice(0, eq)}`, label.slice(eq + 1));
      }
      if (opts.kind) params.set('kind', opts.kind);
      if (opts.q) params.set('q', opts.q);
      const page = await api<{ items: Target[]; total: number }>(serverTarget(io, opts), `api/v1/targets?${params}`);
      if (opts.json) return writeJson(io, page);
      const rows = page.items.map((t) => [t.id, t.kind, shown(t), t.ports ?? '', labelText(t.labels), t.schedule ? formatSchedule(t.schedule) : 'default', t.nextRunAt ?? '-']);
      io.stdout.write(`${await renderTable(io, ['ID', 'KIND', 'TARGET', 'PORTS', 'LABELS', 'SCHEDULE', 'NEXT RUN'], rows)}\n${page.items.length} of ${page.total} target(s)\n`);
    });

  targets
    .command('show')
    .description('Show one target: labels, schedule, and what its last run found (grade and certificate expiry per endpoint, or open ports)')
    .argument('<id>', 'target id')
    .option(...SERVER_OPTION)
    .option(...API_KEY_OPTION)
    .option('--json', 'print the API response as JSON')
    .action(async (id, opts) => {
      const t = await api<TargetDetail>(serverTarget(io, opts), `api/v1/targets/${encodeURIComponent(id)}`);
      if (opts.json) return writeJson(io, t);
      const lines = [
        `Target ${t.id}: ${shown(t)} (${t.kind === 'tls' ? 'TLS' : `port scan of ${t.ports}`})`,
        `Labels: ${labelText(t.labels) || '-'}`,
        `Schedule: ${t.schedule ? formatSchedule(t.schedule) : 'the global default'}`,
        `Last run: ${t.state.lastRunAt ?? 'never'}; next run: ${t.state.nextRunAt ?? 'not scheduled'}`,
      ];
      const { assessment, portScan } = t.state;
      if (t.kind === 'tls') {
        lines.push(assessment ? `Assessment ${assessment.id} of ${assessment.finishedAt}: grade ${assessment.grade ?? '-'}, certificate expires ${assessment.leafExpiry ?? '-'} (earliest in chain ${assessment.earliestExpiry ?? '-'})` : 'Not assessed yet.');
      } else {
        lines.push(portScan ? `Port scan ${portScan.id}: ${portScan.status}${portScan.openPorts !== null ? `, ${portScan.openPorts} open port(s) on ${portScan.hostsUp} host(s) up` : ''}` : 'Not scanned yet.');
      }
      io.stdout.write(`${lines.join('\n')}\n`);
      if (assessment && assessment.endpoints.length > 0) {
        const rows = assessment.endpoints.map((e) => [e.ip, e.status, e.grade ?? '-', e.leafExpiry ?? '-', e.earliestExpiry ?? '-']);
        io.stdout.write(`${await renderTable(io, ['ENDPOINT', 'STATUS', 'GRADE', 'CERT EXPIRES', 'EARLIEST IN CHAIN'], rows)}\n`);
      }
    });
  return targets;
}
