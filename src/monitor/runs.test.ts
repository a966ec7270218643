import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { buildConfig } from '../config/index.js';
import { createMetrics } from '../metrics/index.js';
import { createLogger, createRuntime, type Runtime } from '../runtime/index.js';
import { staticResolver } from '../scope/index.js';
import { assessment, chain, endpoint, fakeTlsEngine } from '../testing/assessments.js';
import { TEST_DIALECTS, openTestDatabase, type TestDatabase } from '../testing/databases.js';
import type { NormalizedTarget } from './model.js';
import { earliestCertExpiry, noteAssessment, runDueTargets } from './runs.js';

const T0 = new Date('2026-11-21T12:00:00.000Z');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const tls = (host: string, extra: Partial<NormalizedTarget> = {}): NormalizedTarget => ({
  kind: 'tls',
  value: host,
  port: 443,
  ports: null,
  labels: {},
  schedule: null,
  specified: { ports: false, labels: false, schedule: false },
  ...extra,
});
const block = (cidr: string, ports: string): NormalizedTarget => ({ ...tls(cidr), kind: 'ports', port: 0, ports });

describe.each(TEST_DIALECTS)('scheduled runs on %s', (dialect) => {
  let db: TestDatabase | undefined;
  const runtimes: Runtime[] = [];
  afterEach(async () => {
    for (const r of runtimes.splice(0)) await r.close();
    await db?.cleanup();
    db = undefined;
  });

  async function runtime(database: TestDatabase, monitor: Record<string, unknown> = {}): Promise<Runtime> {
    const config = buildConfig({}, { logLevel: 'silent', monitor: { defaultSchedule: { everySeconds: 86_400 }, jitterSeconds: 0, scanBatchSize: 2, ...monitor } });
    const r = await createRuntime(config, {
      database,
      logger: createLogger(config),
      metrics: createMetrics({ defaultMetrics: false }),
      resolver: staticResolver({ 'a.test': ['127.0.0.1'], 'b.test': ['127.0.0.2'], 'c.test': ['127.0.0.3'] }),
      tlsEngine: fakeTlsEngine().engine,
    });
    runtimes.push(r);
    return r;
  }

  const count = async (table: string): Promise<number> => Number((await sql<{ n: number }>`select count(*) as n from ${sql.table(table)}`.execute((db as TestDatabase).db)).rows[0]?.n);

  it('submits due TLS targets in scans of scanBatchSize and address targets as port scans, then schedules the next run', async () => {
    db = await openTestDatabase(dialect);
    const r = await runtime(db);
    await r.store.targets.upsertMany([tls('a.test'), tls('b.test'), tls('c.test', { schedule: { everySeconds: 3600 } }), block('127.0.0.0/30', '22,80')], T0.toISOString());
    const outcome = await runDueTargets(r, { now: new Date(T0.getTime() + 1000) });
    expect(outcome).toMatchObject({ submitted: 4, failed: 0 });
    expect(outcome.tlsScans).toHaveLength(2);
    expect(outcome.portScans).toHaveLength(1);
    const scan = await r.store.tlsAssessments.getScan(outcome.tlsScans[0] as string);
    expect(scan?.targets).toEqual([{ host: 'a.test', port: 443 }, { host: 'b.test', port: 443 }]);
    const portScan = await r.store.portScans.get(outcome.portScans[0] as string);
    expect(portScan).toMatchObject({ targets: ['127.0.0.0/30'], ports: '22,80' });

    const { items } = await r.store.targets.list({ limit: 10, offset: 0 });
    const byValue = new Map(items.map((t) => [t.value, t]));
    expect(byValue.get('a.test')).toMatchObject({ lastRunAt: new Date(T0.getTime() + 1000).toISOString(), nextRunAt: new Date(T0.getTime() + 1000 + DAY).toISOString(), lastScanId: outcome.tlsScans[0] });
    expect(byValue.get('c.test')?.nextRunAt).toBe(new Date(T0.getTime() + 1000 + HOUR).toISOString());
    // Nothing is due again before then.
    expect((await runDueTargets(r, { now: new Date(T0.getTime() + 2 * 1000) })).submitted).toBe(0);
  });

  it('runs a target that missed many runs during downtime once, and computes its next run from now', async () => {
    db = await openTestDatabase(dialect);
    const r = await runtime(db, { defaultSchedule: { everySeconds: 3600 } });
    await r.store.targets.upsertMany([tls('a.test')], T0.toISOString());
    const later = new Date(T0.getTime() + 10 * DAY);
    expect((await runDueTargets(r, { now: later })).submitted).toBe(1);
    expect((await runDueTargets(r, { now: new Date(later.getTime() + 60_000) })).submitted).toBe(0);
    expect((await r.store.targets.list({ limit: 1, offset: 0 })).items[0]?.nextRunAt).toBe(new Date(later.getTime() + HOUR).toISOString());
  });

  it('lets only one of several processes submit each due target', async () => {
    db = await openTestDatabase(dialect);
    const [one, two] = [await runtime(db), await runtime(db)] as [Runtime, Runtime];
    await one.store.targets.upsertMany(['a.test', 'b.test', 'c.test'].map((h) => tls(h)).concat([block('127.0.0.8/30', '22')]), T0.toISOString());
    const now = new Date(T0.getTime() + 1000);
    const [x, y] = await Promise.all([runDueTargets(one, { now }), runDueTargets(two, { now })]);
    expect(x.submitted + y.submitted).toBe(4);
    expect(await count('tls_scans')).toBe(x.tlsScans.length + y.tlsScans.length);
    const scans = await one.store.tlsAssessments.listScans({ limit: 10, offset: 0 });
    expect(scans.items.flatMap((s) => s.targets).map((t) => t.host).sort()).toEqual(['a.test', 'b.test', 'c.test']);
    expect(await count('port_scans')).toBe(1);
  });

  it('spreads periodic runs with jitter but never delays an expiry rescan', async () => {
    db = await openTestDatabase(dialect);
    const r = await runtime(db, { jitterSeconds: 600 });
    await r.store.targets.upsertMany([tls('a.test')], T0.toISOString());
    await runDueTargets(r, { now: T0, random: () => 0.5 });
    expect((await r.store.targets.list({ limit: 1, offset: 0 })).items[0]?.nextRunAt).toBe(new Date(T0.getTime() + DAY + 300_000).toISOString());
  });

  it('notes certificate expiry from each assessment and brings the next run forward to the expiry rescan', async () => {
    db = await openTestDatabase(dialect);
    const r = await runtime(db, { defaultSchedule: { everySeconds: 30 * 86_400 }, expiryRescanDays: 7 });
    await r.store.targets.upsertMany([tls('a.test')], T0.toISOString());
    await runDueTargets(r, { now: new Date() });
    const expires = new Date(Date.now() + 10 * DAY).toISOString();
    const a = assessment({ host: 'a.test', endpoints: [endpoint({ certificates: [chain({ earliestExpiry: expires })] })] });
    expect(earliestCertExpiry(a)).toBe(expires);
    await noteAssessment(r)({ host: 'a.test', port: 443 }, a);
    const [target] = (await r.store.targets.list({ limit: 1, offset: 0 })).items;
    expect(target?.certExpiresAt).toBe(expires);
    expect(target?.nextRunAt).toBe(new Date(Date.parse(expires) - 7 * DAY).toISOString());
  });

  it('leaves a target due at the next tick when its scan cannot be submitted', async () => {
    db = await openTestDatabase(dialect);
    const r = await runtime(db, { tickSeconds: 30 });
    await r.store.targets.upsertMany([tls('a.test')], T0.toISOString());
    await r.queue.close();
    const outcome = await runDueTargets(r, { now: T0 });
    expect(outcome).toMatchObject({ submitted: 0, failed: 1 });
    expect((await r.store.targets.list({ limit: 1, offset: 0 })).items[0]?.nextRunAt).toBe(new Date(T0.getTime() + 30_000).toISOString());
    expect(await count('tls_scans')).toBe(0);
  });
});
