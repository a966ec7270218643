import { afterEach, describe, expect, it } from 'vitest';
import type { HostSummary, PortResult } from '../shared/model.js';
import { TEST_DIALECTS, openTestDatabase, type TestDatabase } from '../testing/databases.js';
import { createHostRepository } from './hosts.js';
import { createPortScanRepository } from './port-scans.js';
import type { HostRepository, NewPortScan, PortScanRepository } from './types.js';

function newScan(id: string, createdAt: string, portSet = '1-1024'): NewPortScan {
  return {
    id,
    targets: ['192.0.2.0/29'],
    exclude: [],
    ports: portSet,
    portSet,
    portCount: 1024,
    options: {},
    plan: { ranges: [{ family: 4, start: '3221225984', end: '3221225991' }], hostnames: {}, addressCount: 8 },
    addressCount: 8,
    createdAt,
  };
}

function hostOf(ip: string, open: number, at: string): HostSummary {
  return {
    ip,
    hostnames: ['h.example.com'],
    status: 'up',
    counts: { open, closed: 0, filtered: 1024 - open },
    extraPorts: { state: 'filtered', count: 1024 - open, reasons: { 'no-response': 1024 - open } },
    srttMs: 2.25,
    startedAt: at,
    finishedAt: at,
  };
}

function portOf(ip: string, port: number, name?: string): PortResult {
  return {
    ip,
    port,
    protocol: 'tcp',
    state: 'open',
    reason: 'syn-ack',
    rttMs: 1.25,
    ...(name ? { service: { name, method: 'probed' as const, http: { status: 200, title: 'Hi' } } } : {}),
  };
}

describe.each(TEST_DIALECTS)('host history on %s', (dialect) => {
  let t: TestDatabase | undefined;
  let scans: PortScanRepository;
  let hosts: HostRepository;
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
  });
  async function open(): Promise<void> {
    t = await openTestDatabase(dialect);
    scans = createPortScanRepository(t);
    hosts = createHostRepository(t);
  }

  it('lists every scan of an address newest first, each with its own listed ports', async () => {
    await open();
    const ip = '192.0.2.5';
    // Created out of order on purpose.
    await scans.create(newScan('scan-b', '2024-05-02T00:00:00.000Z'));
    await scans.create(newScan('scan-a', '2024-05-01T00:00:00.000Z'));
    await scans.create(newScan('scan-c', '2024-05-03T00:00:00.000Z', '1-65535'));
    await scans.create(newScan('scan-other', '2024-05-04T00:00:00.000Z'));

    await scans.saveHosts('scan-a', [{ host: hostOf(ip, 1, '2024-05-01T00:00:01.000Z'), ports: [portOf(ip, 22, 'ssh')] }]);
    await scans.saveHosts('scan-b', [{ host: hostOf(ip, 2, '2024-05-02T00:00:01.000Z'), ports: [portOf(ip, 443, 'https'), portOf(ip, 22, 'ssh')] }]);
    await scans.saveHosts('scan-c', [{ host: hostOf(ip, 0, '2024-05-03T00:00:01.000Z'), ports: [] }]);
    // Same scans, other addresses: must not leak into the history.
    await scans.saveHosts('scan-b', [{ host: hostOf('192.0.2.50', 1, '2024-05-02T00:00:01.000Z'), ports: [portOf('192.0.2.50', 80)] }]);
    await scans.saveHosts('scan-other', [{ host: hostOf('192.0.2.6', 1, '2024-05-04T00:00:01.000Z'), ports: [portOf('192.0.2.6', 80)] }]);
    await scans.finish('scan-a', { status: 'done', at: '2024-05-01T00:10:00.000Z' });
    await scans.finish('scan-c', { status: 'cancelled', at: '2024-05-03T00:10:00.000Z' });

    const history = await hosts.history(ip, { limit: 10, offset: 0 });
    expect(history.total).toBe(3);
    expect(history.items).toEqual([
      {
        scan: { id: 'scan-c', status: 'cancelled', createdAt: '2024-05-03T00:00:00.000Z', finishedAt: '2024-05-03T00:10:00.000Z', portSet: '1-65535' },
        host: hostOf(ip, 0, '2024-05-03T00:00:01.000Z'),
        ports: [],
      },
      {
        scan: { id: 'scan-b', status: 'queued', createdAt: '2024-05-02T00:00:00.000Z', finishedAt: undefined, portSet: '1-1024' },
        host: hostOf(ip, 2, '2024-05-02T00:00:01.000Z'),
        ports: [portOf(ip, 22, 'ssh'), portOf(ip, 443, 'https')],
      },
      {
        scan: { id: 'scan-a', status: 'done', createdAt: '2024-05-01T00:00:00.000Z', finishedAt: '2024-05-01T00:10:00.000Z', portSet: '1-1024' },
        host: hostOf(ip, 1, '2024-05-01T00:00:01.000Z'),
        ports: [portOf(ip, 22, 'ssh')],
      },
    ]);

    const page = await hosts.history(ip, { limit: 1, offset: 1 });
    expect(page.total).toBe(3);
    expect(page.items.map((e) => [e.scan.id, e.ports.map((p) => p.port)])).toEqual([['scan-b', [22, 443]]]);
    expect(await hosts.history(ip, { limit: 10, offset: 3 })).toEqual({ items: [], total: 3 });
    expect(await hosts.history('203.0.113.1', { limit: 10, offset: 0 })).toEqual({ items: [], total: 0 });

    // A deleted scan leaves the history.
    await scans.delete('scan-b');
    const after = await hosts.history(ip, { limit: 10, offset: 0 });
    expect({ ids: after.items.map((e) => e.scan.id), total: after.total }).toEqual({ ids: ['scan-c', 'scan-a'], total: 2 });
  });
});
