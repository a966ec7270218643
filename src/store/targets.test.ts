import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NormalizedTarget } from '../monitor/model.js';
import { TEST_DIALECTS, openTestDatabase, type TestDatabase } from '../testing/databases.js';
import { type TargetRepository, createTargetRepository } from './targets.js';

const T0 = '2026-07-01T10:00:00.000Z';
const T1 = '2026-07-01T11:00:00.000Z';
const T2 = '2026-07-01T12:00:00.000Z';
const ALL = { ports: true, labels: true, schedule: true };
const NONE = { ports: false, labels: false, schedule: false };

function tls(value: string, overrides: Partial<NormalizedTarget> = {}): NormalizedTarget {
  return { kind: 'tls', value, port: 443, ports: null, labels: {}, schedule: null, specified: ALL, ...overrides };
}

function block(value: string, overrides: Partial<NormalizedTarget> = {}): NormalizedTarget {
  return { kind: 'ports', value, port: 0, ports: 'top-100', labels: {}, schedule: null, specified: ALL, ...overrides };
}

describe.each(TEST_DIALECTS)('target repository on %s', (dialect) => {
  let db: TestDatabase;
  let repo: TargetRepository;

  beforeEach(async () => {
    db = await openTestDatabase(dialect);
    repo = createTargetRepository(db);
  });
  afterEach(async () => {
    await db.cleanup();
  });

  it('adds new targets due at once, then reports identical ones as duplicates and changed ones as updated', async () => {
    const first = await repo.upsertMany([tls('a.example.com', { labels: { owner: 'alice' } }), block('192.0.2.0/24')], T0);
    expect(first.map((r) => r.outcome)).toEqual(['added', 'added']);
    expect(first[0]?.target).toMatchObject({ kind: 'tls', value: 'a.example.com', port: 443, labels: { owner: 'alice' }, createdAt: T0, nextRunAt: T0, lastRunAt: null });
    expect(await repo.get(first[0]?.target.id as string)).toEqual(first[0]?.target);

    const second = await repo.upsertMany(
      [
        tls('a.example.com', { labels: { owner: 'alice' } }),
        tls('a.example.com', { labels: { team: 'web' } }),
        block('192.0.2.0/24', { ports: '22,80' }),
        tls('b.example.com'),
        tls('b.example.com', { labels: { owner: 'bob' } }),
      ],
      T1,
    );
    expect(second.map((r) => r.outcome)).toEqual(['duplicate', 'duplicate', 'updated', 'added', 'duplicate']);
    // A repeat within the same file changes nothing: the first occurrence wins.
    expect(second[1]?.target.labels).toEqual({ owner: 'alice' });
    expect(second[2]?.target).toMatchObject({ id: first[1]?.target.id, ports: '22,80', updatedAt: T1, nextRunAt: T0 });
    expect(second[4]?.target.id).toBe(second[3]?.target.id);
    expect((await repo.list({ limit: 10, offset: 0 })).total).toBe(3);
  });

  it('changes on import only the fields the line gave, merging labels', async () => {
    const [added] = await repo.upsertMany([block('192.0.2.7', { labels: { owner: 'alice', env: 'prod' }, schedule: { everySeconds: 3600 } })], T0);
    const [unchanged] = await repo.upsertMany([block('192.0.2.7', { ports: 'top-1000', specified: NONE })], T1);
    expect(unchanged).toMatchObject({ outcome: 'duplicate', target: { ports: 'top-100', schedule: { everySeconds: 3600 } } });
    const [merged] = await repo.upsertMany([block('192.0.2.7', { labels: { env: 'staging', team: 'ops' }, specified: { ports: false, labels: true, schedule: false } })], T1);
    expect(merged).toMatchObject({ outcome: 'updated', target: { id: added?.target.id, labels: { env: 'staging', owner: 'alice', team: 'ops' }, schedule: { everySeconds: 3600 } } });
    const [sameLabels] = await repo.upsertMany([block('192.0.2.7', { labels: { owner: 'alice' }, specified: { ports: false, labels: true, schedule: false } })], T2);
    expect(sameLabels?.outcome).toBe('duplicate');
  });

  it('dry-runs an import: the same outcomes, nothing stored', async () => {
    await repo.upsertMany([tls('a.example.com')], T0);
    const preview = await repo.upsertMany([tls('a.example.com'), tls('b.example.com'), tls('a.example.com', { labels: { owner: 'x' } })], T1, { dryRun: true });
    expect(preview.map((r) => r.outcome)).toEqual(['duplicate', 'added', 'duplicate']);
    expect((await repo.list({ limit: 10, offset: 0 })).items.map((t) => t.value)).toEqual(['a.example.com']);
    expect((await repo.upsertMany([tls('a.example.com', { labels: { owner: 'x' } })], T1, { dryRun: true }))[0]?.outcome).toBe('updated');
    expect((await repo.findTls('a.example.com', 443))[0]?.labels).toEqual({});
  });

  it('imports thousands of targets in one call', async () => {
    const items = Array.from({ length: 2500 }, (_, i) => tls(`host-${i}.example.com`));
    const results = await repo.upsertMany(items, T0);
    expect(results.filter((r) => r.outcome === 'added')).toHaveLength(2500);
    expect((await repo.upsertMany(items, T1)).every((r) => r.outcome === 'duplicate')).toBe(true);
    expect((await repo.list({ limit: 1, offset: 0 })).total).toBe(2500);
  });

  it('creates targets all or none and refuses one that exists', async () => {
    const created = await repo.create([tls('a.example.com'), tls('a.example.com', { port: 8443 })], T0);
    expect(created.map((t) => t.port)).toEqual([443, 8443]);
    await expect(repo.create([tls('new.example.com'), tls('a.example.com', { port: 8443 })], T1)).rejects.toMatchObject({ code: 'conflict', detail: { id: created[1]?.id } });
    expect((await repo.list({ limit: 10, offset: 0 })).items.map((t) => t.value)).toEqual(['a.example.com', 'a.example.com']);
  });

  it('lists by kind, by every given label (in SQL) and by a case-insensitive substring of the value', async () => {
    await repo.upsertMany(
      [
        tls('app.example.com', { labels: { owner: 'alice', team: 'web' } }),
        tls('api.example.com', { labels: { owner: 'alice', team: 'api' } }),
        tls('mail.example.org', { labels: { owner: 'bob' } }),
        block('192.0.2.0/24', { labels: { owner: 'alice' } }),
        tls('under_score%.example.com'),
      ],
      T0,
    );
    const values = async (filter: Parameters<TargetRepository['list']>[0]) => (await repo.list(filter)).items.map((t) => t.value);
    expect(await values({ labels: { owner: 'alice' }, limit: 10, offset: 0 })).toEqual(['192.0.2.0/24', 'api.example.com', 'app.example.com']);
    expect(await values({ labels: { owner: 'alice', team: 'web' }, limit: 10, offset: 0 })).toEqual(['app.example.com']);
    expect(await values({ labels: { owner: 'alice', team: 'nobody' }, limit: 10, offset: 0 })).toEqual([]);
    expect(await values({ labels: { 'team.name': 'x' }, limit: 10, offset: 0 })).toEqual([]);
    expect(await values({ kind: 'ports', limit: 10, offset: 0 })).toEqual(['192.0.2.0/24']);
    expect(await values({ q: 'EXAMPLE.COM', kind: 'tls', limit: 10, offset: 0 })).toEqual(['api.example.com', 'app.example.com', 'under_score%.example.com']);
    // LIKE wildcards in q are literal.
    expect(await values({ q: '_score%', limit: 10, offset: 0 })).toEqual(['under_score%.example.com']);
    expect(await values({ q: 'e_a', limit: 10, offset: 0 })).toEqual([]);
    const page = await repo.list({ labels: { owner: 'alice' }, limit: 2, offset: 2 });
    expect(page).toMatchObject({ total: 3, items: [{ value: 'app.example.com' }] });
  });

  it('updates labels, schedule and ports with PATCH semantics and deletes', async () => {
    const [created] = await repo.create([block('192.0.2.7', { labels: { owner: 'alice', env: 'prod' }, schedule: { cron: '0 3 * * *' } })], T0);
    const id = created?.id as string;
    const patched = await repo.update(id, { labels: { owner: 'bob' }, schedule: null, ports: '22' }, T1);
    expect(patched).toMatchObject({ labels: { owner: 'bob' }, schedule: null, ports: '22', updatedAt: T1, createdAt: T0 });
    expect(await repo.get(id)).toEqual(patched);
    expect(await repo.update(id, { schedule: { everySeconds: 600 } }, T2)).toMatchObject({ labels: { owner: 'bob' }, schedule: { everySeconds: 600 } });
    expect(await repo.update('missing', { labels: {} }, T2)).toBeUndefined();
    expect(await repo.delete(id)).toBe(true);
    expect(await repo.delete(id)).toBe(false);
    expect(await repo.get(id)).toBeUndefined();
  });

  it('gives the scheduler due targets oldest first and lets exactly one claimer win', async () => {
    const [a, b, c] = await repo.create([tls('a.example.com'), tls('b.example.com'), tls('c.example.com')], T0);
    await repo.setNextRun(a?.id as string, T1);
    await repo.setNextRun(c?.id as string, null);
    expect((await repo.due(T0, 10)).map((t) => t.id)).toEqual([b?.id]);
    expect((await repo.due(T2, 10)).map((t) => t.id)).toEqual([b?.id, a?.id]);
    expect((await repo.due(T2, 1)).map((t) => t.id)).toEqual([b?.id]);

    const claims = await Promise.all(
      [1, 2, 3, 4].map((n) => repo.claimRun(b?.id as string, T0, { nextRunAt: T2, lastRunAt: T1, lastScanId: `scan-${n}` })),
    );
    expect(claims.filter(Boolean)).toHaveLength(1);
    const claimed = await repo.get(b?.id as string);
    expect(claimed).toMatchObject({ nextRunAt: T2, lastRunAt: T1, lastScanId: `scan-${claims.indexOf(true) + 1}` });
    // A stale expectation loses.
    expect(await repo.claimRun(b?.id as string, T0, { nextRunAt: T2, lastRunAt: T1 })).toBe(false);
    expect(await repo.claimRun(c?.id as string, null, { nextRunAt: T2, lastRunAt: T1 })).toBe(true);
    expect(await repo.get(c?.id as string)).toMatchObject({ nextRunAt: T2, lastScanId: null });
  });

  it('finds the TLS targets of host:port and notes their certificate expiry', async () => {
    await repo.create([tls('a.example.com'), tls('a.example.com', { port: 8443 }), block('192.0.2.7')], T0);
    expect((await repo.findTls('a.example.com', 8443)).map((t) => t.port)).toEqual([8443]);
    expect(await repo.findTls('a.example.com', 993)).toEqual([]);
    const noted = await repo.noteCertExpiry('a.example.com', 443, '2026-09-01T00:00:00.000Z');
    expect(noted.map((t) => [t.port, t.certExpiresAt])).toEqual([[443, '2026-09-01T00:00:00.000Z']]);
    expect((await repo.findTls('a.example.com', 8443))[0]?.certExpiresAt).toBeNull();
    expect(await repo.noteCertExpiry('192.0.2.7', 0, T0)).toEqual([]);
  });

  it('reports a corrupt labels column as an internal error naming the target', async () => {
    const [created] = await repo.create([tls('a.example.com')], T0);
    await sql`update targets set labels = '[1' where id = ${created?.id}`.execute(db.db);
    await expect(repo.get(created?.id as string)).rejects.toMatchObject({ code: 'internal', message: expect.stringContaining(`labels of target ${created?.id}`) });
  });
});
