import { type Kysely, type Selectable, type Transaction, sql } from 'kysely';
import type { LabelFilter, NormalizedTarget, Target, TargetKind, TargetSchedule } from '../monitor/model.js';
import { PortcullisError } from '../shared/errors.js';
import { timeOrderedId } from '../shared/ids.js';
import type { DatabaseHandle, Dialect } from './db.js';
import type { Database, TargetsTable } from './schema.js';

/** A normalised target to store; only the `specified` fields change an existing target (labels are merged, never removed). */
export type TargetUpsert = NormalizedTarget;

export type UpsertOutcome = 'added' | 'updated' | 'duplicate';

export interface UpsertResult {
  outcome: UpsertOutcome;
  target: Target;
}

export interface TargetFilter {
  kind?: TargetKind | undefined;
  /** Every label must match exactly. */
  labels?: LabelFilter | undefined;
  /** Substring of the value (host name, address), case-insensitive. */
  q?: string | undefined;
  limit: number;
  offset: number;
}

/** PATCH: labels replace the whole set; schedule null means the global default. */
export interface TargetPatch {
  labels?: Record<string, string> | undefined;
  schedule?: TargetSchedule | null | undefined;
  ports?: string | undefined;
}

export interface TargetRepository {
  /**
   * Adds or updates targets in one transaction, one result per item in order: `added` (scheduled at
   * once: next run = now), `updated` (ports, schedule or labels changed), `duplicate` (identical, or
   * the same target earlier in `items`). With `dryRun` the transaction is rolled back: the outcomes
   * an import would have, nothing stored.
   */
  upsertMany(items: readonly TargetUpsert[], now: string, options?: { dryRun?: boolean }): Promise<UpsertResult[]>;
  /** Adds new targets, all or none; conflict when any exists already. Scheduled at once. */
  create(items: readonly TargetUpsert[], now: string): Promise<Target[]>;
  get(id: string): Promise<Target | undefined>;
  /** Ordered by value, then port. */
  list(filter: TargetFilter): Promise<{ items: Target[]; total: number }>;
  /** Undefined when there is no such target. */
  update(id: string, patch: TargetPatch, now: string): Promise<Target | undefined>;
  delete(id: string): Promise<boolean>;
  /** The TLS targets of host:port. */
  findTls(host: string, port: number): Promise<Target[]>;
  /** Targets whose next run is at or before `now`, oldest first. */
  due(now: string, limit: number): Promise<Target[]>;
  /**
   * Compare-and-set of a target's run: true only when its next run still is `expectedNextRunAt`, so of
   * several processes seeing the same due target exactly one claims it.
   */
  claimRun(id: string, expectedNextRunAt: string | null, run: { nextRunAt: string | null; lastRunAt: string; lastScanId?: string | null | undefined }): Promise<boolean>;
  setNextRun(id: string, nextRunAt: string | null): Promise<void>;
  /** Sets the certificate expiry of the TLS targets of host:port and returns them. */
  noteCertExpiry(host: string, port: number, expiresAt: string | null): Promise<Target[]>;
}

/* ------------------------------------------------------------------------------------------------ */

type Row = Selectable<TargetsTable>;

const isObject = (v: unknown): boolean => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A JSON column as stored; a corrupt value becomes an error naming the target and column. */
function parseJsonColumn<T>(raw: string, place: string): T {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    throw new PortcullisError('internal', `stored ${place} is not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(value)) throw new PortcullisError('internal', `stored ${place} has an unexpected shape`);
  return value as T;
}

function targetFromRow(row: Row): Target {
  return {
    id: row.id,
    kind: row.kind as TargetKind,
    value: row.value,
    port: Number(row.port),
    ports: row.ports,
    labels: parseJsonColumn<Record<string, string>>(row.labels, `labels of target ${row.id}`),
    schedule: row.schedule === null ? null : parseJsonColumn<TargetSchedule>(row.schedule, `schedule of target ${row.id}`),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    nextRunAt: row.next_run_at,
    lastRunAt: row.last_run_at,
    lastScanId: row.last_scan_id,
    certExpiresAt: row.cert_expires_at,
  };
}

const identity = (t: { kind: string; value: string; port: number }): string => `${t.kind}\u0000${t.value}\u0000${t.port}`;

const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** Keys in a stable order, so identical label sets are stored (and compared) identically. */
function sortedLabels(labels: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The changes `item` makes to `existing`, or undefined when it changes nothing. */
function changesOf(existing: Target, item: TargetUpsert): Partial<Pick<Target, 'ports' | 'labels' | 'schedule'>> | undefined {
  const changes: Partial<Pick<Target, 'ports' | 'labels' | 'schedule'>> = {};
  if (item.specified.ports && item.ports !== existing.ports) changes.ports = item.ports;
  if (item.specified.schedule && !sameJson(item.schedule, existing.schedule)) changes.schedule = item.schedule;
  if (item.specified.labels) {
    const merged = sortedLabels({ ...existing.labels, ...item.labels });
    if (!sameJson(merged, sortedLabels(existing.labels))) changes.labels = merged;
  }
  return Object.keys(changes).length > 0 ? changes : undefined;
}

function newRow(item: TargetUpsert, now: string): TargetsTable {
  return {
    id: timeOrderedId(),
    kind: item.kind,
    value: item.value,
    port: item.port,
    ports: item.ports,
    labels: JSON.stringify(sortedLabels(item.labels)),
    schedule: item.schedule === null ? null : JSON.stringify(item.schedule),
    created_at: now,
    updated_at: now,
    // New targets are scanned on creation.
    next_run_at: now,
    last_run_at: null,
    last_scan_id: null,
    cert_expires_at: null,
  };
}

/** Rows per multi-row insert and values per `in` list: well under SQLite's and PostgreSQL's parameter limits. */
const CHUNK = 500;
const INSERT_CHUNK = 200;

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** `labels` holds the label `key` with exactly `value`; keys are validated names, passed as parameters anyway. */
function labelMatches(dialect: Dialect, key: string, value: string) {
  return dialect === 'postgres' ? sql<boolean>`(labels::jsonb ->> ${key}) = ${value}` : sql<boolean>`json_extract(labels, ${`$."${key}"`}) = ${value}`;
}

/** Thrown out of a dry-run transaction so that it rolls back, carrying what it would have done. */
class RolledBack {
  readonly results: UpsertResult[];
  constructor(results: UpsertResult[]) {
    this.results = results;
  }
}

/* ------------------------------------------------------------------------------------------------ */

export function createTargetRepository(handle: DatabaseHandle): TargetRepository {
  const { db, dialect } = handle;

  async function existingByIdentity(trx: Transaction<Database> | Kysely<Database>, items: readonly TargetUpsert[]): Promise<Map<string, Target>> {
    const found = new Map<string, Target>();
    const wanted = new Set(items.map(identity));
    for (const values of chunks([...new Set(items.map((i) => i.value))], CHUNK)) {
      for (const row of await trx.selectFrom('targets').selectAll().where('value', 'in', values).execute()) {
        const target = targetFromRow(row);
        if (wanted.has(identity(target))) found.set(identity(target), target);
      }
    }
    return found;
  }

  /** Inserts the rows that do not exist yet; returns the identities it inserted. */
  async function insertNew(trx: Transaction<Database>, rows: readonly TargetsTable[]): Promise<Set<string>> {
    const inserted = new Set<string>();
    for (const part of chunks(rows, INSERT_CHUNK)) {
      const done = await trx
        .insertInto('targets')
        .values(part)
        .onConflict((oc) => oc.columns(['kind', 'value', 'port']).doNothing())
        .returning(['kind', 'value', 'port'])
        .execute();
      for (const r of done) inserted.add(identity({ kind: r.kind, value: r.value, port: Number(r.port) }));
    }
    return inserted;
  }

  async function applyChanges(trx: Transaction<Database>, existing: Target, changes: Partial<Pick<Target, 'ports' | 'labels' | 'schedule'>>, now: string): Promise<Target> {
    const set: Partial<TargetsTable> = { updated_at: now };
    if ('ports' in changes) set.ports = changes.ports ?? null;
    if ('labels' in changes) set.labels = JSON.stringify(changes.labels);
    if ('schedule' in changes) set.schedule = changes.schedule == null ? null : JSON.stringify(changes.schedule);
    await trx.updateTable('targets').set(set).where('id', '=', existing.id).execute();
    return { ...existing, ...changes, updatedAt: now };
  }

  const selectTargets = () => db.selectFrom('targets').selectAll();

  return {
    async upsertMany(items: readonly TargetUpsert[], now: string, options: { dryRun?: boolean } = {}): Promise<UpsertResult[]> {
      const run = db.transaction().execute(async (trx) => {
        const existing = await existingByIdentity(trx, items);
        const firstIndex = new Map<string, number>();
        items.forEach((item, i) => firstIndex.set(identity(item), firstIndex.get(identity(item)) ?? i));
        const fresh = items.filter((item, i) => firstIndex.get(identity(item)) === i && !existing.has(identity(item)));
        const rows = new Map(fresh.map((item) => [identity(item), newRow(item, now)]));
        const inserted = await insertNew(trx, [...rows.values()]);
        // Rows another import inserted meanwhile are updated like any existing target.
        const raced = fresh.filter((item) => !inserted.has(identity(item)));
        for (const [key, target] of await existingByIdentity(trx, raced)) existing.set(key, target);

        const results: UpsertResult[] = [];
        const current = new Map<string, Target>();
        for (const [i, item] of items.entries()) {
          const key = identity(item);
          if (firstIndex.get(key) !== i) {
            results.push({ outcome: 'duplicate', target: current.get(key) as Target });
            continue;
          }
          const row = rows.get(key);
          if (row !== undefined && inserted.has(key)) {
            const target = targetFromRow(row);
            current.set(key, target);
            results.push({ outcome: 'added', target });
            continue;
          }
          const before = existing.get(key) as Target;
          const changes = changesOf(before, item);
          const target = changes === undefined ? before : await applyChanges(trx, before, changes, now);
          current.set(key, target);
          results.push({ outcome: changes === undefined ? 'duplicate' : 'updated', target });
        }
        if (options.dryRun === true) throw new RolledBack(results);
        return results;
      });
      return run.catch((err: unknown) => {
        if (err instanceof RolledBack) return err.results;
        throw err;
      });
    },

    async create(items: readonly TargetUpsert[], now: string): Promise<Target[]> {
      return db.transaction().execute(async (trx) => {
        const existing = await existingByIdentity(trx, items);
        const taken = items.find((item) => existing.has(identity(item)));
        if (taken !== undefined) {
          const target = existing.get(identity(taken)) as Target;
          throw new PortcullisError('conflict', `target ${target.kind === 'tls' ? `${target.value}:${target.port}` : target.value} exists already (id ${target.id}); change it with PATCH /api/v1/targets/${target.id}`, { value: target.value, id: target.id });
        }
        const rows = [...new Map(items.map((item) => [identity(item), newRow(item, now)])).values()];
        const inserted = await insertNew(trx, rows);
        if (inserted.size !== rows.length) throw new PortcullisError('conflict', 'a target was added at the same time by another request; try again');
        return rows.map(targetFromRow);
      });
    },

    async get(id: string): Promise<Target | undefined> {
      const row = await selectTargets().where('id', '=', id).executeTakeFirst();
      return row ? targetFromRow(row) : undefined;
    },

    async list(filter: TargetFilter): Promise<{ items: Target[]; total: number }> {
      let query = db.selectFrom('targets');
      if (filter.kind !== undefined) query = query.where('kind', '=', filter.kind);
      for (const [key, value] of Object.entries(filter.labels ?? {})) query = query.where(labelMatches(dialect, key, value));
      if (filter.q !== undefined && filter.q !== '') {
        const pattern = `%${filter.q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
        query = query.where(sql<boolean>`value like ${pattern} escape '\\'`);
      }
      const [rows, count] = await Promise.all([
        query.selectAll().orderBy('value').orderBy('port').orderBy('kind').limit(filter.limit).offset(filter.offset).execute(),
        query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
      ]);
      return { items: rows.map(targetFromRow), total: Number(count.n) };
    },

    async update(id: string, patch: TargetPatch, now: string): Promise<Target | undefined> {
      return db.transaction().execute(async (trx) => {
        const row = await trx.selectFrom('targets').selectAll().where('id', '=', id).executeTakeFirst();
        if (row === undefined) return undefined;
        const changes: Partial<Pick<Target, 'ports' | 'labels' | 'schedule'>> = {};
        if (patch.labels !== undefined) changes.labels = sortedLabels(patch.labels);
        if (patch.schedule !== undefined) changes.schedule = patch.schedule;
        if (patch.ports !== undefined) changes.ports = patch.ports;
        return applyChanges(trx, targetFromRow(row), changes, now);
      });
    },

    async delete(id: string): Promise<boolean> {
      const result = await db.deleteFrom('targets').where('id', '=', id).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },

    async findTls(host: string, port: number): Promise<Target[]> {
      const rows = await selectTargets().where('kind', '=', 'tls').where('value', '=', host).where('port', '=', port).execute();
      return rows.map(targetFromRow);
    },

    async due(now: string, limit: number): Promise<Target[]> {
      const rows = await selectTargets().where('next_run_at', '<=', now).orderBy('next_run_at').orderBy('id').limit(limit).execute();
      return rows.map(targetFromRow);
    },

    async claimRun(id, expectedNextRunAt, run): Promise<boolean> {
      const set: Partial<TargetsTable> = { next_run_at: run.nextRunAt, last_run_at: run.lastRunAt };
      if (run.lastScanId !== undefined) set.last_scan_id = run.lastScanId;
      const result = await db
        .updateTable('targets')
        .set(set)
        .where('id', '=', id)
        .where((eb) => (expectedNextRunAt === null ? eb('next_run_at', 'is', null) : eb('next_run_at', '=', expectedNextRunAt)))
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async setNextRun(id: string, nextRunAt: string | null): Promise<void> {
      await db.updateTable('targets').set({ next_run_at: nextRunAt }).where('id', '=', id).execute();
    },

    async noteCertExpiry(host: string, port: number, expiresAt: string | null): Promise<Target[]> {
      return db.transaction().execute(async (trx) => {
        await trx.updateTable('targets').set({ cert_expires_at: expiresAt }).where('kind', '=', 'tls').where('value', '=', host).where('port', '=', port).execute();
        const rows = await trx.selectFrom('targets').selectAll().where('kind', '=', 'tls').where('value', '=', host).where('port', '=', port).execute();
        return rows.map(targetFromRow);
      });
    },
  };
}
