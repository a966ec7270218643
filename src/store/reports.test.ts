import { afterEach, describe, expect, it } from 'vitest';
import type { ReportFilters } from '../monitor/report.js';
import type { HostSummary, PortResult } from '../shared/model.js';
import { timeOrderedId } from '../shared/ids.js';
import { assessment, chain, endpoint, tls12OnlyEndpoint, unreachableEndpoint } from '../testing/assessments.js';
import { TEST_DIALECTS, type TestDatabase, openTestDatabase } from '../testing/databases.js';
import type { EndpointAssessment } from '../tls/model.js';
import { createPortScanRepository } from './port-scans.js';
import { type ReportRepository, createReportRepository } from './reports.js';
import { type TlsAssessmentRepository, type TlsTables, createTlsAssessmentRepository } from './tls-assessments.js';
import type { PortScanRepository } from './types.js';

const NOW = new Date('2026-07-01T00:00:00.000Z');
const at = (day: string): string => `2026-${day}T12:00:00.000Z`;
const FILTERS: ReportFilters = { labels: {}, since: null, until: null, expiringWithinDays: 90 };

describe.each(TEST_DIALECTS)('report queries on %s', (dialect) => {
  let t: TestDatabase | undefined;
  let tls: TlsAssessmentRepository;
  let ports: PortScanRepository;
  let reports: ReportRepository;
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
  });
  async function open(): Promise<void> {
    t = await openTestDatabase(dialect);
    tls = createTlsAssessmentRepository(t);
    ports = createPortScanRepository(t);
    reports = createReportRepository(t);
  }

  /** Stores an assessment of host:port finished at `finishedAt`, through a TLS scan of its own; returns the scan id. */
  async function assessed(host: string, port: number, finishedAt: string, endpoints: EndpointAssessment[]): Promise<string> {
    const scanId = timeOrderedId();
    await tls.createScan({ id: scanId, hosts: [host], targets: [{ host, port }], options: {}, createdAt: finishedAt });
    await tls.saveAssessment(scanId, { host, port }, assessment({ host, port, startedAt: finishedAt, finishedAt, endpoints }), finishedAt);
    await tls.finish(scanId, { status: 'done', at: finishedAt });
    return scanId;
  }

  async function addTarget(kind: 'tls' | 'ports', value: string, port: number, labels: Record<string, string>, lastScanId: string | null = null): Promise<void> {
    await t!.db
      .insertInto('targets')
      .values({
        id: timeOrderedId(),
        kind,
        value,
        port,
        ports: kind === 'ports' ? '1-1024' : null,
        labels: JSON.stringify(labels),
        schedule: null,
        created_at: at('01-01'),
        updated_at: at('01-01'),
        next_run_at: null,
        last_run_at: null,
        last_scan_id: lastScanId,
        cert_expires_at: null,
      })
      .execute();
  }

  it('reads the endpoint digest instead of the whole document, and the document for rows stored before the digest had expiry and findings', async () => {
    await open();
    await assessed('new.test', 443, at('06-20'), [endpoint({ ip: '10.0.0.1' })]);
    await assessed('old.test', 443, at('06-20'), [endpoint({ ip: '10.0.0.2' })]);
    // new.test: a document the report must not need; old.test: a digest as stored before (grades only).
    const db = t!.db.withTables<TlsTables>();
    await db.updateTable('tls_assessments').set({ assessment: '{"not":"read"}' }).where('host', '=', 'new.test').execute();
    await db
      .updateTable('tls_assessments')
      .set({ endpoints: JSON.stringify([{ ip: '10.0.0.2', status: 'ready', grade: 'A', gradeTrustIgnored: 'A' }]) })
      .where('host', '=', 'old.test')
      .execute();
    const input = await reports.reportInput(FILTERS, NOW);
    const latest = new Map(input.tlsTargets.map((x) => [x.host, x.latest?.endpoints[0]]));
    expect(latest.get('new.test')).toMatchObject({ ip: '10.0.0.1', leafExpiry: '2026-12-31T23:59:59.000Z', findings: [{ id: 'cbc-suites' }] });
    expect(latest.get('old.test')).toMatchObject({ ip: '10.0.0.2', leafExpiry: '2026-12-31T23:59:59.000Z', findings: [{ id: 'cbc-suites' }] });
  });

  it('without an inventory covers every assessed host:port, from its latest assessment only', async () => {
    await open();
    await assessed('app.test', 443, at('05-01'), [tls12OnlyEndpoint({ ip: '10.0.0.1' })]);
    await assessed('app.test', 443, at('06-20'), [endpoint({ ip: '10.0.0.1' }), endpoint({ ip: '10.0.0.2', grade: 'B', gradeTrustIgnored: 'B' })]);
    await assessed('app.test', 8443, at('06-21'), [unreachableEndpoint('10.0.0.1')]);

    const input = await reports.reportInput(FILTERS, NOW);
    expect(input.scope).toBe('assessed');
    expect(input.notes.join()).toMatch(/inventory has no TLS target/);
    expect(input.generatedAt).toBe(NOW.toISOString());
    expect(input.tlsTargets.map((x) => [x.host, x.port, x.latest?.finishedAt, x.latest?.endpoints.map((e) => e.grade)])).toEqual([
      ['app.test', 443, at('06-20'), ['A', 'B']],
      ['app.test', 8443, at('06-21'), [null]],
    ]);
    // The document's certificate and findings reach the report.
    expect(input.tlsTargets[0]!.latest!.endpoints[0]).toMatchObject({ leafExpiry: '2026-12-31T23:59:59.000Z', findings: [{ id: 'cbc-suites' }] });
    expect(input.tlsTargets[1]!.latest!.endpoints[0]).toMatchObject({ status: 'error', error: { code: 'connection-refused' } });
    // A label filter cannot match host:ports that have no labels.
    expect((await reports.reportInput({ ...FILTERS, labels: { team: 'web' } }, NOW)).tlsTargets).toEqual([]);
  });

  it('with an inventory covers its TLS targets matching every label asked for, assessed or not, and nothing else', async () => {
    await open();
    await addTarget('tls', 'web.test', 443, { team: 'web', env: 'prod' });
    await addTarget('tls', 'staging.test', 443, { team: 'web', env: 'staging' });
    await addTarget('tls', 'db.test', 5432, { team: 'db', env: 'prod' });
    await addTarget('tls', 'new.test', 443, { team: 'web', env: 'prod' });
    await assessed('web.test', 443, at('06-01'), [endpoint()]);
    await assessed('staging.test', 443, at('06-01'), [endpoint()]);
    await assessed('db.test', 5432, at('06-01'), [endpoint()]);
    await assessed('not-in-inventory.test', 443, at('06-01'), [endpoint()]);

    const all = await reports.reportInput(FILTERS, NOW);
    expect(all.scope).toBe('inventory');
    expect(all.tlsTargets.map((x) => `${x.host}:${x.port}`)).toEqual(['db.test:5432', 'new.test:443', 'staging.test:443', 'web.test:443']);

    const prodWeb = await reports.reportInput({ ...FILTERS, labels: { team: 'web', env: 'prod' } }, NOW);
    expect(prodWeb.tlsTargets.map((x) => [x.host, x.labels, x.latest === null])).toEqual([
      ['new.test', { team: 'web', env: 'prod' }, true],
      ['web.test', { team: 'web', env: 'prod' }, false],
    ]);
  });

  it('reads the latest assessment inside since/until, and the latest before `since` as the baseline of changes', async () => {
    await open();
    await assessed('app.test', 443, at('03-01'), [endpoint({ grade: 'C', gradeTrustIgnored: 'C' })]);
    await assessed('app.test', 443, at('05-01'), [endpoint({ grade: 'B', gradeTrustIgnored: 'B' })]);
    await assessed('app.test', 443, at('06-10'), [endpoint({ grade: 'A', gradeTrustIgnored: 'A' })]);
    await assessed('app.test', 443, at('06-25'), [endpoint({ grade: 'F', gradeTrustIgnored: 'F' })]);
    await assessed('old.test', 443, at('04-01'), [endpoint()]);

    const window = await reports.reportInput({ ...FILTERS, since: at('06-01'), until: at('06-20') }, NOW);
    const app = window.tlsTargets.find((x) => x.host === 'app.test')!;
    expect(app.latest?.finishedAt).toBe(at('06-10'));
    expect(app.latest?.endpoints[0]?.grade).toBe('A');
    expect(app.before).toEqual({ grade: 'B', finishedAt: at('05-01') });
    // Assessed only before the window: not part of a report without an inventory.
    expect(window.tlsTargets.map((x) => x.host)).toEqual(['app.test']);

    const latest = await reports.reportInput(FILTERS, NOW);
    expect(latest.tlsTargets.find((x) => x.host === 'app.test')?.latest?.finishedAt).toBe(at('06-25'));
    expect(latest.tlsTargets.every((x) => x.before === null)).toBe(true);
  });

  it('takes certificate expiry from every chain of the latest document', async () => {
    await open();
    const intermediateFirst = chain({ leafExpiry: '2026-12-01T00:00:00.000Z', earliestExpiry: '2026-07-05T00:00:00.000Z' });
    await assessed('app.test', 443, at('06-20'), [endpoint({ certificates: [chain(), intermediateFirst] })]);
    const input = await reports.reportInput(FILTERS, NOW);
    expect(input.tlsTargets[0]!.latest!.endpoints[0]).toMatchObject({ leafExpiry: '2026-12-01T00:00:00.000Z', earliestExpiry: '2026-07-05T00:00:00.000Z' });
  });

  it("reports a target whose last scan could not assess it, unless a newer assessment superseded the error", async () => {
    await open();
    const failing = timeOrderedId();
    await tls.createScan({ id: failing, hosts: ['gone.test', 'back.test'], targets: [{ host: 'gone.test', port: 443 }, { host: 'back.test', port: 443 }], options: {}, createdAt: at('06-01') });
    const unresolvable = (host: string) => ({ error: { code: 'target.unresolvable', message: `${host} does not resolve` } });
    await tls.recordTarget(failing, { host: 'gone.test', port: 443 }, unresolvable('gone.test'), at('06-01'));
    await tls.recordTarget(failing, { host: 'back.test', port: 443 }, unresolvable('back.test'), at('06-01'));
    await assessed('back.test', 443, at('06-02'), [endpoint()]);
    await addTarget('tls', 'gone.test', 443, {}, failing);
    await addTarget('tls', 'back.test', 443, {}, failing);

    const input = await reports.reportInput(FILTERS, NOW);
    expect(input.tlsTargets.map((x) => [x.host, x.scanError])).toEqual([
      ['back.test', null],
      ['gone.test', { code: 'target.unresolvable', message: 'gone.test does not resolve', at: at('06-01') }],
    ]);
  });

  describe('port targets', () => {
    const host = (ip: string, open: number, finishedAt: string): HostSummary => ({
      ip,
      hostnames: [],
      status: 'up',
      counts: { open, closed: 1024 - open, filtered: 0 },
      extraPorts: { state: 'closed', count: 1024 - open, reasons: { 'conn-refused': 1024 - open } },
      startedAt: finishedAt,
      finishedAt,
    });
    const openPort = (ip: string, port: number): PortResult => ({ ip, port, protocol: 'tcp', state: 'open', reason: 'syn-ack' });

    async function portScan(finishedAt: string, openPorts: Record<string, number[]>, status: 'done' | 'failed' = 'done'): Promise<string> {
      const id = timeOrderedId();
      await ports.create({
        id,
        targets: ['192.0.2.0/30'],
        exclude: [],
        ports: '1-1024',
        portSet: '1-1024',
        portCount: 1024,
        options: {},
        plan: { ranges: [{ family: 4, start: '3221225984', end: '3221225987' }], hostnames: {}, addressCount: 4 },
        addressCount: 4,
        createdAt: finishedAt,
      });
      await ports.saveHosts(
        id,
        Object.entries(openPorts).map(([ip, list]) => ({ host: host(ip, list.length, finishedAt), ports: list.map((p) => openPort(ip, p)) })),
      );
      await ports.finish(id, status === 'done' ? { status, at: finishedAt } : { status, at: finishedAt, error: { code: 'scan.failed', message: 'worker lost' } });
      return id;
    }

    it('compares per address the latest scan with the latest one finished before `since`', async () => {
      await open();
      await portScan(at('04-01'), { '192.0.2.1': [22], '192.0.2.2': [25] });
      await portScan(at('05-01'), { '192.0.2.1': [22, 80], '192.0.2.2': [25] });
      const latest = await portScan(at('06-20'), { '192.0.2.1': [22, 443], '192.0.2.2': [25, 3306] });
      await addTarget('ports', '192.0.2.0/30', 0, { team: 'net' }, latest);

      const input = await reports.reportInput({ ...FILTERS, since: at('06-01') }, NOW);
      expect(input.portTargets).toHaveLength(1);
      const [target] = input.portTargets;
      expect(target!.comparisons.map((c) => [c.before.createdAt, c.after.id, c.before.hosts.map((h) => h.ip)])).toEqual([[at('05-01'), latest, ['192.0.2.1', '192.0.2.2']]]);
      expect(target!.comparisons[0]!.before.ports.map((p) => `${p.ip}:${p.port}`)).toEqual(['192.0.2.1:22', '192.0.2.1:80', '192.0.2.2:25']);
      expect(target!.comparisons[0]!.after.ports.map((p) => `${p.ip}:${p.port}`)).toEqual(['192.0.2.1:22', '192.0.2.1:443', '192.0.2.2:25', '192.0.2.2:3306']);

      // Without `since` nothing is compared; another label filter leaves the target out.
      expect((await reports.reportInput(FILTERS, NOW)).portTargets[0]!.comparisons).toEqual([]);
      expect((await reports.reportInput({ ...FILTERS, labels: { team: 'web' } }, NOW)).portTargets).toEqual([]);
    });

    it('reports a port target whose last scan failed', async () => {
      await open();
      const failed = await portScan(at('06-20'), {}, 'failed');
      await addTarget('ports', '198.51.100.0/24', 0, {}, failed);
      const input = await reports.reportInput({ ...FILTERS, since: at('06-01') }, NOW);
      expect(input.portTargets).toEqual([{ target: '198.51.100.0/24', labels: {}, scanError: { code: 'scan.failed', message: 'worker lost', at: at('06-20') }, comparisons: [] }]);
    });
  });
});
