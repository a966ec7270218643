import { writeFile } from 'node:fs/promises';
import { Command, Option } from '@commander-js/extra-typings';
import { CliExit, type CliIo, EXIT_FAILED, EXIT_USAGE } from '../io.js';
import { parseIntOption } from '../options.js';
import { API_KEY_OPTION, SERVER_OPTION, api, serverTarget } from '../server-api.js';

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** Where each format is served. */
const PATHS = { json: 'api/v1/reports/summary', csv: 'api/v1/reports/summary.csv', html: 'reports/summary.html' } as const;

/** The query string of the summary routes from the command's filters. */
function summaryQuery(opts: { label: string[]; since?: string | undefined; until?: string | undefined; expiringWithinDays?: string | undefined }): URLSearchParams {
  const params = new URLSearchParams();
  for (const label of opts.label) {
    const eq = label.indexOf('=');
    if (eq <= 0) throw new CliExit(EXIT_USAGE, `--label must be key=value, e.g. --label team=web; got "${label}"`);
    params.append(`label.${label.slice(0, eq)}`, label.slice(eq + 1));
  }
  if (opts.since !== undefined) params.set('since', opts.since);
  if (opts.until !== undefined) params.set('until', opts.until);
  if (opts.expiringWithinDays !== undefined) params.set('expiringWithinDays', String(parseIntOption(opts.expiringWithinDays, '--expiring-within-days', 0, 3650)));
  return params;
}

export function reportCommand(io: CliIo) {
  return new Command('report')
    .description('The executive summary of a running Portcullis server: grades, expiring certificates, common findings, changes, failures')
    .addOption(new Option('--format <format>', 'json: the API document; csv: one row per endpoint; html: one printable page').choices(['json', 'csv', 'html'] as const).default('json' as const))
    .option('--label <key=value>', 'only targets with this label (repeatable: every label must match)', collect, [] as string[])
    .option('--since <iso>', 'only assessments since this ISO date or date-time; changes are shown against the state before it')
    .option('--until <iso>', 'only assessments until this ISO date or date-time')
    .option('--expiring-within-days <n>', 'list certificates expiring within this many days (default 90)')
    .option('--output <file>', 'write the report to this file instead of stdout')
    .option(...SERVER_OPTION)
    .option(...API_KEY_OPTION)
    .addHelpText('after', '\nExamples:\n  portcullis report --format html --label team=web --since 2026-06-01 --output summary.html\n  portcullis report --format csv > endpoints.csv')
    .action(async (opts) => {
      const server = serverTarget(io, opts);
      const query = summaryQuery(opts).toString();
      const path = `${PATHS[opts.format]}${query ? `?${query}` : ''}`;
      // JSON is pretty-printed for people; CSV and HTML are passed on byte for byte.
      const text = opts.format === 'json' ? `${JSON.stringify(await api<unknown>(server, path), null, 2)}\n` : await api<string>(server, path, { asText: true });
      if (opts.output === undefined) {
        io.stdout.write(text);
        return;
      }
      try {
        await writeFile(opts.output, text, 'utf8');
      } catch (err) {
        throw new CliExit(EXIT_FAILED, `cannot write the report to ${opts.output}: ${(err as Error).message}`);
      }
      io.stdout.write(`Wrote the ${opts.format} report to ${opts.output} (${Buffer.byteLength(text)} bytes)\n`);
    });
}
