/**
 * The queries behind the executive summary (src/monitor/report.ts builds it from what they return).
 *
 * Cost model, for stores with 100,000+ assessments: the latest assessment per host:port is found by
 * `max(finished_at) … group by host, port` over the (host, port, finished_at) index (an index-only
 * scan, no document read), then joined back on that index for the summary columns, whose endpoint
 * digest (grades, expiry, findings: a few hundred bytes) is all the report reads; the full `assessment`
 * JSON (~20 KB) is read only for rows stored before the digest had those fields. Port changes compare
 * at most PORT_CHANGE_HOST_LIMIT addresses.
 */
import { type Kysely, type Selectable, sql } from 'kysely';
import type { LabelFilter } from '../monitor/model.js';
import {
  type ReportAssessmentInput,
  type ReportFilters,
  type ReportInput,
  type ReportPortTargetInput,
  type ReportTlsTargetInput,
  reportEndpoints,
} from '../monitor/report.js';
import type { ScanSide } from '../portscan/compare.js';
import { PortcullisError } from '../shared/errors.js';
import type { Assessment, Grade } from '../tls/model.js';
import type { DatabaseHandle } from './db.js';
import { createPortScanRepository, hostFromRow } from './port-scans.js';
import type { Database, ScanHostsTable } from './schema.js';
import type { EndpointDigest, TlsTables } from './tls-assessments.js';

export interface ReportRepository {
  /** Everything buildReport needs for these filters, as of `now`. */
  reportInput(filters: ReportFilters, now?: Date): Promise<ReportInput>;
}

/** Addresses (over all port targets) whose port states are compared for `changes`. */
export const PORT_CHANGE_HOST_LIMIT = 4096;
/** Ids per `in (…)` list: well under both dialects' parameter limits, and few documents in memory at once. */
const CHUNK = 500;

type Db = Kysely<Database & TlsTables>;
type ErrorValue = { code: string; message: string };

interface InventoryTarget {
  kind: string;
  value: string;
  port: number;
  labels: Record<string, string>;
  lastScanId: string | null;
}

interface LatestRow {
  id: string;
  host: string;
  port: number;
  engine: string;
  finishedAt: string;
  grade: Grade | null;
  /** JSON EndpointDigest[]. */
  endpoints: string;
}

const key = (host: string, port: number): string => `${host} ${port}`;

function parseJson<T>(raw: string, place: string): T {
  try {
    return JSON.parse(raw) as T;
  } catch (err) {
    throw new PortcullisError('internal', `stored ${place} is not valid JSON: ${(err as Error).message}`);
  }
}

function matchesLabels(labels: Record<string, string>, filter: LabelFilter): boolean {
  return Object.entries(filter).every(([k, v]) => labels[k] === v);
}

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

export function createReportRepository(handle: DatabaseHandle): ReportRepository {
  const db: Db = handle.db.withTables<TlsTables>();
  const portScans = createPortScanRepository(handle);

  async function inventory(): Promise<InventoryTarget[]> {
    const rows = await db.selectFrom('targets').select(['id', 'kind', 'value', 'port', 'labels', 'last_scan_id']).execute();
    return rows.map((r) => ({
      kind: r.kind,
      value: r.value,
      port: Number(r.port),
      labels: parseJson<Record<string, string>>(r.labels, `labels of target ${r.id}`),
      lastScanId: r.last_scan_id,
    }));
  }

  /**
   * The newest assessment per host:port finished in [from, to] (either bound optional; `before` makes
   * the upper bound exclusive). With `inventoryOnly`, only host:ports that are TLS targets.
   */
  async function latestPerTarget(window: { from: string | null; to: string | null; before: string | null }, inventoryOnly: boolean): Promise<Map<string, LatestRow>> {
    let times = db.selectFrom('tls_assessments').select(['host', 'port']).select((eb) => eb.fn.max('finished_at').as('latest'));
    if (window.from !== null) times = times.where('finished_at', '>=', window.from);
    if (window.to !== null) times = times.where('finished_at', '<=', window.to);
    if (window.before !== null) times = times.where('finished_at', '<', window.before);
    let query = db
      .selectFrom(times.groupBy(['host', 'port']).as('m'))
      .innerJoin('tls_assessments as a', (join) => join.onRef('a.host', '=', 'm.host').onRef('a.port', '=', 'm.port').onRef('a.finished_at', '=', 'm.latest'))
      .select(['a.id', 'a.host', 'a.port', 'a.engine', 'a.finished_at', 'a.grade', 'a.endpoints']);
    if (inventoryOnly) {
      query = query.where(({ exists, selectFrom }) =>
        exists(selectFrom('targets as t').select('t.id').where('t.kind', '=', 'tls').whereRef('t.value', '=', 'm.host').whereRef('t.port', '=', 'm.port')),
      );
    }
    const latest = new Map<string, LatestRow>();
    for (const r of await query.execute()) {
      const row: LatestRow = { id: r.id, host: r.host, port: Number(r.port), engine: r.engine, finishedAt: r.finished_at, grade: r.grade as Grade | null, endpoints: r.endpoints };
      const k = key(row.host, row.port);
      const seen = latest.get(k);
      // Two engines (engine=both) can finish at the same instant: prefer the native one, then the newer id.
      if (seen === undefined || (seen.engine !== 'native' && row.engine === 'native') || (seen.engine === row.engine && row.id > seen.id)) latest.set(k, row);
    }
    return latest;
  }

  /**
   * The report's view of each latest assessment: its endpoints from the stored digest, or — for rows
   * stored before the digest carried expiry and findings — from the full document, chunk by chunk.
   */
  async function assessments(latest: readonly LatestRow[]): Promise<Map<string, ReportAssessmentInput>> {
    const out = new Map<string, ReportAssessmentInput>();
    const byId = new Map(latest.map((r) => [r.id, r]));
    const needDocument: string[] = [];
    for (const r of latest) {
      const digest = parseJson<EndpointDigest[]>(r.endpoints, `endpoints of TLS assessment ${r.id}`);
      if (digest.every((e) => e.findings !== undefined)) out.set(r.id, { id: r.id, engine: r.engine, finishedAt: r.finishedAt, endpoints: digest as Array<Required<EndpointDigest>> });
      else needDocument.push(r.id);
    }
    for (const ids of chunks(needDocument)) {
      for (const row of await db.selectFrom('tls_assessments').select(['id', 'assessment']).where('id', 'in', ids).execute()) {
        const summary = byId.get(row.id)!;
        const document = parseJson<Assessment>(row.assessment, `document of TLS assessment ${row.id}`);
        out.set(row.id, { id: row.id, engine: summary.engine, finishedAt: summary.finishedAt, endpoints: reportEndpoints(document) });
      }
    }
    return out;
  }

  /** Why the targets' last TLS scans could not assess them: per-target errors, or the whole scan failed. */
  async function tlsScanErrors(targets: readonly InventoryTarget[]): Promise<Map<string, ErrorValue & { at: string }>> {
    const scanIds = [...new Set(targets.map((t) => t.lastScanId).filter((id): id is string => id !== null))];
    const targetErrors = new Map<string, ErrorValue & { at: string }>();
    const failedScans = new Map<string, ErrorValue & { at: string }>();
    for (const ids of chunks(scanIds)) {
      const [rows, scans] = await Promise.all([
        db.selectFrom('tls_scan_targets').select(['scan_id', 'host', 'port', 'error', 'finished_at']).where('scan_id', 'in', ids).where('error', 'is not', null).execute(),
        db.selectFrom('tls_scans').select(['id', 'error', 'finished_at', 'created_at']).where('id', 'in', ids).where('status', '=', 'failed').execute(),
      ]);
      for (const r of rows) targetErrors.set(`${r.scan_id} ${key(r.host, Number(r.port))}`, { ...parseJson<ErrorValue>(r.error!, `error of ${r.host}:${r.port} in TLS scan ${r.scan_id}`), at: r.finished_at });
      for (const s of scans) failedScans.set(s.id, { ...scanError(s.error, `TLS scan ${s.id}`), at: s.finished_at ?? s.created_at });
    }
    const out = new Map<string, ErrorValue & { at: string }>();
    for (const t of targets) {
      if (t.lastScanId === null) continue;
      const error = targetErrors.get(`${t.lastScanId} ${key(t.value, t.port)}`) ?? failedScans.get(t.lastScanId);
      if (error !== undefined) out.set(key(t.value, t.port), error);
    }
    return out;
  }

  async function portTargets(targets: readonly InventoryTarget[], since: string | null, notes: string[]): Promise<ReportPortTargetInput[]> {
    const scanIds = [...new Set(targets.map((t) => t.lastScanId).filter((id): id is string => id !== null))];
    const scans = new Map<string, { id: string; status: string; createdAt: string; finishedAt: string | null; portSet: string; error: string | null }>();
    for (const ids of chunks(scanIds)) {
      const rows = await db.selectFrom('port_scans').select(['id', 'status', 'created_at', 'finished_at', 'port_set', 'error']).where('id', 'in', ids).execute();
      for (const r of rows) scans.set(r.id, { id: r.id, status: r.status, createdAt: r.created_at, finishedAt: r.finished_at, portSet: r.port_set, error: r.error });
    }
    let budget = PORT_CHANGE_HOST_LIMIT;
    const out: ReportPortTargetInput[] = [];
    for (const t of targets) {
      const scan = t.lastScanId === null ? undefined : scans.get(t.lastScanId);
      const failed = scan?.status === 'failed' ? { ...scanError(scan.error, `port scan ${scan.id}`), at: scan.finishedAt ?? scan.createdAt } : null;
      const entry: ReportPortTargetInput = { target: t.value, labels: t.labels, scanError: failed, comparisons: [] };
      out.push(entry);
      if (since === null || scan === undefined || scan.status !== 'done' || scan.finishedAt === null || scan.finishedAt < since) continue;
      if (budget <= 0) {
        notes.push(`port changes were compared for the first ${PORT_CHANGE_HOST_LIMIT} addresses only; ${t.value} and later port targets were not compared`);
        budget = -Infinity;
        continue;
      }
      const hosts = await db.selectFrom('scan_hosts').selectAll().where('scan_id', '=', scan.id).orderBy('ip_key').orderBy('ip').limit(budget + 1).execute();
      if (hosts.length > budget) notes.push(`port changes of ${t.value} were compared for its first ${budget} addresses only`);
      const compared = hosts.slice(0, budget);
      budget -= compared.length;
      entry.comparisons = await comparisons({ id: scan.id, createdAt: scan.createdAt, portSet: scan.portSet }, compared, since);
    }
    return out;
  }

  /** Pairs (latest scan before `since` → current scan) per group of addresses sharing the same earlier scan. */
  async function comparisons(current: { id: string; createdAt: string; portSet: string }, hosts: Array<Selectable<ScanHostsTable>>, since: string): Promise<Array<{ before: ScanSide; after: ScanSide }>> {
    const earlier = new Map<string, string[]>();
    for (const ips of chunks(hosts.map((h) => h.ip))) {
      // The newest finished scan of each address before `since`: one row per address via row_number().
      const rows = await sql<{ ip: string; scan_id: string }>`
        select ip, scan_id from (
          select sh.ip, sh.scan_id, row_number() over (partition by sh.ip order by ps.finished_at desc, ps.id desc) as rn
          from scan_hosts sh join port_scans ps on ps.id = sh.scan_id
          where sh.ip in (${sql.join(ips)}) and ps.status = 'done' and ps.finished_at < ${since} and ps.id <> ${current.id}
        ) ranked where rn = 1`.execute(db);
      for (const r of rows.rows) {
        let group = earlier.get(r.scan_id);
        if (!group) earlier.set(r.scan_id, (group = []));
        group.push(r.ip);
      }
    }
    const pairs: Array<{ before: ScanSide; after: ScanSide }> = [];
    const currentHosts = new Map(hosts.map((h) => [h.ip, hostFromRow(h)]));
    for (const [scanId, ips] of earlier) {
      const scan = await db.selectFrom('port_scans').select(['created_at', 'port_set']).where('id', '=', scanId).executeTakeFirstOrThrow();
      const beforeHosts = await db.selectFrom('scan_hosts').selectAll().where('scan_id', '=', scanId).where('ip', 'in', ips).execute();
      pairs.push({
        before: { id: scanId, createdAt: scan.created_at, portSet: scan.port_set, hosts: beforeHosts.map(hostFromRow), ports: await portScans.ports(scanId, ips) },
        after: { ...current, hosts: ips.map((ip) => currentHosts.get(ip)!), ports: await portScans.ports(current.id, ips) },
      });
    }
    return pairs;
  }

  return {
    async reportInput(filters: ReportFilters, now: Date = new Date()): Promise<ReportInput> {
      const notes: string[] = [];
      const all = await inventory();
      const scope = all.some((t) => t.kind === 'tls') ? 'inventory' : 'assessed';
      const selected = all.filter((t) => matchesLabels(t.labels, filters.labels));
      const inventoryOnly = scope === 'inventory';

      const latest = await latestPerTarget({ from: filters.since, to: filters.until, before: null }, inventoryOnly);
      const before = filters.since === null ? new Map<string, LatestRow>() : await latestPerTarget({ from: null, to: null, before: filters.since }, inventoryOnly);

      // Inventory: its TLS targets with the labels asked for. Without one: every host:port assessed in
      // the window, which carry no labels, so a label filter matches none of them.
      const tlsList: InventoryTarget[] = inventoryOnly
        ? selected.filter((t) => t.kind === 'tls')
        : Object.keys(filters.labels).length > 0
          ? []
          : [...latest.values()].map((r) => ({ kind: 'tls', value: r.host, port: r.port, labels: {}, lastScanId: null }));
      if (!inventoryOnly) notes.push('the inventory has no TLS target: the report covers every assessed host:port');

      const wanted = tlsList.map((t) => latest.get(key(t.value, t.port))).filter((r): r is LatestRow => r !== undefined);
      const documents = await assessments(wanted);
      const scanErrors = await tlsScanErrors(tlsList);

      const tlsTargets = tlsList
        .map((t): ReportTlsTargetInput => {
          const k = key(t.value, t.port);
          const row = latest.get(k);
          const previous = before.get(k);
          const scanError = scanErrors.get(k);
          return {
            host: t.value,
            port: t.port,
            labels: t.labels,
            latest: row === undefined ? null : (documents.get(row.id) ?? null),
            before: previous === undefined ? null : { grade: previous.grade, finishedAt: previous.finishedAt },
            // A scan error older than the latest assessment has been superseded by it.
            scanError: scanError !== undefined && (row === undefined || scanError.at > row.finishedAt) ? scanError : null,
          };
        })
        .sort((a, b) => a.host.localeCompare(b.host) || a.port - b.port);

      return {
        generatedAt: now.toISOString(),
        filters,
        scope,
        tlsTargets,
        portTargets: await portTargets(
          selected.filter((t) => t.kind === 'ports'),
          filters.since,
          notes,
        ),
        notes,
      };
    },
  };
}

function scanError(raw: string | null, place: string): ErrorValue {
  return raw === null ? { code: 'scan.failed', message: `${place} failed` } : parseJson<ErrorValue>(raw, `error of ${place}`);
}
