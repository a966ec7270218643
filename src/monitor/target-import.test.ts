import { describe, expect, it } from 'vitest';
import { loadPortLists } from '../portscan/port-lists.js';
import { createScopePolicy } from '../scope/index.js';
import { PortcullisError } from '../shared/errors.js';
import type { TargetInput } from './model.js';
import { IMPORT_LIMITS, checkTargetScope, formatSchedule, normalizeTarget, parseScheduleText, parseTargetFile, sniffFormat, splitCsvRecord, validateLabels } from './target-import.js';
import { validateSchedule } from './schedule.js';

const DEPS = { portLists: loadPortLists(), defaultPorts: 'top-1000', maxAddresses: 65_536 };

function normalized(input: TargetInput) {
  const result = normalizeTarget(input, DEPS);
  if ('error' in result) throw result.error;
  return result.targets.map(({ kind, value, port, ports }) => ({ kind, value, port, ports }));
}

function rejection(input: TargetInput): PortcullisError {
  const result = normalizeTarget(input, DEPS);
  if (!('error' in result)) throw new Error(`expected ${input.target} to be rejected`);
  return result.error;
}

describe('parseTargetFile: text', () => {
  it('reads one target per line, skipping blank lines and comments, with 1-based line numbers', () => {
    const file = '# inventory\napp.example.com\n\n  10.0.0.0/24  # office\r\nmail.example.com:993\n';
    expect(parseTargetFile(file, 'text')).toEqual({
      format: 'text',
      lines: [
        { line: 2, input: { target: 'app.example.com' } },
        { line: 4, input: { target: '10.0.0.0/24' } },
        { line: 5, input: { target: 'mail.example.com:993' } },
      ],
    });
  });

  it('rejects a line with two targets and keeps the others', () => {
    const { lines } = parseTargetFile('a.example.com b.example.com\nc.example.com', 'text');
    expect(lines[0]).toMatchObject({ line: 1, error: expect.stringContaining('one target per line') });
    expect(lines[1]).toEqual({ line: 2, input: { target: 'c.example.com' } });
  });
});

describe('parseTargetFile: CSV', () => {
  it('maps target, ports and schedule columns; every other column is a lower-cased label', () => {
    const file = 'Target,Ports,Owner,Environment,schedule\napp.example.com,443,alice,prod,every 6h\n10.0.0.0/24,top-100,bob,,cron: 0 3 * * *\n';
    expect(parseTargetFile(file, 'csv').lines).toEqual([
      { line: 2, input: { target: 'app.example.com', ports: '443', schedule: { everySeconds: 21_600 }, labels: { owner: 'alice', environment: 'prod' } } },
      { line: 3, input: { target: '10.0.0.0/24', ports: 'top-100', schedule: { cron: '0 3 * * *' }, labels: { owner: 'bob' } } },
    ]);
  });

  it('reads quoted fields with commas and doubled quotes', () => {
    const file = 'target,ports,team\n"app.example.com","443,8443","Payments, ""core"""\n';
    expect(parseTargetFile(file, 'csv').lines).toEqual([{ line: 2, input: { target: 'app.example.com', ports: '443,8443', labels: { team: 'Payments, "core"' } } }]);
  });

  it('rejects only the malformed rows, each with its reason', () => {
    const file = ['target,owner', 'ok1.example.com,alice', '"open.example.com,alice', 'bad"quote.example.com,bob', 'a.example.com,b,c', ',carol', 'x.example.com,dave,', 'ok2.example.com'].join('\n');
    const { lines } = parseTargetFile(file, 'csv');
    expect(lines.map((l) => [l.line, l.input?.target ?? l.error])).toEqual([
      [2, 'ok1.example.com'],
      [3, expect.stringContaining('not closed')],
      [4, expect.stringContaining('quote inside an unquoted value')],
      [5, expect.stringContaining('3 fields but the header has 2')],
      [6, 'the target column is empty'],
      [7, expect.stringContaining('3 fields')],
      [8, 'ok2.example.com'],
    ]);
  });

  it('rejects a row whose schedule is not understood', () => {
    const { lines } = parseTargetFile('target,schedule\na.example.com,hourly\n', 'csv');
    expect(lines).toEqual([{ line: 2, error: expect.stringContaining('schedule "hourly" is not understood') }]);
  });

  it('refuses the whole file when the header has no target column, repeats a column or names an invalid label', () => {
    expect(() => parseTargetFile('host,owner\na.example.com,alice', 'csv')).toThrow(/no "target" column/);
    expect(() => parseTargetFile('target,owner,Owner\na,b,c', 'csv')).toThrow(/"owner" twice/);
    expect(() => parseTargetFile('target,cost centre\na,b', 'csv')).toThrow(/not a valid label name/);
  });

  it('splits records exactly (empty trailing field, quoted empty field)', () => {
    expect(splitCsvRecord('a,,"",')).toEqual(['a', '', '', '']);
    expect(splitCsvRecord('"a"x,b')).toEqual({ error: expect.stringContaining('after a closing quote') });
  });
});

describe('parseTargetFile: JSON', () => {
  it('reads strings and objects, with the item position as the line', () => {
    const file = JSON.stringify(['app.example.com', { target: '10.0.0.1', ports: '22,80', labels: { owner: 'alice' }, schedule: 'every 1d' }, { target: 'b.example.com', schedule: { everySeconds: 3600 } }]);
    expect(parseTargetFile(file, 'json').lines).toEqual([
      { line: 1, input: { target: 'app.example.com' } },
      { line: 2, input: { target: '10.0.0.1', ports: '22,80', labels: { owner: 'alice' }, schedule: { everySeconds: 86_400 } } },
      { line: 3, input: { target: 'b.example.com', ports: undefined, labels: undefined, schedule: { everySeconds: 3600 } } },
    ]);
  });

  it('rejects items of the wrong shape one by one', () => {
    const { lines } = parseTargetFile(JSON.stringify([42, { host: 'a' }, { target: 'a.example.com', ports: 443 }, 'ok.example.com']), 'json');
    expect(lines.map((l) => l.error ?? l.input?.target)).toEqual([
      expect.stringContaining('target string or an object'),
      expect.stringContaining('unknown field(s) "host"'),
      expect.stringContaining('"ports" must be a string'),
      'ok.example.com',
    ]);
  });

  it('refuses a file that is not a JSON array', () => {
    expect(() => parseTargetFile('[1,', 'json')).toThrow(/not valid JSON/);
    expect(() => parseTargetFile('{"target":"a"}', 'json')).toThrow(/array of targets/);
  });
});

describe('parseTargetFile: formats and limits', () => {
  it('sniffs JSON, CSV (a header with a target column) and text', () => {
    expect(sniffFormat('  [ "a" ]')).toBe('json');
    expect(sniffFormat('# hosts\ntarget,owner\na,b')).toBe('csv');
    expect(sniffFormat('a.example.com\nb.example.com')).toBe('text');
    expect(parseTargetFile('\uFEFFtarget,owner\na.example.com,alice', 'auto')).toMatchObject({ format: 'csv', lines: [{ input: { labels: { owner: 'alice' } } }] });
  });

  it('refuses files over the line and size limits with 413', () => {
    const tooManyLines = 'a.example.com\n'.repeat(IMPORT_LIMITS.maxLines + 1);
    expect(() => parseTargetFile(tooManyLines, 'text')).toThrow(expect.objectContaining({ code: 'request.invalid', status: 413, message: expect.stringContaining('at most 100000') }));
    expect(parseTargetFile('a.example.com\n'.repeat(IMPORT_LIMITS.maxLines), 'text').lines).toHaveLength(IMPORT_LIMITS.maxLines);
    const tooBig = `${'x'.repeat(IMPORT_LIMITS.maxBytes)}\n`;
    expect(() => parseTargetFile(tooBig, 'auto')).toThrow(expect.objectContaining({ status: 413, message: expect.stringContaining('10 MB') }));
  });
});

describe('normalizeTarget', () => {
  it('makes host names, host:port, ip:port and [v6]:port TLS targets (port 443 by default)', () => {
    expect(normalized({ target: 'App.Example.COM.' })).toEqual([{ kind: 'tls', value: 'app.example.com', port: 443, ports: null }]);
    expect(normalized({ target: 'mail.example.com:993' })).toEqual([{ kind: 'tls', value: 'mail.example.com', port: 993, ports: null }]);
    expect(normalized({ target: '192.0.2.10:8443' })).toEqual([{ kind: 'tls', value: '192.0.2.10', port: 8443, ports: null }]);
    expect(normalized({ target: '[2001:DB8::5]:443' })).toEqual([{ kind: 'tls', value: '2001:db8::5', port: 443, ports: null }]);
  });

  it('gives one TLS target per port of a host\'s ports list', () => {
    expect(normalized({ target: 'app.example.com', ports: '443, 8443,443' }).map((t) => t.port)).toEqual([443, 8443]);
    expect(rejection({ target: 'app.example.com', ports: 'top-10' })).toMatchObject({ code: 'ports.invalid', message: expect.stringContaining('comma list of ports') });
    expect(rejection({ target: 'app.example.com:443', ports: '8443' }).message).toMatch(/already names its port/);
  });

  it('makes bare IPs, CIDR blocks and ranges port-scan targets with the default or given port spec', () => {
    expect(normalized({ target: '192.0.2.7' })).toEqual([{ kind: 'ports', value: '192.0.2.7', port: 0, ports: 'top-1000' }]);
    expect(normalized({ target: '198.51.100.0/24', ports: '22, 80,web' })).toEqual([{ kind: 'ports', value: '198.51.100.0/24', port: 0, ports: '22,80,web' }]);
    expect(normalized({ target: '203.0.113.1-20' })).toEqual([{ kind: 'ports', value: '203.0.113.1-203.0.113.20', port: 0, ports: 'top-1000' }]);
    expect(normalized({ target: '2001:db8::/120' })[0]).toMatchObject({ kind: 'ports', value: '2001:db8::/120' });
  });

  it('rejects bad targets, port specs, ranges too large and ranges with a port, saying why', () => {
    expect(rejection({ target: 'http://app.example.com' }).message).toMatch(/looks like a URL/);
    expect(rejection({ target: 'app.example.com:99999' }).message).toMatch(/invalid port/);
    expect(rejection({ target: '10.0.0.0/24:443' }).message).toMatch(/range of addresses/);
    expect(rejection({ target: '10.0.0.0/24', ports: 'nope-list' })).toMatchObject({ code: 'ports.list-unknown' });
    expect(rejection({ target: '10.0.0.0/8' })).toMatchObject({ code: 'target.too-large', message: expect.stringContaining('16777216 addresses') });
    expect(rejection({ target: '  ' })).toMatchObject({ code: 'target.invalid' });
  });

  it('keeps labels and schedule and records which fields were given', () => {
    const result = normalizeTarget({ target: 'app.example.com', labels: { owner: 'alice' }, schedule: null }, DEPS);
    expect(result).toEqual({ targets: [expect.objectContaining({ labels: { owner: 'alice' }, schedule: null, specified: { ports: false, labels: true, schedule: true } })] });
  });

  it('rejects invalid labels and schedules', () => {
    expect(rejection({ target: 'a.example.com', labels: { Owner: 'x' } }).message).toMatch(/label name "Owner" is invalid/);
    expect(rejection({ target: 'a.example.com', schedule: { everySeconds: 30 } }).message).toMatch(/from 60/);
  });
});

describe('labels and schedules', () => {
  it('accepts up to 20 labels with values of 1-200 characters', () => {
    const twenty = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, 'v']));
    expect(validateLabels(twenty)).toEqual(twenty);
    expect(validateLabels({ ...twenty, k20: 'v' })).toMatchObject({ message: expect.stringContaining('at most 20 labels') });
    expect(validateLabels({ team: 'x'.repeat(200) })).toEqual({ team: 'x'.repeat(200) });
    expect(validateLabels({ team: 'x'.repeat(201) })).toMatchObject({ message: expect.stringContaining('1 to 200 characters') });
    expect(validateLabels({ team: '' })).toBeInstanceOf(PortcullisError);
    expect(validateLabels({ team: 'a\nb' })).toMatchObject({ message: expect.stringContaining('control characters') });
    expect(validateLabels({ team: 3 })).toMatchObject({ message: expect.stringContaining('must be a string') });
    expect(validateLabels({ 'team.name_1-x': 'ok' })).toEqual({ 'team.name_1-x': 'ok' });
    expect(validateLabels({ [`a${'b'.repeat(63)}`]: 'x' })).toBeInstanceOf(PortcullisError);
  });

  it('accepts intervals from a minute to a year and cron expressions that croner parses', () => {
    expect(validateSchedule({ everySeconds: 60 })).toEqual({ everySeconds: 60 });
    expect(validateSchedule({ everySeconds: 31_536_000 })).toEqual({ everySeconds: 31_536_000 });
    expect(validateSchedule({ everySeconds: 59 })).toBeInstanceOf(PortcullisError);
    expect(validateSchedule({ everySeconds: 31_536_001 })).toBeInstanceOf(PortcullisError);
    expect(validateSchedule({ everySeconds: 90.5 })).toBeInstanceOf(PortcullisError);
    expect(validateSchedule({ cron: '0 3 * * *' })).toEqual({ cron: '0 3 * * *' });
    expect(validateSchedule({ cron: '61 * * * *' })).toMatchObject({ message: expect.stringContaining('minute') });
    expect(validateSchedule({ cron: '* * * * * *' })).toMatchObject({ message: expect.stringContaining('more often than once a minute') });
    expect(validateSchedule({ cron: '0 3 * * *', everySeconds: 60 })).toMatchObject({ message: expect.stringContaining('exactly one') });
  });

  it('reads and writes the schedule text syntax', () => {
    expect(parseScheduleText('every 6h')).toEqual({ everySeconds: 21_600 });
    expect(parseScheduleText('EVERY 3600s')).toEqual({ everySeconds: 3600 });
    expect(parseScheduleText('every 2w')).toEqual({ everySeconds: 1_209_600 });
    expect(parseScheduleText('cron: 0 3 * * 1')).toEqual({ cron: '0 3 * * 1' });
    expect(parseScheduleText('cron 0 3 * * 1')).toEqual({ cron: '0 3 * * 1' });
    expect(parseScheduleText('every 10s')).toBeInstanceOf(PortcullisError);
    expect(formatSchedule({ everySeconds: 21_600 })).toBe('every 6h');
    expect(formatSchedule({ everySeconds: 90 })).toBe('every 90s');
    expect(formatSchedule({ cron: '0 3 * * *' })).toBe('cron: 0 3 * * *');
  });
});

describe('checkTargetScope', () => {
  const policy = createScopePolicy({ allow: [], deny: ['blocked.example.com', '192.0.2.128/25'] });

  it('refuses metadata addresses, deny-listed ranges and names without resolving anything', () => {
    expect(checkTargetScope({ value: '169.254.169.254' }, policy)).toMatchObject({ code: 'scope.denied', status: 403, detail: { reason: expect.stringContaining('cloud metadata') } });
    expect(checkTargetScope({ value: 'metadata.google.internal' }, policy)).toMatchObject({ code: 'scope.denied' });
    expect(checkTargetScope({ value: 'blocked.example.com' }, policy)).toMatchObject({ code: 'scope.denied' });
    expect(checkTargetScope({ value: '192.0.2.0/24' }, policy)).toMatchObject({ code: 'scope.denied' });
  });

  it('lets allowed names and addresses through', () => {
    expect(checkTargetScope({ value: 'app.example.com' }, policy)).toBeUndefined();
    expect(checkTargetScope({ value: '192.0.2.0/25' }, policy)).toBeUndefined();
    expect(checkTargetScope({ value: '2001:db8::5' }, policy)).toBeUndefined();
  });
});
