import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { submitTlsScan, tlsScanJobId } from '../../jobs/index.js';
import { scanningAs } from '../auth.js';
import type { Runtime } from '../../runtime/index.js';
import { PortcullisError } from '../../shared/errors.js';
import type { TlsAssessmentSummary, TlsScanRecord, TlsTargetResult } from '../../store/index.js';
import { targetKey } from '../../tls/target.js';
import { compareAssessments } from '../../tls/compare.js';
import { cancelOrDelete } from '../scan-lifecycle.js';
import { FiniteInteger, IdParam, PageOffset, SearchText, problemResponse } from '../schemas.js';

/* ------------------------------------------------------------------------------------------------
 * Schemas of the TLS resources (also used by routes/scan.ts and routes/domains.ts).
 * ---------------------------------------------------------------------------------------------- */

const BASE = '/api/v1/tls-scans';
export const ASSESSMENTS_BASE = '/api/v1/tls-assessments';

const Links = Type.Record(Type.String(), Type.String());
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);
const ScanStatus = Type.Union([Type.Literal('queued'), Type.Literal('running'), Type.Literal('done'), Type.Literal('failed'), Type.Literal('cancelled')]);
const GradeText = Type.String({ description: 'SSL Labs grade: A+, A, A-, B, C, D, E, F, T (not trusted) or M (name mismatch).' });
const ErrorObject = Type.Object({ code: Type.String(), message: Type.String() });

export const EngineChoice = Type.Union([Type.Literal('native'), Type.Literal('ssllabs'), Type.Literal('both')], {
  description:
    '`native` (default): our engine. `ssllabs`: Qualys SSL Labs (needs `ssllabs.email`; IP addresses, ports other than 443 and names resolving to private or loopback ' +
    'addresses are assessed natively instead and the assessment says so in `fallback`). `both`: both engines, SSL Labs\' answer as a second opinion beside the native one.',
});

const TlsScanOptions = Type.Object(
  {
    engine: Type.Optional(EngineChoice),
    sni: Type.Optional(Type.String({ minLength: 1, maxLength: 253, description: 'Server name to send instead of each host name (a host name, not an IP).' })),
    fresh: Type.Optional(Type.Boolean({ description: 'Assess every host again, even when an assessment younger than `tls.maxAgeSeconds` is stored (default false: reuse it).' })),
    timeoutMs: Type.Optional(FiniteInteger({ minimum: 100, maximum: 120000, description: 'Per-connection timeout of the engine, ms (default from config `tls.timeoutMs`).' })),
  },
  { additionalProperties: false },
);

export const CreateTlsScanBody = Type.Object(
  {
    hosts: Type.Array(Type.String({ minLength: 1, maxLength: 261 }), {
      minItems: 1,
      maxItems: 100,
      description: 'Services to assess: `name`, `name:port`, an IP address with optional `:port`, or `[IPv6]:port`. The port defaults to 443. Every resolved address is checked against the scope policy.',
    }),
    options: Type.Optional(TlsScanOptions),
  },
  {
    additionalProperties: false,
    examples: [{ hosts: ['app.internal', 'mail.internal:993'] }, { hosts: ['10.0.0.5:8443', '[2001:db8::5]:443'], options: { sni: 'app.internal', fresh: true } }],
  },
);

const EndpointGrade = Type.Object({
  ip: Type.String(),
  status: Type.Union([Type.Literal('ready'), Type.Literal('error')]),
  grade: Nullable(GradeText),
  gradeTrustIgnored: Nullable(GradeText),
});

export const TlsAssessmentSummarySchema = Type.Object(
  {
    id: Type.String(),
    scanId: Nullable(Type.String()),
    host: Type.String(),
    port: Type.Integer(),
    sni: Nullable(Type.String()),
    engine: Type.String({ description: '`native` or `ssllabs`.' }),
    criteriaVersion: Type.String({ description: 'SSL Labs rating guide version the grade follows, e.g. 2009r.' }),
    startedAt: Type.String({ format: 'date-time' }),
    finishedAt: Type.String({ format: 'date-time' }),
    grade: Nullable(Type.String({ description: 'Worst grade across the endpoints; null when none could be graded.' })),
    endpoints: Type.Array(EndpointGrade),
    links: Links,
  },
  {
    examples: [
      {
        id: '01990d6f-4c1e-7a3b-9f3a-2b7d5e9c0a11',
        scanId: '01990d6f-4b00-7c1e-8a4b-4c1e9f3a2b7d',
        host: 'app.internal',
        port: 443,
        sni: 'app.internal',
        engine: 'native',
        criteriaVersion: '2009r',
        startedAt: '2026-07-01T10:00:00.000Z',
        finishedAt: '2026-07-01T10:00:04.210Z',
        grade: 'A',
        endpoints: [{ ip: '10.0.0.5', status: 'ready', grade: 'A', gradeTrustIgnored: 'A' }],
        links: { self: '/api/v1/tls-assessments/01990d6f-4c1e-7a3b-9f3a-2b7d5e9c0a11', history: '/api/v1/domains/app.internal?port=443' },
      },
    ],
  },
);

const TargetResult = Type.Object({
  host: Type.String(),
  port: Type.Integer(),
  finishedAt: Type.String({ format: 'date-time' }),
  cached: Type.Boolean({ description: 'Answered with an assessment younger than `tls.maxAgeSeconds` instead of a new one.' }),
  assessment: Type.Optional(TlsAssessmentSummarySchema),
  error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() }, { description: 'Why the target could not be assessed at all (e.g. it no longer resolves).' })),
  sslLabs: Type.Optional(
    Type.Object(
      { assessment: Type.Optional(TlsAssessmentSummarySchema), error: Type.Optional(ErrorObject) },
      { description: 'engine=both: SSL Labs\' assessment of the target, or why there is none (e.g. ssllabs.not-eligible for a private address).' },
    ),
  ),
});

const TlsScanSummary = Type.Object({
  id: Type.String(),
  status: ScanStatus,
  hosts: Type.Array(Type.String(), { description: 'As requested.' }),
  targets: Type.Array(Type.Object({ host: Type.String(), port: Type.Integer() }), { description: 'Parsed and de-duplicated.' }),
  options: TlsScanOptions,
  portScanId: Type.Optional(Type.String({ description: 'The port scan (option assessTls) that asked for this TLS scan.' })),
  progress: Type.Object({ done: Type.Integer(), total: Type.Integer(), percent: Type.Number() }),
  createdAt: Type.String({ format: 'date-time' }),
  startedAt: Type.Optional(Type.String({ format: 'date-time' })),
  finishedAt: Type.Optional(Type.String({ format: 'date-time' })),
  durationMs: Type.Optional(Type.Number()),
  error: Type.Optional(ErrorObject),
  links: Links,
});

const TlsScanDetail = Type.Intersect([TlsScanSummary, Type.Object({ results: Type.Array(TargetResult, { description: 'Finished targets in request order; results appear while the scan runs.' }) })]);

const TlsScanAccepted = Type.Object(
  { id: Type.String(), status: ScanStatus, targets: Type.Integer(), links: Links },
  { examples: [{ id: '01990d6f-4b00-7c1e-8a4b-4c1e9f3a2b7d', status: 'queued', targets: 2, links: { self: '/api/v1/tls-scans/01990d6f-4b00-7c1e-8a4b-4c1e9f3a2b7d' } }] },
);

const Endpoint = Type.Object(
  {
    ip: Type.String(),
    status: Type.Union([Type.Literal('ready'), Type.Literal('error')]),
    grade: Nullable(GradeText),
    gradeTrustIgnored: Nullable(GradeText),
    scores: Nullable(Type.Object({ protocol: Type.Number(), keyExchange: Type.Number(), cipher: Type.Number(), total: Type.Number() })),
    caps: Type.Array(Type.Object({ rule: Type.String(), effect: Type.String(), grade: Type.String(), reason: Type.String(), fix: Type.String() })),
    protocols: Type.Array(Type.Object({ name: Type.String(), supported: Type.Boolean() }, { additionalProperties: true })),
    suites: Type.Array(
      Type.Object(
        { protocol: Type.String(), code: Type.String({ description: 'e.g. 0xC02F' }), iana: Type.String(), openssl: Nullable(Type.String()), bits: Type.Integer(), strength: Type.String() },
        { additionalProperties: true },
      ),
    ),
    certificates: Type.Array(Type.Object({}, { additionalProperties: true })),
    findings: Type.Array(Type.Object({ id: Type.String(), severity: Type.String(), title: Type.String(), detail: Type.String(), fix: Type.String() }, { additionalProperties: true })),
  },
  { additionalProperties: true, description: 'Everything measured about one address: see the Assessment model (src/tls/model.ts) for every field.' },
);

const AssessmentDocument = Type.Object(
  {
    id: Type.String(),
    scanId: Nullable(Type.String()),
    host: Type.String(),
    port: Type.Integer(),
    sni: Nullable(Type.String()),
    engine: Type.String(),
    engineVersion: Type.String(),
    criteriaVersion: Type.String(),
    startedAt: Type.String({ format: 'date-time' }),
    finishedAt: Type.String({ format: 'date-time' }),
    endpoints: Type.Array(Endpoint),
    fallback: Type.Optional(
      Type.Object(
        { requested: Type.Literal('ssllabs'), reason: Type.String() },
        { description: 'SSL Labs was asked for but may not assess this target (IP address, not port 443, private or loopback address), so the native engine did.' },
      ),
    ),
    notes: Type.Optional(Type.Array(Type.String(), { description: 'Things worth knowing about the assessment as a whole, e.g. SSL Labs restarted it.' })),
    links: Links,
  },
  { additionalProperties: true },
);

const TlsScanList = Type.Object({ items: Type.Array(TlsScanSummary), total: Type.Integer(), limit: Type.Integer(), offset: Type.Integer(), links: Links });

const TlsScanComparison = Type.Object({
  a: Type.Object({ id: Type.String(), createdAt: Type.String(), status: ScanStatus }),
  b: Type.Object({ id: Type.String(), createdAt: Type.String(), status: ScanStatus }),
  complete: Type.Boolean({ description: 'False when either scan has not finished.' }),
  targets: Type.Array(
    Type.Object({
      host: Type.String(),
      port: Type.Integer(),
      assessedIn: Type.Union([Type.Literal('both'), Type.Literal('a'), Type.Literal('b')], { description: 'Which scans have an assessment of this target.' }),
      comparison: Type.Optional(
        Type.Object(
          {
            changed: Type.Boolean(),
            endpoints: Type.Array(
              Type.Object(
                {
                  ip: Type.String(),
                  change: Type.String({ description: 'appeared, disappeared, changed or unchanged.' }),
                  grade: Type.Object({ from: Nullable(Type.String()), to: Nullable(Type.String()), direction: Type.String() }),
                },
                { additionalProperties: true, description: 'Also: protocols added/removed, suites per protocol, certificate, findings new/fixed, caps new/removed.' },
              ),
            ),
          },
          { additionalProperties: true },
        ),
      ),
    }),
  ),
});

/* ------------------------------------------------------------------------------------------------ */

export function tlsScanLinks(id: string): Record<string, string> {
  return { self: `${BASE}/${id}`, cancel: `${BASE}/${id}` };
}

export function summaryJson(a: TlsAssessmentSummary) {
  return { ...a, links: { self: `${ASSESSMENTS_BASE}/${a.id}`, history: `/api/v1/domains/${encodeURIComponent(a.host)}?port=${a.port}` } };
}

function scanJson(scan: TlsScanRecord) {
  const { done, total } = scan.progress;
  const durationMs = scan.startedAt !== undefined ? (scan.finishedAt !== undefined ? Date.parse(scan.finishedAt) : Date.now()) - Date.parse(scan.startedAt) : undefined;
  return {
    id: scan.id,
    status: scan.status,
    hosts: scan.hosts,
    targets: scan.targets,
    options: scan.options,
    ...(scan.portScanId !== undefined ? { portScanId: scan.portScanId } : {}),
    progress: { done, total, percent: total === 0 ? 100 : Math.round((1000 * done) / total) / 10 },
    createdAt: scan.createdAt,
    ...(scan.startedAt !== undefined ? { startedAt: scan.startedAt } : {}),
    ...(scan.finishedAt !== undefined ? { finishedAt: scan.finishedAt } : {}),
    ...(durationMs !== undefined ? { durationMs } : {}),
    ...(scan.error !== undefined ? { error: scan.error } : {}),
    links: tlsScanLinks(scan.id),
  };
}

function resultJson(r: TlsTargetResult) {
  return {
    host: r.host,
    port: r.port,
    finishedAt: r.finishedAt,
    cached: r.cached,
    ...(r.assessment !== undefined ? { assessment: summaryJson(r.assessment) } : {}),
    ...(r.error !== undefined ? { error: r.error } : {}),
    ...(r.sslLabs !== undefined
      ? {
          sslLabs: {
            ...(r.sslLabs.assessment !== undefined ? { assessment: summaryJson(r.sslLabs.assessment) } : {}),
            ...(r.sslLabs.error !== undefined ? { error: r.sslLabs.error } : {}),
          },
        }
      : {}),
  };
}

const problems = {
  400: problemResponse('The request is invalid: a malformed host or port, a range instead of a host, or a schema violation.'),
  403: problemResponse('A host resolves to an address outside the scope policy.'),
  404: problemResponse('No such scan or assessment.'),
  503: problemResponse('The database or the queue is unavailable.'),
};

const notFound = (what: string, id: string): PortcullisError => new PortcullisError('not-found', `no ${what} with id ${id}`, { value: id, field: 'id' });

export async function tlsScanRoutes(fastify: FastifyInstance, opts: { runtime: Runtime }): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { runtime } = opts;
  const repo = runtime.store.tlsAssessments;

  app.post(
    BASE,
    {
      schema: {
        tags: ['tls'],
        summary: 'Start a TLS assessment of one or more hosts',
        description:
          'Parses each host[:port], resolves it and checks every address against the scope policy, stores the scan and queues it. Nothing is stored when the request is rejected. ' +
          'Each host is graded like SSL Labs, per address. Poll the returned link for progress and results.',
        body: CreateTlsScanBody,
        response: { 202: TlsScanAccepted, ...problems },
      },
    },
    async (request, reply) => {
      const caller = await scanningAs(runtime, request);
      const { options, ...body } = request.body;
      const scan = await submitTlsScan({ ...runtime, policy: caller.policy }, { ...body, options: { ...options, ...(caller.scopeAllow !== undefined ? { scopeAllow: caller.scopeAllow } : {}) }, requestedBy: caller.requestedBy });
      return reply.status(202).header('location', `${BASE}/${scan.id}`).send({ id: scan.id, status: scan.status, targets: scan.targets.length, links: tlsScanLinks(scan.id) });
    },
  );

  app.get(
    BASE,
    {
      schema: {
        tags: ['tls'],
        summary: 'List TLS scans, newest first',
        querystring: Type.Object(
          {
            status: Type.Optional(ScanStatus),
            portScanId: Type.Optional(SearchText({ maxLength: 64, description: 'TLS scans submitted by this port scan (option assessTls).' })),
            limit: FiniteInteger({ minimum: 1, maximum: 500, default: 50 }),
            offset: PageOffset,
          },
          { additionalProperties: false },
        ),
        response: { 200: TlsScanList, 400: problems[400] },
      },
    },
    async (request) => {
      const q = request.query;
      const { items, total } = await repo.listScans(q);
      const page = (offset: number): string => {
        const params = new URLSearchParams();
        for (const [k, v] of Object.entries({ ...q, offset })) if (v !== undefined) params.set(k, String(v));
        return `${BASE}?${params.toString()}`;
      };
      const links: Record<string, string> = { self: page(q.offset) };
      if (q.offset + items.length < total) links.next = page(q.offset + q.limit);
      if (q.offset > 0) links.prev = page(Math.max(0, q.offset - q.limit));
      return { items: items.map(scanJson), total, limit: q.limit, offset: q.offset, links };
    },
  );

  app.get(
    `${BASE}/:id`,
    {
      schema: {
        tags: ['tls'],
        summary: 'Status, progress and results of one TLS scan',
        description: 'Each finished target with its grade per address and a link to the full assessment; targets appear while the scan runs.',
        params: IdParam,
        response: { 200: TlsScanDetail, ...problems },
      },
    },
    async (request) => {
      const { id } = request.params;
      const scan = await repo.getScan(id);
      if (scan === undefined) throw notFound('TLS scan', id);
      return { ...scanJson(scan), results: (await repo.scanResults(id)).map(resultJson) };
    },
  );

  app.delete(
    `${BASE}/:id`,
    {
      schema: {
        tags: ['tls'],
        summary: 'Cancel a queued or running TLS scan, or delete a finished one',
        description: 'A queued or running scan is cancelled (202; targets finished so far stay stored). A finished, failed or cancelled scan is deleted with the assessments it ran (204).',
        params: IdParam,
        response: { 202: Type.Object({ id: Type.String(), status: ScanStatus, links: Links }), 204: Type.Null(), ...problems },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const scan = await repo.getScan(id);
      if (scan === undefined) throw notFound('TLS scan', id);
      const lifecycle = { get: repo.getScan, finish: repo.finish, delete: repo.deleteScan, jobIds: async (scanId: string) => [tlsScanJobId(scanId)], finished: runtime.metrics.tlsScansFinished, links: tlsScanLinks };
      return cancelOrDelete(runtime.queue, lifecycle, id, scan.status, reply);
    },
  );

  app.get(
    `${BASE}/:a/compare/:b`,
    {
      schema: {
        tags: ['tls'],
        summary: 'Compare two TLS scans',
        description:
          'Per host:port assessed in both scans and per address: grade change, protocols added/removed, cipher suites added/removed per protocol, certificate replaced or renewed, ' +
          'findings new/fixed and grade caps new/removed. Targets assessed in only one scan are listed with `assessedIn`.',
        params: Type.Object({ a: IdParam.properties.id, b: IdParam.properties.id }),
        response: { 200: TlsScanComparison, ...problems },
      },
    },
    async (request) => {
      const { a, b } = request.params;
      const [scanA, scanB] = await Promise.all([repo.getScan(a), repo.getScan(b)]);
      if (scanA === undefined) throw notFound('TLS scan', a);
      if (scanB === undefined) throw notFound('TLS scan', b);
      const assessed = async (id: string) => new Map((await repo.scanResults(id)).flatMap((r) => (r.assessment ? [[targetKey(r), r] as const] : [])));
      const [inA, inB] = await Promise.all([assessed(a), assessed(b)]);
      const keys = [...new Set([...inA.keys(), ...inB.keys()])];
      const targets = await Promise.all(
        keys.map(async (key) => {
          const ra = inA.get(key);
          const rb = inB.get(key);
          const target = (ra ?? rb) as TlsTargetResult;
          if (ra?.assessment === undefined || rb?.assessment === undefined) return { host: target.host, port: target.port, assessedIn: ra ? ('a' as const) : ('b' as const) };
          const [docA, docB] = await Promise.all([repo.getAssessment(ra.assessment.id), repo.getAssessment(rb.assessment.id)]);
          if (docA === undefined || docB === undefined) return { host: target.host, port: target.port, assessedIn: docA ? ('a' as const) : ('b' as const) };
          return { host: target.host, port: target.port, assessedIn: 'both' as const, comparison: compareAssessments(docA.assessment, docB.assessment) };
        }),
      );
      const brief = (s: TlsScanRecord) => ({ id: s.id, createdAt: s.createdAt, status: s.status });
      return { a: brief(scanA), b: brief(scanB), complete: scanA.status === 'done' && scanB.status === 'done', targets };
    },
  );

  app.get(
    `${ASSESSMENTS_BASE}/:id`,
    {
      schema: {
        tags: ['tls'],
        summary: 'One full TLS assessment',
        description: 'The whole Assessment document: per address the grade, scores, caps with reason and fix, protocols, every accepted cipher suite, groups, certificate chains, features, HTTP headers and findings.',
        params: IdParam,
        response: { 200: AssessmentDocument, 404: problems[404] },
      },
    },
    async (request) => {
      const { id } = request.params;
      const record = await repo.getAssessment(id);
      if (record === undefined) throw notFound('TLS assessment', id);
      return { ...record.assessment, id: record.id, scanId: record.scanId, links: assessmentLinks(record) };
    },
  );

  app.get(
    `${ASSESSMENTS_BASE}/:id/ssllabs`,
    {
      schema: {
        tags: ['tls', 'ssllabs'],
        summary: 'SSL Labs\' own JSON behind an assessment',
        description: 'The `analyze?all=done` answer exactly as SSL Labs returned it, for assessments made by the SSL Labs engine (404 for native ones).',
        params: IdParam,
        response: { 200: Type.Object({}, { additionalProperties: true, description: 'An SSL Labs Host object.' }), 404: problems[404] },
      },
    },
    async (request) => {
      const { id } = request.params;
      const raw = await repo.getRaw(id);
      if (raw === undefined) throw new PortcullisError('not-found', `no SSL Labs result behind TLS assessment ${id} (it does not exist or was made by the native engine)`, { value: id, field: 'id' });
      return raw;
    },
  );
}

function assessmentLinks(record: TlsAssessmentSummary): Record<string, string> {
  const links = summaryJson(record).links;
  return record.engine === 'ssllabs' ? { ...links, ssllabs: `${ASSESSMENTS_BASE}/${record.id}/ssllabs` } : links;
}
