import { describe, expect, it } from 'vitest';
import { loadPortLists } from './port-lists.js';
import { PortSet, formatPortSet, parsePortSpec } from './ports.js';
import type { PortLists } from './types.js';
import { errorOf } from '../testing/errors.js';

const small: PortLists = {
  named: new Map<string, readonly number[]>([
    ['web', [80, 443, 8080]],
    ['db', [3306, 5432]],
  ]),
  ranking: [
    { port: 80, service: 'http' },
    { port: 443, service: 'https' },
    { port: 22, service: 'ssh' },
    { port: 21, service: 'ftp' },
  ],
};

describe('parsePortSpec accepts the spec grammar', () => {
  it.each<[string, number[]]>([
    ['22', [22]],
    ['80,22,80', [22, 80]],
    [' 22 , 80 ', [22, 80]],
    ['20-25', [20, 21, 22, 23, 24, 25]],
    ['20 - 22', [20, 21, 22]],
    ['7-7', [7]],
    ['65530-', [65530, 65531, 65532, 65533, 65534, 65535]],
    ['-3', [1, 2, 3]],
    ['0080', [80]],
    ['T:22', [22]],
    ['t:20-21,T:80', [20, 21, 80]],
    ['top-2', [80, 443]],
    ['TOP-3', [22, 80, 443]],
    ['web', [80, 443, 8080]],
    ['@web', [80, 443, 8080]],
    ['@WEB,db,22', [22, 80, 443, 3306, 5432, 8080]],
    ['top-1,web,79-81', [79, 80, 81, 443, 8080]],
    ['65535', [65535]],
    ['1', [1]],
  ])('%j → %j', (spec, expected) => {
    expect(parsePortSpec(spec, small)).toEqual(expected);
  });

  it('`-` means all 65,535 ports', () => {
    const all = parsePortSpec('-', small);
    expect(all).toHaveLength(65535);
    expect(all[0]).toBe(1);
    expect(all.at(-1)).toBe(65535);
    expect(parsePortSpec('T:-', small)).toHaveLength(65535);
    expect(parsePortSpec('1-65535,80', small)).toHaveLength(65535);
  });
});

describe('parsePortSpec rejects bad specs with the item and field', () => {
  it.each<[string, string, RegExp]>([
    ['0', 'ports.invalid', /"0".*out of range/],
    ['70000', 'ports.invalid', /"70000".*out of range/],
    ['99999999999999999999', 'ports.invalid', /out of range/],
    ['5-1', 'ports.invalid', /"5-1".*greater than its end/],
    ['0-10', 'ports.invalid', /out of range/],
    ['10-70000', 'ports.invalid', /out of range/],
    ['top-0', 'ports.invalid', /top-N needs N from 1 to 4/],
    ['top-99999', 'ports.invalid', /"top-99999"/],
    ['U:53', 'ports.invalid', /UDP and SCTP scanning are not supported/],
    ['S:80', 'ports.invalid', /UDP and SCTP scanning are not supported/],
    ['22,U:53', 'ports.invalid', /"U:53"/],
    ['X:53', 'ports.invalid', /unknown protocol prefix/],
    ['T:', 'ports.invalid', /no port after/],
    ['', 'ports.invalid', /no ports given/],
    ['   ', 'ports.invalid', /no ports given/],
    ['22,,80', 'ports.invalid', /empty item/],
    ['22,', 'ports.invalid', /empty item/],
    ['22;80', 'ports.invalid', /"22;80" is not a port/],
    ['1.5', 'ports.invalid', /"1.5"/],
    ['1-2-3', 'ports.invalid', /"1-2-3"/],
    ['-5-', 'ports.invalid', /"-5-"/],
    ['foo', 'ports.list-unknown', /unknown port list "foo"; available lists: db, web/],
    ['@nope', 'ports.list-unknown', /"nope"/],
  ])('%j → %s', (spec, code, message) => {
    const err = errorOf(() => parsePortSpec(spec, small, 'request.ports'));
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
    expect(err.message.startsWith('request.ports: ')).toBe(true);
    expect(err.detail.field).toBe('request.ports');
  });

  it('lists the available names on an unknown list', () => {
    const err = errorOf(() => parsePortSpec('foo', small));
    expect(err.detail.available).toEqual(['db', 'web']);
    expect(err.detail.value).toBe('foo');
  });
});

describe('parsePortSpec with the shipped ranking', () => {
  const lists = loadPortLists();

  it('top-1000 gives 1000 distinct ports with 80, 443 and 22 in the top 10', () => {
    const top = parsePortSpec('top-1000', lists);
    expect(new Set(top).size).toBe(1000);
    const top10 = parsePortSpec('top-10', lists);
    expect(top10).toHaveLength(10);
    for (const p of [80, 443, 22]) expect(top10).toContain(p);
  });

  it('top-N accepts the whole ranking and nothing past it', () => {
    const n = lists.ranking.length;
    expect(parsePortSpec(`top-${n}`, lists)).toHaveLength(n);
    expect(errorOf(() => parsePortSpec(`top-${n + 1}`, lists)).code).toBe('ports.invalid');
  });

  it('shipped lists resolve by name', () => {
    for (const name of ['default', 'web', 'databases', 'mail', 'remote-access', 'infrastructure', 'messaging', 'iot-ics']) {
      expect(parsePortSpec(name, lists).length).toBeGreaterThan(5);
    }
  });
});

describe('PortSet', () => {
  it.each<[number[], string]>([
    [[], ''],
    [[80], '80'],
    [[22, 80, 443], '22,80,443'],
    [[3, 1, 2, 2, 5], '1-3,5'],
    [[1, 2], '1-2'],
    [[65535, 65534, 1], '1,65534-65535'],
  ])('fromPorts(%j) → %j and back', (ports, canonical) => {
    const set = PortSet.fromPorts(ports);
    expect(set.toString()).toBe(canonical);
    expect(formatPortSet(ports)).toBe(canonical);
    const parsed = PortSet.parse(canonical);
    expect(parsed.toString()).toBe(canonical);
    expect(parsed.ports()).toEqual([...new Set(ports)].sort((a, b) => a - b));
    expect([...parsed]).toEqual(parsed.ports());
    expect(parsed.size).toBe(new Set(ports).size);
  });

  it('round-trips a spec through its canonical form', () => {
    const ports = parsePortSpec('1-1024,3306,8000-8100,65535', small);
    const canonical = formatPortSet(ports);
    expect(canonical).toBe('1-1024,3306,8000-8100,65535');
    expect(PortSet.parse(canonical).ports()).toEqual(ports);
    expect(PortSet.parse('1-65535').size).toBe(65535);
  });

  it('has() finds members by binary search over ranges', () => {
    const set = PortSet.parse('1-1024,3306,8000-8100,65535');
    const cases: Array<[number, boolean]> = [
      [0, false],
      [1, true],
      [1024, true],
      [1025, false],
      [3305, false],
      [3306, true],
      [3307, false],
      [7999, false],
      [8050, true],
      [8100, true],
      [8101, false],
      [65534, false],
      [65535, true],
      [70000, false],
    ];
    for (const [port, expected] of cases) expect(set.has(port), String(port)).toBe(expected);
    expect(PortSet.EMPTY.has(80)).toBe(false);
  });

  it.each(['1-3,3', '3,1', '1,2', '1-2,3', '0', '65536', '01', '5-5', '5-1', ' 1', '1,', ',1', '1--2', 'a', '1-2,2-3', '80 ,443'])(
    'parse() is strict: %j is rejected',
    (text) => {
      expect(errorOf(() => PortSet.parse(text)).code).toBe('ports.invalid');
    },
  );

  it('fromPorts() rejects non-ports', () => {
    for (const bad of [0, 65536, 1.5, Number.NaN]) expect(errorOf(() => PortSet.fromPorts([bad])).code).toBe('ports.invalid');
  });

  it.each<[string, string, string, string]>([
    ['1-100', '50-150', '50-100', '1-49'],
    ['1-10,20-30', '5-25', '5-10,20-25', '1-4,26-30'],
    ['22,80,443', '80', '80', '22,443'],
    ['1-65535', '22,80', '22,80', '1-21,23-79,81-65535'],
    ['22', '80', '', '22'],
    ['', '80', '', ''],
    ['1-10', '1-10', '1-10', ''],
  ])('%j ∩ %j = %j and %j \\ %j', (a, b, inter, diff) => {
    const A = PortSet.parse(a);
    const B = PortSet.parse(b);
    expect(A.intersect(B).toString()).toBe(inter);
    expect(B.intersect(A).toString()).toBe(inter);
    expect(A.difference(B).toString()).toBe(diff);
  });
});
