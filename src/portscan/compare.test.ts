import { describe, expect, it } from 'vitest';
import type { HostSummary, PortReason, PortResult, PortState, ServiceInfo } from '../shared/model.js';
import { comparePortScans, serviceDifferences, type ScanSide } from './compare.js';
import { PortSet } from './ports.js';
import { summarizeHost } from './summarize.js';

const REASON: Record<PortState, PortReason> = { open: 'syn-ack', closed: 'conn-refused', filtered: 'no-response' };

interface HostSpec {
  /** State of every scanned port not named in `ports`. */
  rest: PortState;
  ports?: Record<number, PortState | [PortState, ServiceInfo]>;
}

/** Builds a stored scan side the way the job handler does: full results → summarizeHost → listed rows. */
function side(id: string, portSet: string, hosts: Record<string, HostSpec>): ScanSide {
  const set = PortSet.parse(portSet);
  const summaries: HostSummary[] = [];
  const rows: PortResult[] = [];
  for (const [ip, spec] of Object.entries(hosts)) {
    const results: PortResult[] = [];
    for (const port of set) {
      const given = spec.ports?.[port];
      const [state, service] = given === undefined ? [spec.rest, undefined] : Array.isArray(given) ? given : [given, undefined];
      results.push({ ip, port, protocol: 'tcp', state, reason: REASON[state], ...(service !== undefined ? { service } : {}) });
    }
    const { summary, listed } = summarizeHost({ ip, results, hostnames: [], startedAt: 't0', finishedAt: 't1' });
    summaries.push(summary);
    rows.push(...listed);
  }
  return { id, createdAt: `${id}-created`, portSet, hosts: summaries, ports: rows };
}

const ssh = (banner: string): ServiceInfo => ({ name: 'ssh', product: 'OpenSSH', version: banner.split('_')[1] ?? '', banner, method: 'probed' });
const http: ServiceInfo = { name: 'http', product: 'nginx', method: 'probed', http: { status: 200, server: 'nginx', title: 'Home' } };

describe('comparePortScans', () => {
  it('identical scans have no host differences', () => {
    const a = side('a', '1-1024', { '10.0.0.1': { rest: 'closed', ports: { 22: ['open', ssh('SSH-2.0-OpenSSH_9.6')] } }, '10.0.0.2': { rest: 'filtered' } });
    const b = side('b', '1-1024', { '10.0.0.1': { rest: 'closed', ports: { 22: ['open', ssh('SSH-2.0-OpenSSH_9.6')] } }, '10.0.0.2': { rest: 'filtered' } });
    const diff = comparePortScans(a, b);
    expect(diff.hosts).toEqual([]);
    expect(diff.summary).toEqual({ hostsAppeared: 0, hostsDisappeared: 0, hostsChanged: 0, newlyOpen: 0, newlyClosed: 0, stateChanges: 0, serviceChanges: 0, notScanned: 0 });
    expect(diff.portsOnlyInA).toBe('');
    expect(diff.portsOnlyInB).toBe('');
    expect(diff.a).toEqual({ id: 'a', createdAt: 'a-created', portSet: '1-1024' });
  });

  it.each<{ name: string; a: HostSpec; b: HostSpec; expect: Record<string, unknown> }>([
    {
      name: 'newly open: closed (summarised in extraPorts) → open',
      a: { rest: 'closed', ports: { 22: 'open' } },
      b: { rest: 'closed', ports: { 22: 'open', 443: 'open' } },
      expect: { newlyOpen: [{ port: 443, from: 'closed', to: 'open' }] },
    },
    {
      name: 'newly open: filtered → open',
      a: { rest: 'filtered' },
      b: { rest: 'filtered', ports: { 3389: 'open' } },
      expect: { status: { from: 'no-response', to: 'up' }, newlyOpen: [{ port: 3389, from: 'filtered', to: 'open' }] },
    },
    {
      name: 'newly closed: open → closed via extraPorts',
      a: { rest: 'closed', ports: { 22: 'open', 23: 'open' } },
      b: { rest: 'closed', ports: { 22: 'open' } },
      expect: { newlyClosed: [{ port: 23, from: 'open', to: 'closed' }] },
    },
    {
      name: 'open → filtered counts as newly closed',
      a: { rest: 'closed', ports: { 80: 'open' } },
      b: { rest: 'closed', ports: { 80: 'filtered' } },
      expect: { newlyClosed: [{ port: 80, from: 'open', to: 'filtered' }] },
    },
    {
      name: 'closed → filtered is a state change',
      a: { rest: 'filtered', ports: { 25: 'closed' } },
      b: { rest: 'filtered' },
      expect: { status: { from: 'up', to: 'no-response' }, stateChanges: [{ port: 25, from: 'closed', to: 'filtered' }] },
    },
    {
      name: 'filtered → closed is a state change',
      a: { rest: 'closed', ports: { 25: 'filtered' } },
      b: { rest: 'closed' },
      expect: { stateChanges: [{ port: 25, from: 'filtered', to: 'closed' }] },
    },
    {
      name: 'service banner change on a port open on both sides',
      a: { rest: 'closed', ports: { 22: ['open', ssh('SSH-2.0-OpenSSH_8.9')] } },
      b: { rest: 'closed', ports: { 22: ['open', ssh('SSH-2.0-OpenSSH_9.6')] } },
      expect: { serviceChanges: [{ port: 22, fields: ['version', 'banner'], from: ssh('SSH-2.0-OpenSSH_8.9'), to: ssh('SSH-2.0-OpenSSH_9.6') }] },
    },
    {
      name: 'HTTP title change',
      a: { rest: 'closed', ports: { 80: ['open', http] } },
      b: { rest: 'closed', ports: { 80: ['open', { ...http, http: { status: 200, server: 'nginx', title: 'Login' } }] } },
      expect: { serviceChanges: [expect.objectContaining({ port: 80, fields: ['http.title'] })] },
    },
    {
      name: 'the host stops answering: its open ports become filtered',
      a: { rest: 'closed', ports: { 443: 'open' } },
      b: { rest: 'filtered' },
      expect: {
        status: { from: 'up', to: 'no-response' },
        newlyClosed: [{ port: 443, from: 'open', to: 'filtered' }],
        extraPorts: { from: 'closed', to: 'filtered', count: 101 },
      },
    },
  ])('$name', ({ a, b, expect: expected }) => {
    const diff = comparePortScans(side('a', '1-100,443,3389', { '10.0.0.1': a }), side('b', '1-100,443,3389', { '10.0.0.1': b }));
    expect(diff.hosts).toHaveLength(1);
    const host = diff.hosts[0];
    expect(host).toMatchObject({
      ip: '10.0.0.1',
      change: 'changed',
      newlyOpen: [],
      newlyClosed: [],
      stateChanges: [],
      serviceChanges: [],
      notScanned: { inA: [], inB: [] },
      ...expected,
    });
    if (!('status' in expected)) expect(host?.status).toBeUndefined();
    if (!('extraPorts' in expected)) expect(host?.extraPorts).toBeUndefined();
  });

  it('carries the service seen where the port was open', () => {
    const a = side('a', '1-100', { '10.0.0.1': { rest: 'closed' } });
    const b = side('b', '1-100', { '10.0.0.1': { rest: 'closed', ports: { 80: ['open', http] } } });
    expect(comparePortScans(a, b).hosts[0]?.newlyOpen).toEqual([{ port: 80, from: 'closed', to: 'open', service: http }]);
    expect(comparePortScans(b, a).hosts[0]?.newlyClosed).toEqual([{ port: 80, from: 'open', to: 'closed', service: http }]);
  });

  describe('not scanned is never closed', () => {
    // A scanned 1-1024 only; B also scanned 8080, which is open. 8080 was not scanned in A, so it is
    // reported under notScanned.inA and NOT as newly open.
    const a = side('a', '1-1024', { '10.0.0.1': { rest: 'closed', ports: { 22: 'open' } } });
    const b = side('b', '1-1024,8080', { '10.0.0.1': { rest: 'closed', ports: { 22: 'open', 8080: 'open' } } });

    it('a port open in B outside A\'s port set is notScanned.inA, not newlyOpen', () => {
      const diff = comparePortScans(a, b);
      expect(diff.portsOnlyInB).toBe('8080');
      expect(diff.portsOnlyInA).toBe('');
      expect(diff.hosts).toEqual([
        { ip: '10.0.0.1', change: 'changed', newlyOpen: [], newlyClosed: [], stateChanges: [], serviceChanges: [], notScanned: { inA: [8080], inB: [] } },
      ]);
      expect(diff.summary).toMatchObject({ hostsChanged: 1, newlyOpen: 0, newlyClosed: 0, notScanned: 1 });
    });

    it('the other way round it is notScanned.inB, not newlyClosed', () => {
      const diff = comparePortScans(b, a);
      expect(diff.portsOnlyInA).toBe('8080');
      expect(diff.hosts[0]?.notScanned).toEqual({ inA: [], inB: [8080] });
      expect(diff.summary).toMatchObject({ newlyOpen: 0, newlyClosed: 0, notScanned: 1 });
    });

    it('a closed port outside the other side\'s port set is no difference', () => {
      const c = side('c', '1-1024,8080', { '10.0.0.1': { rest: 'closed', ports: { 22: 'open', 8080: 'filtered' } } });
      expect(comparePortScans(a, c).hosts).toEqual([]);
      expect(comparePortScans(c, a).hosts).toEqual([]);
    });
  });

  it('host appeared and disappeared: open ports were not scanned on the other side', () => {
    const a = side('a', '1-100', { '10.0.0.1': { rest: 'closed' }, '10.0.0.9': { rest: 'closed', ports: { 21: 'open' } } });
    const b = side('b', '1-100', { '10.0.0.1': { rest: 'closed' }, '10.0.0.3': { rest: 'closed', ports: { 22: 'open', 80: 'open' } } });
    const diff = comparePortScans(a, b);
    expect(diff.hosts.map((h) => [h.ip, h.change])).toEqual([
      ['10.0.0.3', 'appeared'],
      ['10.0.0.9', 'disappeared'],
    ]);
    expect(diff.hosts[0]?.notScanned).toEqual({ inA: [22, 80], inB: [] });
    expect(diff.hosts[1]?.notScanned).toEqual({ inA: [], inB: [21] });
    expect(diff.summary).toMatchObject({ hostsAppeared: 1, hostsDisappeared: 1, hostsChanged: 0, newlyOpen: 0, newlyClosed: 0, notScanned: 3 });
  });

  it('a host that did not answer on the only side it appears on is not reported', () => {
    const a = side('a', '1-100', {});
    const b = side('b', '1-100', { '10.0.0.5': { rest: 'filtered' } });
    expect(comparePortScans(a, b).hosts).toEqual([]);
    expect(comparePortScans(b, a).hosts).toEqual([]);
  });

  it('a port scanned but neither listed nor covered by extraPorts is unknown', () => {
    // One open port keeps a's closed ports listed (10 is under the threshold and the host has an open port).
    const a = side('a', '1-10', { '10.0.0.1': { rest: 'closed', ports: { 3: 'open' } } });
    const b: ScanSide = {
      id: 'b',
      createdAt: 'b',
      portSet: '1-10',
      // Broken data: status says up, no extraPorts, and only port 5 listed.
      hosts: [{ ip: '10.0.0.1', hostnames: [], status: 'up', counts: { open: 1, closed: 0, filtered: 0 }, startedAt: 't', finishedAt: 't' }],
      ports: [{ ip: '10.0.0.1', port: 5, protocol: 'tcp', state: 'open', reason: 'syn-ack' }],
    };
    const diff = comparePortScans(b, a);
    // 5 is listed in b (open) and in a (closed, listed because 10 ports is under the threshold).
    expect(diff.hosts[0]?.newlyClosed).toEqual([{ port: 5, from: 'open', to: 'closed' }]);
    expect(diff.hosts[0]?.stateChanges.map((c) => [c.port, c.from, c.to])).toEqual(
      [1, 2, 3, 4, 6, 7, 8, 9, 10].map((p) => [p, 'unknown', p === 3 ? 'open' : 'closed']),
    );
  });

  it('hosts come in numeric address order, IPv4 before IPv6', () => {
    const hosts: Record<string, HostSpec> = {};
    for (const ip of ['10.0.0.10', '2001:db8::1', '10.0.0.9', '9.255.255.255', '2001:db8::a', '10.0.0.100']) hosts[ip] = { rest: 'closed', ports: { 22: 'open' } };
    const diff = comparePortScans(side('a', '1-30', {}), side('b', '1-30', hosts));
    expect(diff.hosts.map((h) => h.ip)).toEqual(['9.255.255.255', '10.0.0.9', '10.0.0.10', '10.0.0.100', '2001:db8::1', '2001:db8::a']);
  });

  it('reports the port sets scanned by one side only, canonically', () => {
    const diff = comparePortScans(side('a', '1-1024,3306', {}), side('b', '1-100,443,8000-8100', {}));
    expect(diff.portsOnlyInA).toBe('101-442,444-1024,3306');
    expect(diff.portsOnlyInB).toBe('8000-8100');
  });

  it('scales with listed rows, not with scanned ports', () => {
    // 2,000 hosts × 65,535 ports would be 131M port states; the diff only looks at listed rows.
    const hostsA: HostSummary[] = [];
    const hostsB: HostSummary[] = [];
    const rowsA: PortResult[] = [];
    const rowsB: PortResult[] = [];
    for (let i = 0; i < 2000; i++) {
      const ip = `10.1.${i >> 8}.${i & 255}`;
      const h: HostSummary = {
        ip,
        hostnames: [],
        status: 'up',
        counts: { open: 1, closed: 0, filtered: 65534 },
        extraPorts: { state: 'filtered', count: 65534, reasons: { 'no-response': 65534 } },
        startedAt: 't',
        finishedAt: 't',
      };
      hostsA.push(h);
      hostsB.push(h);
      rowsA.push({ ip, port: 443, protocol: 'tcp', state: 'open', reason: 'syn-ack' });
      rowsB.push({ ip, port: i % 2 === 0 ? 443 : 8443, protocol: 'tcp', state: 'open', reason: 'syn-ack' });
    }
    const started = performance.now();
    const diff = comparePortScans(
      { id: 'a', createdAt: 'a', portSet: '1-65535', hosts: hostsA, ports: rowsA },
      { id: 'b', createdAt: 'b', portSet: '1-65535', hosts: hostsB, ports: rowsB },
    );
    expect(performance.now() - started).toBeLessThan(2000);
    expect(diff.summary).toMatchObject({ hostsChanged: 1000, newlyOpen: 1000, newlyClosed: 1000 });
  });
});

describe('serviceDifferences', () => {
  const base: ServiceInfo = {
    name: 'https',
    product: 'nginx',
    version: '1.25',
    method: 'probed',
    tls: { version: 'TLSv1.3', subject: 'CN=a', subjectAltNames: ['a', 'b'], notAfter: '2026-01-01' },
  };
  it.each<[string, ServiceInfo, ServiceInfo, string[]]>([
    ['same', base, { ...base, tls: { ...base.tls, subjectAltNames: ['a', 'b'] } }, []],
    ['product', base, { ...base, product: 'Apache httpd' }, ['product']],
    ['certificate renewed', base, { ...base, tls: { ...base.tls, notAfter: '2027-01-01' } }, ['tls.notAfter']],
    ['SAN list', base, { ...base, tls: { ...base.tls, subjectAltNames: ['a'] } }, ['tls.subjectAltNames']],
    ['TLS gone', base, { name: 'https', product: 'nginx', version: '1.25', method: 'probed' }, ['tls']],
    ['HTTP appeared', base, { ...base, http: { status: 200 } }, ['http']],
    ['table lookups are not compared', { name: 'http-alt', method: 'table' }, base, []],
    ['both table', { name: 'http-alt', method: 'table' }, { name: 'http', method: 'table' }, []],
  ])('%s', (_name, a, b, fields) => {
    expect(serviceDifferences(a, b)).toEqual(fields);
  });
});
