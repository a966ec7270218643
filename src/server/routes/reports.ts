import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { type ReportFilters, type ReportSummary, buildReport, summaryCsv, summaryHtml } from '../../monitor/report.js';
import type { Runtime } from '../../runtime/index.js';
import { PortcullisError } from '../../shared/errors.js';
import { labelFilter } from '../label-filter.js';
import { FiniteInteger, problemResponse } from '../schemas.js';

/* ------------------------------------------------------------------------------------------------
 * Query and response schemas.
 * ---------------------------------------------------------------------------------------------- */

const SummaryQuery = Type.Object(
  {
    labels: Type.Optional(
      Type.String({ maxLength: 2000, description: 'Only targets with every one of these labels: `key:value` pairs separated by commas, e.g. `team:web,env:prod`. Also `label.<key>=<value>` per label.' }),
    ),
    since: Type.Optional(
      Type.String({ maxLength: 40, description: 'ISO date or date-time: only assessments finished at or after it count, and `changes` compares against the latest state before it.' }),
    ),
    until: Type.Optional(Type.String({ maxLength: 40, description: 'ISO date or date-time: only assessments finished at or before it count (the report "as of" then).' })),
    expiringWithinDays: FiniteInteger({ minimum: 0, maximum: 3650, default: 90, description: 'List certificates expired or expiring within this many days (default 90).' }),
  },
  {
    additionalProperties: false,
    // label.<key>=<value>: one filter per label.
    patternProperties: { '^label\\..+$': { type: 'string', maxLength: 500 } },
    examples: [{ labels: 'team:web,env:prod', since: '2026-06-01', expiringWithinDays: 30 }],
  },
);

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);
const Labels = Type.Record(Type.String(), Type.String());
const GradeBucket = Type.String({ description: 'A+, A, A-, B, C, D, E, T, M, F, or `ungraded` (no endpoint could be graded).' });

const Endpoint = Type.Object({
  host: Type.String(),
  port: Type.Integer(),
  ip: Type.String(),
  status: Type.String({ description: '`ready` or `error`.' }),
  grade: Nullable(Type.String()),
  gradeTrustIgnored: Nullable(Type.String()),
  assessmentId: Type.String(),
  assessedAt: Type.String({ format: 'date-time' }),
  engine: Type.String(),
  leafExpiry: Nullable(Type.String({ format: 'date-time' })),
  earliestExpiry: Nullable(Type.String({ format: 'date-time', description: 'Earliest notAfter on the validated chain: an intermediate can expire before the leaf.' })),
  daysToExpiry: Nullable(Type.Integer({ description: 'Whole days from generatedAt to earliestExpiry, negative once expired.' })),
  findings: Type.Array(Type.String(), { description: 'Finding ids.' }),
  labels: Labels,
});

const ErrorAt = { code: Type.String(), message: Type.String(), at: Type.String({ format: 'date-time' }) };

const PortChange = Type.Object({
  target: Type.String(),
  ip: Type.String(),
  port: Type.Integer(),
  state: Type.String({ description: '`open` for a new port; for a closed one its state now (closed, filtered).' }),
  service: Nullable(Type.String()),
  scanId: Type.String({ description: 'The port scan that saw the change.' }),
});

const SUMMARY_EXAMPLE = {
  generatedAt: '2026-07-01T08:00:00.000Z',
  scope: 'inventory',
  filters: { labels: { team: 'web' }, since: '2026-06-01T00:00:00.000Z', until: null, expiringWithinDays: 90 },
  totals: { tlsTargets: 2, assessedTargets: 2, notAssessedTargets: 0, endpoints: 2, gradedEndpoints: 2, portTargets: 1, expiringCertificates: 1, failures: 0 },
  gradeDistribution: [
    { grade: 'A', targets: 1, endpoints: 1 },
    { grade: 'B', targets: 1, endpoints: 1 },
  ],
  endpointsByGrade: [
    {
      grade: 'B',
      endpoints: [
        {
          host: 'legacy.internal',
          port: 443,
          ip: '10.0.0.7',
          status: 'ready',
          grade: 'B',
          gradeTrustIgnored: 'B',
          assessmentId: '01990d70-0000-7000-8000-000000000001',
          assessedAt: '2026-06-30T22:00:04.000Z',
          engine: 'native',
          leafExpiry: '2026-07-20T00:00:00.000Z',
          earliestExpiry: '2026-07-20T00:00:00.000Z',
          daysToExpiry: 18,
          findings: ['tls10'],
          labels: { team: 'web' },
        },
      ],
    },
  ],
  expiry: {
    counts: { expired: 0, within7Days: 0, within30Days: 1, within90Days: 1 },
    certificates: [
      { host: 'legacy.internal', port: 443, ip: '10.0.0.7', leafExpiry: '2026-07-20T00:00:00.000Z', earliestExpiry: '2026-07-20T00:00:00.000Z', daysToExpiry: 18, bucket: '30d', chainExpiresFirst: false, labels: { team: 'web' } },
    ],
  },
  topFindings: [{ id: 'tls10', title: 'TLS 1.0 enabled', severity: 'medium', count: 1, examples: ['legacy.internal:443'] }],
  changes: {
    since: '2026-06-01T00:00:00.000Z',
    grades: [{ host: 'legacy.internal', port: 443, from: 'A', to: 'B', fromAt: '2026-05-30T22:00:03.000Z', toAt: '2026-06-30T22:00:04.000Z', direction: 'down' }],
    newOpenPorts: [{ target: '10.0.0.0/28', ip: '10.0.0.9', port: 3306, state: 'open', service: 'mysql', scanId: '01990d71-0000-7000-8000-000000000002' }],
    closedPorts: [],
  },
  failures: [],
  notes: [],
};

const Summary = Type.Object(
  {
    generatedAt: Type.String({ format: 'date-time' }),
    scope: Type.String({ description: '`inventory`: the TLS targets of the inventory; `assessed`: the inventory has no TLS target, so every assessed host:port.' }),
    filters: Type.Object({ labels: Labels, since: Nullable(Type.String()), until: Nullable(Type.String()), expiringWithinDays: Type.Integer() }),
    totals: Type.Object({
      tlsTargets: Type.Integer(),
      assessedTargets: Type.Integer({ description: 'TLS targets with an assessment in the window.' }),
      notAssessedTargets: Type.Integer(),
      endpoints: Type.Integer(),
      gradedEndpoints: Type.Integer(),
      portTargets: Type.Integer(),
      expiringCertificates: Type.Integer(),
      failures: Type.Integer(),
    }),
    gradeDistribution: Type.Array(Type.Object({ grade: GradeBucket, targets: Type.Integer({ description: 'Targets whose worst endpoint has this grade.' }), endpoints: Type.Integer() })),
    endpointsByGrade: Type.Array(Type.Object({ grade: GradeBucket, endpoints: Type.Array(Endpoint) }), { description: 'Grades that occur, worst first.' }),
    expiry: Type.Object({
      counts: Type.Object(
        { expired: Type.Integer(), within7Days: Type.Integer(), within30Days: Type.Integer(), within90Days: Type.Integer() },
        { description: 'Endpoints by the earliest expiry on their chain; cumulative (within30Days includes within7Days), expired counted apart.' },
      ),
      certificates: Type.Array(
        Type.Object({
          host: Type.String(),
          port: Type.Integer(),
          ip: Type.String(),
          leafExpiry: Type.String({ format: 'date-time' }),
          earliestExpiry: Type.String({ format: 'date-time' }),
          daysToExpiry: Type.Integer(),
          bucket: Type.String({ description: '`expired`, `7d`, `30d` or `90d`.' }),
          chainExpiresFirst: Type.Boolean({ description: 'A certificate of the chain expires before the leaf.' }),
          labels: Labels,
        }),
        { description: 'Expired or expiring within `expiringWithinDays`, soonest first.' },
      ),
    }),
    topFindings: Type.Array(
      Type.Object({ id: Type.String(), title: Type.String(), severity: Type.String(), count: Type.Integer({ description: 'Endpoints with the finding.' }), examples: Type.Array(Type.String()) }),
    ),
    changes: Nullable(
      Type.Object(
        {
          since: Type.String({ format: 'date-time' }),
          grades: Type.Array(
            Type.Object({
              host: Type.String(),
              port: Type.Integer(),
              from: Nullable(Type.String()),
              to: Nullable(Type.String()),
              fromAt: Type.String({ format: 'date-time' }),
              toAt: Type.String({ format: 'date-time' }),
              direction: Type.String({ description: '`up`, `down`, or `unknown` when one side could not be graded.' }),
            }),
          ),
          newOpenPorts: Type.Array(PortChange),
          closedPorts: Type.Array(PortChange),
        },
        { description: 'Null without `since`.' },
      ),
    ),
    failures: Type.Array(
      Type.Object({ kind: Type.String({ description: '`tls` or `ports`.' }), target: Type.String(), ip: Nullable(Type.String()), ...ErrorAt }),
      { description: 'Endpoints the latest assessment could not assess, targets the last scan could not assess, failed port scans.' },
    ),
    notes: Type.Array(Type.String()),
  },
  { examples: [SUMMARY_EXAMPLE] },
);

/* ------------------------------------------------------------------------------------------------ */

/** A date or date-time as the canonical ISO text stored timestamps compare with. */
function isoTime(value: string | undefined, field: string): string | null {
  if (value === undefined) return null;
  const ms = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) throw new PortcullisError('request.invalid', `${field} must be an ISO date or date-time such as 2026-06-01 or 2026-06-01T00:00:00Z`, { field, value });
  return new Date(ms).toISOString();
}


function filtersOf(query: Record<string, unknown> & { since?: string | undefined; until?: string | undefined; expiringWithinDays: number }): ReportFilters {
  const since = isoTime(query.since, 'since');
  const until = isoTime(query.until, 'until');
  if (since !== null && until !== null && since > until) throw new PortcullisError('request.invalid', `since (${since}) is after until (${until})`, { field: 'since', value: query.since });
  return { labels: labelFilter(query), since, until, expiringWithinDays: query.expiringWithinDays };
}

const FILTER_DESCRIPTION =
  'Scope: the TLS targets of the inventory (or, while the inventory has no TLS target, every assessed host:port), filtered by labels; ' +
  'each target is represented by its latest assessment finished in the since/until window.';

export async function reportRoutes(fastify: FastifyInstance, opts: { runtime: Runtime }): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const reports = opts.runtime.store.reports;

  async function summaryFor(query: Parameters<typeof filtersOf>[0]): Promise<ReportSummary> {
    return buildReport(await reports.reportInput(filtersOf(query)));
  }
  const filenameStamp = (summary: ReportSummary): string => summary.generatedAt.slice(0, 19).replace(/:/g, '');
  const invalid = problemResponse('A filter is malformed (labels not key:value, a date that is not ISO, since after until).');

  app.get(
    '/api/v1/reports/summary',
    {
      schema: {
        tags: ['reports'],
        summary: 'Executive summary: grades, expiring certificates, common findings, changes, failures',
        description:
          `${FILTER_DESCRIPTION} Returns the grade distribution (targets by worst grade, endpoints by grade), endpoints by grade, certificates expired or expiring ` +
          'within 7/30/90 days (leaf and earliest in chain), the most common findings, changes since `since` (grades up/down, ports newly open or closed on port targets) and failures.',
        querystring: SummaryQuery,
        response: { 200: Summary, 400: invalid },
      },
    },
    async (request) => summaryFor(request.query),
  );

  app.get(
    '/api/v1/reports/summary.csv',
    {
      schema: {
        tags: ['reports'],
        summary: 'The summary as CSV, one row per endpoint',
        description:
          `${FILTER_DESCRIPTION} Columns: host, port, ip, status, grade, gradeTrustIgnored, assessedAt, engine, leafExpiry, earliestExpiry, daysToExpiry, findings (ids joined by \`;\`), ` +
          'then `label:<key>` per label. RFC 4180 quoting; a cell starting with = + - @ is prefixed with `\'` so spreadsheets never run it as a formula.',
        querystring: SummaryQuery,
        produces: ['text/csv'],
        response: {
          200: {
            description: 'CSV (attachment).',
            content: {
              'text/csv': {
                schema: Type.String({
                  examples: [
                    'host,port,ip,status,grade,gradeTrustIgnored,assessedAt,engine,leafExpiry,earliestExpiry,daysToExpiry,findings,label:team\r\n' +
                      'legacy.internal,443,10.0.0.7,ready,B,B,2026-06-30T22:00:04.000Z,native,2026-07-20T00:00:00.000Z,2026-07-20T00:00:00.000Z,18,tls10,web\r\n',
                  ],
                }),
              },
            },
          },
          400: invalid,
        },
      },
    },
    async (request, reply) => {
      const summary = await summaryFor(request.query);
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="portcullis-summary-${filenameStamp(summary)}.csv"`)
        .send(summaryCsv(summary));
    },
  );

  app.get(
    '/reports/summary.html',
    {
      schema: {
        tags: ['reports'],
        summary: 'The summary as one printable HTML page for executives',
        description: `${FILTER_DESCRIPTION} Self-contained: inline CSS and SVG charts (grade distribution, certificate expiry), no script and no external asset; prints cleanly.`,
        querystring: SummaryQuery,
        produces: ['text/html'],
        response: { 200: { description: 'HTML page.', content: { 'text/html': { schema: Type.String() } } }, 400: invalid },
      },
    },
    async (request, reply) => {
      const summary = await summaryFor(request.query);
      // No script runs on this page and nothing is loaded from elsewhere: say so to the browser too.
      return reply
        .type('text/html; charset=utf-8')
        .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
        .send(summaryHtml(summary));
    },
  );
}
