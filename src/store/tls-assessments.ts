import { type Kysely, type Selectable, sql } from 'kysely';
import { type TlsTarget, targetKey } from '../tls/target.js';
import { PortcullisError } from '../shared/errors.js';
import { timeOrderedId } from '../shared/ids.js';
import type { ScanProgress, ScanStatus } from '../shared/model.js';
import { worstGrade } from '../tls/compare.js';
import type { Assessment, EndpointAssessment, Finding, Grade } from '../tls/model.js';
import type { DatabaseHandle } from './db.js';
import type { Database } from './schema.js';
import type { ScanOutcome } from './types.js';

/* ------------------------------------------------------------------------------------------------
 * Shapes. Timestamps are ISO-8601 UTC text; JSON columns are text on both dialects (see schema.ts).
 * ---------------------------------------------------------------------------------------------- */

export interface TlsScansTable {
  id: string;
  status: string;
  /** JSON string[] as requested. */
  hosts: string;
  /** JSON TlsTarget[]. */
  targets: string;
  /** JSON TlsScanOptions. */
  options: string;
  port_scan_id: string | null;
  progress_total: number;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  /** JSON {code, message} when failed. */
  error: string | null;
  /** The principal that asked for the scan; null for the scheduler (migration 0006). */
  requested_by: string | null;
}

export interface TlsAssessmentsTable {
  id: string;
  scan_id: string | null;
  host: string;
  port: number;
  sni: string | null;
  engine: string;
  criteria_version: string;
  started_at: string;
  finished_at: string;
  grade: string | null;
  /** JSON EndpointGrade[]. */
  endpoints: string;
  /** JSON Assessment. */
  assessment: string;
  /** SSL Labs' own JSON (engine ssllabs), verbatim. */
  raw: string | null;
}

export interface TlsScanTargetsTable {
  scan_id: string;
  host: string;
  port: number;
  assessment_id: string | null;
  cached: number;
  /** JSON {code, message}. */
  error: string | null;
  finished_at: string;
  /** engine=both: the SSL Labs assessment, or JSON {code, message} why there is none. */
  ssllabs_assessment_id: string | null;
  ssllabs_error: string | null;
}

/** The TLS tables, added to the store's Database type where this repository queries them. */
// A type alias, not an interface: Kysely's withTables wants an indexable record type.
export type TlsTables = {
  tls_scans: TlsScansTable;
  tls_assessments: TlsAssessmentsTable;
  tls_scan_targets: TlsScanTargetsTable;
};

/** One service to assess: a canonical host name or IP literal (IPv6 without brackets) and a port. */
export type { TlsTarget } from '../tls/target.js';

/** native: our engine; ssllabs: Qualys SSL Labs (native for targets it cannot assess); both: side by side. */
export type TlsEngineChoice = 'native' | 'ssllabs' | 'both';

export interface TlsScanOptions {
  /** Which engine assesses the targets (default native). */
  engine?: TlsEngineChoice;
  /** SNI to send instead of the host name. */
  sni?: string;
  /** Run every target again even when a stored assessment is younger than tls.maxAgeSeconds. */
  fresh?: boolean;
  /** Per-connection timeout of the engine, ms. */
  timeoutMs?: number;
  /** The requesting API key's allow-list, which narrows the scope policy when the job resolves each host. */
  scopeAllow?: string[];
}

export interface TlsScanRecord {
  id: string;
  status: ScanStatus;
  hosts: string[];
  targets: TlsTarget[];
  options: TlsScanOptions;
  portScanId: string | undefined;
  /** Targets finished (assessed, reused or failed) of all targets. */
  progress: ScanProgress;
  createdAt: string;
  startedAt: string | undefined;
  finishedAt: string | undefined;
  error: { code: string; message: string } | undefined;
}

export interface NewTlsScan {
  id: string;
  hosts: string[];
  targets: TlsTarget[];
  options: TlsScanOptions;
  portScanId?: string | undefined;
  createdAt: string;
  /** The principal asking (concurrent-scan quotas); undefined for the scheduler. */
  requestedBy?: string | undefined;
}

export interface TlsScanFilter {
  status?: ScanStatus | undefined;
  portScanId?: string | undefined;
  /** Only scans created before this ISO time (the reconciler's grace period). */
  createdBefore?: string | undefined;
  limit: number;
  offset: number;
}

export interface EndpointGrade {
  ip: string;
  status: EndpointAssessment['status'];
  grade: Grade | null;
  gradeTrustIgnored: Grade | null;
}

/**
 * What is kept of each endpoint beside the full document (column `endpoints`): the grades for
 * history lists, and what reports read for thousands of targets without parsing whole documents.
 * The report fields are absent on rows stored before they were added; readers fall back to the document.
 */
export interface EndpointDigest extends EndpointGrade {
  error?: { code: string; message: string } | null;
  /** Earliest leaf notAfter over the endpoint's chains; null without a certificate. */
  leafExpiry?: string | null;
  /** Earliest notAfter on any chain's validated path (an intermediate can expire first). */
  earliestExpiry?: string | null;
  findings?: Array<{ id: string; title: string; severity: Finding['severity'] }>;
}

export function endpointDigest(e: EndpointAssessment): Required<EndpointDigest> {
  const earliest = (dates: string[]): string | null => (dates.length === 0 ? null : dates.reduce((a, b) => (Date.parse(b) < Date.parse(a) ? b : a)));
  return {
    ip: e.ip,
    status: e.status,
    grade: e.grade,
    gradeTrustIgnored: e.gradeTrustIgnored,
    error: e.error ?? null,
    leafExpiry: earliest(e.certificates.map((c) => c.leafExpiry)),
    earliestExpiry: earliest(e.certificates.map((c) => c.earliestExpiry)),
    findings: e.findings.map((f) => ({ id: f.id, title: f.title, severity: f.severity })),
  };
}

/** An assessment without its full document, for lists. */
export interface TlsAssessmentSummary {
  id: string;
  scanId: string | null;
  host: string;
  port: number;
  sni: string | null;
  engine: Assessment['engine'];
  criteriaVersion: string;
  startedAt: string;
  finishedAt: string;
  /** Worst grade across the endpoints; null when none could be graded. */
  grade: Grade | null;
  endpoints: EndpointGrade[];
}

export interface TlsAssessmentRecord extends TlsAssessmentSummary {
  assessment: Assessment;
}

/** How one target of a scan ended. */
export interface TlsTargetResult extends TlsTarget {
  finishedAt: string;
  /** The assessment was reused from an earlier scan (younger than the max age). */
  cached: boolean;
  /** Undefined when the target failed, or when the assessment it reused was deleted since. */
  assessment: TlsAssessmentSummary | undefined;
  error: { code: string; message: string } | undefined;
  /** engine=both: SSL Labs' assessment of the target, or why there is none. */
  sslLabs?: { assessment: TlsAssessmentSummary | undefined; error: { code: string; message: string } | undefined } | undefined;
}

type ErrorValue = { code: string; message: string };

/** engine=both: SSL Labs' answer stored beside the native assessment. */
export type SslLabsOpinion = { assessment: Assessment; raw: unknown } | { error: ErrorValue };

export type TlsTargetOutcome = { reusedAssessmentId: string; reusedSslLabsAssessmentId?: string | undefined } | { error: ErrorValue };

export interface SaveAssessmentExtras {
  /** SSL Labs' JSON when `assessment` came from SSL Labs. */
  raw?: unknown;
  /** engine=both: the second opinion, stored in the same transaction. */
  sslLabs?: SslLabsOpinion | undefined;
}

export interface TlsAssessmentRepository {
  createScan(scan: NewTlsScan): Promise<TlsScanRecord>;
  getScan(id: string): Promise<TlsScanRecord | undefined>;
  /** Newest first. */
  listScans(filter: TlsScanFilter): Promise<{ items: TlsScanRecord[]; total: number }>;
  /** queued → running (also running → running on a retried job). Sets startedAt once. */
  markRunning(id: string, at: string): Promise<void>;
  /** Ends the scan unless it already ended; false if it had (e.g. cancelled meanwhile). */
  finish(id: string, outcome: Omit<ScanOutcome, 'stats'>): Promise<boolean>;
  /** Deletes the scan, its target rows and the assessments it ran (and other scans' reuses of them). */
  deleteScan(id: string): Promise<boolean>;
  /**
   * Stores the assessment of a scan's target and marks the target done, in one transaction. Stored
   * under the target's host and port (the scan's spelling, whatever the engine reports). Idempotent per
   * scan, target and engine: a retried job replaces the earlier row (keeping its id), never adds one.
   */
  saveAssessment(scanId: string, target: TlsTarget, assessment: Assessment, at: string, extras?: SaveAssessmentExtras): Promise<TlsAssessmentSummary>;
  /** Marks a target done without running it: reused from an earlier assessment, or failed. Idempotent. */
  recordTarget(scanId: string, target: TlsTarget, outcome: TlsTargetOutcome, at: string): Promise<void>;
  /** How each finished target of the scan ended, in the scan's target order. */
  scanResults(scanId: string): Promise<TlsTargetResult[]>;
  /**
   * The newest assessment of host:port that finished at most maxAgeSeconds before `now` and graded at
   * least one endpoint (failures are never reused). With `sni`, only assessments that sent that SNI;
   * with `engine`, only that engine's.
   */
  latestFresh(target: TlsTarget & { sni?: string | undefined; engine?: Assessment['engine'] | undefined }, maxAgeSeconds: number, now?: Date): Promise<TlsAssessmentRecord | undefined>;
  /** Assessments of a host (optionally one port), newest first. */
  history(host: string, page: { port?: number | undefined; limit: number; offset: number }): Promise<{ items: TlsAssessmentSummary[]; total: number }>;
  getAssessment(id: string): Promise<TlsAssessmentRecord | undefined>;
  /** SSL Labs' JSON behind an assessment; undefined when the assessment does not exist or is not from SSL Labs. */
  getRaw(id: string): Promise<unknown>;
}

/* ------------------------------------------------------------------------------------------------ */

const isObject = (v: unknown): boolean => typeof v === 'object' && v !== null && !Array.isArray(v);
const isArray = (v: unknown): boolean => Array.isArray(v);
const ACTIVE: ScanStatus[] = ['queued', 'running'];

/** Parses a JSON text column; a corrupt value becomes an error naming the row and column. */
function parseJsonColumn<T>(raw: string, place: string, check: (value: unknown) => boolean): T {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    throw new PortcullisError('internal', `stored ${place} is not valid JSON: ${(err as Error).message}`);
  }
  if (!check(value)) throw new PortcullisError('internal', `stored ${place} has an unexpected shape`);
  return value as T;
}

function num(v: unknown): number {
  return typeof v === 'number' ? v : Number(v);
}

function scanFromRow(row: Selectable<TlsScansTable> & { progress_done: number }): TlsScanRecord {
  const where = (column: string): string => `${column} of TLS scan ${row.id}`;
  return {
    id: row.id,
    status: row.status as ScanStatus,
    hosts: parseJsonColumn<string[]>(row.hosts, where('hosts'), isArray),
    targets: parseJsonColumn<TlsTarget[]>(row.targets, where('targets'), isArray),
    options: parseJsonColumn<TlsScanOptions>(row.options, where('options'), isObject),
    portScanId: row.port_scan_id ?? undefined,
    progress: { done: num(row.progress_done), total: num(row.progress_total) },
    createdAt: row.created_at,
    startedAt: row.started_at ?? undefined,
    finishedAt: row.finished_at ?? undefined,
    error: row.error === null ? undefined : parseJsonColumn<{ code: string; message: string }>(row.error, where('error'), isObject),
  };
}

type SummaryRow = Omit<Selectable<TlsAssessmentsTable>, 'assessment' | 'raw'>;

function summaryFromRow(row: SummaryRow): TlsAssessmentSummary {
  return {
    id: row.id,
    scanId: row.scan_id,
    host: row.host,
    port: num(row.port),
    sni: row.sni,
    engine: row.engine as Assessment['engine'],
    criteriaVersion: row.criteria_version,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    grade: row.grade as Grade | null,
    endpoints: parseJsonColumn<EndpointDigest[]>(row.endpoints, `endpoints of TLS assessment ${row.id}`, isArray).map(({ ip, status, grade, gradeTrustIgnored }) => ({ ip, status, grade, gradeTrustIgnored })),
  };
}

function recordFromRow(row: Omit<Selectable<TlsAssessmentsTable>, 'raw'>): TlsAssessmentRecord {
  return {
    ...summaryFromRow(row),
    assessment: parseJsonColumn<Assessment>(row.assessment, `document of TLS assessment ${row.id}`, isObject),
  };
}

/** Finished targets of the scan row being selected. */
const progressDone = sql<number>`(select count(*) from tls_scan_targets t where t.scan_id = tls_scans.id)`.as('progress_done');

const SUMMARY_COLUMNS = ['id', 'scan_id', 'host', 'port', 'sni', 'engine', 'criteria_version', 'started_at', 'finished_at', 'grade', 'endpoints'] as const;

/* ------------------------------------------------------------------------------------------------ */

export function createTlsAssessmentRepository(handle: DatabaseHandle): TlsAssessmentRepository {
  const db: Kysely<Database & TlsTables> = handle.db.withTables<TlsTables>();

  async function assertScan(trx: Kysely<Database & TlsTables>, scanId: string): Promise<void> {
    const scan = await trx.selectFrom('tls_scans').select('id').where('id', '=', scanId).executeTakeFirst();
    if (!scan) throw new PortcullisError('not-found', `TLS scan ${scanId} does not exist`, { value: scanId });
  }

  /** Inserts or (retried job) replaces the scan's assessment of target by this engine; returns its summary. */
  async function upsertAssessment(trx: Kysely<Database & TlsTables>, scanId: string, target: TlsTarget, assessment: Assessment, raw: unknown): Promise<SummaryRow> {
    const endpoints = assessment.endpoints.map(endpointDigest);
    const columns = {
      sni: assessment.sni,
      criteria_version: assessment.criteriaVersion,
      started_at: assessment.startedAt,
      finished_at: assessment.finishedAt,
      grade: worstGrade(endpoints.map((e) => e.grade)),
      endpoints: JSON.stringify(endpoints),
      assessment: JSON.stringify(assessment),
      raw: raw === undefined ? null : JSON.stringify(raw),
    };
    await trx
      .insertInto('tls_assessments')
      .values({ id: timeOrderedId(), scan_id: scanId, host: target.host, port: target.port, engine: assessment.engine, ...columns })
      .onConflict((oc) => oc.columns(['scan_id', 'host', 'port', 'engine']).doUpdateSet(columns))
      .execute();
    return trx
      .selectFrom('tls_assessments')
      .select(SUMMARY_COLUMNS)
      .where('scan_id', '=', scanId)
      .where('host', '=', target.host)
      .where('port', '=', target.port)
      .where('engine', '=', assessment.engine)
      .executeTakeFirstOrThrow();
  }

  return {
    async createScan(scan: NewTlsScan): Promise<TlsScanRecord> {
      const row: TlsScansTable = {
        id: scan.id,
        status: 'queued',
        hosts: JSON.stringify(scan.hosts),
        targets: JSON.stringify(scan.targets),
        options: JSON.stringify(scan.options),
        port_scan_id: scan.portScanId ?? null,
        progress_total: scan.targets.length,
        created_at: scan.createdAt,
        started_at: null,
        finished_at: null,
        error: null,
        requested_by: scan.requestedBy ?? null,
      };
      await db.insertInto('tls_scans').values(row).execute();
      return scanFromRow({ ...row, progress_done: 0 });
    },

    async getScan(id: string): Promise<TlsScanRecord | undefined> {
      const row = await db.selectFrom('tls_scans').selectAll().select(progressDone).where('id', '=', id).executeTakeFirst();
      return row ? scanFromRow(row) : undefined;
    },

    async listScans(filter: TlsScanFilter): Promise<{ items: TlsScanRecord[]; total: number }> {
      let query = db.selectFrom('tls_scans');
      if (filter.status !== undefined) query = query.where('status', '=', filter.status);
      if (filter.portScanId !== undefined) query = query.where('port_scan_id', '=', filter.portScanId);
      if (filter.createdBefore !== undefined) query = query.where('created_at', '<', filter.createdBefore);
      const [rows, count] = await Promise.all([
        query.selectAll().select(progressDone).orderBy('created_at', 'desc').orderBy('id', 'desc').limit(filter.limit).offset(filter.offset).execute(),
        query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
      ]);
      return { items: rows.map(scanFromRow), total: num(count.n) };
    },

    async markRunning(id: string, at: string): Promise<void> {
      await db
        .updateTable('tls_scans')
        .set({ status: 'running', started_at: sql<string>`coalesce(started_at, ${at})` })
        .where('id', '=', id)
        .where('status', 'in', ACTIVE)
        .execute();
    },

    async finish(id: string, outcome: Omit<ScanOutcome, 'stats'>): Promise<boolean> {
      const result = await db
        .updateTable('tls_scans')
        .set({
          status: outcome.status,
          finished_at: outcome.at,
          error: outcome.error ? JSON.stringify({ code: outcome.error.code, message: outcome.error.message }) : null,
        })
        .where('id', '=', id)
        .where('status', 'in', ACTIVE)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },

    async deleteScan(id: string): Promise<boolean> {
      return db.transaction().execute(async (trx) => {
        const own = trx.selectFrom('tls_assessments').select('id').where('scan_id', '=', id);
        await trx.deleteFrom('tls_scan_targets').where('assessment_id', 'in', own).execute();
        await trx.updateTable('tls_scan_targets').set({ ssllabs_assessment_id: null }).where('ssllabs_assessment_id', 'in', own).execute();
        await trx.deleteFrom('tls_scan_targets').where('scan_id', '=', id).execute();
        await trx.deleteFrom('tls_assessments').where('scan_id', '=', id).execute();
        const result = await trx.deleteFrom('tls_scans').where('id', '=', id).executeTakeFirst();
        return Number(result.numDeletedRows) > 0;
      });
    },

    async saveAssessment(scanId: string, target: TlsTarget, assessment: Assessment, at: string, extras: SaveAssessmentExtras = {}): Promise<TlsAssessmentSummary> {
      return db.transaction().execute(async (trx) => {
        await assertScan(trx, scanId);
        const row = await upsertAssessment(trx, scanId, target, assessment, extras.raw);
        const second = extras.sslLabs;
        const secondRow = second !== undefined && 'assessment' in second ? await upsertAssessment(trx, scanId, target, second.assessment, second.raw) : undefined;
        const values = {
          assessment_id: row.id,
          cached: 0,
          error: null,
          finished_at: at,
          ssllabs_assessment_id: secondRow?.id ?? null,
          ssllabs_error: second !== undefined && 'error' in second ? JSON.stringify({ code: second.error.code, message: second.error.message }) : null,
        };
        await trx
          .insertInto('tls_scan_targets')
          .values({ scan_id: scanId, host: target.host, port: target.port, ...values })
          .onConflict((oc) => oc.columns(['scan_id', 'host', 'port']).doUpdateSet(values))
          .execute();
        return summaryFromRow(row);
      });
    },

    async recordTarget(scanId: string, target: TlsTarget, outcome: TlsTargetOutcome, at: string): Promise<void> {
      const values =
        'reusedAssessmentId' in outcome
          ? { assessment_id: outcome.reusedAssessmentId, cached: 1, error: null, finished_at: at, ssllabs_assessment_id: outcome.reusedSslLabsAssessmentId ?? null, ssllabs_error: null }
          : { assessment_id: null, cached: 0, error: JSON.stringify({ code: outcome.error.code, message: outcome.error.message }), finished_at: at, ssllabs_assessment_id: null, ssllabs_error: null };
      await db.transaction().execute(async (trx) => {
        await assertScan(trx, scanId);
        await trx
          .insertInto('tls_scan_targets')
          .values({ scan_id: scanId, host: target.host, port: target.port, ...values })
          .onConflict((oc) => oc.columns(['scan_id', 'host', 'port']).doUpdateSet(values))
          .execute();
      });
    },

    async scanResults(scanId: string): Promise<TlsTargetResult[]> {
      const scan = await db.selectFrom('tls_scans').select('targets').where('id', '=', scanId).executeTakeFirst();
      if (!scan) return [];
      const order = parseJsonColumn<TlsTarget[]>(scan.targets, `targets of TLS scan ${scanId}`, isArray).map(targetKey);
      const rows = await db.selectFrom('tls_scan_targets').selectAll().where('scan_id', '=', scanId).execute();
      const ids = rows.flatMap((r) => [r.assessment_id, r.ssllabs_assessment_id].filter((id): id is string => id !== null));
      const assessments = new Map<string, TlsAssessmentSummary>();
      // A scan has at most a few hundred targets: one query, well under the parameter limits.
      if (ids.length > 0) {
        for (const row of await db.selectFrom('tls_assessments').select(SUMMARY_COLUMNS).where('id', 'in', ids).execute()) assessments.set(row.id, summaryFromRow(row));
      }
      const results = rows.map((r): TlsTargetResult => {
        const port = num(r.port);
        const where = (column: string): string => `${column} of ${targetKey({ host: r.host, port })} in TLS scan ${scanId}`;
        const sslLabsError = r.ssllabs_error === null ? undefined : parseJsonColumn<ErrorValue>(r.ssllabs_error, where('SSL Labs error'), isObject);
        return {
          host: r.host,
          port,
          finishedAt: r.finished_at,
          cached: num(r.cached) === 1,
          assessment: r.assessment_id === null ? undefined : assessments.get(r.assessment_id),
          error: r.error === null ? undefined : parseJsonColumn<ErrorValue>(r.error, where('error'), isObject),
          ...(r.ssllabs_assessment_id !== null || sslLabsError !== undefined
            ? { sslLabs: { assessment: r.ssllabs_assessment_id === null ? undefined : assessments.get(r.ssllabs_assessment_id), error: sslLabsError } }
            : {}),
        };
      });
      const position = (r: TlsTarget): number => order.indexOf(targetKey(r));
      return results.sort((x, y) => position(x) - position(y));
    },

    async latestFresh(target: TlsTarget & { sni?: string | undefined; engine?: Assessment['engine'] | undefined }, maxAgeSeconds: number, now: Date = new Date()): Promise<TlsAssessmentRecord | undefined> {
      const cutoff = new Date(now.getTime() - maxAgeSeconds * 1000).toISOString();
      let query = db
        .selectFrom('tls_assessments')
        .select([...SUMMARY_COLUMNS, 'assessment'])
        .where('host', '=', target.host)
        .where('port', '=', target.port)
        .where('finished_at', '>=', cutoff)
        .where('grade', 'is not', null);
      if (target.sni !== undefined) query = query.where('sni', '=', target.sni);
      if (target.engine !== undefined) query = query.where('engine', '=', target.engine);
      const row = await query.orderBy('finished_at', 'desc').orderBy('id', 'desc').limit(1).executeTakeFirst();
      return row ? recordFromRow(row) : undefined;
    },

    async history(host: string, page: { port?: number | undefined; limit: number; offset: number }): Promise<{ items: TlsAssessmentSummary[]; total: number }> {
      let query = db.selectFrom('tls_assessments').where('host', '=', host);
      if (page.port !== undefined) query = query.where('port', '=', page.port);
      const [rows, count] = await Promise.all([
        query.select(SUMMARY_COLUMNS).orderBy('finished_at', 'desc').orderBy('id', 'desc').limit(page.limit).offset(page.offset).execute(),
        query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
      ]);
      return { items: rows.map(summaryFromRow), total: num(count.n) };
    },

    async getAssessment(id: string): Promise<TlsAssessmentRecord | undefined> {
      const row = await db.selectFrom('tls_assessments').select([...SUMMARY_COLUMNS, 'assessment']).where('id', '=', id).executeTakeFirst();
      return row ? recordFromRow(row) : undefined;
    },

    async getRaw(id: string): Promise<unknown> {
      const row = await db.selectFrom('tls_assessments').select('raw').where('id', '=', id).executeTakeFirst();
      return row?.raw == null ? undefined : parseJsonColumn<unknown>(row.raw, `SSL Labs JSON of TLS assessment ${id}`, isObject);
    },
  };
}
