import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PortcullisError } from '../shared/errors.js';
import { errorOf } from '../testing/errors.js';
import { DEFAULT_PORT_LIST_FILE, DEFAULT_RANKING_FILE, loadPortLists, parseRankingFile, serviceForPort } from './port-lists.js';

const dir = mkdtempSync(path.join(tmpdir(), 'portcullis-port-lists-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileNo = 0;
function temp(text: string): string {
  const file = path.join(dir, `file-${fileNo++}`);
  writeFileSync(file, text);
  return file;
}

const RANKING = temp('# test ranking\n80\thttp\n443\thttps\n22\tssh   # comment\n\n21 ftp\n');

function loadError(listText: string, rankingFile = RANKING): PortcullisError {
  const file = temp(listText);
  return errorOf(() => loadPortLists(file, rankingFile));
}

describe('the shipped ranking file', () => {
  const text = readFileSync(DEFAULT_RANKING_FILE, 'utf8');
  const entries = text
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter((l) => l !== '');

  it('has at least 1,200 valid entries and no duplicate port', () => {
    expect(entries.length).toBeGreaterThanOrEqual(1200);
    const ports = new Set<number>();
    const duplicates: string[] = [];
    for (const line of entries) {
      expect(line, line).toMatch(/^\d{1,5}\t[a-z0-9]([a-z0-9-]*[a-z0-9])?$/);
      const port = Number(line.split('\t')[0]);
      expect(port >= 1 && port <= 65535, line).toBe(true);
      if (ports.has(port)) duplicates.push(line);
      ports.add(port);
    }
    expect(duplicates).toEqual([]);
    expect(ports.size).toBe(entries.length);
  });

  it('explains its method and that it is not derived from nmap-services', () => {
    expect(text).toMatch(/tier 1/);
    expect(text).toMatch(/tier 2/);
    expect(text).toMatch(/tier 3/);
    expect(text).toMatch(/NOT derive from nmap's nmap-services/);
  });

  it('starts with ports an operator expects', () => {
    const { ranking } = loadPortLists();
    const top30 = ranking.slice(0, 30).map((e) => e.port);
    for (const p of [80, 443, 22, 21, 25, 3389, 23, 445, 53, 3306, 8080]) expect(top30).toContain(p);
    expect(ranking.slice(0, 3).map((e) => e.port)).toEqual([80, 443, 22]);
  });
});

describe('the shipped port-list file', () => {
  it('defines the documented lists, sorted and unique', () => {
    const lists = loadPortLists();
    expect([...lists.named.keys()].sort()).toEqual(
      ['databases', 'default', 'infrastructure', 'iot-ics', 'mail', 'messaging', 'remote-access', 'web'].sort(),
    );
    for (const [name, ports] of lists.named) {
      expect(ports.length, name).toBeGreaterThan(0);
      expect([...ports], name).toEqual([...new Set(ports)].sort((a, b) => a - b));
    }
    const def = lists.named.get('default') ?? [];
    expect(def.length).toBeGreaterThanOrEqual(90);
    expect(def.length).toBeLessThanOrEqual(120);
    for (const p of [22, 80, 443, 3389, 445]) expect(def).toContain(p);
    expect(lists.named.get('infrastructure')).toEqual(expect.arrayContaining([53, 88, 161, 389, 2379, 6443, 2375, 10250]));
  });

  it('is loaded once per process', () => {
    expect(loadPortLists()).toBe(loadPortLists());
    expect(loadPortLists(DEFAULT_PORT_LIST_FILE, DEFAULT_RANKING_FILE)).toBe(loadPortLists());
  });
});

describe('loadPortLists parses the list format', () => {
  it('reads sections, the implicit default list, ranges, top-N and earlier lists', () => {
    const file = temp(
      [
        '# comment',
        '443, 80',
        '22 # inline comment',
        '',
        '[web]',
        '8080-8082,80',
        '[mixed_1]',
        'top-2',
        '@web,9000',
        '  [spaced]  ',
        'default',
      ].join('\n'),
    );
    const lists = loadPortLists(file, RANKING);
    expect(Object.fromEntries(lists.named)).toEqual({
      default: [22, 80, 443],
      web: [80, 8080, 8081, 8082],
      mixed_1: [80, 443, 8080, 8081, 8082, 9000],
      spaced: [22, 80, 443],
    });
    expect(lists.ranking.map((e) => e.port)).toEqual([80, 443, 22, 21]);
  });

  it('accepts CRLF line endings and a file with sections only', () => {
    const lists = loadPortLists(temp('[a]\r\n1,2\r\n[b]\r\n3\r\n'), RANKING);
    expect(Object.fromEntries(lists.named)).toEqual({ a: [1, 2], b: [3] });
  });

  it.each<[string, string, number, string]>([
    ['bad port', '22\n70000\n', 2, '70000'],
    ['junk', '[web]\n80\nhttp://x\n', 3, 'http://x'],
    ['reversed range', '# c\n\n9-1\n', 3, '9-1'],
    ['udp', '[dns]\nU:53\n', 2, 'U:53'],
    ['unknown list reference', '[a]\n@nope\n', 2, '@nope'],
    ['forward list reference', '[a]\n@b\n[b]\n1\n', 2, '@b'],
    ['top-N past the ranking', '[a]\ntop-5\n', 2, 'top-5'],
    ['bad section name', '[Web Ports]\n80\n', 1, '[Web Ports]'],
    ['reserved section name', '[top-10]\n80\n', 1, '[top-10]'],
    ['unclosed section header', '[web\n80\n', 1, '[web'],
    ['duplicate section', '[a]\n1\n[a]\n2\n', 3, '[a]'],
    ['default defined twice', '1\n[default]\n2\n', 2, '[default]'],
    ['empty list', '[a]\n[b]\n2\n', 1, '[a]'],
    ['empty last list', '[a]\n1\n[b]\n# nothing\n', 3, '[b]'],
  ])('%s → ports.list-file-invalid with line %i', (_what, text, line, bad) => {
    const err = loadError(text);
    expect(err.code).toBe('ports.list-file-invalid');
    expect(err.message).toContain(`:${line}: `);
    expect(err.message).toContain(`"${bad}"`);
    expect(err.message).toContain(dir);
    expect(err.detail.line).toBe(line);
    expect(err.detail.value).toBe(bad);
  });

  it('reports a missing file', () => {
    const err = loadError('80\n', path.join(dir, 'missing-ranking'));
    expect(err.code).toBe('ports.list-file-invalid');
    expect(err.message).toContain('missing-ranking');
  });
});

describe('parseRankingFile', () => {
  it.each<[string, string, number]>([
    ['duplicate port', '80\thttp\n22\tssh\n80\twww\n', 3],
    ['port 0', '0\tzero\n', 1],
    ['port too large', '# x\n65536\tbig\n', 2],
    ['missing name', '80\n', 1],
    ['upper-case name', '80\tHTTP\n', 1],
    ['name with a slash', '80\thttp/alt\n', 1],
    ['three columns', '80\thttp\textra\n', 1],
    ['not a number', 'http\t80\n', 1],
  ])('%s → error on line %i', (_what, text, line) => {
    let err: unknown;
    try {
      parseRankingFile(text, '/x/ranking.txt');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PortcullisError);
    expect((err as PortcullisError).code).toBe('ports.list-file-invalid');
    expect((err as PortcullisError).message).toContain(`/x/ranking.txt:${line}: `);
  });

  it('names the first line of a duplicated port', () => {
    expect(() => parseRankingFile('80\thttp\n22\tssh\n80\twww\n', 'r')).toThrow(/already ranked on line 1/);
  });
});

describe('serviceForPort', () => {
  it.each<[number, string | undefined]>([
    [80, 'http'],
    [443, 'https'],
    [22, 'ssh'],
    [3389, 'ms-wbt-server'],
    [5432, 'postgresql'],
    [6379, 'redis'],
    [6443, 'kubernetes-api'],
    [65000, undefined],
  ])('port %i → %s', (port, name) => {
    expect(serviceForPort(loadPortLists(), port)).toBe(name);
  });

  it('uses the ranking of the lists it is given', () => {
    const lists = loadPortLists(temp('80\n'), RANKING);
    expect(serviceForPort(lists, 21)).toBe('ftp');
    expect(serviceForPort(lists, 3389)).toBeUndefined();
  });
});
