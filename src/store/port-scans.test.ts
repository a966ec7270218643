import { afterEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { PortcullisError } from '../shared/errors.js';
import type { HostSummary, PortResult } from '../shared/model.js';
import { TEST_DIALECTS, openTestDatabase, type TestDatabase } from '../testing/databases.js';
import { PORT_INSERT_CHUNK, createPortScanRepository, ipKey } from './port-scans.js';
import type { HostPart, NewPortScan, PortScanRepository } from './types.js';

function newScan(id: string, overrides: Partial<NewPortScan> = {}): NewPortScan {
  return {
    id,
    targets: ['192.0.2.0/30'],
    exclude: [],
    ports: 'top-10',
    portSet: '21-23,25,80,110,139,443,445,3389',
    portCount: 10,
    options: { timing: 3 },
    plan: { ranges: [{ family: 4, start: '3221225984', end: '3221225987' }], hostnames: {}, addressCount: 4 },
    addressCount: 4,
    createdAt: '2024-05-01T10:00:00.000Z',
    ...overrides,
  };
}

function hostOf(ip: string, overrides: Partial<HostSummary> = {}): HostSummary {
  return {
    ip,
    hostnames: [],
    status: 'up',
    counts: { open: 1, closed: 0, filtered: 9 },
    extraPorts: { state: 'filtered', count: 9, reasons: { 'no-response': 9 } },
    srttMs: 1.5,
    startedAt: '2024-05-01T10:00:01.000Z',
    finishedAt: '2024-05-01T10:00:02.000Z',
    ...overrides,
  };
}

function openPort(ip: string, port: number, overrides: Partial<PortResult> = {}): PortResult {
  return { ip, port, protocol: 'tcp', state: 'open', reason: 'syn-ack', rttMs: 0.5, ...overrides };
}

function rangePorts(ip: string, count: number, state: PortResult['state'] = 'closed'): PortResult[] {
  return Array.from({ length: count }, (_, i) => ({ ip, port: i + 1, protocol: 'tcp' as const, state, reason: 'conn-refused' as const }));
}

describe('ipKey', () => {
  it('sorts addresses numerically, IPv4 before IPv6', () => {
    const ips = ['::1', '127.0.0.10', '2001:db8::1', '10.0.0.1', '127.0.0.9', '::ffff:1.2.3.4', '255.255.255.255', '2001:db8::ffff:1'];
    const sorted = [...ips].sort((a, b) => (ipKey(a) < ipKey(b) ? -1 : 1));
    expect(sorted).toEqual(['10.0.0.1', '127.0.0.9', '127.0.0.10', '255.255.255.255', '::1', '::ffff:1.2.3.4', '2001:db8::1', '2001:db8::ffff:1']);
  });

  it('spells the address bytes in hex with a family prefix', () => {
    expect(ipKey('127.0.0.1')).toBe('47f000001');
    expect(ipKey('::1')).toBe('6' + '0'.repeat(31) + '1');
    expect(ipKey('::ffff:1.2.3.4')).toBe('6' + '0'.repeat(20) + 'ffff01020304');
    expect(ipKey('2001:DB8::1')).toBe(ipKey('2001:0db8:0000:0000:0000:0000:0000:0001'));
    expect(ipKey('fe80::1%eth0')).toBe(ipKey('fe80::1'));
    expect(() => ipKey('example.com')).toThrow(PortcullisError);
  });
});

describe.each(TEST_DIALECTS)('port scan repository on %s', (dialect) => {
  let t: TestDatabase | undefined;
  let repo: PortScanRepository;
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
  });
  async function open(): Promise<TestDatabase> {
    t = await openTestDatabase(dialect);
    repo = createPortScanRepository(t);
    return t;
  }
  async function rowCounts(db: TestDatabase) {
    const hosts = await db.db.selectFrom('scan_hosts').select(sql<number>`count(*)`.as('n')).executeTakeFirstOrThrow();
    const ports = await db.db.selectFrom('port_results').select(sql<number>`count(*)`.as('n')).executeTakeFirstOrThrow();
    return { hosts: Number(hosts.n), ports: Number(ports.n) };
  }

  it('round-trips a created scan with every field, through running and done', async () => {
    await open();
    const input = newScan('scan-1', {
      targets: ['192.0.2.0/30', 'example.com'],
      exclude: ['192.0.2.3'],
      options: { timing: 4, timeoutMs: 1500, concurrency: 200, maxRetries: 2, serviceDetection: false, bannerTimeoutMs: 800 },
      plan: {
        ranges: [{ family: 4, start: '3221225984', end: '3221225986' }, { family: 6, start: '42540766411282592856903984951653826561', end: '42540766411282592856903984951653826561' }],
        hostnames: { '2001:db8::1': ['example.com'] },
        addressCount: 4,
      },
      addressCount: 4,
      portCount: 1000,
    });
    const created = await repo.create(input);
    expect(created).toEqual({
      id: 'scan-1',
      status: 'queued',
      targets: ['192.0.2.0/30', 'example.com'],
      exclude: ['192.0.2.3'],
      ports: 'top-10',
      portSet: input.portSet,
      portCount: 1000,
      options: input.options,
      addressCount: 4,
      hostsDone: 0,
      progress: { done: 0, total: 4000 },
      createdAt: '2024-05-01T10:00:00.000Z',
      startedAt: undefined,
      finishedAt: undefined,
      error: undefined,
      stats: undefined,
    });
    expect(await repo.get('scan-1')).toEqual(created);
    expect(await repo.getPlan('scan-1')).toEqual(input.plan);
    expect(await repo.get('nope')).toBeUndefined();
    expect(await repo.getPlan('nope')).toBeUndefined();

    await repo.markRunning('scan-1', '2024-05-01T10:00:05.000Z');
    await repo.updateProgress('scan-1', { done: 1234, total: 4000 });
    const stats = { hostsTotal: 4, hostsUp: 2, open: 3, closed: 10, filtered: 3987, portsPerHost: 1000, durationMs: 4321 };
    expect(await repo.finish('scan-1', { status: 'done', at: '2024-05-01T10:01:00.000Z', stats })).toBe(true);
    const done = await repo.get('scan-1');
    expect(done).toEqual({
      ...created,
      status: 'done',
      progress: { done: 1234, total: 4000 },
      startedAt: '2024-05-01T10:00:05.000Z',
      finishedAt: '2024-05-01T10:01:00.000Z',
      stats,
    });
    expect(typeof done?.addressCount).toBe('number');
    expect(typeof done?.progress.total).toBe('number');

    await repo.create(newScan('scan-2'));
    expect(await repo.finish('scan-2', { status: 'failed', at: '2024-05-01T10:02:00.000Z', error: { code: 'scan.failed', message: 'boom' } })).toBe(true);
    expect(await repo.get('scan-2')).toMatchObject({ status: 'failed', error: { code: 'scan.failed', message: 'boom' }, stats: undefined });
  });

  it('lists newest first with status, target, ip and date filters, pagination and a total', async () => {
    await open();
    await repo.create(newScan('a', { createdAt: '2024-05-01T00:00:00.000Z', targets: ['a_b.example.com'] }));
    await repo.create(newScan('b', { createdAt: '2024-05-02T00:00:00.000Z', targets: ['axb.example.com', '10.0.0.0/8'] }));
    await repo.create(newScan('c', { createdAt: '2024-05-03T00:00:00.000Z', targets: ['100%.example.org'] }));
    await repo.create(newScan('d', { createdAt: '2024-05-03T00:00:00.000Z', targets: ['10.1.2.3'] }));
    await repo.create(newScan('e', { createdAt: '2024-05-04T00:00:00.000Z', targets: ['Mail.Example.COM'] }));
    await repo.markRunning('b', '2024-05-02T00:00:01.000Z');
    await repo.finish('c', { status: 'cancelled', at: '2024-05-03T00:00:01.000Z' });
    await repo.saveHosts('b', [{ host: hostOf('10.1.2.3'), ports: [] }]);
    await repo.saveHosts('d', [{ host: hostOf('10.1.2.3'), ports: [] }]);
    await repo.saveHosts('d', [{ host: hostOf('10.1.2.30'), ports: [] }]);

    const ids = async (filter: Partial<Parameters<PortScanRepository['list']>[0]>) => {
      const page = await repo.list({ limit: 50, offset: 0, ...filter });
      return { ids: page.items.map((s) => s.id), total: page.total };
    };
    // Same created_at: id breaks the tie, descending.
    expect(await ids({})).toEqual({ ids: ['e', 'd', 'c', 'b', 'a'], total: 5 });
    expect(await ids({ limit: 2, offset: 1 })).toEqual({ ids: ['d', 'c'], total: 5 });
    expect(await ids({ limit: 2, offset: 4 })).toEqual({ ids: ['a'], total: 5 });
    expect(await ids({ limit: 2, offset: 10 })).toEqual({ ids: [], total: 5 });
    expect(await ids({ status: 'queued' })).toEqual({ ids: ['e', 'd', 'a'], total: 3 });
    expect(await ids({ status: 'running' })).toEqual({ ids: ['b'], total: 1 });
    expect(await ids({ status: 'cancelled' })).toEqual({ ids: ['c'], total: 1 });
    // LIKE wildcards in the filter are literal characters.
    expect(await ids({ target: 'a_b' })).toEqual({ ids: ['a'], total: 1 });
    expect(await ids({ target: '100%' })).toEqual({ ids: ['c'], total: 1 });
    expect(await ids({ target: '%' })).toEqual({ ids: ['c'], total: 1 });
    expect(await ids({ target: 'example.com' })).toEqual({ ids: ['e', 'b', 'a'], total: 3 });
    expect(await ids({ target: 'mail.example' })).toEqual({ ids: ['e'], total: 1 });
    expect(await ids({ target: '10.' })).toEqual({ ids: ['d', 'b'], total: 2 });
    // Exact address stored by the scan, not a prefix.
    expect(await ids({ ip: '10.1.2.3' })).toEqual({ ids: ['d', 'b'], total: 2 });
    expect(await ids({ ip: '10.1.2.30' })).toEqual({ ids: ['d'], total: 1 });
    expect(await ids({ ip: '10.1.2.' })).toEqual({ ids: [], total: 0 });
    // createdAfter inclusive, createdBefore exclusive.
    expect(await ids({ createdAfter: '2024-05-02T00:00:00.000Z' })).toEqual({ ids: ['e', 'd', 'c', 'b'], total: 4 });
    expect(await ids({ createdBefore: '2024-05-03T00:00:00.000Z' })).toEqual({ ids: ['b', 'a'], total: 2 });
    expect(await ids({ createdAfter: '2024-05-02T00:00:00.000Z', createdBefore: '2024-05-04T00:00:00.000Z', status: 'queued' })).toEqual({
      ids: ['d'],
      total: 1,
    });
    expect(await ids({ ip: '10.1.2.3', target: 'axb', limit: 1 })).toEqual({ ids: ['b'], total: 1 });
  });

  it('marks running only from queued or running and keeps the first start time', async () => {
    await open();
    await repo.create(newScan('s'));
    await repo.markRunning('s', '2024-05-01T10:00:05.000Z');
    await repo.markRunning('s', '2024-05-01T10:05:00.000Z'); // a retried job
    expect(await repo.get('s')).toMatchObject({ status: 'running', startedAt: '2024-05-01T10:00:05.000Z' });

    await repo.create(newScan('cancelled-before-start'));
    expect(await repo.finish('cancelled-before-start', { status: 'cancelled', at: '2024-05-01T10:00:03.000Z' })).toBe(true);
    await repo.markRunning('cancelled-before-start', '2024-05-01T10:00:05.000Z');
    expect(await repo.get('cancelled-before-start')).toMatchObject({ status: 'cancelled', startedAt: undefined });
  });

  it('finishes a scan once: finish after cancel returns false and the scan stays cancelled', async () => {
    await open();
    await repo.create(newScan('s'));
    await repo.markRunning('s', '2024-05-01T10:00:05.000Z');
    expect(await repo.finish('s', { status: 'cancelled', at: '2024-05-01T10:00:10.000Z' })).toBe(true);
    const stats = { hostsTotal: 4, hostsUp: 0, open: 0, closed: 0, filtered: 0, portsPerHost: 10, durationMs: 1 };
    expect(await repo.finish('s', { status: 'done', at: '2024-05-01T10:00:20.000Z', stats })).toBe(false);
    expect(await repo.finish('s', { status: 'failed', at: '2024-05-01T10:00:30.000Z', error: { code: 'internal', message: 'x' } })).toBe(false);
    expect(await repo.get('s')).toMatchObject({ status: 'cancelled', finishedAt: '2024-05-01T10:00:10.000Z', stats: undefined, error: undefined });
    expect(await repo.finish('missing', { status: 'done', at: '2024-05-01T10:00:20.000Z' })).toBe(false);
  });

  it('saves a host idempotently: saving it twice leaves one set of rows and counts it once', async () => {
    const db = await open();
    await repo.create(newScan('s'));
    const host = hostOf('192.0.2.1', { hostnames: ['www.example.com'] });
    const ports: PortResult[] = [
      openPort('192.0.2.1', 443, {
        service: {
          name: 'https',
          product: 'nginx',
          version: '1.25.3',
          banner: 'HTTP/1.1 200 OK',
          method: 'probed',
          tls: { version: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256', alpn: 'h2', subjectAltNames: ['example.com'], selfSigned: false },
          http: { status: 200, server: 'nginx', title: 'Example' },
        },
      }),
      openPort('192.0.2.1', 22, { service: { name: 'ssh', method: 'table' } }),
      { ip: '192.0.2.1', port: 25, protocol: 'tcp', state: 'closed', reason: 'conn-refused' },
    ];
    await repo.saveHosts('s', [{ host: host, ports: ports }]);
    await repo.saveHosts('s', [{ host: host, ports: ports }]);
    expect(await rowCounts(db)).toEqual({ hosts: 1, ports: 3 });
    expect((await repo.get('s'))?.hostsDone).toBe(1);
    expect(await repo.finishedHosts('s')).toEqual(new Set(['192.0.2.1']));
    expect((await repo.hosts('s', { limit: 10, offset: 0 })).items).toEqual([host]);
    expect(await repo.ports('s')).toEqual([ports[1], ports[2], ports[0]]);

    // A retry that found fewer ports replaces the earlier rows.
    const changed = hostOf('192.0.2.1', { counts: { open: 0, closed: 1, filtered: 9 }, extraPorts: undefined, srttMs: undefined });
    await repo.saveHosts('s', [{ host: changed, ports: [ports[2]!] }]);
    expect(await rowCounts(db)).toEqual({ hosts: 1, ports: 1 });
    expect((await repo.hosts('s', { limit: 10, offset: 0 })).items).toEqual([changed]);

    await repo.saveHosts('s', [{ host: hostOf('192.0.2.2', { status: 'no-response' }), ports: [] }]);
    expect((await repo.get('s'))?.hostsDone).toBe(2);
    expect(await repo.finishedHosts('s')).toEqual(new Set(['192.0.2.1', '192.0.2.2']));
    // A shard reads back its own block only, in address order (192.0.2.10 sorts after .9, not after .1).
    await repo.saveHosts('s', ['192.0.2.9', '192.0.2.10', '192.0.2.200'].map((ip) => ({ host: hostOf(ip, { status: 'no-response' }), ports: [] })));
    expect(await repo.finishedHosts('s', { first: '192.0.2.2', last: '192.0.2.10' })).toEqual(new Set(['192.0.2.2', '192.0.2.9', '192.0.2.10']));
  });

  it('saves a batch of hosts in one call: re-saved hosts replace their rows, hostsDone counts each address once', async () => {
    const db = await open();
    await repo.create(newScan('s'));
    const port = (ip: string, n: number): PortResult => ({ ip, port: n, protocol: 'tcp', state: 'closed', reason: 'conn-refused' });
    await repo.saveHosts('s', [{ host: hostOf('192.0.2.1'), ports: [port('192.0.2.1', 1)] }]);
    await repo.saveHosts('s', [
      { host: hostOf('192.0.2.1'), ports: [port('192.0.2.1', 2), port('192.0.2.1', 3)] },
      { host: hostOf('192.0.2.2'), ports: [port('192.0.2.2', 1)] },
      { host: hostOf('192.0.2.3'), ports: [] },
      // The same address twice in one batch: the later one wins.
      { host: hostOf('192.0.2.3'), ports: [port('192.0.2.3', 9)] },
    ]);
    expect(await rowCounts(db)).toEqual({ hosts: 3, ports: 4 });
    expect((await repo.get('s'))?.hostsDone).toBe(3);
    expect((await repo.ports('s', ['192.0.2.1', '192.0.2.3'])).map((p) => `${p.ip}:${p.port}`)).toEqual(['192.0.2.1:2', '192.0.2.1:3', '192.0.2.3:9']);
    await repo.saveHosts('s', []);
    expect((await repo.get('s'))?.hostsDone).toBe(3);
  });

  it('refuses a host for an unknown scan or ports of another address', async () => {
    const db = await open();
    await expect(repo.saveHosts('missing', [{ host: hostOf('192.0.2.1'), ports: [] }])).rejects.toMatchObject({ code: 'not-found' });
    await repo.create(newScan('s'));
    await expect(repo.saveHosts('s', [{ host: hostOf('192.0.2.1'), ports: [openPort('192.0.2.9', 80)] }])).rejects.toThrow(/192\.0\.2\.9/);
    expect(await rowCounts(db)).toEqual({ hosts: 0, ports: 0 });
  });

  it('saves a host with 65,535 listed ports in chunked inserts', async () => {
    const db = await open();
    await repo.create(newScan('big', { portSet: '1-65535', portCount: 65535 }));
    const ports = rangePorts('198.51.100.7', 65535);
    ports[1000] = openPort('198.51.100.7', 1001, { service: { name: 'unknown', method: 'probed', banner: 'hello' } });
    const host = hostOf('198.51.100.7', { counts: { open: 1, closed: 65534, filtered: 0 }, extraPorts: undefined });
    expect(ports.length).toBeGreaterThan(PORT_INSERT_CHUNK * 2);
    await repo.saveHosts('big', [{ host: host, ports: ports }]);
    await repo.saveHosts('big', [{ host: host, ports: ports }]);
    expect(await rowCounts(db)).toEqual({ hosts: 1, ports: 65535 });
    const stored = await repo.ports('big');
    expect(stored).toHaveLength(65535);
    expect(stored[0]).toEqual(ports[0]);
    expect(stored[1000]).toEqual(ports[1000]);
    expect(stored[65534]).toEqual(ports[65534]);
    expect(stored.every((p, i) => p.port === i + 1)).toBe(true);
  }, 120_000);

  it('lists hosts and ports in address order: 127.0.0.2 < 127.0.0.10, IPv4 before IPv6', async () => {
    await open();
    await repo.create(newScan('s'));
    const ips = ['2001:db8::10', '127.0.0.10', '::1', '127.0.0.2', '10.0.0.1', '2001:db8::2', '127.0.0.9'];
    for (const ip of ips) {
      await repo.saveHosts('s', [{ host: hostOf(ip, { status: ip.startsWith('127.') ? 'up' : 'no-response' }), ports: [openPort(ip, 443), openPort(ip, 80), openPort(ip, 8080)] }]);
    }
    const ordered = ['10.0.0.1', '127.0.0.2', '127.0.0.9', '127.0.0.10', '::1', '2001:db8::2', '2001:db8::10'];
    const all = await repo.hosts('s', { limit: 100, offset: 0 });
    expect(all.items.map((h) => h.ip)).toEqual(ordered);
    expect(all.total).toBe(7);
    const page = await repo.hosts('s', { limit: 2, offset: 2 });
    expect(page).toMatchObject({ total: 7, items: [{ ip: '127.0.0.9' }, { ip: '127.0.0.10' }] });
    const up = await repo.hosts('s', { limit: 2, offset: 1, onlyUp: true });
    expect({ ips: up.items.map((h) => h.ip), total: up.total }).toEqual({ ips: ['127.0.0.9', '127.0.0.10'], total: 3 });

    const ports = await repo.ports('s');
    expect(ports.map((p) => `${p.ip}:${p.port}`)).toEqual(ordered.flatMap((ip) => [`${ip}:80`, `${ip}:443`, `${ip}:8080`]));
    const some = await repo.ports('s', ['2001:db8::2', '127.0.0.10', 'not-an-ip', '127.0.0.2', '192.0.2.99']);
    expect(some.map((p) => `${p.ip}:${p.port}`)).toEqual(['127.0.0.2', '127.0.0.10', '2001:db8::2'].flatMap((ip) => [`${ip}:80`, `${ip}:443`, `${ip}:8080`]));
    expect(await repo.ports('s', [])).toEqual([]);
  });

  it('totals hosts done, hosts up and port states from the stored hosts', async () => {
    await open();
    await repo.create(newScan('s'));
    await repo.create(newScan('other'));
    expect(await repo.totals('s')).toEqual({ hostsDone: 0, hostsUp: 0, open: 0, closed: 0, filtered: 0 });
    await repo.saveHosts('s', [{ host: hostOf('192.0.2.1', { counts: { open: 2, closed: 3, filtered: 5 } }), ports: [] }]);
    await repo.saveHosts('s', [{ host: hostOf('192.0.2.2', { counts: { open: 1, closed: 0, filtered: 9 } }), ports: [] }]);
    await repo.saveHosts('s', [{ host: hostOf('192.0.2.3', { status: 'no-response', counts: { open: 0, closed: 0, filtered: 10 } }), ports: [] }]);
    await repo.saveHosts('other', [{ host: hostOf('192.0.2.1', { counts: { open: 100, closed: 100, filtered: 100 } }), ports: [] }]);
    expect(await repo.totals('s')).toEqual({ hostsDone: 3, hostsUp: 2, open: 3, closed: 3, filtered: 24 });
    const totals = await repo.totals('s');
    for (const v of Object.values(totals)) expect(typeof v).toBe('number');
  });

  it('merges the port blocks of a host once all are stored: one host with every port, blocks removed, progress counting stored blocks', async () => {
    const db = await open();
    await repo.create(newScan('s', { portSet: '1-6', portCount: 6, addressCount: 1 }));
    const block = (part: number, results: PortResult[], at: string) => ({ ip: '192.0.2.1', part, results, srttMs: part + 1, startedAt: at, finishedAt: at });
    await repo.saveHostPart('s', block(0, [openPort('192.0.2.1', 1), ...rangePorts('192.0.2.1', 3).slice(1)], '2024-05-01T10:00:02.000Z'));
    // An earlier attempt's block is replaced, not added.
    await repo.saveHostPart('s', block(0, [openPort('192.0.2.1', 1), ...rangePorts('192.0.2.1', 3).slice(1)], '2024-05-01T10:00:01.000Z'));
    expect(await repo.storedParts('s', '192.0.2.1')).toEqual(new Set([0]));
    await repo.progressFromHosts('s');
    expect((await repo.get('s'))?.progress).toEqual({ done: 3, total: 6 });

    const merge = (blocks: HostPart[]) => {
      const results = blocks.flatMap((b) => b.results);
      return { host: hostOf('192.0.2.1', { counts: { open: 1, closed: results.length - 1, filtered: 0 }, extraPorts: undefined, startedAt: blocks[0]!.startedAt }), ports: results };
    };
    expect(await repo.mergeHostParts('s', '192.0.2.1', 2, merge)).toBe(false);
    expect(await repo.storedParts('s', '192.0.2.1')).toEqual(new Set([0]));

    await repo.saveHostPart('s', block(1, rangePorts('192.0.2.1', 6).slice(3), '2024-05-01T10:00:03.000Z'));
    let seen: HostPart[] = [];
    expect(await repo.mergeHostParts('s', '192.0.2.1', 2, (blocks) => ((seen = blocks), merge(blocks)))).toBe(true);
    expect(seen.map((b) => [b.part, b.results.length, b.srttMs, b.startedAt])).toEqual([
      [0, 3, 1, '2024-05-01T10:00:01.000Z'],
      [1, 3, 2, '2024-05-01T10:00:03.000Z'],
    ]);
    expect(seen[0]?.results[0]).toEqual(openPort('192.0.2.1', 1));
    expect(await repo.storedParts('s', '192.0.2.1')).toEqual(new Set());
    expect((await repo.ports('s')).map((p) => p.port)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(await repo.get('s')).toMatchObject({ hostsDone: 1 });
    await repo.progressFromHosts('s');
    expect((await repo.get('s'))?.progress).toEqual({ done: 6, total: 6 });
    // Merged already: a second merger finds nothing and changes nothing, and a late block is not kept.
    expect(await repo.mergeHostParts('s', '192.0.2.1', 2, merge)).toBe(false);
    await repo.saveHostPart('s', block(1, rangePorts('192.0.2.1', 6).slice(3), '2024-05-01T10:00:04.000Z'));
    expect(await repo.storedParts('s', '192.0.2.1')).toEqual(new Set());
    expect(await rowCounts(db)).toEqual({ hosts: 1, ports: 6 });
  });

  // PostgreSQL only: two SQLite handles in one process would wait on each other's write lock
  // synchronously (busy_timeout blocks the event loop); across processes SQLite serialises the mergers.
  it.skipIf(dialect === 'sqlite')('lets exactly one of two simultaneous mergers of the same host store it', async () => {
    const db = await open();
    await repo.create(newScan('s', { portSet: '1-4', portCount: 4, addressCount: 1 }));
    const at = '2024-05-01T10:00:01.000Z';
    for (const part of [0, 1]) await repo.saveHostPart('s', { ip: '192.0.2.1', part, results: rangePorts('192.0.2.1', 4).slice(part * 2, part * 2 + 2), startedAt: at, finishedAt: at });
    const other = createPortScanRepository(db.reopen());
    const merge = (blocks: HostPart[]) => ({ host: hostOf('192.0.2.1', { counts: { open: 0, closed: 4, filtered: 0 }, extraPorts: undefined }), ports: blocks.flatMap((b) => b.results) });
    const outcomes = await Promise.all([repo.mergeHostParts('s', '192.0.2.1', 2, merge), other.mergeHostParts('s', '192.0.2.1', 2, merge)]);
    expect(outcomes.filter(Boolean)).toHaveLength(1);
    expect(await rowCounts(db)).toEqual({ hosts: 1, ports: 4 });
    expect(await repo.get('s')).toMatchObject({ hostsDone: 1 });
  });

  it('deletes a scan with its hosts and ports, and reports whether it existed', async () => {
    const db = await open();
    await repo.create(newScan('s'));
    await repo.create(newScan('keep'));
    await repo.saveHosts('s', [{ host: hostOf('192.0.2.1'), ports: [openPort('192.0.2.1', 80), openPort('192.0.2.1', 443)] }]);
    await repo.saveHosts('keep', [{ host: hostOf('192.0.2.1'), ports: [openPort('192.0.2.1', 80)] }]);
    await repo.saveHostPart('s', { ip: '192.0.2.2', part: 0, results: [openPort('192.0.2.2', 80)], startedAt: '2024-05-01T10:00:01.000Z', finishedAt: '2024-05-01T10:00:01.000Z' });
    expect(await repo.delete('s')).toBe(true);
    expect(await repo.storedParts('s', '192.0.2.2')).toEqual(new Set());
    expect(await repo.delete('s')).toBe(false);
    expect(await repo.get('s')).toBeUndefined();
    expect(await rowCounts(db)).toEqual({ hosts: 1, ports: 1 });
    expect(await repo.ports('keep')).toHaveLength(1);

    // The schema cascades on its own too (a scan deleted outside the repository).
    await db.db.deleteFrom('port_scans').where('id', '=', 'keep').execute();
    expect(await rowCounts(db)).toEqual({ hosts: 0, ports: 0 });
  });

  it('reports corrupt stored JSON as a clear error naming the scan', async () => {
    const db = await open();
    await repo.create(newScan('broken-scan'));
    await repo.saveHosts('broken-scan', [{ host: hostOf('192.0.2.1'), ports: [openPort('192.0.2.1', 443, { service: { name: 'https', method: 'probed', tls: { version: 'TLSv1.3' } } })] }]);

    await db.db.updateTable('port_scans').set({ targets: '["192.0.2.0/30"' }).where('id', '=', 'broken-scan').execute();
    const err = await repo.get('broken-scan').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PortcullisError);
    expect((err as PortcullisError).message).toMatch(/targets of port scan broken-scan is not valid JSON/);
    expect((err as PortcullisError).detail).toMatchObject({ scanId: 'broken-scan', field: 'targets' });
    await expect(repo.list({ limit: 10, offset: 0 })).rejects.toThrow(/broken-scan/);

    await db.db.updateTable('port_scans').set({ targets: '{"not":"a list"}', plan: 'nope' }).where('id', '=', 'broken-scan').execute();
    await expect(repo.get('broken-scan')).rejects.toThrow(/targets of port scan broken-scan has an unexpected shape/);
    await expect(repo.getPlan('broken-scan')).rejects.toThrow(/plan of port scan broken-scan/);

    await db.db.updateTable('scan_hosts').set({ hostnames: '[' }).execute();
    await expect(repo.hosts('broken-scan', { limit: 10, offset: 0 })).rejects.toThrow(/hostnames of port scan broken-scan \(host 192\.0\.2\.1\)/);
    await db.db.updateTable('port_results').set({ tls: '{' }).execute();
    await expect(repo.ports('broken-scan')).rejects.toThrow(/tls of port scan broken-scan \(host 192\.0\.2\.1 port 443\)/);
  });

  it('leaves nothing half-written when a port row fails mid-batch', async () => {
    const db = await open();
    await repo.create(newScan('s'));
    const ip = '192.0.2.1';
    const good = rangePorts(ip, 10);
    await repo.saveHosts('s', [{ host: hostOf(ip), ports: good }]);

    // A retry whose second chunk holds a row violating NOT NULL: the earlier chunk, the deletes of the
    // previous rows and the host row must all roll back.
    const bad = rangePorts(ip, PORT_INSERT_CHUNK + 500);
    (bad[PORT_INSERT_CHUNK + 100] as unknown as { state: null }).state = null;
    await expect(repo.saveHosts('s', [{ host: hostOf(ip, { hostnames: ['changed'] }), ports: bad }])).rejects.toThrow();
    expect(await rowCounts(db)).toEqual({ hosts: 1, ports: 10 });
    expect((await repo.hosts('s', { limit: 10, offset: 0 })).items[0]?.hostnames).toEqual([]);
    expect(await repo.ports('s')).toEqual(good);

    // A first save that fails stores no host at all and does not count it.
    await expect(repo.saveHosts('s', [{ host: hostOf('192.0.2.2'), ports: [openPort('192.0.2.2', 80), { ...openPort('192.0.2.2', 81), reason: null as never }] }])).rejects.toThrow();
    expect(await repo.finishedHosts('s')).toEqual(new Set([ip]));
    expect((await repo.get('s'))?.hostsDone).toBe(1);
    expect(await rowCounts(db)).toEqual({ hosts: 1, ports: 10 });
  });
});
