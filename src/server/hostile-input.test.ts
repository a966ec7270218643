/**
 * Hostile input: every operation of the API's own OpenAPI document fuzzed with hostile path ids,
 * query values, malformed JSON, wrong content types, oversized bodies, schema-derived wrong types
 * and hostile upload files. Every answer must be a 4xx problem+json with a code (2xx only for the
 * inputs listed in ACCEPTED), never a 5xx, and nothing may be stored: every table but the audit log
 * is compared before and after each route's fuzzing.
 */
import { createHash } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../config/index.js';
import { createMetrics } from '../metrics/index.js';
import { IMPORT_LIMITS } from '../monitor/target-import.js';
import { type Runtime, createLogger, createRuntime } from '../runtime/index.js';
import { staticResolver } from '../scope/index.js';
import type { Dialect } from '../store/index.js';
import { type TestApp, buildTestApp } from '../testing/app.js';
import { TEST_DIALECTS, type TestDatabase, openTestDatabase } from '../testing/databases.js';
import {
  HOSTILE_IDS,
  HOSTILE_STRINGS,
  type HostileRequest,
  type Operation,
  fillPath,
  hostileFiles,
  malformedJson,
  operationsOf,
  queryMutations,
  schemaMutations,
  stallingStream,
  wrongContentTypes,
} from '../testing/hostile-inputs.js';
import { UPLOAD_BODY_LIMIT } from './upload.js';

interface Fixtures {
  portScanId: string;
  tlsScanId: string;
  /** A port-scan target, so PATCH can change its port spec. */
  targetId: string;
  batchId: string;
  keyId: string;
}

interface Harness {
  db: TestDatabase;
  runtime: Runtime;
  app: TestApp;
  fixtures: Fixtures;
}

/** Ids that name nothing, for routes without a fixture. */
const NONEXISTENT_ID = '00000000-0000-7000-8000-000000000000';
const UPLOAD_ROUTES = ['POST /api/v1/targets/import', 'POST /api/v1/batches'];
/** Fastify must answer 413 from the content-length, without reading it. */
const FIFTY_MB_BODY = Buffer.alloc(50 * 1024 * 1024, 0x20);
/** Longest a hostile request may take to be answered; a server waiting for a stalled body would hit it. */
const SEND_TIMEOUT_MS = 10_000;

/**
 * A valid body per route: each mutation changes one thing of it, so that one thing is what gets
 * rejected. POST /api/v1/targets names the fixture target: an input that passes every check answers
 * 409 (it exists already) instead of storing one more target.
 */
const VALID_BODIES: Record<string, unknown> = {
  'POST /api/v1/port-scans': {
    targets: ['127.0.0.1'],
    exclude: ['127.0.0.2'],
    ports: '443',
    options: { timing: 3, timeoutMs: 1000, concurrency: 10, maxRetries: 1, maxHostConnections: 4, serviceDetection: false, bannerTimeoutMs: 100, assessTls: false },
  },
  'POST /api/v1/tls-scans': { hosts: ['app.test:8443'], options: { engine: 'native', sni: 'app.test', fresh: true, timeoutMs: 1000 } },
  'POST /api/v1/targets': { target: '127.0.0.1', ports: '443', labels: { owner: 'fuzz' }, schedule: 'every 6h' },
  'PATCH /api/v1/targets/{id}': { labels: { owner: 'fuzz' }, schedule: 'every 1d', ports: '443' },
  'POST /api/v1/keys': { name: 'fuzz', scopes: ['read'], allow: ['127.0.0.0/8'], expiresAt: '2099-01-01T00:00:00Z', rateLimitPerMinute: 60, maxConcurrentScans: 1 },
};

/** Upload routes get a file none of whose lines can be added, so a query mutation is the only thing wrong. */
const HARMLESS_FILE = JSON.stringify({ content: '169.254.169.254\n', format: 'text' });

/**
 * Query parameters a route needs to do anything; mutations replace one of them at a time. GET /scan
 * asks about an address out of scope, refused before anything is stored or awaited, so a mutation of
 * another parameter that coerces into a valid value cannot start an assessment and wait for it.
 */
const QUERY_BASES: Record<string, Record<string, string>> = {
  'GET /scan': { host: '169.254.169.254', wait: '0' },
};

/** Inputs the API legitimately accepts, why, and the status it answers them with. */
interface Accepted {
  status: number;
  /** Accepting them stores something: they run after the nothing-stored comparison. */
  stores?: true;
  /**
   * Node's own IDNA (UTS #46, from its ICU) decides: Node 20 and 22 map Arabic-Indic digits to
   * punycode, Node 24 refuses them. Either answer is fine; a 4xx must then be a proper problem.
   */
  orRefused?: true;
  why: string;
  inputs: string[];
}

const inputsAt = (field: string, labels: readonly string[]): string[] => labels.map((label) => `${field}: ${label}`);
const quoted = (...names: string[]): string[] => names.map((n) => `"${n}"`);

/** Numbers and booleans sent for a string property: Fastify's validator (ajv coerceTypes, its default) turns them into text. */
const COERCED_TO_TEXT = ['true', 'false', 'zero', 'negative', 'fraction', '2^53+1', '-2^63-1', '1e308', 'overflow 1e309'];
/** Hostile strings that are valid free text: printable, within any length limit. */
const PRINTABLE_TRICKS = quoted('emoji', 'fullwidth digits', 'arabic-indic digits', 'cyrillic homoglyph', 'noncharacter', 'SQL', 'SQL stacked', 'path traversal', 'format string', 'template', 'HTML', 'CSV formula');
/** What a free-text query filter may be sent: printable text within its maxLength. */
const searchText = (maxLength: number): string[] => [
  ...HOSTILE_STRINGS.filter((s) => s.value.length <= maxLength && !/\p{Cc}/u.test(s.value)).map((s) => `"${s.name}"`),
  'invalid UTF-8',
  'bare percent',
];
const SEARCH = 'a free-text filter: printable text, whatever it says, is a search that matches nothing';
const COERCED = 'Fastify\'s validator coerces types (ajv coerceTypes, its default: null → 0 or false, true → 1, 0 → false, [x] → x, "0x10" → 16, blank text → 0) into a valid value';
const IDNA =
  'names are read as URL parsers read them (UTS #46: a zero-width space is dropped, fullwidth digits fold to ASCII, other scripts become punycode; "1.5" is the IPv4 shorthand 1.0.0.5), stored in that canonical ASCII form and checked against the scope policy as the address they name';
/** Paging parameters that coerce into valid values. */
const paging = (params: { limit?: true; offset?: true }): Accepted => ({
  status: 200,
  why: COERCED,
  inputs: [...(params.limit ? ['query.limit: hex'] : []), ...(params.offset ? inputsAt('query.offset', ['"BOM"', '"whitespace"', 'hex']) : [])],
});

/** By route. Everything else must be refused. */
const ACCEPTED: Record<string, Accepted[]> = {
  'POST /api/v1/port-scans': [
    { status: 202, stores: true, why: IDNA, inputs: ['targets', 'targets[0]'].flatMap((f) => inputsAt(`body.${f}`, ['fraction', '"zero-width space"', '"fullwidth digits"'])) },
    {
      status: 202,
      stores: true,
      why: COERCED,
      inputs: [
        ...['exclude', 'exclude[0]'].flatMap((f) => inputsAt(`body.${f}`, ['zero', 'fraction'])),
        'body.ports: negative',
        ...['timing', 'maxRetries'].flatMap((f) => inputsAt(`body.options.${f}`, ['null', 'true', 'false', 'array of null', '"BOM"', '"whitespace"'])),
        ...['concurrency', 'bannerTimeoutMs', 'maxHostConnections'].flatMap((f) => inputsAt(`body.options.${f}`, ['true'])),
        ...['serviceDetection', 'assessTls'].flatMap((f) => inputsAt(`body.options.${f}`, ['null', 'array of null', 'zero'])),
      ],
    },
  ],
  'GET /api/v1/port-scans': [{ status: 200, why: SEARCH, inputs: inputsAt('query.target', searchText(255)) }, paging({ limit: true, offset: true })],
  'GET /api/v1/port-scans/{id}': [paging({ limit: true, offset: true })],
  'POST /api/v1/tls-scans': [
    { status: 202, stores: true, why: IDNA, inputs: [...['hosts', 'hosts[0]'].flatMap((f) => inputsAt(`body.${f}`, ['fraction', '"zero-width space"', '"fullwidth digits"'])), ...inputsAt('body.options.sni', ['overflow 1e309', ...quoted('zero-width space', 'emoji', 'cyrillic homoglyph')])] },
    { status: 202, stores: true, orRefused: true, why: IDNA, inputs: inputsAt('body.options.sni', quoted('arabic-indic digits')) },
    { status: 202, stores: true, why: COERCED, inputs: [...inputsAt('body.options.sni', ['true', 'false']), ...inputsAt('body.options.fresh', ['null', 'array of null', 'zero'])] },
  ],
  'GET /api/v1/tls-scans': [{ status: 200, why: SEARCH, inputs: inputsAt('query.portScanId', searchText(64)) }, paging({ limit: true, offset: true })],
  'GET /scan': [{ status: 202, stores: true, why: IDNA, inputs: inputsAt('query.host', quoted('zero-width space', 'fullwidth digits')) }],
  'GET /api/v1/targets/{id}/changes': [paging({ limit: true })],
  'POST /api/v1/targets': [
    { status: 201, stores: true, why: `${IDNA}; true, false and 1e309 arrive as the host names "true", "false" and "infinity"`, inputs: inputsAt('body.target', ['true', 'false', 'fraction', 'overflow 1e309', ...quoted('zero-width space', 'emoji', 'cyrillic homoglyph')]) },
    { status: 201, stores: true, orRefused: true, why: IDNA, inputs: inputsAt('body.target', quoted('arabic-indic digits')) },
  ],
  'GET /api/v1/targets': [
    { status: 200, why: SEARCH, inputs: inputsAt('query.q', searchText(255)) },
    { status: 200, why: 'no label filter', inputs: ['query.labels: "empty"'] },
    paging({ limit: true, offset: true }),
  ],
  'PATCH /api/v1/targets/{id}': [
    { status: 200, stores: true, why: 'a label value is printable text of 1 to 200 characters, stored as given and always sent JSON-, CSV- or HTML-escaped', inputs: inputsAt('body.labels.owner', [...COERCED_TO_TEXT, ...PRINTABLE_TRICKS]) },
    { status: 200, stores: true, why: `${COERCED}: a schedule coerced to null returns to the global default`, inputs: [...inputsAt('body.schedule', ['false', 'array of null', 'zero', '"empty"']), 'body.ports: negative'] },
  ],
  'POST /api/v1/targets/import': [
    {
      status: 200,
      why: 'the file is read and every line rejected with its reason (a bad line rejects only itself): the report adds nothing',
      inputs: [
        'json: top-level array',
        'json: invalid UTF-8 in a string',
        'json: lone surrogate escape',
        ...inputsAt('file', ['huge single line', 'huge single line of a host name', 'CSV formula as target', 'text formula as target', 'CSV with an unclosed quote', 'CSV with too many fields', 'CSV with a bad label value', 'out-of-scope targets only', 'multipart file named by traversal']),
      ],
    },
    { status: 200, stores: true, why: IDNA, inputs: ['file: unicode trick targets'] },
  ],
  'POST /api/v1/batches': [{ status: 202, stores: true, why: IDNA, inputs: ['file: unicode trick targets'] }],
  ...Object.fromEntries(
    ['GET /api/v1/reports/summary', 'GET /api/v1/reports/summary.csv', 'GET /reports/summary.html'].map((route) => [
      route,
      [
        { status: 200, why: 'no label filter', inputs: ['query.labels: "empty"'] },
        { status: 200, why: COERCED, inputs: inputsAt('query.expiringWithinDays', ['"BOM"', '"whitespace"', 'hex']) },
      ],
    ]),
  ),
  'POST /api/v1/keys': [
    { status: 201, stores: true, why: 'a key name is printable free text (src/auth/service.ts), stored as given and always sent JSON-escaped', inputs: inputsAt('body.name', [...COERCED_TO_TEXT, ...PRINTABLE_TRICKS]) },
    { status: 201, stores: true, why: `${IDNA}: an allow-list entry is a CIDR, range or domain`, inputs: ['allow', 'allow[0]'].flatMap((f) => inputsAt(`body.${f}`, ['true', 'false', 'zero', 'fraction', 'overflow 1e309', ...quoted('zero-width space', 'emoji', 'fullwidth digits', 'cyrillic homoglyph')])) },
    { status: 201, stores: true, orRefused: true, why: IDNA, inputs: ['allow', 'allow[0]'].flatMap((f) => inputsAt(`body.${f}`, quoted('arabic-indic digits'))) },
    { status: 201, stores: true, why: COERCED, inputs: ['body.rateLimitPerMinute: true', 'body.maxConcurrentScans: true'] },
  ],
  'GET /api/v1/audit': [{ status: 200, why: SEARCH, inputs: [...inputsAt('query.actor', searchText(300)), ...inputsAt('query.before', searchText(64))] }, paging({ limit: true })],
};

/** The existing record each path parameter names by default, by path prefix. */
function validSegments(op: Operation, fixtures: Fixtures): Record<string, string> {
  const byPrefix: Array<[string, string]> = [
    ['/api/v1/port-scans/', fixtures.portScanId],
    ['/api/v1/tls-scans/', fixtures.tlsScanId],
    ['/api/v1/targets/', fixtures.targetId],
    ['/api/v1/batches/', fixtures.batchId],
    ['/api/v1/keys/', fixtures.keyId],
    ['/api/v1/hosts/', '127.0.0.1'],
    ['/api/v1/domains/', 'app.test'],
  ];
  const id = byPrefix.find(([prefix]) => op.path.startsWith(prefix))?.[1] ?? NONEXISTENT_ID;
  return Object.fromEntries(op.pathParams.map((p) => [p, encodeURIComponent(id)]));
}

function queryString(entries: Array<[string, string]>, raw?: string): string {
  const parts = [...entries.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`), ...(raw !== undefined ? [raw] : [])];
  return parts.length > 0 ? `?${parts.join('&')}` : '';
}

function validBody(op: Operation): unknown {
  return VALID_BODIES[op.key] ?? op.body?.examples?.[0] ?? {};
}

/** A request of the suite; `likeInert` when the route declares no query and must ignore the one it gets. */
type Case = HostileRequest & { likeInert?: true };

/** The route called with ids that name nothing and an empty body: the answer an ignored query must not change. */
function inertRequest(op: Operation): HostileRequest {
  const segments = Object.fromEntries(op.pathParams.map((p) => [p, NONEXISTENT_ID]));
  const takesBody = op.method === 'POST' || op.method === 'PUT' || op.method === 'PATCH';
  return { name: 'inert', method: op.method, url: fillPath(op.path, segments), ...(takesBody ? { headers: { 'content-type': 'application/json' }, payload: '{}' } : {}) };
}

/** Every hostile request for one operation. */
function requestsFor(op: Operation, fixtures: Fixtures, bodyLimit: number): Case[] {
  const { method } = op;
  const valid = validSegments(op, fixtures);
  const baseQuery = Object.entries(QUERY_BASES[op.key] ?? {});
  const upload = UPLOAD_ROUTES.includes(op.key);
  const takesBody = method === 'POST' || method === 'PUT' || method === 'PATCH';
  const baseText = upload ? HARMLESS_FILE : JSON.stringify(validBody(op));
  const json = { 'content-type': 'application/json' };
  const withBody = takesBody ? { headers: json, payload: baseText } : {};
  const url = (segments: Record<string, string>, query = queryString(baseQuery)) => `${fillPath(op.path, segments)}${query}`;
  const out: Case[] = [];

  for (const param of op.pathParams) {
    for (const id of HOSTILE_IDS) out.push({ name: `id.${param}: ${id.name}`, method, url: url({ ...valid, [param]: id.segment }), ...withBody });
  }
  const inert = inertRequest(op);
  for (const m of queryMutations(op.query)) {
    if (op.query.length === 0) out.push({ ...inert, name: m.name, url: `${inert.url}?${m.query}`, likeInert: true });
    else out.push({ name: m.name, method, url: url(valid, queryString(baseQuery.filter(([k]) => k !== m.param), m.query)), ...withBody });
  }
  if (!takesBody) return out;

  const bodyUrl = url(valid);
  if (op.body !== undefined) for (const m of schemaMutations(op.body, validBody(op))) out.push({ name: m.name, method, url: bodyUrl, headers: json, payload: m.body });
  for (const m of malformedJson(baseText)) out.push({ name: `json: ${m.name}`, method, url: bodyUrl, headers: json, payload: m.payload });
  for (const m of wrongContentTypes(baseText)) out.push({ name: `content-type: ${m.name}`, method, url: bodyUrl, headers: m.headers, payload: m.payload });
  const limit = upload ? UPLOAD_BODY_LIMIT : bodyLimit;
  const overLimit = `{"x":"${'A'.repeat(limit - 7)}"}`;
  out.push({ name: 'size: one byte over the body limit', method, url: bodyUrl, headers: json, payload: overLimit });
  out.push({ name: 'size: 50 MB with content-length', method, url: bodyUrl, headers: json, payload: FIFTY_MB_BODY });
  let stalled: ReturnType<typeof stallingStream> | undefined;
  out.push({
    name: 'size: stream without content-length that stalls 1 MB past the limit',
    method,
    url: bodyUrl,
    headers: json,
    payload: () => (stalled = stallingStream(limit + 1024 * 1024)),
    settle: () => stalled?.destroy(),
  });
  if (upload) for (const f of hostileFiles(IMPORT_LIMITS)) out.push({ name: `file: ${f.name}`, method, url: bodyUrl, headers: f.headers, payload: f.payload });
  return out;
}

/** Why an answer is wrong for a hostile input, or undefined when it is right. */
function fault(request: HostileRequest, res: LightMyRequestResponse, accepted: number | undefined): string | undefined {
  const status = res.statusCode;
  const what = `${request.name} → ${status}`;
  if (accepted !== undefined) return status === accepted ? undefined : `${what}, listed as accepted with ${accepted}`;
  if (status < 400 || status >= 500) return `${what}: ${res.body.slice(0, 300)}`;
  if (!String(res.headers['content-type']).startsWith('application/problem+json')) return `${what} as ${res.headers['content-type']}: ${res.body.slice(0, 200)}`;
  let problem: { code?: unknown; status?: unknown };
  try {
    problem = res.json();
  } catch {
    return `${what}: the problem is not JSON: ${res.body.slice(0, 200)}`;
  }
  if (typeof problem.code !== 'string' || problem.status !== status) return `${what}: problem without its code or status: ${res.body.slice(0, 200)}`;
  if (/node_modules|\n\s+at /.test(res.body)) return `${what}: the problem leaks a stack trace`;
  return undefined;
}

/** Every table but the audit log (which records the attempts), each as a row count and a digest of its rows. */
async function snapshot(db: TestDatabase): Promise<Record<string, { rows: number; digest: string }>> {
  const catalog =
    db.dialect === 'sqlite'
      ? sql<{ name: string }>`select name from sqlite_master where type = 'table' and name not like 'sqlite_%' and name not like 'kysely_%'`
      : sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE' and table_name not like 'kysely_%'`;
  const tables = (await catalog.execute(db.db)).rows.map((r) => r.name).filter((name) => name !== 'audit_log');
  const out: Record<string, { rows: number; digest: string }> = {};
  for (const table of tables.sort()) {
    const { rows } = await sql<Record<string, unknown>>`select * from ${sql.table(table)}`.execute(db.db);
    // Authenticating updates a key's last use: not something the request stored.
    const lines = rows.map((row) => JSON.stringify(table === 'api_keys' ? { ...row, last_used_at: null } : row)).sort();
    out[table] = { rows: rows.length, digest: createHash('sha256').update(lines.join('\n')).digest('hex').slice(0, 16) };
  }
  return out;
}

async function openApp(dialect: Dialect): Promise<Omit<Harness, 'fixtures'>> {
  const db = await openTestDatabase(dialect);
  const config = buildConfig({}, { logLevel: 'silent', auth: { rateLimitPerMinute: 1_000_000, maxConcurrentScans: 100_000 } });
  // No worker: accepted scans stay queued. Names resolve through a static map to loopback only.
  const runtime = await createRuntime(config, {
    database: db,
    logger: createLogger(config),
    metrics: createMetrics({ defaultMetrics: false }),
    resolver: staticResolver({ 'app.test': ['127.0.0.1'] }),
  });
  return { db, runtime, app: await buildTestApp(runtime) };
}

async function close(h: Omit<Harness, 'fixtures'> | undefined): Promise<void> {
  if (h === undefined) return;
  await h.app.close();
  await h.runtime.close();
  await h.db.cleanup();
}

/** An app with one record of each kind for path parameters to name. */
async function harness(dialect: Dialect): Promise<Harness> {
  const h = await openApp(dialect);
  const created = async (url: string, payload: string, contentType = 'application/json'): Promise<string> => {
    const res = await h.app.inject({ method: 'POST', url, payload, headers: { 'content-type': contentType } });
    if (res.statusCode >= 300) throw new Error(`fixture ${url}: ${res.statusCode} ${res.body}`);
    const body = res.json();
    return body.id ?? body.items[0].id;
  };
  const fixtures: Fixtures = {
    portScanId: await created('/api/v1/port-scans', JSON.stringify({ targets: ['127.0.0.1'], ports: '443' })),
    tlsScanId: await created('/api/v1/tls-scans', JSON.stringify({ hosts: ['app.test:8443'] })),
    targetId: await created('/api/v1/targets', JSON.stringify({ target: '127.0.0.1', ports: '443' })),
    batchId: await created('/api/v1/batches', '127.0.0.1\napp.test:9443\n', 'text/plain'),
    keyId: await created('/api/v1/keys', JSON.stringify({ name: 'fixture', scopes: ['read'] })),
  };
  return { ...h, fixtures };
}

async function specOperations(): Promise<Operation[]> {
  const h = await openApp('sqlite');
  try {
    return operationsOf((await h.app.inject({ url: '/openapi.json' })).json());
  } finally {
    await close(h);
  }
}

const OPERATIONS = await specOperations();

/** Inputs Fastify refuses while reading the body, before any handler or query: PostgreSQL adds nothing to them. */
const PARSER_ONLY = /^(size|content-type|json): /;

describe.each(TEST_DIALECTS)('hostile input on %s', (dialect) => {
  let h: Harness;
  const totals = { endpoints: 0, requests: 0, serverErrors: 0, inputs: new Set<string>() };

  beforeAll(async () => {
    h = await harness(dialect);
  });
  afterAll(async () => {
    await close(h);
    console.log(`hostile input on ${dialect}: ${totals.endpoints} endpoints, ${totals.requests} requests of ${totals.inputs.size} distinct inputs, ${totals.serverErrors} server errors`);
  });

  it('reads the routes from /openapi.json, the upload routes among them', () => {
    expect(OPERATIONS.length).toBeGreaterThan(30);
    expect(OPERATIONS.map((o) => o.key)).toEqual(expect.arrayContaining([...UPLOAD_ROUTES, ...Object.keys(VALID_BODIES)]));
  });

  it.each(OPERATIONS.map((op) => [op.key, op] as const))('%s: hostile input is refused with problem+json and stores nothing', async (_key, op) => {
    const { app, db, fixtures, runtime } = h;
    const accepted = new Map((ACCEPTED[op.key] ?? []).flatMap((a) => a.inputs.map((name) => [name, a] as const)));
    const all = requestsFor(op, fixtures, runtime.config.server.bodyLimitBytes);
    const requests = dialect === 'sqlite' ? all : all.filter((r) => !PARSER_ONLY.test(r.name));
    const faults: string[] = [];
    const send = async (request: HostileRequest): Promise<LightMyRequestResponse> => {
      const { payload, headers } = request;
      const answer = app.inject({ method: request.method, url: request.url, ...(headers ? { headers } : {}), ...(payload !== undefined ? { payload: typeof payload === 'function' ? payload() : payload } : {}) });
      const timeout = new Promise<never>((_resolve, reject) => setTimeout(() => reject(new Error(`${request.name}: no answer within ${SEND_TIMEOUT_MS} ms`)), SEND_TIMEOUT_MS).unref());
      try {
        return await Promise.race([answer, timeout]);
      } finally {
        request.settle?.();
      }
    };
    const check = async (request: Case, inertStatus: number) => {
      const res = await send(request);
      totals.requests++;
      totals.inputs.add(request.name.replace(/^id\.\w+: /, 'id: '));
      if (res.statusCode >= 500) totals.serverErrors++;
      if (request.likeInert && res.statusCode !== inertStatus) return void faults.push(`${request.name} → ${res.statusCode}, but ${inertStatus} without the query it ignores`);
      const listed = accepted.get(request.name);
      const acceptedStatus = request.likeInert ? inertStatus : listed?.orRefused && res.statusCode >= 400 ? undefined : listed?.status;
      const problem = fault(request, res, acceptedStatus !== undefined && acceptedStatus < 400 ? acceptedStatus : undefined);
      if (problem !== undefined) faults.push(problem);
    };

    totals.endpoints++;
    const inert = await send(inertRequest(op));
    expect(inert.statusCode, `${op.key} without hostile input: ${inert.body.slice(0, 200)}`).toBeLessThan(500);
    const before = await snapshot(db);
    for (const request of requests) if (!accepted.get(request.name)?.stores) await check(request, inert.statusCode);
    expect(await snapshot(db)).toEqual(before);
    for (const request of requests) if (accepted.get(request.name)?.stores) await check(request, inert.statusCode);
    expect(faults).toEqual([]);
    const names = new Set(all.map((r) => r.name));
    expect([...accepted.keys()].filter((name) => !names.has(name)), 'accepted inputs this route no longer gets').toEqual([]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('accepts each valid body the mutations started from, so each mutation was the one thing wrong', async () => {
    const { app, fixtures } = h;
    for (const op of OPERATIONS.filter((o) => o.body !== undefined)) {
      const res = await app.inject({ method: op.method, url: fillPath(op.path, validSegments(op, fixtures)), payload: JSON.stringify(validBody(op)), headers: { 'content-type': 'application/json' } });
      const exists = op.key === 'POST /api/v1/targets' && res.statusCode === 409;
      expect(exists || res.statusCode < 300, `${op.key}: ${res.body}`).toBe(true);
    }
  });

  it('keeps what it accepted harmless: inventory values in canonical ASCII, label values printable', async () => {
    const rows = await h.db.db.selectFrom('targets').select(['value', 'labels']).execute();
    expect(rows.length).toBeGreaterThan(1);
    for (const row of rows) {
      expect(row.value).toMatch(/^[\x21-\x7e]+$/);
      for (const label of Object.values(JSON.parse(row.labels) as Record<string, string>)) expect(label).not.toMatch(/[\p{Cc}\p{Cf}\p{Cs}]/u);
    }
  });
});
