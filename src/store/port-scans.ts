import { isIP } from 'node:net';
import { type Selectable, type Transaction, sql } from 'kysely';
import { PortcullisError } from '../shared/errors.js';
import type {
  HostSummary,
  PortReason,
  PortResult,
  PortScanOptions,
  PortState,
  ScanProgress,
  ScanStats,
  ScanStatus,
  ServiceInfo,
} from '../shared/model.js';
import type { SerializedPlan } from '../scope/index.js';
import type { DatabaseHandle } from './db.js';
import type { Database, PortResultsTable, PortScansTable, ScanHostPartsTable, ScanHostsTable } from './schema.js';
import type { HostEntry, HostPart, NewPortScan, PortScanFilter, PortScanRecord, PortScanRepository, PortScanTotals, ScanOutcome } from './types.js';

/* ------------------------------------------------------------------------------------------------
 * Helpers shared with hosts.ts (not re-exported from the store's index).
 * ---------------------------------------------------------------------------------------------- */

/**
 * Sortable text key of an IP literal: `4` + 8 hex digits for IPv4, `6` + 32 hex digits for IPv6
 * (lower case, zero padded). Equal-length hex strings compare the same under byte order and any
 * locale collation, so `ORDER BY ip_key` gives address order on both dialects, IPv4 first.
 * An IPv6 zone (`fe80::1%eth0`) is ignored by the key. Throws on anything that is not an IP literal.
 */
export function ipKey(ip: string): string {
  const family = isIP(ip);
  if (family === 4) {
    return '4' + ip.split('.').map((part) => Number(part).toString(16).padStart(2, '0')).join('');
  }
  if (family === 6) {
    let text = ip;
    const zone = text.indexOf('%');
    if (zone >= 0) text = text.slice(0, zone);
    // Embedded IPv4 tail (::ffff:1.2.3.4): turn it into two hex groups.
    const lastColon = text.lastIndexOf(':');
    const tail = text.slice(lastColon + 1);
    if (tail.includes('.')) {
      const b = tail.split('.').map(Number) as [number, number, number, number];
      text = `${text.slice(0, lastColon + 1)}${((b[0] << 8) | b[1]).toString(16)}:${((b[2] << 8) | b[3]).toString(16)}`;
    }
    const [head = '', rest] = text.split('::') as [string, string | undefined];
    const headGroups = head === '' ? [] : head.split(':');
    const tailGroups = rest === undefined || rest === '' ? [] : rest.split(':');
    const groups =
      rest === undefined ? headGroups : [...headGroups, ...new Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
    if (groups.length !== 8) throw new PortcullisError('internal', `cannot compute the sort key of address ${ip}`, { value: ip });
    return '6' + groups.map((g) => g.toLowerCase().padStart(4, '0')).join('');
  }
  throw new PortcullisError('internal', `not an IP address: ${JSON.stringify(ip)}`, { value: ip });
}

/**
 * Parses a JSON text column. A corrupt value becomes a PortcullisError naming the scan and the
 * column, instead of a bare SyntaxError surfacing far away.
 */
export function parseJsonColumn<T>(
  raw: string,
  where: { scanId: string; column: string; ip?: string; port?: number },
  check?: (value: unknown) => boolean,
): T {
  const place = `${where.column} of port scan ${where.scanId}${where.ip ? ` (host ${where.ip}${where.port !== undefined ? ` port ${where.port}` : ''})` : ''}`;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    throw new PortcullisError('internal', `stored ${place} is not valid JSON: ${(err as Error).message}`, {
      scanId: where.scanId,
      field: where.column,
      ...(where.ip ? { ip: where.ip } : {}),
    });
  }
  if (check && !check(value)) {
    throw new PortcullisError('internal', `stored ${place} has an unexpected shape`, {
      scanId: where.scanId,
      field: where.column,
      ...(where.ip ? { ip: where.ip } : {}),
    });
  }
  return value as T;
}

const isStringArray = (v: unknown): boolean => Array.isArray(v) && v.every((x) => typeof x === 'string');
const isObject = (v: unknown): boolean => typeof v === 'object' && v !== null && !Array.isArray(v);

function num(v: unknown): number {
  return typeof v === 'number' ? v : Number(v);
}

function optNum(v: unknown): number | undefined {
  return v === null || v === undefined ? undefined : Number(v);
}

export function hostFromRow(row: Selectable<ScanHostsTable>): HostSummary {
  const where = { scanId: row.scan_id, ip: row.ip };
  const host: HostSummary = {
    ip: row.ip,
    hostnames: parseJsonColumn<string[]>(row.hostnames, { ...where, column: 'hostnames' }, isStringArray),
    status: row.status as HostSummary['status'],
    counts: { open: num(row.open_count), closed: num(row.closed_count), filtered: num(row.filtered_count) },
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
  if (row.extra_state !== null) {
    host.extraPorts = {
      state: row.extra_state as Exclude<PortState, 'open'>,
      count: num(row.extra_count),
      reasons:
        row.extra_reasons === null
          ? {}
          : parseJsonColumn<Partial<Record<PortReason, number>>>(row.extra_reasons, { ...where, column: 'extra_reasons' }, isObject),
    };
  }
  const srtt = optNum(row.srtt_ms);
  if (srtt !== undefined) host.srttMs = srtt;
  return host;
}

function hostToRow(scanId: string, host: HostSummary): ScanHostsTable {
  return {
    scan_id: scanId,
    ip: host.ip,
    ip_key: ipKey(host.ip),
    hostnames: JSON.stringify(host.hostnames ?? []),
    status: host.status,
    open_count: host.counts.open,
    closed_count: host.counts.closed,
    filtered_count: host.counts.filtered,
    extra_state: host.extraPorts?.state ?? null,
    extra_count: host.extraPorts?.count ?? 0,
    extra_reasons: host.extraPorts ? JSON.stringify(host.extraPorts.reasons ?? {}) : null,
    srtt_ms: host.srttMs ?? null,
    started_at: host.startedAt,
    finished_at: host.finishedAt,
  };
}

export function portFromRow(row: Selectable<PortResultsTable>): PortResult {
  const result: PortResult = {
    ip: row.ip,
    port: num(row.port),
    protocol: row.protocol as PortResult['protocol'],
    state: row.state as PortState,
    reason: row.reason as PortReason,
  };
  const rtt = optNum(row.rtt_ms);
  if (rtt !== undefined) result.rttMs = rtt;
  if (row.service_name !== null) {
    const where = { scanId: row.scan_id, ip: row.ip, port: result.port };
    const service: ServiceInfo = { name: row.service_name, method: (row.service_method ?? 'table') as ServiceInfo['method'] };
    if (row.service_product !== null) service.product = row.service_product;
    if (row.service_version !== null) service.version = row.service_version;
    if (row.banner !== null) service.banner = row.banner;
    if (row.tls !== null) service.tls = parseJsonColumn(row.tls, { ...where, column: 'tls' }, isObject);
    if (row.http !== null) service.http = parseJsonColumn(row.http, { ...where, column: 'http' }, isObject);
    result.service = service;
  }
  return result;
}

function portToRow(scanId: string, p: PortResult): PortResultsTable {
  return {
    scan_id: scanId,
    ip: p.ip,
    port: p.port,
    protocol: p.protocol,
    state: p.state,
    reason: p.reason,
    rtt_ms: p.rttMs ?? null,
    service_name: p.service?.name ?? null,
    service_product: p.service?.product ?? null,
    service_version: p.service?.version ?? null,
    service_method: p.service?.method ?? null,
    banner: p.service?.banner ?? null,
    tls: p.service?.tls ? JSON.stringify(p.service.tls) : null,
    http: p.service?.http ? JSON.stringify(p.service.http) : null,
  };
}

/**
 * SQLite binds at most 32,766 parameters per statement and PostgreSQL 65,535; every multi-row
 * statement stays well under the smaller one.
 */
const MAX_PARAMETERS = 30_000;
/** Columns of one port_results row (parameters per row of its INSERT). */
const PORT_COLUMNS = 14;
/** Columns of one scan_hosts row. */
const HOST_COLUMNS = 15;
export const PORT_INSERT_CHUNK = Math.floor(MAX_PARAMETERS / PORT_COLUMNS);
const HOST_INSERT_CHUNK = Math.floor(MAX_PARAMETERS / HOST_COLUMNS);
/** Addresses per `ip in (…)` list. */
const IP_CHUNK = 5_000;

/** Rolls back a merge that found blocks missing (not all stored yet, or merged by another job). */
class PartsMissing extends Error {}

function partFromRow(row: Selectable<ScanHostPartsTable>): HostPart {
  const where = { scanId: row.scan_id, ip: row.ip, column: 'results' };
  const results = parseJsonColumn<Omit<PortResult, 'ip'>[]>(row.results, where, Array.isArray).map((r) => ({ ip: row.ip, ...r }));
  const srtt = optNum(row.srtt_ms);
  return { ip: row.ip, part: num(row.part), results, ...(srtt !== undefined ? { srttMs: srtt } : {}), startedAt: row.started_at, finishedAt: row.finished_at };
}

interface HostRows {
  ips: string[];
  hostRows: ScanHostsTable[];
  portRows: PortResultsTable[];
}

/**
 * Validates and converts hosts to rows before any transaction opens. A host given twice keeps its
 * last version, as a retried job replacing it would. Undefined when there is nothing to store.
 */
function hostEntryRows(scanId: string, entries: readonly HostEntry[]): HostRows | undefined {
  const byIp = new Map<string, HostEntry>();
  for (const entry of entries) byIp.set(entry.host.ip, entry);
  if (byIp.size === 0) return undefined;
  const hostRows = [...byIp.values()].map((e) => hostToRow(scanId, e.host));
  const portRows = [...byIp.values()].flatMap(({ host, ports }) =>
    ports.map((p) => {
      if (p.ip !== host.ip) {
        throw new PortcullisError('internal', `port ${p.port} of host ${host.ip} in scan ${scanId} names another address (${p.ip})`, {
          scanId,
          value: p.ip,
        });
      }
      return portToRow(scanId, p);
    }),
  );
  return { ips: [...byIp.keys()], hostRows, portRows };
}

/** Stores hosts inside `trx`, replacing earlier versions of them; hosts_done counts each address once. */
async function writeHosts(trx: Transaction<Database>, scanId: string, { ips, hostRows, portRows }: HostRows): Promise<void> {
  const scan = await trx.selectFrom('port_scans').select('id').where('id', '=', scanId).executeTakeFirst();
  if (!scan) throw new PortcullisError('not-found', `port scan ${scanId} does not exist`, { value: scanId });

  // Replace, never duplicate: a retried job stores the same hosts again.
  let replaced = 0;
  for (let i = 0; i < ips.length; i += IP_CHUNK) {
    const chunk = ips.slice(i, i + IP_CHUNK);
    await trx.deleteFrom('port_results').where('scan_id', '=', scanId).where('ip', 'in', chunk).execute();
    const deleted = await trx.deleteFrom('scan_hosts').where('scan_id', '=', scanId).where('ip', 'in', chunk).executeTakeFirst();
    replaced += Number(deleted.numDeletedRows);
  }
  for (let i = 0; i < hostRows.length; i += HOST_INSERT_CHUNK) {
    await trx
      .insertInto('scan_hosts')
      .values(hostRows.slice(i, i + HOST_INSERT_CHUNK))
      .execute();
  }
  for (let i = 0; i < portRows.length; i += PORT_INSERT_CHUNK) {
    await trx
      .insertInto('port_results')
      .values(portRows.slice(i, i + PORT_INSERT_CHUNK))
      .execute();
  }
  // Counted by what this batch added, not recounted: recounting made each batch cost O(hosts so far).
  const added = hostRows.length - replaced;
  if (added > 0) {
    await trx
      .updateTable('port_scans')
      .set((eb) => ({ hosts_done: eb('hosts_done', '+', added) }))
      .where('id', '=', scanId)
      .execute();
  }
}

/** Escapes LIKE wildcards (and the escape character itself) for `LIKE … ESCAPE '\'`. */
function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function recordFromRow(row: Selectable<PortScansTable>): PortScanRecord {
  const where = (column: string) => ({ scanId: row.id, column });
  return {
    id: row.id,
    status: row.status as ScanStatus,
    targets: parseJsonColumn<string[]>(row.targets, where('targets'), isStringArray),
    exclude: parseJsonColumn<string[]>(row.exclude, where('exclude'), isStringArray),
    ports: row.ports_spec,
    portSet: row.port_set,
    portCount: num(row.port_count),
    options: parseJsonColumn<PortScanOptions>(row.options, where('options'), isObject),
    addressCount: num(row.address_count),
    hostsDone: num(row.hosts_done),
    progress: { done: num(row.progress_done), total: num(row.progress_total) },
    createdAt: row.created_at,
    startedAt: row.started_at ?? undefined,
    finishedAt: row.finished_at ?? undefined,
    error: row.error === null ? undefined : parseJsonColumn<{ code: string; message: string }>(row.error, where('error'), isObject),
    stats: row.stats === null ? undefined : parseJsonColumn<ScanStats>(row.stats, where('stats'), isObject),
    shards: row.shard_count === null ? undefined : num(row.shard_count),
  };
}

const ACTIVE: ScanStatus[] = ['queued', 'running'];

/* ------------------------------------------------------------------------------------------------ */

export function createPortScanRepository(handle: DatabaseHandle): PortScanRepository {
  const { db } = handle;

  async function get(id: string): Promise<PortScanRecord | undefined> {
    const row = await db.selectFrom('port_scans').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? recordFromRow(row) : undefined;
  }

  return {
    async create(scan: NewPortScan): Promise<PortScanRecord> {
      const row: PortScansTable = {
        id: scan.id,
        status: 'queued',
        targets: JSON.stringify(scan.targets),
        exclude: JSON.stringify(scan.exclude),
        ports_spec: scan.ports,
        port_set: scan.portSet,
        port_count: scan.portCount,
        options: JSON.stringify(scan.options ?? {}),
        plan: JSON.stringify(scan.plan),
        address_count: scan.addressCount,
        hosts_done: 0,
        progress_done: 0,
        progress_total: scan.addressCount * scan.portCount,
        created_at: scan.createdAt,
        started_at: null,
        finished_at: null,
        error: null,
        stats: null,
        requested_by: scan.requestedBy ?? null,
        shard_count: null,
      };
      await db.insertInto('port_scans').values(row).execute();
      return recordFromRow(row);
    },

    get,

    async getPlan(id: string): Promise<SerializedPlan | undefined> {
      const row = await db.selectFrom('port_scans').select('plan').where('id', '=', id).executeTakeFirst();
      if (!row) return undefined;
      return parseJsonColumn<SerializedPlan>(row.plan, { scanId: id, column: 'plan' }, (v) => isObject(v) && Array.isArray((v as SerializedPlan).ranges));
    },

    async list(filter: PortScanFilter): Promise<{ items: PortScanRecord[]; total: number }> {
      let query = db.selectFrom('port_scans as ps');
      if (filter.status !== undefined) query = query.where('ps.status', '=', filter.status);
      if (filter.target !== undefined && filter.target !== '') {
        // Match inside the JSON text the way the text is stored there (JSON escapes), case-insensitively
        // on both dialects (SQLite's LIKE ignores ASCII case, PostgreSQL's does not).
        const needle = JSON.stringify(filter.target.toLowerCase()).slice(1, -1);
        query = query.where(sql<boolean>`lower(ps.targets) like ${`%${escapeLike(needle)}%`} escape '\\'`);
      }
      if (filter.ip !== undefined) {
        const ip = filter.ip;
        query = query.where(({ exists, selectFrom }) =>
          exists(selectFrom('scan_hosts as sh').select(sql.lit(1).as('one')).whereRef('sh.scan_id', '=', 'ps.id').where('sh.ip', '=', ip)),
        );
      }
      if (filter.createdAfter !== undefined) query = query.where('ps.created_at', '>=', filter.createdAfter);
      if (filter.createdBefore !== undefined) query = query.where('ps.created_at', '<', filter.createdBefore);

      const [rows, count] = await Promise.all([
        query.selectAll('ps').orderBy('ps.created_at', 'desc').orderBy('ps.id', 'desc').limit(filter.limit).offset(filter.offset).execute(),
        query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
      ]);
      return { items: rows.map(recordFromRow), total: num(count.n) };
    },

    async markRunning(id: string, at: string): Promise<void> {
      await db
        .updateTable('port_scans')
        .set({ status: 'running', started_at: sql<string>`coalesce(started_at, ${at})` })
        .where('id', '=', id)
        .where('status', 'in', ACTIVE)
        .execute();
    },

    async setShards(id: string, count: number): Promise<void> {
      await db.updateTable('port_scans').set({ shard_count: count }).where('id', '=', id).execute();
    },

    async progressFromHosts(id: string): Promise<void> {
      // Shards run at once in several processes: progress is what all of them stored (whole hosts, and
      // the port blocks of hosts not merged yet), read in one statement.
      const done = sql<number>`hosts_done * port_count + coalesce((select sum(probes) from scan_host_parts where scan_id = ${id}), 0)`;
      await db
        .updateTable('port_scans')
        .set({ progress_done: sql<number>`case when ${done} < progress_total then ${done} else progress_total end` })
        .where('id', '=', id)
        .execute();
    },

    async updateProgress(id: string, progress: ScanProgress): Promise<void> {
      await db.updateTable('port_scans').set({ progress_done: progress.done, progress_total: progress.total }).where('id', '=', id).execute();
    },

    async finish(id: string, outcome: ScanOutcome): Promise<boolean> {
      const result = await db
        .updateTable('port_scans')
        .set({
          status: outcome.status,
          finished_at: outcome.at,
          stats: outcome.stats ? JSON.stringify(outcome.stats) : null,
          error: outcome.error ? JSON.stringify({ code: outcome.error.code, message: outcome.error.message }) : null,
        })
        .where('id', '=', id)
        .where('status', 'in', ACTIVE)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },

    async saveHosts(scanId: string, entries: readonly HostEntry[]): Promise<void> {
      const rows = hostEntryRows(scanId, entries);
      if (rows === undefined) return;
      await db.transaction().execute((trx) => writeHosts(trx, scanId, rows));
    },

    async saveHostPart(scanId: string, part: HostPart): Promise<void> {
      // A second run of the same shard finishing after the host was merged would leave a stray block.
      const merged = await db.selectFrom('scan_hosts').select('ip').where('scan_id', '=', scanId).where('ip', '=', part.ip).executeTakeFirst();
      if (merged !== undefined) return;
      const row = {
        scan_id: scanId,
        ip: part.ip,
        part: part.part,
        probes: part.results.length,
        srtt_ms: part.srttMs ?? null,
        started_at: part.startedAt,
        finished_at: part.finishedAt,
        results: JSON.stringify(part.results.map(({ ip: _ip, ...rest }) => rest)),
      };
      await db
        .insertInto('scan_host_parts')
        .values(row)
        .onConflict((oc) => oc.columns(['scan_id', 'ip', 'part']).doUpdateSet({ ...row }))
        .execute();
    },

    async storedParts(scanId: string, ip: string): Promise<Set<number>> {
      const rows = await db.selectFrom('scan_host_parts').select('part').where('scan_id', '=', scanId).where('ip', '=', ip).execute();
      return new Set(rows.map((r) => num(r.part)));
    },

    async mergeHostParts(scanId: string, ip: string, parts: number, merge: (blocks: HostPart[]) => HostEntry): Promise<boolean> {
      try {
        await db.transaction().execute(async (trx) => {
          // Delete first: the write lock (SQLite) or the row locks (PostgreSQL) make a second merger
          // of the same host wait, then find nothing to merge.
          const rows = await trx.deleteFrom('scan_host_parts').where('scan_id', '=', scanId).where('ip', '=', ip).returningAll().execute();
          if (rows.length < parts) throw new PartsMissing();
          const blocks = rows.map((row) => partFromRow(row)).sort((a, b) => a.part - b.part);
          const merged = hostEntryRows(scanId, [merge(blocks)]);
          if (merged !== undefined) await writeHosts(trx, scanId, merged);
        });
        return true;
      } catch (err) {
        if (err instanceof PartsMissing) return false;
        throw err;
      }
    },

    async finishedHosts(scanId: string, between?: { first: string; last: string }): Promise<Set<string>> {
      let query = db.selectFrom('scan_hosts').select('ip').where('scan_id', '=', scanId);
      if (between !== undefined) query = query.where('ip_key', '>=', ipKey(between.first)).where('ip_key', '<=', ipKey(between.last));
      const rows = await query.execute();
      return new Set(rows.map((r) => r.ip));
    },

    async totals(scanId: string): Promise<PortScanTotals> {
      const row = await db
        .selectFrom('scan_hosts')
        .select((eb) => [
          eb.fn.countAll<number>().as('hosts_done'),
          sql<number>`coalesce(sum(case when status = 'up' then 1 else 0 end), 0)`.as('hosts_up'),
          sql<number>`coalesce(sum(open_count), 0)`.as('open'),
          sql<number>`coalesce(sum(closed_count), 0)`.as('closed'),
          sql<number>`coalesce(sum(filtered_count), 0)`.as('filtered'),
        ])
        .where('scan_id', '=', scanId)
        .executeTakeFirstOrThrow();
      return {
        hostsDone: num(row.hosts_done),
        hostsUp: num(row.hosts_up),
        open: num(row.open),
        closed: num(row.closed),
        filtered: num(row.filtered),
      };
    },

    async hosts(scanId: string, page: { limit: number; offset: number; onlyUp?: boolean }): Promise<{ items: HostSummary[]; total: number }> {
      let query = db.selectFrom('scan_hosts').where('scan_id', '=', scanId);
      if (page.onlyUp) query = query.where('status', '=', 'up');
      const [rows, count] = await Promise.all([
        query.selectAll().orderBy('ip_key').orderBy('ip').limit(page.limit).offset(page.offset).execute(),
        query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
      ]);
      return { items: rows.map(hostFromRow), total: num(count.n) };
    },

    async ports(scanId: string, ips?: readonly string[]): Promise<PortResult[]> {
      const base = db
        .selectFrom('port_results as pr')
        .innerJoin('scan_hosts as sh', (join) => join.onRef('sh.scan_id', '=', 'pr.scan_id').onRef('sh.ip', '=', 'pr.ip'))
        .selectAll('pr')
        .where('pr.scan_id', '=', scanId)
        // protocol is always tcp today; ordering by it lets the planners follow the primary key.
        .orderBy('sh.ip_key')
        .orderBy('sh.ip')
        .orderBy('pr.protocol')
        .orderBy('pr.port');
      if (ips === undefined) return (await base.execute()).map(portFromRow);

      // Query the wanted addresses in address order, in chunks that stay under the parameter limits;
      // the concatenated chunks are then in order too.
      const wanted = [...new Set(ips)]
        .map((ip) => {
          try {
            return { ip, key: ipKey(ip) };
          } catch {
            return undefined; // not an address: it cannot match a stored host
          }
        })
        .filter((x): x is { ip: string; key: string } => x !== undefined)
        .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0));
      const out: PortResult[] = [];
      for (let i = 0; i < wanted.length; i += 5_000) {
        const chunk = wanted.slice(i, i + 5_000).map((w) => w.ip);
        const rows = await base.where('pr.ip', 'in', chunk).execute();
        for (const row of rows) out.push(portFromRow(row));
      }
      return out;
    },

    async delete(id: string): Promise<boolean> {
      // Explicit child deletes: the cascade does not depend on SQLite's foreign_keys pragma, and
      // deleting the big table first avoids per-row cascade work.
      return db.transaction().execute(async (trx) => {
        await trx.deleteFrom('port_results').where('scan_id', '=', id).execute();
        await trx.deleteFrom('scan_hosts').where('scan_id', '=', id).execute();
        await trx.deleteFrom('scan_host_parts').where('scan_id', '=', id).execute();
        const result = await trx.deleteFrom('port_scans').where('id', '=', id).executeTakeFirst();
        return Number(result.numDeletedRows) > 0;
      });
    },
  };
}
