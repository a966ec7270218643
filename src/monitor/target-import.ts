/**
 * Reading target files (newline list, CSV, JSON) and normalising each target for the inventory.
 * Pure: no I/O, no DNS. The routes check the scope policy (checkTargetScope) and store the result.
 *
 * File formats
 *   text  one target per line; blank lines and `#` comments (whole line or after whitespace) skipped.
 *   csv   a header row naming the columns: `target` (required), `ports`, `schedule`; every other
 *         column is a label (`owner`, `environment`, `team`…, lower-cased). Fields may be quoted with
 *         `"`, a quote inside doubled (`""`); a quoted field ends on its line. Empty label cells set no
 *         label; a row with fewer fields than the header leaves the rest empty.
 *   json  an array of strings (targets) or objects `{target, ports?, labels?, schedule?}`; `line` is
 *         the item's position in the array (1-based).
 * Schedule text (CSV cell or JSON string): `every 90s|15m|6h|2d|1w` (60 s to 365 days), or
 * `cron: 0 3 * * *` (croner syntax, UTC, runs at least a minute apart); empty: the global default.
 */
import { parseTlsTarget } from '../tls/target.js';
import { parsePortSpec } from '../portscan/ports.js';
import type { PortLists } from '../portscan/types.js';
import { countAddresses, describeDenial, formatRange, parseTarget, type ScopePolicy } from '../scope/index.js';
import { PortcullisError } from '../shared/errors.js';
import type { NormalizedTarget, TargetInput, TargetSchedule } from './model.js';
import { validateSchedule } from './schedule.js';

export type { NormalizedTarget } from './model.js';

export type ImportFormat = 'text' | 'csv' | 'json';

export const IMPORT_LIMITS = { maxBytes: 10 * 1024 * 1024, maxLines: 100_000 } as const;
export const LABEL_LIMITS = { maxLabels: 20, maxValueLength: 200 } as const;
const LABEL_KEY = /^[a-z][a-z0-9_.-]{0,62}$/;
/** Control, format (bidirectional overrides, zero-width characters) and unpaired surrogate characters: a label is printable text, like a key name. */
const NOT_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}]/u;
const RESERVED_COLUMNS = new Set(['target', 'ports', 'schedule']);
const JSON_FIELDS = new Set(['target', 'ports', 'labels', 'schedule']);

/** One line (CSV row, JSON item) of a file: the input it gave, or why it was rejected. */
export interface ParsedLine {
  line: number;
  input?: TargetInput;
  error?: string;
}

export interface ParsedFile {
  /** The format the file was read as (the sniffed one for `auto`). */
  format: ImportFormat;
  lines: ParsedLine[];
}

export interface NormalizeDeps {
  portLists: PortLists;
  /** config.portscan.defaultPorts: the port spec of address targets that give none. */
  defaultPorts: string;
  /** config.scope.maxAddressesPerScan: the largest address target. */
  maxAddresses: number;
}

export type NormalizeResult = { targets: NormalizedTarget[] } | { error: PortcullisError };

/* ------------------------------------------------------------------------------------------------
 * Files
 * ---------------------------------------------------------------------------------------------- */

const fileError = (message: string, status?: number): PortcullisError => new PortcullisError('request.invalid', message, { field: 'file' }, status);

/**
 * Splits a file into per-line target inputs. A malformed line carries an `error` and rejects only
 * itself; a file too large, not the declared format, or a CSV without a `target` column throws
 * request.invalid (413 for size).
 */
export function parseTargetFile(text: string, format: ImportFormat | 'auto'): ParsedFile {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > IMPORT_LIMITS.maxBytes) throw fileError(`the file has ${bytes} bytes; import at most ${IMPORT_LIMITS.maxBytes} bytes (10 MB) at a time, split it`, 413);
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const chosen = format === 'auto' ? sniffFormat(body) : format;
  const lines = chosen === 'json' ? parseJsonFile(body) : parseLineFile(body, chosen);
  return { format: chosen, lines };
}

/** JSON when it starts with `[` or `{`; CSV when the first content line has a `target` column; else text. */
export function sniffFormat(text: string): ImportFormat {
  const trimmed = text.trimStart();
  if (trimmed.startsWith('[') || trimmed.startsWith('{')) return 'json';
  const first = splitLines(text).find((l) => l.trim() !== '' && !l.trim().startsWith('#'));
  if (first === undefined || !first.includes(',')) return 'text';
  const header = splitCsvRecord(first);
  return Array.isArray(header) && header.some((cell) => cell.trim().toLowerCase() === 'target') ? 'csv' : 'text';
}

function splitLines(text: string): string[] {
  return text.split(/\r?\n/);
}

function parseLineFile(text: string, format: 'text' | 'csv'): ParsedLine[] {
  const lines = splitLines(text);
  if (lines.at(-1) === '') lines.pop();
  if (lines.length > IMPORT_LIMITS.maxLines) throw fileError(`the file has ${lines.length} lines; import at most ${IMPORT_LIMITS.maxLines} at a time, split it`, 413);
  return format === 'text' ? parseTextLines(lines) : parseCsvLines(lines);
}

function parseTextLines(lines: string[]): ParsedLine[] {
  const out: ParsedLine[] = [];
  lines.forEach((raw, i) => {
    const target = raw.replace(/(^|\s)#.*$/, '').trim();
    if (target === '') return;
    out.push(/\s/.test(target) ? { line: i + 1, error: 'one target per line: remove the spaces (or write a CSV file with a header for ports and labels)' } : { line: i + 1, input: { target } });
  });
  return out;
}

/** The fields of one CSV record on one line, or the reason it is malformed. */
export function splitCsvRecord(line: string): string[] | { error: string } {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let value = '';
      i++;
      for (;;) {
        const quote = line.indexOf('"', i);
        if (quote < 0) return { error: 'a quoted field is not closed on its line (double a quote inside a field: "")' };
        value += line.slice(i, quote);
        if (line[quote + 1] === '"') {
          value += '"';
          i = quote + 2;
          continue;
        }
        i = quote + 1;
        break;
      }
      fields.push(value);
      if (i < line.length && line[i] !== ',') return { error: `unexpected text after a closing quote in field ${fields.length}: quote the whole field` };
    } else {
      const comma = line.indexOf(',', i);
      const value = line.slice(i, comma < 0 ? line.length : comma);
      if (value.includes('"')) return { error: `field ${fields.length + 1} has a quote inside an unquoted value: quote the field and double the quote ("")` };
      fields.push(value);
      i = comma < 0 ? line.length : comma;
    }
    if (i >= line.length) return fields;
    i++; // past the comma
    if (i === line.length) {
      fields.push('');
      return fields;
    }
  }
}

function parseCsvLines(lines: string[]): ParsedLine[] {
  const headerIndex = lines.findIndex((l) => l.trim() !== '' && !l.trim().startsWith('#'));
  if (headerIndex < 0) return [];
  const header = splitCsvRecord(lines[headerIndex] as string);
  if (!Array.isArray(header)) throw fileError(`CSV header (line ${headerIndex + 1}): ${header.error}`);
  const columns = header.map((c) => c.trim().toLowerCase());
  if (!columns.includes('target')) throw fileError(`the CSV header (line ${headerIndex + 1}) has no "target" column; name the columns, e.g. "target,ports,owner,environment"`);
  columns.forEach((name, i) => {
    if (columns.indexOf(name) !== i) throw fileError(`the CSV header names the column "${name}" twice`);
    if (!RESERVED_COLUMNS.has(name) && !LABEL_KEY.test(name)) {
      throw fileError(`the CSV column "${header[i]}" is not a valid label name: start with a letter, then up to 62 of a-z 0-9 _ . -`);
    }
  });

  const out: ParsedLine[] = [];
  for (let i = headerIndex + 1; i < lines.length; i++) {
    const raw = lines[i] as string;
    if (raw.trim() === '' || raw.trim().startsWith('#')) continue;
    const line = i + 1;
    const fields = splitCsvRecord(raw);
    if (!Array.isArray(fields)) {
      out.push({ line, error: fields.error });
      continue;
    }
    if (fields.length > columns.length) {
      out.push({ line, error: `the row has ${fields.length} fields but the header has ${columns.length} columns (quote fields that contain commas)` });
      continue;
    }
    const cell = (name: string): string => (fields[columns.indexOf(name)] ?? '').trim();
    const target = cell('target');
    if (target === '') {
      out.push({ line, error: 'the target column is empty' });
      continue;
    }
    const input: TargetInput = { target };
    if (cell('ports') !== '') input.ports = cell('ports');
    if (cell('schedule') !== '') {
      const schedule = parseScheduleText(cell('schedule'));
      if (schedule instanceof PortcullisError) {
        out.push({ line, error: schedule.message });
        continue;
      }
      input.schedule = schedule;
    }
    const labels = Object.fromEntries(columns.filter((c) => !RESERVED_COLUMNS.has(c) && cell(c) !== '').map((c) => [c, cell(c)]));
    if (Object.keys(labels).length > 0) input.labels = labels;
    out.push({ line, input });
  }
  return out;
}

function parseJsonFile(text: string): ParsedLine[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw fileError(`the file is not valid JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(value)) throw fileError('a JSON target file is an array of targets: ["app.example.com", {"target": "10.0.0.0/24", "ports": "top-100", "labels": {"owner": "alice"}}]');
  if (value.length > IMPORT_LIMITS.maxLines) throw fileError(`the file has ${value.length} targets; import at most ${IMPORT_LIMITS.maxLines} at a time, split it`, 413);
  return value.map((item, i) => {
    const line = i + 1;
    const read = jsonTargetInput(item);
    return read instanceof PortcullisError ? { line, error: read.message } : { line, input: read };
  });
}

/** A JSON item as a TargetInput (shapes checked here, values in normalizeTarget). */
function jsonTargetInput(item: unknown): TargetInput | PortcullisError {
  const bad = (message: string): PortcullisError => new PortcullisError('target.invalid', message);
  if (typeof item === 'string') return { target: item };
  if (typeof item !== 'object' || item === null || Array.isArray(item)) return bad('each item is a target string or an object {"target": …}');
  const record = item as Record<string, unknown>;
  const unknown = Object.keys(record).filter((k) => !JSON_FIELDS.has(k));
  if (unknown.length > 0) return bad(`unknown field(s) ${unknown.map((k) => `"${k}"`).join(', ')}: an item has target, ports, labels and schedule`);
  if (typeof record.target !== 'string') return bad('"target" is required and must be a string');
  if (record.ports !== undefined && typeof record.ports !== 'string') return bad('"ports" must be a string, e.g. "443,8443" or "top-100"');
  if (record.labels !== undefined && (typeof record.labels !== 'object' || record.labels === null || Array.isArray(record.labels))) return bad('"labels" must be an object of strings, e.g. {"owner": "alice"}');
  let schedule: TargetSchedule | null | undefined;
  if (typeof record.schedule === 'string') {
    const parsed = parseScheduleText(record.schedule);
    if (parsed instanceof PortcullisError) return parsed;
    schedule = parsed;
  } else {
    schedule = record.schedule as TargetSchedule | null | undefined;
  }
  return { target: record.target, ports: record.ports as string | undefined, labels: record.labels as Record<string, string> | undefined, schedule };
}

/* ------------------------------------------------------------------------------------------------
 * Schedules and labels
 * ---------------------------------------------------------------------------------------------- */

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** `every 6h` / `every 3600s` / `cron: 0 3 * * *` → a validated schedule, or the error. */
export function parseScheduleText(text: string): TargetSchedule | PortcullisError {
  const trimmed = text.trim();
  const every = /^every\s+(\d{1,9})\s*([smhdw])$/i.exec(trimmed);
  if (every) return validateSchedule({ everySeconds: Number(every[1]) * (UNIT_SECONDS[(every[2] as string).toLowerCase()] as number) });
  const cron = /^cron:?\s+(.+)$/i.exec(trimmed);
  if (cron) return validateSchedule({ cron: (cron[1] as string).trim() });
  return new PortcullisError('request.invalid', `schedule "${text}" is not understood: write "every 6h" (s, m, h, d or w) or "cron: 0 3 * * *"`, { field: 'schedule', value: text });
}

/** `every 6h`, `cron: 0 3 * * *`: the text form parseScheduleText reads. */
export function formatSchedule(schedule: TargetSchedule): string {
  if ('cron' in schedule) return `cron: ${schedule.cron}`;
  const unit = (['w', 'd', 'h', 'm'] as const).find((u) => schedule.everySeconds % (UNIT_SECONDS[u] as number) === 0) ?? 's';
  return `every ${schedule.everySeconds / (UNIT_SECONDS[unit] as number)}${unit}`;
}


/** Checks labels: at most 20, keys like `owner` or `team.name`, values 1-200 printable characters. */
export function validateLabels(value: unknown): Record<string, string> | PortcullisError {
  const bad = (message: string, key?: string): PortcullisError => new PortcullisError('request.invalid', message, { field: key === undefined ? 'labels' : `labels.${key}` });
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return bad('labels must be an object of strings, e.g. {"owner": "alice"}');
  const entries = Object.entries(value);
  if (entries.length > LABEL_LIMITS.maxLabels) return bad(`a target has at most ${LABEL_LIMITS.maxLabels} labels, got ${entries.length}`);
  for (const [key, v] of entries) {
    if (!LABEL_KEY.test(key)) return bad(`label name "${key}" is invalid: start with a lower-case letter, then up to 62 of a-z 0-9 _ . -`, key);
    if (typeof v !== 'string') return bad(`label "${key}" must be a string`, key);
    if (v.length === 0 || v.length > LABEL_LIMITS.maxValueLength) return bad(`label "${key}" must have 1 to ${LABEL_LIMITS.maxValueLength} characters, got ${v.length}`, key);
    if (NOT_PRINTABLE.test(v)) return bad(`label "${key}" contains control characters, format characters (bidirectional override, zero-width) or unpaired surrogates: a label is printable text`, key);
  }
  return Object.fromEntries(entries) as Record<string, string>;
}

/* ------------------------------------------------------------------------------------------------
 * Targets
 * ---------------------------------------------------------------------------------------------- */

/** True when the text names a port after the host (`host:443`, `10.0.0.1:443`, `[v6]:443`). */
function hasPortSuffix(text: string): boolean {
  return /^\[[^\]]*\]:/.test(text) || /^[^:]+:[^:/]*$/.test(text);
}

function asError(err: unknown): PortcullisError {
  if (err instanceof PortcullisError) return err;
  throw err;
}

/** A domain's TLS ports field: `443,8443` → [443, 8443]. */
function tlsPorts(spec: string): number[] | PortcullisError {
  const ports = spec.split(',').map((p) => p.trim());
  const bad = ports.find((p) => !/^\d{1,5}$/.test(p) || Number(p) < 1 || Number(p) > 65535);
  if (bad !== undefined) return new PortcullisError('ports.invalid', `ports "${spec}": "${bad}" is not a port; a TLS target takes a comma list of ports from 1 to 65535, e.g. "443,8443"`, { field: 'ports', value: spec });
  return [...new Set(ports.map(Number))];
}

/**
 * One user input → the inventory targets it stands for. Host names, `host:port`, `ip:port` and
 * `[v6]:port` are TLS targets (port 443 by default; `ports: "443,8443"` on a host gives one target per
 * port). Bare IPs, CIDR blocks and ranges are port-scan targets with a validated port spec (default
 * config portscan.defaultPorts). Labels and schedule are validated. No name is resolved.
 */
export function normalizeTarget(input: TargetInput, deps: NormalizeDeps): NormalizeResult {
  const labels = validateLabels(input.labels ?? {});
  if (labels instanceof PortcullisError) return { error: labels };
  let schedule: TargetSchedule | null = null;
  if (input.schedule !== undefined && input.schedule !== null) {
    const valid = validateSchedule(input.schedule);
    if (valid instanceof PortcullisError) return { error: valid };
    schedule = valid;
  }
  const specified = { ports: input.ports !== undefined, labels: input.labels !== undefined, schedule: input.schedule !== undefined };
  const text = typeof input.target === 'string' ? input.target.trim() : '';
  if (text === '') return { error: new PortcullisError('target.invalid', 'the target is empty: give a host name, host:port, an IP, a CIDR block or a range', { field: 'target' }) };
  const base = { labels, schedule, specified };

  if (hasPortSuffix(text)) {
    let parsed;
    try {
      parsed = parseTlsTarget(text, 'target');
    } catch (err) {
      return { error: asError(err) };
    }
    if (input.ports !== undefined) {
      return { error: new PortcullisError('request.invalid', `target "${text}" already names its port: leave "ports" empty, or give the host alone with ports "443,8443"`, { field: 'ports', value: input.ports }) };
    }
    return { targets: [{ kind: 'tls', value: parsed.host, port: parsed.port, ports: null, ...base }] };
  }

  let parsed;
  try {
    parsed = parseTarget(text, 'target');
  } catch (err) {
    return { error: asError(err) };
  }
  if (parsed.kind === 'hostname') {
    const ports = tlsPorts(input.ports ?? '443');
    if (ports instanceof PortcullisError) return { error: ports };
    return { targets: ports.map((port) => ({ kind: 'tls', value: parsed.hostname as string, port, ports: null, ...base })) };
  }
  const range = parsed.range;
  if (range === undefined) return { error: new PortcullisError('target.invalid', `target "${text}" is not a host name or an address`, { field: 'target', value: text }) };
  const size = countAddresses([range]);
  if (size > BigInt(deps.maxAddresses)) {
    return { error: new PortcullisError('target.too-large', `target "${text}" has ${size} addresses; a target may cover at most ${deps.maxAddresses} (scope.maxAddressesPerScan): split it`, { field: 'target', value: text }) };
  }
  const spec = (input.ports ?? deps.defaultPorts).split(',').map((p) => p.trim()).join(',');
  try {
    parsePortSpec(spec, deps.portLists, 'ports');
  } catch (err) {
    return { error: asError(err) };
  }
  return { targets: [{ kind: 'ports', value: formatRange(range), port: 0, ports: spec, ...base }] };
}

/**
 * The scope.denied error when the policy refuses a target, or undefined. Without DNS: a host name is
 * checked as a name (deny-listed domains, metadata names), an address or range as addresses; the
 * addresses a name resolves to are checked again when it is scanned.
 */
export function checkTargetScope(target: Pick<NormalizedTarget, 'value'>, policy: ScopePolicy): PortcullisError | undefined {
  const parsed = parseTarget(target.value);
  const denial = parsed.range !== undefined ? policy.checkRange(parsed.range) : policy.checkHostname(target.value);
  if (denial === undefined) return undefined;
  return new PortcullisError('scope.denied', `target "${target.value}" may not be scanned: ${describeDenial(denial)}`, { field: 'target', value: target.value, rule: denial.rule, reason: denial.reason });
}
