import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import Type from 'typebox';
import { narrowPolicy } from '../../auth/scope.js';
import type { NormalizedTarget, Target, TargetInput, TargetSchedule } from '../../monitor/model.js';
import { type NormalizeDeps, checkTargetScope, normalizeTarget, parseScheduleText, parseTargetFile, validateLabels } from '../../monitor/target-import.js';
import { nextRunAt, validateSchedule } from '../../monitor/schedule.js';
import { parsePortSpec } from '../../portscan/ports.js';
import type { Runtime } from '../../runtime/index.js';
import type { ScopePolicy } from '../../scope/index.js';
import { PortcullisError } from '../../shared/errors.js';
import type { TargetPatch, UpsertOutcome } from '../../store/index.js';
import { labelFilter } from '../label-filter.js';
import { FiniteInteger, IdParam, PageOffset, SearchText, problemResponse } from '../schemas.js';
import { UPLOAD_BODY_LIMIT, readUploadedText, registerUploadParsers, uploadFormat } from '../upload.js';

const BASE = '/api/v1/targets';

/* ------------------------------------------------------------------------------------------------
 * Schemas
 * ---------------------------------------------------------------------------------------------- */

const Links = Type.Record(Type.String(), Type.String());
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);
const Kind = Type.Union([Type.Literal('tls'), Type.Literal('ports')], { description: '`tls`: a host:port graded by the TLS engine; `ports`: an IP, CIDR block or range port-scanned.' });
const Labels = Type.Record(Type.String(), Type.String(), { description: 'Up to 20 labels: names like `owner`, `environment`, `team` (`[a-z][a-z0-9_.-]{0,62}`), values of 1-200 characters.' });
const Schedule = Type.Union([Type.Object({ everySeconds: Type.Integer() }), Type.Object({ cron: Type.String() })]);
// Null first: the request validator coerces types, and would otherwise turn null into the string "".
const ScheduleInput = Type.Union([Type.Null(), Schedule, Type.String()], {
  description: '`{"everySeconds": N}` (60 to 31,536,000), `{"cron": "0 3 * * *"}` (croner syntax, UTC), the text forms `"every 6h"` / `"cron: 0 3 * * *"`, or null for the global default (config monitor.defaultSchedule).',
});

const TargetSchema = Type.Object(
  {
    id: Type.String(),
    kind: Kind,
    value: Type.String({ description: 'tls: the canonical host name or IP; ports: the canonical IP, CIDR block or range.' }),
    port: Type.Integer({ description: 'tls: the port; ports: 0.' }),
    ports: Nullable(Type.String({ description: 'ports: the port spec scanned; tls: null.' })),
    labels: Labels,
    schedule: Nullable(Schedule),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
    nextRunAt: Nullable(Type.String({ format: 'date-time', description: 'When the scheduler scans the target next (new targets: at once).' })),
    lastRunAt: Nullable(Type.String({ format: 'date-time' })),
    lastScanId: Nullable(Type.String({ description: 'The TLS scan or port scan of the last run.' })),
    certExpiresAt: Nullable(Type.String({ format: 'date-time', description: 'tls: the earliest certificate expiry seen in the latest assessment.' })),
    links: Links,
  },
  {
    examples: [
      {
        id: '01990d6f-4c1e-7a3b-9f3a-2b7d5e9c0a11',
        kind: 'tls',
        value: 'app.example.com',
        port: 443,
        ports: null,
        labels: { owner: 'alice', environment: 'prod' },
        schedule: { everySeconds: 21600 },
        createdAt: '2026-07-01T10:00:00.000Z',
        updatedAt: '2026-07-01T10:00:00.000Z',
        nextRunAt: '2026-07-01T16:00:00.000Z',
        lastRunAt: '2026-07-01T10:00:00.000Z',
        lastScanId: '01990d6f-4b00-7c1e-8a4b-4c1e9f3a2b7d',
        certExpiresAt: '2026-09-30T23:59:59.000Z',
        links: { self: '/api/v1/targets/01990d6f-4c1e-7a3b-9f3a-2b7d5e9c0a11', changes: '/api/v1/targets/01990d6f-4c1e-7a3b-9f3a-2b7d5e9c0a11/changes' },
      },
    ],
  },
);

const TargetInputBody = Type.Object(
  {
    target: Type.String({ minLength: 1, maxLength: 261, description: '`host`, `host:port`, `ip:port`, `[IPv6]:port` (TLS, port 443 by default) or an IP, CIDR block or range (port scan).' }),
    ports: Type.Optional(
      Type.String({ minLength: 1, maxLength: 4096, description: 'Address targets: the port spec (default config portscan.defaultPorts). Host names: the TLS ports as a comma list, one target each.' }),
    ),
    labels: Type.Optional(Labels),
    schedule: Type.Optional(ScheduleInput),
  },
  {
    additionalProperties: false,
    examples: [
      { target: 'app.example.com', ports: '443,8443', labels: { owner: 'alice', environment: 'prod' }, schedule: 'every 6h' },
      { target: '192.0.2.0/24', ports: 'top-100', labels: { team: 'network' }, schedule: { cron: '0 3 * * *' } },
    ],
  },
);

const EndpointState = Type.Object({
  ip: Type.String(),
  status: Type.String({ description: '`ready` or `error`.' }),
  grade: Nullable(Type.String()),
  gradeTrustIgnored: Nullable(Type.String()),
  leafExpiry: Nullable(Type.String({ format: 'date-time' })),
  earliestExpiry: Nullable(Type.String({ format: 'date-time', description: 'Earliest expiry along the validated chain.' })),
});

const TargetState = Type.Object(
  {
    lastRunAt: Nullable(Type.String({ format: 'date-time' })),
    nextRunAt: Nullable(Type.String({ format: 'date-time' })),
    assessment: Type.Optional(
      Nullable(
        Type.Object(
          {
            id: Type.String(),
            finishedAt: Type.String({ format: 'date-time' }),
            grade: Nullable(Type.String({ description: 'Worst grade across the endpoints.' })),
            leafExpiry: Nullable(Type.String({ format: 'date-time', description: 'Earliest leaf certificate expiry across the endpoints.' })),
            earliestExpiry: Nullable(Type.String({ format: 'date-time', description: 'Earliest expiry of any certificate on any endpoint\'s chain.' })),
            endpoints: Type.Array(EndpointState),
            links: Links,
          },
          { description: 'tls: the latest assessment of host:port (null before the first).' },
        ),
      ),
    ),
    portScan: Type.Optional(
      Nullable(
        Type.Object(
          {
            id: Type.String(),
            status: Type.String(),
            createdAt: Type.String({ format: 'date-time' }),
            finishedAt: Nullable(Type.String({ format: 'date-time' })),
            hostsUp: Nullable(Type.Integer()),
            openPorts: Nullable(Type.Integer({ description: 'Open ports across the hosts (null until the scan finished).' })),
            links: Links,
          },
          { description: 'ports: the port scan of the last run (null before the first).' },
        ),
      ),
    ),
  },
  { description: 'What the last runs found.' },
);

const TargetDetail = Type.Intersect([TargetSchema, Type.Object({ state: TargetState })]);
const TargetList = Type.Object({ items: Type.Array(TargetSchema), total: Type.Integer(), limit: Type.Integer(), offset: Type.Integer(), links: Links });

const Outcome = Type.Union([Type.Literal('added'), Type.Literal('updated'), Type.Literal('duplicate'), Type.Literal('rejected')]);
const ImportReport = Type.Object(
  {
    format: Type.String({ description: 'How the file was read: text, csv or json.' }),
    dryRun: Type.Boolean(),
    added: Type.Integer({ description: 'Lines that added at least one target.' }),
    updated: Type.Integer({ description: 'Lines that changed the ports, schedule or labels of existing targets.' }),
    duplicates: Type.Integer({ description: 'Lines whose targets exist unchanged, or repeat an earlier line.' }),
    rejected: Type.Integer(),
    lines: Type.Array(
      Type.Object({
        line: Type.Integer({ description: 'Line number (CSV, text) or 1-based position in the array (JSON).' }),
        target: Type.Optional(Type.String({ description: 'The target as written.' })),
        outcome: Outcome,
        reason: Type.Optional(Type.String({ description: 'Why the line was rejected.' })),
        ids: Type.Optional(Type.Array(Type.String(), { description: 'The targets of the line (several for a host with a ports list); absent on a dry run of new targets.' })),
      }),
    ),
  },
  {
    examples: [
      {
        format: 'csv',
        dryRun: false,
        added: 1,
        updated: 0,
        duplicates: 1,
        rejected: 1,
        lines: [
          { line: 2, target: 'app.example.com', outcome: 'added', ids: ['01990d6f-4c1e-7a3b-9f3a-2b7d5e9c0a11'] },
          { line: 3, target: 'app.example.com', outcome: 'duplicate', ids: ['01990d6f-4c1e-7a3b-9f3a-2b7d5e9c0a11'] },
          { line: 4, target: '169.254.169.254', outcome: 'rejected', reason: 'target "169.254.169.254" may not be scanned: …' },
        ],
      },
    ],
  },
);

const problems = {
  400: problemResponse('The request is invalid: a malformed target, port spec, label or schedule, or a schema violation.'),
  403: problemResponse('The target is outside the scope policy (e.g. a cloud metadata address).'),
  404: problemResponse('No such target.'),
  409: problemResponse('The target exists already.'),
};

/* ------------------------------------------------------------------------------------------------ */

export function targetLinks(id: string): Record<string, string> {
  return { self: `${BASE}/${id}`, changes: `${BASE}/${id}/changes` };
}

function targetJson(target: Target) {
  return { ...target, links: targetLinks(target.id) };
}

const notFound = (id: string): PortcullisError => new PortcullisError('not-found', `no target with id ${id}`, { value: id, field: 'id' });

/** A schedule from a request body: an object, its text form, or null. */
function scheduleFromBody(value: TargetSchedule | string | null): TargetSchedule | null {
  if (value === null) return null;
  const schedule = typeof value === 'string' ? parseScheduleText(value) : validateSchedule(value);
  if (schedule instanceof PortcullisError) throw schedule;
  return schedule;
}


/* ------------------------------------------------------------------------------------------------ */

export async function targetRoutes(fastify: FastifyInstance, opts: { runtime: Runtime }): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { runtime } = opts;
  const repo = runtime.store.targets;
  const deps: NormalizeDeps = { portLists: runtime.portLists, defaultPorts: runtime.config.portscan.defaultPorts, maxAddresses: runtime.config.scope.maxAddressesPerScan };
  await registerUploadParsers(fastify);

  /** The server's policy narrowed by the caller's allow-list: a key can add only targets it could scan. */
  const callerPolicy = (request: FastifyRequest): ScopePolicy => narrowPolicy(runtime.policy, request.principal?.allow ?? []);

  /** The stored targets an input stands for, after the scope check; throws the first problem. */
  const normalizeChecked = (input: TargetInput, policy: ScopePolicy): NormalizedTarget[] => {
    const result = normalizeTarget(input, deps);
    if ('error' in result) throw result.error;
    for (const target of result.targets) {
      const denied = checkTargetScope(target, policy);
      if (denied !== undefined) throw denied;
    }
    return result.targets;
  };

  app.post(
    BASE,
    {
      config: { access: 'admin' },
      schema: {
        tags: ['targets'],
        summary: 'Add a target to the inventory',
        description:
          'A host name (TLS, with `ports` as a comma list of TLS ports: one target each) or an IP, CIDR block or range (port scan with a port spec), with labels and an optional schedule. ' +
          'The scope policy is checked without DNS (names when they are scanned). New targets are scanned at once, then on their schedule.',
        body: TargetInputBody,
        response: { 201: Type.Object({ items: Type.Array(TargetSchema) }), ...problems },
      },
    },
    async (request, reply) => {
      const { schedule, ...rest } = request.body;
      const targets = normalizeChecked({ ...rest, ...(schedule !== undefined ? { schedule: scheduleFromBody(schedule) } : {}) }, callerPolicy(request));
      const created = await repo.create(targets, new Date().toISOString());
      return reply.status(201).header('location', `${BASE}/${created[0]?.id}`).send({ items: created.map(targetJson) });
    },
  );

  app.get(
    BASE,
    {
      schema: {
        tags: ['targets'],
        summary: 'List the inventory',
        description: 'Filter by kind, by labels (`label.owner=alice`, repeatable per label, or `labels=owner:alice,team:web`: every label must match) and by a substring of the value (`q`). Ordered by value, then port.',
        querystring: Type.Object(
          {
            kind: Type.Optional(Kind),
            labels: Type.Optional(Type.String({ maxLength: 2000, description: 'name:value pairs, comma-separated; all must match.' })),
            q: Type.Optional(SearchText({ maxLength: 255, description: 'Substring of the host name or address, case-insensitive.' })),
            limit: FiniteInteger({ minimum: 1, maximum: 1000, default: 100 }),
            offset: PageOffset,
          },
          { additionalProperties: false, patternProperties: { '^label\\.': Type.String({ maxLength: 200 }) } },
        ),
        response: { 200: TargetList, 400: problems[400] },
      },
    },
    async (request) => {
      const q = request.query;
      const query = q as Record<string, unknown>;
      const { items, total } = await repo.list({ kind: q.kind, labels: labelFilter(query), q: q.q, limit: q.limit, offset: q.offset });
      const page = (offset: number): string => {
        const params = new URLSearchParams();
        for (const [k, v] of Object.entries({ ...query, offset })) if (v !== undefined) params.set(k, String(v));
        return `${BASE}?${params.toString()}`;
      };
      const links: Record<string, string> = { self: page(q.offset) };
      if (q.offset + items.length < total) links.next = page(q.offset + q.limit);
      if (q.offset > 0) links.prev = page(Math.max(0, q.offset - q.limit));
      return { items: items.map(targetJson), total, limit: q.limit, offset: q.offset, links };
    },
  );

  app.get(
    `${BASE}/:id`,
    {
      schema: {
        tags: ['targets'],
        summary: 'One target and its current state',
        description:
          'tls: the grade per endpoint from the latest assessment of host:port, the leaf and earliest certificate expiry, the last and next run. ports: the status and open-port count of the last run\'s port scan.',
        params: IdParam,
        response: { 200: TargetDetail, 404: problems[404] },
      },
    },
    async (request) => {
      const target = await repo.get(request.params.id);
      if (target === undefined) throw notFound(request.params.id);
      const state = target.kind === 'tls' ? { assessment: await tlsState(runtime, target) } : { portScan: await portScanState(runtime, target) };
      return { ...targetJson(target), state: { lastRunAt: target.lastRunAt, nextRunAt: target.nextRunAt, ...state } };
    },
  );

  app.patch(
    `${BASE}/:id`,
    {
      config: { access: 'admin' },
      schema: {
        tags: ['targets'],
        summary: 'Change a target\'s labels, schedule or port spec',
        description: '`labels` replaces the whole label set; `schedule: null` returns to the global default; `ports` (port-scan targets only) replaces the port spec. The value and, for TLS, the port identify the target and cannot change.',
        params: IdParam,
        body: Type.Object(
          { labels: Type.Optional(Labels), schedule: Type.Optional(ScheduleInput), ports: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })) },
          { additionalProperties: false, minProperties: 1, examples: [{ labels: { owner: 'bob', environment: 'staging' } }, { schedule: 'every 1d' }, { ports: 'top-100' }] },
        ),
        response: { 200: TargetSchema, ...problems },
      },
    },
    async (request) => {
      const { id } = request.params;
      const target = await repo.get(id);
      if (target === undefined) throw notFound(id);
      const body = request.body;
      const patch: TargetPatch = {};
      if (body.labels !== undefined) {
        const labels = validateLabels(body.labels);
        if (labels instanceof PortcullisError) throw labels;
        patch.labels = labels;
      }
      if (body.schedule !== undefined) patch.schedule = scheduleFromBody(body.schedule);
      if (body.ports !== undefined) {
        if (target.kind === 'tls') {
          throw new PortcullisError('request.invalid', 'a TLS target\'s port is part of what it is: add a target for the other port (POST /api/v1/targets) instead', { field: 'ports', value: body.ports });
        }
        const spec = body.ports.split(',').map((p) => p.trim()).join(',');
        parsePortSpec(spec, runtime.portLists, 'ports');
        patch.ports = spec;
      }
      const now = new Date();
      const updated = await repo.update(id, patch, now.toISOString());
      if (updated === undefined) throw notFound(id);
      // A new schedule takes effect now, not after the run the old one planned (a paused target stays paused).
      if (patch.schedule !== undefined && updated.nextRunAt !== null) {
        const { monitor } = runtime.config;
        const from = updated.lastRunAt !== null ? new Date(updated.lastRunAt) : now;
        const next = nextRunAt({ schedule: updated.schedule ?? monitor.defaultSchedule, now: from, certExpiresAt: updated.certExpiresAt, expiry: monitor, jitterMs: 0 });
        const nextRun = new Date(Math.max(next.getTime(), now.getTime())).toISOString();
        await repo.setNextRun(id, nextRun);
        return targetJson({ ...updated, nextRunAt: nextRun });
      }
      return targetJson(updated);
    },
  );

  app.delete(
    `${BASE}/:id`,
    {
      config: { access: 'admin' },
      schema: {
        tags: ['targets'],
        summary: 'Remove a target from the inventory',
        description: 'Its scans and assessments stay stored.',
        params: IdParam,
        response: { 204: Type.Null(), 404: problems[404] },
      },
    },
    async (request, reply) => {
      if (!(await repo.delete(request.params.id))) throw notFound(request.params.id);
      return reply.status(204).send(null);
    },
  );

  app.post(
    `${BASE}/import`,
    {
      config: { access: 'admin', audit: 'targets.import' },
      bodyLimit: UPLOAD_BODY_LIMIT,
      // The body is a file in one of several media types, read by readUploadedText: only the query is schema-checked.
      attachValidation: true,
      schema: {
        tags: ['targets'],
        summary: 'Import targets from a file',
        description:
          'The file as `text/plain` (one target per line, `#` comments), `text/csv` (header row: `target`, optional `ports` and `schedule`, every other column a label), ' +
          '`application/json` (an array of strings or `{target, ports?, labels?, schedule?}`, or `{"content": "...", "format": "csv"}`) or `multipart/form-data` with one file. ' +
          'UTF-8 text, at most 100,000 lines and 10 MB (a file that is not UTF-8 or holds NUL bytes is refused whole). Each line is reported as added, updated, duplicate or rejected with the reason; a bad line rejects only itself. ' +
          'Existing targets get the ports and schedule the line gives and its labels merged in. `dryRun=true` reports the same without storing anything.',
        consumes: ['text/plain', 'text/csv', 'application/json', 'multipart/form-data'],
        querystring: Type.Object(
          {
            format: Type.Union([Type.Literal('auto'), Type.Literal('text'), Type.Literal('csv'), Type.Literal('json')], {
              default: 'auto',
              description: '`auto`: from the content type or file name, else sniffed (JSON when it starts with `[`, CSV when the first line has a `target` column, else text).',
            }),
            dryRun: Type.Boolean({ default: false, description: 'Validate and report without storing.' }),
          },
          { additionalProperties: false },
        ),
        response: { 200: ImportReport, 400: problems[400], 413: problemResponse('The file is larger than 10 MB or has more than 100,000 lines.'), 415: problemResponse('Not a supported content type.') },
      },
    },
    async (request) => {
      rethrowQueryErrors(request);
      const { format, dryRun } = request.query as { format: 'auto' | 'text' | 'csv' | 'json'; dryRun: boolean };
      const upload = await readUploadedText(request);
      const parsed = parseTargetFile(upload.text, format === 'auto' ? uploadFormat(upload) : format);
      const policy = callerPolicy(request);
      if (parsed.lines.length === 0) throw new PortcullisError('request.invalid', 'the file has no targets', { field: 'file' });

      type Line = { line: number; target?: string; reason?: string; targets: NormalizedTarget[] };
      const lines: Line[] = parsed.lines.map(({ line, input, error }) => {
        const target = input?.target;
        if (input === undefined) return { line, reason: error ?? 'unreadable line', targets: [] };
        try {
          return { line, target, targets: normalizeChecked(input, policy) };
        } catch (err) {
          if (!(err instanceof PortcullisError)) throw err;
          return { line, ...(target !== undefined ? { target } : {}), reason: err.message, targets: [] };
        }
      });
      const results = await repo.upsertMany(
        lines.flatMap((l) => l.targets),
        new Date().toISOString(),
        { dryRun },
      );
      let next = 0;
      const report = lines.map((l) => {
        const base = { line: l.line, ...(l.target !== undefined ? { target: l.target } : {}) };
        if (l.reason !== undefined) return { ...base, outcome: 'rejected' as const, reason: l.reason };
        const mine = results.slice(next, (next += l.targets.length));
        const outcomes = new Set(mine.map((r) => r.outcome));
        const outcome: UpsertOutcome = outcomes.has('added') ? 'added' : outcomes.has('updated') ? 'updated' : 'duplicate';
        // A dry run's new targets have no id worth giving: they were not stored.
        const ids = dryRun ? mine.filter((r) => r.outcome !== 'added').map((r) => r.target.id) : mine.map((r) => r.target.id);
        return { ...base, outcome, ...(ids.length > 0 ? { ids } : {}) };
      });
      const count = (outcome: string): number => report.filter((l) => l.outcome === outcome).length;
      return { format: parsed.format, dryRun, added: count('added'), updated: count('updated'), duplicates: count('duplicate'), rejected: count('rejected'), lines: report };
    },
  );
}

/** attachValidation collects every schema error; the body is read by hand, so only the query's count. */
function rethrowQueryErrors(request: FastifyRequest): void {
  const error = request.validationError;
  if (error !== undefined && error.validationContext !== 'body') throw error;
}

type TlsState = {
  id: string;
  finishedAt: string;
  grade: string | null;
  leafExpiry: string | null;
  earliestExpiry: string | null;
  endpoints: Array<{ ip: string; status: string; grade: string | null; gradeTrustIgnored: string | null; leafExpiry: string | null; earliestExpiry: string | null }>;
  links: Record<string, string>;
};

const earliest = (dates: ReadonlyArray<string | null>): string | null =>
  dates.reduce<string | null>((min, d) => (d !== null && !Number.isNaN(Date.parse(d)) && (min === null || Date.parse(d) < Date.parse(min)) ? d : min), null);

async function tlsState(runtime: Runtime, target: Target): Promise<TlsState | null> {
  const repo = runtime.store.tlsAssessments;
  const latest = (await repo.history(target.value, { port: target.port, limit: 1, offset: 0 })).items[0];
  if (latest === undefined) return null;
  const record = await repo.getAssessment(latest.id);
  if (record === undefined) return null;
  const endpoints = record.assessment.endpoints.map((e) => ({
    ip: e.ip,
    status: e.status,
    grade: e.grade,
    gradeTrustIgnored: e.gradeTrustIgnored,
    leafExpiry: earliest(e.certificates.map((c) => c.leafExpiry)),
    earliestExpiry: earliest(e.certificates.map((c) => c.earliestExpiry)),
  }));
  return {
    id: record.id,
    finishedAt: record.finishedAt,
    grade: record.grade,
    leafExpiry: earliest(endpoints.map((e) => e.leafExpiry)),
    earliestExpiry: earliest(endpoints.map((e) => e.earliestExpiry)),
    endpoints,
    links: { assessment: `/api/v1/tls-assessments/${record.id}`, history: `/api/v1/domains/${encodeURIComponent(target.value)}?port=${target.port}` },
  };
}

async function portScanState(runtime: Runtime, target: Target) {
  if (target.lastScanId === null) return null;
  const scan = await runtime.store.portScans.get(target.lastScanId);
  if (scan === undefined) return null;
  return {
    id: scan.id,
    status: scan.status,
    createdAt: scan.createdAt,
    finishedAt: scan.finishedAt ?? null,
    hostsUp: scan.stats?.hostsUp ?? null,
    openPorts: scan.stats?.open ?? null,
    links: { scan: `/api/v1/port-scans/${scan.id}` },
  };
}
