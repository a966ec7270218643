/**
 * The executive summary of the monitored estate, built from plain rows the store hands over (see
 * src/store/reports.ts): grade distribution, endpoints by grade, certificate expiry, the most common
 * findings, what changed since a date, failures and totals. Pure: no I/O, the clock is an input.
 * Also its two renderings for people outside the API: one CSV row per endpoint and one printable,
 * self-contained HTML page.
 */
import { type PortScanComparison, type ScanSide, comparePortScans } from '../portscan/compare.js';
import { GRADE_ORDER, gradeRank } from '../tls/compare.js';
import type { Assessment, FindingSeverity, Grade } from '../tls/model.js';
import { endpointDigest } from '../store/tls-assessments.js';
import type { LabelFilter } from './model.js';

/* ------------------------------------------------------------------------------------------------
 * Input: what the store reads.
 * ---------------------------------------------------------------------------------------------- */

export interface ReportFilters {
  labels: LabelFilter;
  /** Assessments finished at or after this ISO time count; also the baseline of `changes`. */
  since: string | null;
  /** Assessments finished at or before this ISO time count (the report "as of"). */
  until: string | null;
  /** Certificates expiring within this many days (or already expired) are listed. */
  expiringWithinDays: number;
}

export interface ReportFindingInput {
  id: string;
  title: string;
  severity: FindingSeverity;
}

/** One endpoint of the latest assessment, reduced to what the report reads. */
export interface ReportEndpointInput {
  ip: string;
  status: 'ready' | 'error';
  grade: Grade | null;
  gradeTrustIgnored: Grade | null;
  error: { code: string; message: string } | null;
  /** Earliest leaf notAfter over the endpoint's chains; null without a certificate. */
  leafExpiry: string | null;
  /** Earliest notAfter on any chain's validated path (an intermediate can expire first). */
  earliestExpiry: string | null;
  findings: ReportFindingInput[];
}

export interface ReportAssessmentInput {
  id: string;
  engine: string;
  finishedAt: string;
  endpoints: ReportEndpointInput[];
}

export interface ReportTlsTargetInput {
  host: string;
  port: number;
  labels: Record<string, string>;
  /** The latest assessment in the window; null when none. */
  latest: ReportAssessmentInput | null;
  /** The latest assessment finished before `since` (null without `since` or when there is none). */
  before: { grade: Grade | null; finishedAt: string } | null;
  /** The target's last scan could not assess it (after `latest`): unresolvable, out of scope, scan failed. */
  scanError: { code: string; message: string; at: string } | null;
}

export interface ReportPortTargetInput {
  /** The address target as stored in the inventory (IP, CIDR or range). */
  target: string;
  labels: Record<string, string>;
  /** The target's last port scan when it failed. */
  scanError: { code: string; message: string; at: string } | null;
  /** Pairs to compare for `changes.ports`: the latest scan before `since` (before) and the latest scan (after), per group of addresses. */
  comparisons: Array<{ before: ScanSide; after: ScanSide }>;
}

export interface ReportInput {
  generatedAt: string;
  filters: ReportFilters;
  /** inventory: the TLS targets of the inventory; assessed: the inventory has no TLS target, so every assessed host:port. */
  scope: 'inventory' | 'assessed';
  tlsTargets: ReportTlsTargetInput[];
  portTargets: ReportPortTargetInput[];
  /** Limits the store hit (e.g. port changes compared for the first N addresses only), in words. */
  notes: string[];
}

/* ------------------------------------------------------------------------------------------------
 * Output: the summary.
 * ---------------------------------------------------------------------------------------------- */

/** A grade, or `ungraded` for a target or endpoint that could not be graded. */
export type GradeBucket = Grade | 'ungraded';
export const GRADE_BUCKETS: readonly GradeBucket[] = [...GRADE_ORDER, 'ungraded'];

export interface ReportEndpoint {
  host: string;
  port: number;
  ip: string;
  status: 'ready' | 'error';
  grade: Grade | null;
  gradeTrustIgnored: Grade | null;
  assessmentId: string;
  assessedAt: string;
  engine: string;
  leafExpiry: string | null;
  earliestExpiry: string | null;
  /** Whole days from generatedAt to earliestExpiry (negative once expired). */
  daysToExpiry: number | null;
  findings: string[];
  labels: Record<string, string>;
}

export type ExpiryBucket = 'expired' | '7d' | '30d' | '90d';

export interface ExpiringCertificate {
  host: string;
  port: number;
  ip: string;
  leafExpiry: string;
  earliestExpiry: string;
  daysToExpiry: number;
  /** By earliestExpiry: expired, within 7, 30 or 90 days. */
  bucket: ExpiryBucket;
  /** True when a certificate of the chain expires before the leaf. */
  chainExpiresFirst: boolean;
  labels: Record<string, string>;
}

export interface CommonFinding {
  id: string;
  title: string;
  severity: FindingSeverity;
  /** Endpoints with the finding. */
  count: number;
  /** Up to EXAMPLE_HOSTS `host:port` having it. */
  examples: string[];
}

export interface GradeChangeEntry {
  host: string;
  port: number;
  from: Grade | null;
  to: Grade | null;
  fromAt: string;
  toAt: string;
  /** up: better grade; down: worse; unknown: one side could not be graded. */
  direction: 'up' | 'down' | 'unknown';
}

export interface PortChangeEntry {
  target: string;
  ip: string;
  port: number;
  /** New state for a closed port (closed, filtered), `open` for a new one. */
  state: string;
  service: string | null;
  scanId: string;
}

export interface ReportFailure {
  kind: 'tls' | 'ports';
  /** host:port, or the address target. */
  target: string;
  /** The endpoint that failed, when the assessment graded others. */
  ip: string | null;
  code: string;
  message: string;
  at: string;
}

export interface ReportSummary {
  generatedAt: string;
  scope: 'inventory' | 'assessed';
  filters: ReportFilters;
  totals: {
    tlsTargets: number;
    /** TLS targets with an assessment in the window. */
    assessedTargets: number;
    notAssessedTargets: number;
    endpoints: number;
    gradedEndpoints: number;
    portTargets: number;
    expiringCertificates: number;
    failures: number;
  };
  /** Per grade: targets by their worst endpoint grade, and endpoints by their own grade. */
  gradeDistribution: Array<{ grade: GradeBucket; targets: number; endpoints: number }>;
  /** Only grades that occur, worst first; endpoints by host, port, ip. */
  endpointsByGrade: Array<{ grade: GradeBucket; endpoints: ReportEndpoint[] }>;
  expiry: {
    /** Endpoints by earliest expiry; cumulative: within30Days counts those within 7 too (expired excluded). */
    counts: { expired: number; within7Days: number; within30Days: number; within90Days: number };
    /** Expired or expiring within filters.expiringWithinDays, soonest first. */
    certificates: ExpiringCertificate[];
  };
  /** Most frequent first, at most TOP_FINDINGS. */
  topFindings: CommonFinding[];
  /** Null without `since`. */
  changes: {
    since: string;
    grades: GradeChangeEntry[];
    newOpenPorts: PortChangeEntry[];
    closedPorts: PortChangeEntry[];
  } | null;
  failures: ReportFailure[];
  notes: string[];
}

export const TOP_FINDINGS = 20;
export const EXAMPLE_HOSTS = 5;
const DAY_MS = 86_400_000;

/* ------------------------------------------------------------------------------------------------ */

/** What the report reads of one stored Assessment: endpoints with errors, expiry and findings. */
export function reportEndpoints(assessment: Assessment): ReportEndpointInput[] {
  return assessment.endpoints.map(endpointDigest);
}

const targetName = (host: string, port: number): string => `${host.includes(':') ? `[${host}]` : host}:${port}`;
const bucketOf = (grade: Grade | null): GradeBucket => grade ?? 'ungraded';
const bucketRank = (bucket: GradeBucket): number => GRADE_BUCKETS.indexOf(bucket);

/** Worst grade of the endpoints; `ungraded` only when none was graded. */
function worstBucket(endpoints: readonly ReportEndpointInput[]): GradeBucket {
  let worst: Grade | null = null;
  for (const e of endpoints) if (e.grade !== null && (worst === null || gradeRank(e.grade) > gradeRank(worst))) worst = e.grade;
  return bucketOf(worst);
}

function expiryBucket(msLeft: number): ExpiryBucket | null {
  if (msLeft <= 0) return 'expired';
  const days = msLeft / DAY_MS;
  return days <= 7 ? '7d' : days <= 30 ? '30d' : days <= 90 ? '90d' : null;
}

const SEVERITY_RANK: Record<FindingSeverity, number> = { critical: 0, high: 1, medium: 2, low: 3, info: 4 };

export function buildReport(input: ReportInput): ReportSummary {
  const now = Date.parse(input.generatedAt);
  const endpoints: ReportEndpoint[] = [];
  const distribution = new Map<GradeBucket, { targets: number; endpoints: number }>(GRADE_BUCKETS.map((g) => [g, { targets: 0, endpoints: 0 }]));
  const findings = new Map<string, CommonFinding>();
  const failures: ReportFailure[] = [];
  const expiring: ExpiringCertificate[] = [];
  const counts = { expired: 0, within7Days: 0, within30Days: 0, within90Days: 0 };

  for (const target of input.tlsTargets) {
    const name = targetName(target.host, target.port);
    if (target.scanError !== null) failures.push({ kind: 'tls', target: name, ip: null, ...target.scanError });
    const latest = target.latest;
    if (latest === null) continue;
    distribution.get(worstBucket(latest.endpoints))!.targets++;
    for (const e of latest.endpoints) {
      distribution.get(bucketOf(e.grade))!.endpoints++;
      if (e.status === 'error') {
        failures.push({ kind: 'tls', target: name, ip: e.ip, code: e.error?.code ?? 'unknown', message: e.error?.message ?? 'the endpoint could not be assessed', at: latest.finishedAt });
      }
      const msLeft = e.earliestExpiry === null ? null : Date.parse(e.earliestExpiry) - now;
      endpoints.push({
        host: target.host,
        port: target.port,
        ip: e.ip,
        status: e.status,
        grade: e.grade,
        gradeTrustIgnored: e.gradeTrustIgnored,
        assessmentId: latest.id,
        assessedAt: latest.finishedAt,
        engine: latest.engine,
        leafExpiry: e.leafExpiry,
        earliestExpiry: e.earliestExpiry,
        daysToExpiry: msLeft === null ? null : Math.floor(msLeft / DAY_MS),
        findings: e.findings.map((f) => f.id),
        labels: target.labels,
      });
      if (msLeft !== null && e.leafExpiry !== null && e.earliestExpiry !== null) {
        const bucket = expiryBucket(msLeft);
        if (bucket === 'expired') counts.expired++;
        else if (bucket !== null) {
          counts.within90Days++;
          if (bucket !== '90d') counts.within30Days++;
          if (bucket === '7d') counts.within7Days++;
        }
        if (bucket !== null && (bucket === 'expired' || msLeft <= input.filters.expiringWithinDays * DAY_MS)) {
          expiring.push({
            host: target.host,
            port: target.port,
            ip: e.ip,
            leafExpiry: e.leafExpiry,
            earliestExpiry: e.earliestExpiry,
            daysToExpiry: Math.floor(msLeft / DAY_MS),
            bucket,
            chainExpiresFirst: Date.parse(e.earliestExpiry) < Date.parse(e.leafExpiry),
            labels: target.labels,
          });
        }
      }
      for (const f of e.findings) {
        let entry = findings.get(f.id);
        if (!entry) findings.set(f.id, (entry = { id: f.id, title: f.title, severity: f.severity, count: 0, examples: [] }));
        entry.count++;
        if (entry.examples.length < EXAMPLE_HOSTS && !entry.examples.includes(name)) entry.examples.push(name);
      }
    }
  }

  for (const target of input.portTargets) {
    if (target.scanError !== null) failures.push({ kind: 'ports', target: target.target, ip: null, ...target.scanError });
  }

  endpoints.sort((a, b) => bucketRank(bucketOf(b.grade)) - bucketRank(bucketOf(a.grade)) || a.host.localeCompare(b.host) || a.port - b.port || a.ip.localeCompare(b.ip));
  const byGrade = new Map<GradeBucket, ReportEndpoint[]>();
  for (const e of endpoints) {
    const bucket = bucketOf(e.grade);
    let list = byGrade.get(bucket);
    if (!list) byGrade.set(bucket, (list = []));
    list.push(e);
  }
  expiring.sort((a, b) => Date.parse(a.earliestExpiry) - Date.parse(b.earliestExpiry) || a.host.localeCompare(b.host) || a.ip.localeCompare(b.ip));
  const assessedTargets = input.tlsTargets.filter((t) => t.latest !== null).length;

  return {
    generatedAt: input.generatedAt,
    scope: input.scope,
    filters: input.filters,
    totals: {
      tlsTargets: input.tlsTargets.length,
      assessedTargets,
      notAssessedTargets: input.tlsTargets.length - assessedTargets,
      endpoints: endpoints.length,
      gradedEndpoints: endpoints.filter((e) => e.grade !== null).length,
      portTargets: input.portTargets.length,
      expiringCertificates: expiring.length,
      failures: failures.length,
    },
    gradeDistribution: GRADE_BUCKETS.map((grade) => ({ grade, ...distribution.get(grade)! })),
    endpointsByGrade: [...byGrade].map(([grade, list]) => ({ grade, endpoints: list })),
    expiry: { counts, certificates: expiring },
    topFindings: [...findings.values()]
      .sort((a, b) => b.count - a.count || SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] || a.id.localeCompare(b.id))
      .slice(0, TOP_FINDINGS),
    changes: input.filters.since === null ? null : { since: input.filters.since, grades: gradeChanges(input.tlsTargets), ...portChanges(input.portTargets) },
    failures,
    notes: input.notes,
  };
}

/** Targets whose worst grade differs between the latest assessment and the latest one before `since`. */
function gradeChanges(targets: readonly ReportTlsTargetInput[]): GradeChangeEntry[] {
  const changes: GradeChangeEntry[] = [];
  for (const t of targets) {
    if (t.latest === null || t.before === null) continue;
    const bucket = worstBucket(t.latest.endpoints);
    const to = bucket === 'ungraded' ? null : bucket;
    const from = t.before.grade;
    if (from === to) continue;
    const direction = from === null || to === null ? 'unknown' : gradeRank(to) < gradeRank(from) ? 'up' : 'down';
    changes.push({ host: t.host, port: t.port, from, to, fromAt: t.before.finishedAt, toAt: t.latest.finishedAt, direction });
  }
  return changes;
}

function portChanges(targets: readonly ReportPortTargetInput[]): { newOpenPorts: PortChangeEntry[]; closedPorts: PortChangeEntry[] } {
  const newOpenPorts: PortChangeEntry[] = [];
  const closedPorts: PortChangeEntry[] = [];
  for (const t of targets) {
    for (const pair of t.comparisons) {
      const diff: PortScanComparison = comparePortScans(pair.before, pair.after);
      for (const host of diff.hosts) {
        for (const p of host.newlyOpen) newOpenPorts.push({ target: t.target, ip: host.ip, port: p.port, state: 'open', service: p.service?.name ?? null, scanId: pair.after.id });
        for (const p of host.newlyClosed) closedPorts.push({ target: t.target, ip: host.ip, port: p.port, state: p.to, service: p.service?.name ?? null, scanId: pair.after.id });
      }
    }
  }
  return { newOpenPorts, closedPorts };
}

/* ------------------------------------------------------------------------------------------------
 * CSV: one row per endpoint.
 * ---------------------------------------------------------------------------------------------- */

/**
 * A text cell as spreadsheets should read it: a cell starting with = + - @ (or a tab or carriage
 * return) is prefixed with a quote so it is never run as a formula, and a cell holding a comma, quote
 * or line break is quoted (RFC 4180).
 */
export function csvCell(value: string | number | boolean | null): string {
  if (value === null) return '';
  if (typeof value !== 'string') return String(value);
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

const CSV_COLUMNS = ['host', 'port', 'ip', 'status', 'grade', 'gradeTrustIgnored', 'assessedAt', 'engine', 'leafExpiry', 'earliestExpiry', 'daysToExpiry', 'findings'] as const;

/** One row per endpoint, worst grade first; a `label:<key>` column per label key used by any endpoint. */
export function summaryCsv(summary: ReportSummary): string {
  const rows = summary.endpointsByGrade.flatMap((g) => g.endpoints);
  const labelKeys = [...new Set(rows.flatMap((r) => Object.keys(r.labels)))].sort();
  const lines = [[...CSV_COLUMNS, ...labelKeys.map((k) => `label:${k}`)].map(csvCell).join(',')];
  for (const r of rows) {
    const cells: Array<string | number | null> = [
      r.host,
      r.port,
      r.ip,
      r.status,
      r.grade,
      r.gradeTrustIgnored,
      r.assessedAt,
      r.engine,
      r.leafExpiry,
      r.earliestExpiry,
      r.daysToExpiry,
      r.findings.join(';'),
      ...labelKeys.map((k) => r.labels[k] ?? null),
    ];
    lines.push(cells.map(csvCell).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}

/* ------------------------------------------------------------------------------------------------
 * HTML: one printable page for an executive; inline CSS and SVG, no script, every value escaped.
 * ---------------------------------------------------------------------------------------------- */

export function escapeHtml(value: string | number | null | undefined): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const GRADE_COLOURS: Record<GradeBucket, string> = {
  'A+': '#1a7f37',
  A: '#2da44e',
  'A-': '#4ac26b',
  B: '#bf8700',
  C: '#d4a72c',
  D: '#e16f24',
  E: '#d1242f',
  T: '#a40e26',
  M: '#a40e26',
  F: '#82071e',
  ungraded: '#8c959f',
};

/** Rows shown per table on the page; the CSV has them all. */
const HTML_ROWS = 100;

/** Horizontal bars, one per item, with its label and value; the widest bar is the largest value. */
function barChart(title: string, items: Array<{ label: string; value: number; colour: string }>): string {
  const rowHeight = 24;
  const labelWidth = 90;
  const barWidth = 420;
  const max = Math.max(1, ...items.map((i) => i.value));
  const rows = items
    .map((item, index) => {
      const y = index * rowHeight;
      const width = Math.round((item.value / max) * barWidth);
      return (
        `<text x="${labelWidth - 8}" y="${y + 16}" text-anchor="end">${escapeHtml(item.label)}</text>` +
        `<rect x="${labelWidth}" y="${y + 4}" width="${width}" height="${rowHeight - 8}" fill="${item.colour}"/>` +
        `<text x="${labelWidth + width + 6}" y="${y + 16}">${escapeHtml(item.value)}</text>`
      );
    })
    .join('');
  const height = items.length * rowHeight;
  return `<svg role="img" aria-label="${escapeHtml(title)}" width="${labelWidth + barWidth + 60}" height="${height}" viewBox="0 0 ${labelWidth + barWidth + 60} ${height}" xmlns="http://www.w3.org/2000/svg"><title>${escapeHtml(title)}</title>${rows}</svg>`;
}

function table(head: string[], rows: Array<Array<string | number | null>>, total = rows.length): string {
  if (total === 0) return '<p class="none">None.</p>';
  const shown = rows.slice(0, HTML_ROWS);
  const more = total > shown.length ? `<p class="more">${escapeHtml(total - shown.length)} more not shown: see the CSV export.</p>` : '';
  return (
    `<table><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>` +
    shown.map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`).join('') +
    `</tbody></table>${more}`
  );
}

const labelText = (labels: Record<string, string>): string =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');

function filtersText(summary: ReportSummary): string {
  const f = summary.filters;
  const parts = [
    Object.keys(f.labels).length > 0 ? `labels ${labelText(f.labels)}` : 'all labels',
    f.since !== null ? `since ${f.since}` : null,
    f.until !== null ? `until ${f.until}` : null,
    `expiring within ${f.expiringWithinDays} days`,
    summary.scope === 'inventory' ? 'TLS targets of the inventory' : 'every assessed host:port (the inventory has no TLS target)',
  ];
  return parts.filter((p) => p !== null).join(' · ');
}

const STYLE = `
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#1f2328;margin:2rem auto;max-width:60rem;padding:0 1rem;line-height:1.4}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.15rem;border-bottom:1px solid #d0d7de;padding-bottom:.2rem;margin-top:2rem}
.meta{color:#57606a;font-size:.9rem;margin:.1rem 0}
.tiles{display:flex;flex-wrap:wrap;gap:.8rem;margin:1.2rem 0}.tile{border:1px solid #d0d7de;border-radius:6px;padding:.6rem 1rem;min-width:8rem}
.tile b{display:block;font-size:1.5rem}.tile span{color:#57606a;font-size:.85rem}
table{border-collapse:collapse;width:100%;font-size:.85rem}th,td{border-bottom:1px solid #d0d7de;padding:.25rem .4rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}svg text{font-size:12px;fill:#1f2328}.none,.more{color:#57606a;font-size:.85rem}
@media print{body{margin:0;max-width:none;font-size:10pt}h2{break-after:avoid}tr,svg,.tiles{break-inside:avoid}a{color:inherit;text-decoration:none}}
@page{margin:1.5cm}`;

export function summaryHtml(summary: ReportSummary): string {
  const t = summary.totals;
  const tiles: Array<[string, number]> = [
    ['TLS targets', t.tlsTargets],
    ['assessed', t.assessedTargets],
    ['endpoints', t.endpoints],
    ['expired certificates', summary.expiry.counts.expired],
    ['expiring in 30 days', summary.expiry.counts.within30Days],
    ['failures', t.failures],
  ];
  const distribution = barChart(
    'Targets by worst grade',
    summary.gradeDistribution.filter((d) => d.targets > 0 || d.grade !== 'ungraded').map((d) => ({ label: d.grade, value: d.targets, colour: GRADE_COLOURS[d.grade] })),
  );
  const c = summary.expiry.counts;
  const expiryChart = barChart('Certificates by time to expiry', [
    { label: 'expired', value: c.expired, colour: '#82071e' },
    { label: '≤ 7 days', value: c.within7Days, colour: '#d1242f' },
    { label: '≤ 30 days', value: c.within30Days, colour: '#e16f24' },
    { label: '≤ 90 days', value: c.within90Days, colour: '#bf8700' },
  ]);
  const attention = summary.endpointsByGrade.filter((g) => g.grade === 'ungraded' || gradeRank(g.grade) > gradeRank('A-')).flatMap((g) => g.endpoints);
  const changes = summary.changes;

  const sections = [
    `<h1>TLS and exposure summary</h1>`,
    `<p class="meta">Generated at ${escapeHtml(summary.generatedAt)} by Portcullis.</p>`,
    `<p class="meta">Filters: ${escapeHtml(filtersText(summary))}</p>`,
    `<div class="tiles">${tiles.map(([label, value]) => `<div class="tile"><b>${escapeHtml(value)}</b><span>${escapeHtml(label)}</span></div>`).join('')}</div>`,
    `<h2>Grade distribution</h2>${distribution}`,
    `<h2>Certificate expiry</h2>${expiryChart}`,
    table(
      ['host', 'port', 'address', 'expires (earliest in chain)', 'leaf expires', 'days left', 'labels'],
      summary.expiry.certificates.map((e) => [e.host, e.port, e.ip, e.earliestExpiry, e.leafExpiry, e.daysToExpiry, labelText(e.labels)]),
    ),
    `<h2>Endpoints graded below A-, or not graded</h2>`,
    table(
      ['grade', 'host', 'port', 'address', 'trust ignored', 'assessed', 'findings', 'labels'],
      attention.map((e) => [e.grade ?? 'ungraded', e.host, e.port, e.ip, e.gradeTrustIgnored, e.assessedAt, e.findings.join(', '), labelText(e.labels)]),
    ),
    `<h2>Most common findings</h2>`,
    table(
      ['finding', 'severity', 'endpoints', 'for example'],
      summary.topFindings.map((f) => [f.title, f.severity, f.count, f.examples.join(', ')]),
    ),
  ];
  if (changes !== null) {
    sections.push(
      `<h2>Changes since ${escapeHtml(changes.since)}</h2>`,
      table(
        ['host', 'port', 'from', 'to', 'direction', 'assessed'],
        changes.grades.map((g) => [g.host, g.port, g.from ?? 'ungraded', g.to ?? 'ungraded', g.direction, g.toAt]),
      ),
      `<h2>Ports newly open</h2>`,
      table(['target', 'address', 'port', 'service'], changes.newOpenPorts.map((p) => [p.target, p.ip, p.port, p.service])),
      `<h2>Ports no longer open</h2>`,
      table(['target', 'address', 'port', 'now'], changes.closedPorts.map((p) => [p.target, p.ip, p.port, p.state])),
    );
  }
  sections.push(
    `<h2>Failures</h2>`,
    table(['kind', 'target', 'address', 'code', 'message', 'at'], summary.failures.map((f) => [f.kind, f.target, f.ip, f.code, f.message, f.at])),
  );
  if (summary.notes.length > 0) sections.push(`<h2>Notes</h2><ul>${summary.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>`);

  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Portcullis summary ${escapeHtml(summary.generatedAt)}</title><style>${STYLE}</style></head>
<body>
${sections.join('\n')}
</body></html>
`;
}
