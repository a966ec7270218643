/**
 * Loads the shipped (or configured) port-list file and our port ranking. Both live in `ports/` at the
 * repository root, two levels above this module in `src/portscan` as in `dist/portscan`.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PortcullisError, isPortcullisError } from '../shared/errors.js';
import { parsePortSpec } from './ports.js';
import type { PortLists } from './types.js';

export const DEFAULT_PORT_LIST_FILE = fileURLToPath(new URL('../../ports/ports2scan', import.meta.url));
export const DEFAULT_RANKING_FILE = fileURLToPath(new URL('../../ports/port-ranking.txt', import.meta.url));

/** List named by the lines before any `[name]` header. */
export const DEFAULT_LIST_NAME = 'default';

const SECTION = /^\[([^\]]*)\]$/;
const LIST_NAME = /^[a-z][a-z0-9_-]*$/;
const RESERVED_NAME = /^(top-\d+|all)$/;
const RANKING_LINE = /^(\d+)\s+(\S+)$/;
const SERVICE_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

let defaultLists: PortLists | undefined;

/**
 * Reads the port-list file and the ranking. With no arguments it loads the shipped files once per
 * process and returns the same object afterwards.
 * @throws PortcullisError `ports.list-file-invalid` naming the file, line and bad text.
 */
export function loadPortLists(file?: string, rankingFile?: string): PortLists {
  const isDefault = (file === undefined || file === DEFAULT_PORT_LIST_FILE) && (rankingFile === undefined || rankingFile === DEFAULT_RANKING_FILE);
  if (isDefault && defaultLists !== undefined) return defaultLists;
  const rankingPath = rankingFile ?? DEFAULT_RANKING_FILE;
  const listPath = file ?? DEFAULT_PORT_LIST_FILE;
  const ranking = parseRankingFile(readText(rankingPath), rankingPath);
  const named = parsePortListFile(readText(listPath), listPath, ranking);
  const lists: PortLists = { named, ranking };
  if (isDefault) defaultLists = lists;
  return lists;
}

/**
 * Parses `port<TAB>service` lines (any whitespace separates), `#` comments and blank lines.
 * A port may appear only once.
 */
export function parseRankingFile(text: string, file: string): Array<{ port: number; service: string }> {
  const ranking: Array<{ port: number; service: string }> = [];
  const firstLine = new Map<number, number>();
  forEachLine(text, (line, lineNo) => {
    const m = RANKING_LINE.exec(line);
    const fail = (why: string): never => {
      throw fileError(file, lineNo, line, why);
    };
    if (m === null) return fail('expected "port<TAB>service-name"');
    const port = Number(m[1]);
    const service = m[2] ?? '';
    if (!Number.isInteger(port) || port < 1 || port > 65535 || (m[1] ?? '').length > 5) return fail(`port ${m[1]} is out of range (1-65535)`);
    if (!SERVICE_NAME.test(service)) return fail(`service name "${service}" must be lower-case letters, digits and inner hyphens`);
    const seen = firstLine.get(port);
    if (seen !== undefined) return fail(`port ${port} is already ranked on line ${seen}`);
    firstLine.set(port, lineNo);
    ranking.push({ port, service });
  });
  return ranking;
}

/**
 * Parses the port-list format (see the header of ports/ports2scan): `[name]` sections of port spec
 * items; lines before any section belong to `default`. Items may use `top-N` against `ranking` and
 * lists defined earlier in the file. Lists come back sorted and unique.
 */
export function parsePortListFile(
  text: string,
  file: string,
  ranking: ReadonlyArray<{ port: number; service: string }>,
): Map<string, readonly number[]> {
  const named = new Map<string, readonly number[]>();
  const defined = new Map<string, number>();
  let current: { name: string; line: number; text: string; ports: Set<number> } | undefined;

  const close = (): void => {
    if (current === undefined) return;
    if (current.ports.size === 0) throw fileError(file, current.line, current.text, `list "${current.name}" has no ports`);
    named.set(current.name, [...current.ports].sort((a, b) => a - b));
    current = undefined;
  };

  forEachLine(text, (line, lineNo) => {
    const section = SECTION.exec(line);
    if (section !== null) {
      close();
      const name = (section[1] ?? '').trim();
      if (!LIST_NAME.test(name)) {
        throw fileError(file, lineNo, line, 'a list name is lower-case letters, digits, "-" and "_", starting with a letter');
      }
      if (RESERVED_NAME.test(name)) throw fileError(file, lineNo, line, `"${name}" is reserved and cannot name a list`);
      const before = defined.get(name);
      if (before !== undefined) throw fileError(file, lineNo, line, `list "${name}" is already defined on line ${before}`);
      defined.set(name, lineNo);
      current = { name, line: lineNo, text: line, ports: new Set() };
      return;
    }
    if (line.startsWith('[')) throw fileError(file, lineNo, line, 'a list header looks like "[name]"');
    if (current === undefined) {
      const before = defined.get(DEFAULT_LIST_NAME);
      if (before !== undefined) throw fileError(file, lineNo, line, `list "${DEFAULT_LIST_NAME}" is already defined on line ${before}`);
      defined.set(DEFAULT_LIST_NAME, lineNo);
      current = { name: DEFAULT_LIST_NAME, line: lineNo, text: line, ports: new Set() };
    }
    let ports: number[];
    try {
      ports = parsePortSpec(line, { named, ranking }, `${file}:${lineNo}`);
    } catch (err) {
      if (isPortcullisError(err)) throw fileError(file, lineNo, line, err.message.replace(`${file}:${lineNo}: `, ''));
      throw err;
    }
    for (const p of ports) current.ports.add(p);
  });
  close();
  return named;
}

/** The ranking's service name for a port, if the port is ranked. O(1) after the first call per `lists`. */
export function serviceForPort(lists: PortLists, port: number): string | undefined {
  let index = serviceIndexes.get(lists.ranking);
  if (index === undefined) {
    index = new Map(lists.ranking.map((e) => [e.port, e.service]));
    serviceIndexes.set(lists.ranking, index);
  }
  return index.get(port);
}

const serviceIndexes = new WeakMap<object, Map<number, string>>();

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new PortcullisError('ports.list-file-invalid', `cannot read port file ${path}: ${reason}`, { file: path });
  }
}

/** Calls `fn` with each line stripped of its comment and surrounding whitespace, skipping blank ones. */
function forEachLine(text: string, fn: (line: string, lineNo: number) => void): void {
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] ?? '';
    const hash = raw.indexOf('#');
    const line = (hash === -1 ? raw : raw.slice(0, hash)).trim();
    if (line !== '') fn(line, i + 1);
  }
}

function fileError(file: string, line: number, text: string, why: string): PortcullisError {
  return new PortcullisError('ports.list-file-invalid', `${file}:${line}: ${why} (in "${text}")`, { file, line, value: text });
}
