import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { timeOrderedId } from '../shared/ids.js';
import { TEST_DIALECTS, openTestDatabase, type TestDatabase } from '../testing/databases.js';
import { assessment, endpoint, tls12OnlyEndpoint, unreachableEndpoint } from '../testing/assessments.js';
import { type TlsAssessmentRepository, createTlsAssessmentRepository } from './tls-assessments.js';

const APP = { host: 'app.test', port: 443 };
const HOUR_AGO = '2026-07-01T09:00:00.000Z';
const NOW = new Date('2026-07-01T10:00:00.000Z');

describe.each(TEST_DIALECTS)('TLS assessment repository on %s', (dialect) => {
  let db: TestDatabase;
  let repo: TlsAssessmentRepository;

  beforeEach(async () => {
    db = await openTestDatabase(dialect);
    repo = createTlsAssessmentRepository(db);
  });
  afterEach(async () => {
    await db.cleanup();
  });

  async function newScan(targets = [{ host: 'app.test', port: 443 }]) {
    return repo.createScan({ id: timeOrderedId(), hosts: targets.map((t) => `${t.host}:${t.port}`), targets, options: {}, createdAt: new Date().toISOString() });
  }

  it('creates, lists newest first, runs and finishes a scan', async () => {
    const first = await newScan();
    const second = await newScan([
      { host: 'app.test', port: 443 },
      { host: '::1', port: 8443 },
    ]);
    expect(second).toMatchObject({ status: 'queued', progress: { done: 0, total: 2 }, targets: [{ host: 'app.test', port: 443 }, { host: '::1', port: 8443 }] });
    const page = await repo.listScans({ limit: 10, offset: 0 });
    expect(page.total).toBe(2);
    expect(page.items.map((s) => s.id)).toEqual([second.id, first.id]);

    await repo.markRunning(first.id, '2026-07-01T10:00:00.000Z');
    await repo.markRunning(first.id, '2026-07-01T10:05:00.000Z');
    expect(await repo.getScan(first.id)).toMatchObject({ status: 'running', startedAt: '2026-07-01T10:00:00.000Z' });
    expect((await repo.listScans({ status: 'running', limit: 10, offset: 0 })).items.map((s) => s.id)).toEqual([first.id]);
    expect(await repo.finish(first.id, { status: 'cancelled', at: '2026-07-01T10:01:00.000Z' })).toBe(true);
    // A scan that already ended keeps its outcome.
    expect(await repo.finish(first.id, { status: 'done', at: '2026-07-01T10:02:00.000Z' })).toBe(false);
    expect(await repo.getScan(first.id)).toMatchObject({ status: 'cancelled', finishedAt: '2026-07-01T10:01:00.000Z' });
  });

  it('saves an assessment once per scan and target: a retried save replaces it and keeps its id', async () => {
    const scan = await newScan();
    const saved = await repo.saveAssessment(scan.id, APP, assessment({ endpoints: [endpoint(), tls12OnlyEndpoint({ ip: '::1' })] }), '2026-07-01T10:00:01.000Z');
    expect(saved).toMatchObject({ scanId: scan.id, host: 'app.test', port: 443, grade: 'A-', engine: 'native', criteriaVersion: '2009r' });
    expect(saved.endpoints).toEqual([
      { ip: '127.0.0.1', status: 'ready', grade: 'A', gradeTrustIgnored: 'A' },
      { ip: '::1', status: 'ready', grade: 'A-', gradeTrustIgnored: 'A-' },
    ]);
    const again = await repo.saveAssessment(scan.id, APP, assessment({ endpoints: [endpoint()] }), '2026-07-01T10:00:02.000Z');
    expect(again.id).toBe(saved.id);
    expect(again.grade).toBe('A');

    const history = await repo.history('app.test', { limit: 10, offset: 0 });
    expect(history.total).toBe(1);
    expect((await repo.getScan(scan.id))?.progress).toEqual({ done: 1, total: 1 });
    const full = await repo.getAssessment(saved.id);
    expect(full?.assessment).toEqual(assessment({ endpoints: [endpoint()] }));
    expect(await repo.getAssessment('no-such-id')).toBeUndefined();
  });

  it('refuses to save into a scan that does not exist', async () => {
    await expect(repo.saveAssessment('missing', APP, assessment(), NOW.toISOString())).rejects.toMatchObject({ code: 'not-found' });
  });

  it('records reused and failed targets and reports every target in the scan order', async () => {
    const earlier = await newScan();
    const reused = await repo.saveAssessment(earlier.id, APP, assessment(), HOUR_AGO);
    const scan = await newScan([
      { host: 'app.test', port: 443 },
      { host: 'gone.test', port: 443 },
      { host: '127.0.0.1', port: 8443 },
    ]);
    await repo.saveAssessment(scan.id, { host: '127.0.0.1', port: 8443 }, assessment({ host: '127.0.0.1', port: 8443, sni: null }), NOW.toISOString());
    await repo.recordTarget(scan.id, { host: 'gone.test', port: 443 }, { error: { code: 'target.unresolvable', message: 'cannot resolve "gone.test"' } }, NOW.toISOString());
    await repo.recordTarget(scan.id, { host: 'app.test', port: 443 }, { reusedAssessmentId: reused.id }, NOW.toISOString());
    // Recording again (a retry) changes nothing.
    await repo.recordTarget(scan.id, { host: 'app.test', port: 443 }, { reusedAssessmentId: reused.id }, NOW.toISOString());

    const results = await repo.scanResults(scan.id);
    expect(results.map((r) => [r.host, r.port, r.cached, r.assessment?.id ?? null, r.error?.code ?? null])).toEqual([
      ['app.test', 443, true, reused.id, null],
      ['gone.test', 443, false, null, 'target.unresolvable'],
      ['127.0.0.1', 8443, false, results[2]!.assessment!.id, null],
    ]);
    expect((await repo.getScan(scan.id))?.progress).toEqual({ done: 3, total: 3 });
  });

  it('finds the freshest graded assessment within the max age, never a failed one', async () => {
    const scan = await newScan();
    const old = await repo.createScan({ id: timeOrderedId(), hosts: ['app.test'], targets: [{ host: 'app.test', port: 443 }], options: {}, createdAt: HOUR_AGO });
    await repo.saveAssessment(old.id, APP, assessment({ finishedAt: '2026-07-01T08:00:00.000Z' }), HOUR_AGO);
    const fresh = await repo.saveAssessment(scan.id, APP, assessment({ finishedAt: '2026-07-01T09:30:00.000Z' }), NOW.toISOString());
    const failed = await newScan();
    await repo.saveAssessment(failed.id, APP, assessment({ finishedAt: '2026-07-01T09:50:00.000Z', endpoints: [unreachableEndpoint('127.0.0.1')] }), NOW.toISOString());

    expect((await repo.latestFresh({ host: 'app.test', port: 443 }, 3600, NOW))?.id).toBe(fresh.id);
    expect((await repo.latestFresh({ host: 'app.test', port: 443 }, 3600, NOW))?.assessment.endpoints[0]?.grade).toBe('A');
    expect(await repo.latestFresh({ host: 'app.test', port: 443 }, 600, NOW)).toBeUndefined();
    expect(await repo.latestFresh({ host: 'app.test', port: 8443 }, 3600, NOW)).toBeUndefined();
    expect((await repo.latestFresh({ host: 'app.test', port: 443, sni: 'app.test' }, 3600, NOW))?.id).toBe(fresh.id);
    expect(await repo.latestFresh({ host: 'app.test', port: 443, sni: 'other.test' }, 3600, NOW)).toBeUndefined();
  });

  it('pages through the history of a host newest first, optionally for one port', async () => {
    const ids: string[] = [];
    for (const [port, finishedAt] of [
      [443, '2026-07-01T01:00:00.000Z'],
      [8443, '2026-07-01T02:00:00.000Z'],
      [443, '2026-07-01T03:00:00.000Z'],
    ] as const) {
      const scan = await newScan([{ host: 'app.test', port }]);
      ids.push((await repo.saveAssessment(scan.id, { host: 'app.test', port }, assessment({ port, finishedAt }), finishedAt)).id);
    }
    const all = await repo.history('app.test', { limit: 2, offset: 0 });
    expect(all.total).toBe(3);
    expect(all.items.map((a) => a.id)).toEqual([ids[2], ids[1]]);
    expect((await repo.history('app.test', { limit: 2, offset: 2 })).items.map((a) => a.id)).toEqual([ids[0]]);
    const https = await repo.history('app.test', { port: 443, limit: 10, offset: 0 });
    expect(https.items.map((a) => a.id)).toEqual([ids[2], ids[0]]);
    expect((await repo.history('other.test', { limit: 10, offset: 0 })).total).toBe(0);
  });

  it('deletes a scan with the assessments it ran, and other scans stop pointing at them', async () => {
    const scan = await newScan();
    const saved = await repo.saveAssessment(scan.id, APP, assessment(), NOW.toISOString());
    const reuser = await newScan();
    await repo.recordTarget(reuser.id, { host: 'app.test', port: 443 }, { reusedAssessmentId: saved.id }, NOW.toISOString());
    expect(await repo.deleteScan(scan.id)).toBe(true);
    expect(await repo.getScan(scan.id)).toBeUndefined();
    expect(await repo.getAssessment(saved.id)).toBeUndefined();
    expect(await repo.scanResults(reuser.id)).toEqual([]);
    expect(await repo.deleteScan(scan.id)).toBe(false);
  });
});
