/**
 * A local stand-in for the Qualys SSL Labs API (v3 and v4, reference §1) so tests and benchmarks never
 * talk to api.ssllabs.com. It listens on 127.0.0.1 only and plays the documented behaviour: per-host
 * assessments that go DNS → IN_PROGRESS → READY/ERROR on an options-driven (scalable) timeline, the
 * result cache, v4 registration and the `email` header, per-client concurrency and cool-off limits
 * answered with 429, the rate headers on every response, and injected faults (500/503/529/441/400).
 *
 * Time is computed from the clock at each request (no timers), so a test can pass a manual clock and
 * step through an assessment without waiting.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { PortcullisError } from '../shared/errors.js';
import { listenOn } from './listeners.js';

export type SslLabsApiVersion = 'v3' | 'v4';
export type SslLabsCall = 'info' | 'analyze' | 'getEndpointData' | 'getStatusCodes' | 'register';
export type InjectableStatus = 400 | 441 | 500 | 503 | 529;
export type RateLimitReason = 'concurrency' | 'coolOff';
type Json = Record<string, unknown>;
/** A READY Host as resultFor supplies it (the emulator fills in the timing and versions). */
type HostReport = Json & { endpoints: Json[] };
/** A duration in ms, the same for every host or chosen per host. */
export type PerHostMs = number | ((host: string) => number);

export interface EmulatorOptions {
  /** New assessments one client may have in progress at once (Info.maxAssessments); default 25. */
  maxAssessments?: number;
  /** Pause one client must leave between starting new assessments (Info.newAssessmentCoolOff); default 1000 ms. */
  coolOffMs?: number;
  /** Time an assessment spends in status DNS; default 5000 ms. */
  dnsMs?: PerHostMs;
  /** Time from IN_PROGRESS to READY, shared equally by the endpoints (tested one at a time); default 60000 ms. */
  assessmentMs?: PerHostMs;
  /** v4 emails registered from the start. */
  registeredEmails?: string[];
  /** The READY Host JSON for a host (e.g. a recorded fixture); needs a non-empty `endpoints[]` of `{ipAddress}`. Default: a generated grade-A host. */
  resultFor?: (host: string) => object;
  /** Hosts whose assessment ends, after the DNS phase, in status ERROR with this statusMessage. */
  errorHosts?: Record<string, string>;
  /** Info.messages. */
  messages?: string[];
  /** Epoch ms; a test can pass a manual clock. Default Date.now. */
  now?: () => number;
}

export interface HostStats {
  starts: number;
  /** analyze calls answered with the host's existing assessment (running or finished). */
  polls: number;
  cacheHits: number;
  rateLimited: number;
}

export interface EmulatorStats {
  requests: number;
  /** New assessments started. */
  starts: number;
  rateLimited: { total: number; concurrency: number; coolOff: number };
  /** The most assessments one client has had in progress at once. */
  peakConcurrent: number;
  /** fromCache=on calls answered from a cached READY report. */
  cacheHits: number;
  injectedFaults: number;
  byHost: Record<string, HostStats>;
}

export interface RequestRecord {
  method: string;
  path: string;
  version?: SslLabsApiVersion;
  call?: SslLabsCall;
  query: Record<string, string>;
  /** The `email` request header. */
  email?: string;
  status: number;
  at: number;
}

export interface SslLabsLimits {
  maxAssessments?: number;
  coolOffMs?: number;
}

export interface SslLabsEmulator {
  /** Base URL without the version, e.g. http://127.0.0.1:PORT/api/ */
  readonly url: string;
  /** A snapshot. */
  readonly stats: EmulatorStats;
  /** A snapshot of every request so far, oldest first. */
  readonly requests: RequestRecord[];
  /** The next `count` calls matching `match` (default any call) answer `status` with an error body. */
  failNext(status: InjectableStatus, count?: number, match?: SslLabsCall | 'any'): void;
  setLimits(limits: SslLabsLimits): void;
  close(): Promise<void>;
}

export const EMULATOR_ENGINE_VERSION = '2.2.0';
export const EMULATOR_CRITERIA_VERSION = '2009q';
const DEFAULTS = { maxAssessments: 25, coolOffMs: 1000, dnsMs: 5000, assessmentMs: 60_000 };
const DEFAULT_MESSAGES = [
  'This assessment service is provided free of charge by Qualys SSL Labs, subject to our terms and conditions: https://www.ssllabs.com/about/terms.html',
];
/** v3 has no client identity: every caller shares one set of limits. */
const V3_CLIENT = 'v3';
const MAX_BODY_BYTES = 64 * 1024;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const EMAIL_PATTERN = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
const HOSTNAME_PATTERN = /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$/;
const FREE_MAIL_DOMAINS = new Set([
  'gmail.com', 'googlemail.com', 'yahoo.com', 'yahoo.co.uk', 'ymail.com', 'hotmail.com', 'hotmail.co.uk', 'outlook.com',
  'live.com', 'msn.com', 'aol.com', 'icloud.com', 'me.com', 'mail.com', 'gmx.com', 'gmx.de', 'yandex.ru', 'mail.ru', 'proton.me', 'protonmail.com',
]);
const CALLS: Record<SslLabsApiVersion, readonly SslLabsCall[]> = {
  v3: ['info', 'analyze', 'getEndpointData', 'getStatusCodes'],
  v4: ['info', 'analyze', 'getEndpointData', 'getStatusCodes', 'register'],
};
/** What an endpoint reports while under test, in test-plan order; progress picks the stage. */
const TEST_STAGES: ReadonlyArray<readonly [string, string]> = [
  ['RETRIEVING_CERT_V3__SNI_APEX', 'Retrieving certificate'],
  ['TESTING_PROTOCOL_INTOLERANCE_304', 'Testing Protocol Intolerance (TLS 1.3)'],
  ['TESTING_PROTO_3_3', 'Testing TLS 1.2'],
  ['TESTING_PROTO_3_4', 'Testing TLS 1.3'],
  ['TESTING_SUITES', 'Determining available cipher suites'],
  ['TESTING_SUITE_PREFERENCE', 'Determining cipher suite preference'],
  ['TESTING_HANDSHAKE_SIMULATION', 'Simulating handshakes'],
  ['TESTING_HEARTBLEED', 'Testing Heartbleed'],
  ['TESTING_BLEICHENBACHER', 'Testing Bleichenbacher'],
  ['TESTING_HTTPS', 'Sending one complete HTTPS request'],
  ['PREPARING_REPORT', 'Preparing the report'],
];
const STATUS_CODES: Json = {
  ...Object.fromEntries(TEST_STAGES),
  RETRIEVING_CERT_V3__NO_SNI: 'Retrieving certificate without SNI',
  BUILDING_TRUST_PATHS: 'Building trust paths',
  VALIDATING_TRUST_PATHS: 'Validating trust paths',
  CHECKING_REVOCATION: 'Checking for revoked certificates',
  TESTING_SESSION_RESUMPTION: 'Testing session resumption',
};
const FAULT_MESSAGES: Record<InjectableStatus, string> = {
  400: 'invalid request parameters (injected)',
  441: 'unauthorized error. not register',
  500: 'internal error (injected)',
  503: 'service unavailable: down for maintenance (injected)',
  529: 'service overloaded, try again later (injected)',
};

interface Reply {
  status: number;
  body: unknown;
}

interface Assessment {
  host: string;
  client: string;
  startTime: number;
  dnsMs: number;
  assessmentMs: number;
  isPublic: boolean;
  /** The READY report, or the statusMessage of a host configured to fail. */
  outcome: { report: HostReport } | { error: string };
}

interface Fault {
  status: InjectableStatus;
  remaining: number;
  match: SslLabsCall | 'any';
}

interface Route {
  version: SslLabsApiVersion;
  call: SslLabsCall;
}

type Detail = 'summary' | 'on' | 'done';

export async function startSslLabsEmulator(options: EmulatorOptions = {}): Promise<SslLabsEmulator> {
  const service = new EmulatedService(options);
  const listener = await listenOn(http.createServer((req, res) => void service.handle(req, res)));
  return {
    url: `http://127.0.0.1:${listener.port}/api/`,
    get stats() {
      return service.stats;
    },
    get requests() {
      return service.requests;
    },
    failNext: (status, count, match) => service.failNext(status, count, match),
    setLimits: (limits) => service.setLimits(limits),
    close: () => listener.close(),
  };
}

/** The API's state and answers, apart from the listening socket. */
class EmulatedService {
  readonly #options: EmulatorOptions;
  readonly #now: () => number;
  readonly #errorHosts: Map<string, string>;
  readonly #registered: Set<string>;
  readonly #assessments = new Map<string, Assessment>();
  /** Per client, the assessments that may still be running; finished ones are pruned when counted. */
  readonly #running = new Map<string, Set<Assessment>>();
  readonly #lastStart = new Map<string, number>();
  readonly #faults: Fault[] = [];
  readonly #log: RequestRecord[] = [];
  readonly #stats: EmulatorStats = {
    requests: 0,
    starts: 0,
    rateLimited: { total: 0, concurrency: 0, coolOff: 0 },
    peakConcurrent: 0,
    cacheHits: 0,
    injectedFaults: 0,
    byHost: {},
  };
  #maxAssessments: number;
  #coolOffMs: number;

  constructor(options: EmulatorOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#maxAssessments = nonNegative('maxAssessments', options.maxAssessments ?? DEFAULTS.maxAssessments);
    this.#coolOffMs = nonNegative('coolOffMs', options.coolOffMs ?? DEFAULTS.coolOffMs);
    this.#errorHosts = new Map(Object.entries(options.errorHosts ?? {}).map(([host, message]) => [host.toLowerCase(), message]));
    this.#registered = new Set((options.registeredEmails ?? []).map((email) => email.toLowerCase()));
  }

  get stats(): EmulatorStats {
    return structuredClone(this.#stats);
  }

  get requests(): RequestRecord[] {
    return structuredClone(this.#log);
  }

  failNext(status: InjectableStatus, count = 1, match: SslLabsCall | 'any' = 'any'): void {
    if (!Number.isInteger(count) || count < 1) throw new PortcullisError('config.invalid', `failNext count must be a whole number ≥ 1, got ${count}`, { field: 'count', value: String(count) });
    this.#faults.push({ status, remaining: count, match });
  }

  setLimits(limits: SslLabsLimits): void {
    if (limits.maxAssessments !== undefined) this.#maxAssessments = nonNegative('maxAssessments', limits.maxAssessments);
    if (limits.coolOffMs !== undefined) this.#coolOffMs = nonNegative('coolOffMs', limits.coolOffMs);
  }

  async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const query = Object.fromEntries(url.searchParams);
    const email = headerValue(req, 'email');
    const route = parseRoute(url.pathname);
    // Even a refused or unknown call reports the rate headers of the client it names.
    const client = apiVersionOf(url.pathname) === 'v3' ? V3_CLIENT : email?.toLowerCase();
    let reply: Reply;
    try {
      reply = await this.#dispatch(req, route, query, email);
    } catch (err) {
      reply = failure(500, (err as Error).message);
    }
    const now = this.#now();
    this.#stats.requests += 1;
    this.#log.push({
      method: req.method ?? 'GET',
      path: url.pathname,
      ...(route ?? {}),
      query,
      ...(email !== undefined ? { email } : {}),
      status: reply.status,
      at: now,
    });
    res.writeHead(reply.status, {
      'content-type': 'application/json; charset=utf-8',
      'x-max-assessments': String(this.#maxAssessments),
      'x-current-assessments': String(client === undefined ? 0 : this.#runningCount(client, now)),
    });
    res.end(JSON.stringify(reply.body));
  }

  async #dispatch(req: http.IncomingMessage, route: Route | undefined, query: Record<string, string>, email: string | undefined): Promise<Reply> {
    if (route === undefined) return failure(404, 'no such call: the API lives under /api/v3/ and /api/v4/ (register on v4 only)');
    const fault = this.#takeFault(route.call);
    if (fault !== undefined) return fault;
    const method = req.method ?? 'GET';
    if (route.call === 'register') {
      return method === 'POST' ? this.#register(await readBody(req)) : failure(405, 'register must be called with POST and a JSON body');
    }
    if (method !== 'GET') return failure(405, `${route.call} must be called with GET`);
    const client = route.version === 'v3' ? V3_CLIENT : this.#registeredClient(email);
    if (typeof client !== 'string') return client;
    switch (route.call) {
      case 'info':
        return this.#info(client);
      case 'analyze':
        return this.#analyze(client, query);
      case 'getEndpointData':
        return this.#endpointData(query);
      case 'getStatusCodes':
        return { status: 200, body: { statusDetails: STATUS_CODES } };
    }
  }

  #takeFault(call: SslLabsCall): Reply | undefined {
    const index = this.#faults.findIndex((fault) => fault.match === 'any' || fault.match === call);
    const fault = this.#faults[index];
    if (fault === undefined) return undefined;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.#faults.splice(index, 1);
    this.#stats.injectedFaults += 1;
    return failure(fault.status, FAULT_MESSAGES[fault.status]);
  }

  #register(body: unknown): Reply {
    if (body === undefined || typeof body !== 'object' || body === null) return failure(400, 'the body must be a JSON object {firstName, lastName, email, organization}');
    const fields = body as Record<string, unknown>;
    const missing = ['firstName', 'lastName', 'email', 'organization'].filter((field) => typeof fields[field] !== 'string' || (fields[field] as string).trim() === '');
    if (missing.length > 0) return { status: 400, body: { errors: missing.map((field) => ({ field, message: 'qp.mandatory' })) } };
    const email = (fields.email as string).trim().toLowerCase();
    if (!EMAIL_PATTERN.test(email)) return failure(400, 'invalid email address', 'email');
    if (FREE_MAIL_DOMAINS.has(email.slice(email.indexOf('@') + 1))) {
      return { status: 200, body: { message: 'Registration failed: use your organisation email; free e-mail services (Gmail, Yahoo, Hotmail…) are not accepted', status: 'failure' } };
    }
    this.#registered.add(email);
    return { status: 200, body: { message: 'User registered successfully', status: 'success' } };
  }

  /** v4's client identity: the registered address in the `email` header, or the refusal. */
  #registeredClient(email: string | undefined): string | Reply {
    if (email === undefined) return failure(441, 'unauthorized error. not register: send the registered email in the `email` header');
    if (!EMAIL_PATTERN.test(email)) return failure(400, 'invalid email address', 'email');
    const client = email.toLowerCase();
    return this.#registered.has(client) ? client : failure(441, 'unauthorized error. not register: call register first');
  }

  #info(client: string): Reply {
    return {
      status: 200,
      body: {
        engineVersion: EMULATOR_ENGINE_VERSION,
        criteriaVersion: EMULATOR_CRITERIA_VERSION,
        maxAssessments: this.#maxAssessments,
        currentAssessments: this.#runningCount(client, this.#now()),
        newAssessmentCoolOff: this.#coolOffMs,
        messages: this.#options.messages ?? DEFAULT_MESSAGES,
      },
    };
  }

  #analyze(client: string, query: Record<string, string>): Reply {
    const host = query.host?.trim().toLowerCase() ?? '';
    if (host === '') return failure(400, 'qp.mandatory', 'host');
    if (!HOSTNAME_PATTERN.test(host)) return failure(400, 'invalid host name', 'host');
    const startNew = query.startNew === 'on';
    const fromCache = query.fromCache === 'on';
    if (startNew && fromCache) return failure(400, 'startNew and fromCache cannot be used together', 'startNew');
    if (query.maxAge !== undefined && !/^\d+$/.test(query.maxAge)) return failure(400, 'maxAge must be a whole number of hours', 'maxAge');
    const detail: Detail = query.all === 'on' || query.all === 'done' ? query.all : 'summary';
    const now = this.#now();
    const hostStats = (this.#stats.byHost[host] ??= { starts: 0, polls: 0, cacheHits: 0, rateLimited: 0 });
    const existing = this.#assessments.get(host);

    if (existing !== undefined && isRunning(existing, now)) {
      hostStats.polls += 1;
      return { status: 200, body: hostView(existing, now, detail) };
    }
    if (fromCache && existing !== undefined && isCachedReport(existing, now, query.maxAge)) {
      hostStats.cacheHits += 1;
      this.#stats.cacheHits += 1;
      return { status: 200, body: hostView(existing, now, detail) };
    }
    if (existing !== undefined && !startNew && !fromCache) {
      hostStats.polls += 1;
      return { status: 200, body: hostView(existing, now, detail) };
    }

    const refusal = this.#admit(client, now);
    if (refusal !== undefined) {
      hostStats.rateLimited += 1;
      this.#stats.rateLimited.total += 1;
      this.#stats.rateLimited[refusal.reason] += 1;
      return refusal.reply;
    }
    const assessment = this.#start(host, client, now, query.publish === 'on');
    hostStats.starts += 1;
    return { status: 200, body: hostView(assessment, now, detail) };
  }

  #admit(client: string, now: number): { reason: RateLimitReason; reply: Reply } | undefined {
    const running = this.#runningCount(client, now);
    if (running >= this.#maxAssessments) {
      return { reason: 'concurrency', reply: failure(429, `concurrent assessment limit reached (${running}/${this.#maxAssessments}); wait for one to finish`) };
    }
    const last = this.#lastStart.get(client);
    if (last !== undefined && now - last < this.#coolOffMs) {
      return { reason: 'coolOff', reply: failure(429, `new assessments too fast: wait ${last + this.#coolOffMs - now} ms more (newAssessmentCoolOff ${this.#coolOffMs} ms)`) };
    }
    return undefined;
  }

  #start(host: string, client: string, now: number, isPublic: boolean): Assessment {
    const error = this.#errorHosts.get(host);
    const assessment: Assessment = {
      host,
      client,
      startTime: now,
      dnsMs: nonNegative(`dnsMs for ${host}`, perHost(this.#options.dnsMs ?? DEFAULTS.dnsMs, host)),
      assessmentMs: nonNegative(`assessmentMs for ${host}`, perHost(this.#options.assessmentMs ?? DEFAULTS.assessmentMs, host)),
      isPublic,
      outcome: error !== undefined ? { error } : { report: this.#reportFor(host, now) },
    };
    this.#assessments.set(host, assessment);
    this.#lastStart.set(client, now);
    this.#stats.starts += 1;
    const running = this.#running.get(client) ?? new Set<Assessment>();
    this.#running.set(client, running);
    running.add(assessment);
    this.#stats.peakConcurrent = Math.max(this.#stats.peakConcurrent, this.#runningCount(client, now));
    return assessment;
  }

  #reportFor(host: string, now: number): HostReport {
    if (this.#options.resultFor === undefined) return defaultReport(host, now);
    const report = structuredClone(this.#options.resultFor(host)) as Json;
    const endpoints = report.endpoints;
    const valid = Array.isArray(endpoints) && endpoints.length > 0 && endpoints.every((e) => typeof (e as Json | null)?.ipAddress === 'string');
    if (!valid) {
      throw new PortcullisError('config.invalid', `resultFor("${host}") must return a Host object with a non-empty endpoints[] of {ipAddress, …}`, { field: 'resultFor', value: host });
    }
    return report as HostReport;
  }

  #endpointData(query: Record<string, string>): Reply {
    const host = query.host?.trim().toLowerCase() ?? '';
    if (host === '') return failure(400, 'qp.mandatory', 'host');
    if (query.s === undefined || query.s === '') return failure(400, 'qp.mandatory', 's');
    const assessment = this.#assessments.get(host);
    const now = this.#now();
    if (assessment === undefined || !('report' in assessment.outcome) || isRunning(assessment, now)) {
      return failure(400, `no READY assessment of ${host}: poll analyze until its status is READY`, 'host');
    }
    const { report } = assessment.outcome;
    const endpoint = report.endpoints.find((e) => e.ipAddress === query.s);
    if (endpoint === undefined) return failure(400, `${host} has no endpoint ${query.s}`, 's');
    return { status: 200, body: finishedEndpoint(endpoint, assessment.startTime, endpointShare(assessment, report), true) };
  }

  #runningCount(client: string, now: number): number {
    const running = this.#running.get(client);
    if (running === undefined) return 0;
    for (const assessment of running) if (!isRunning(assessment, now)) running.delete(assessment);
    return running.size;
  }
}

function apiVersionOf(pathname: string): SslLabsApiVersion | undefined {
  return /^\/api\/(v3|v4)\//.exec(pathname)?.[1] as SslLabsApiVersion | undefined;
}

function parseRoute(pathname: string): Route | undefined {
  const version = apiVersionOf(pathname);
  if (version === undefined) return undefined;
  const name = pathname.slice(`/api/${version}/`.length);
  const call = CALLS[version].find((known) => known === name);
  return call === undefined ? undefined : { version, call };
}

function headerValue(req: http.IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  const text = Array.isArray(value) ? value[0] : value;
  return text === undefined ? undefined : text.trim();
}

/** The parsed JSON body, or undefined when it is empty, too large or not JSON. */
async function readBody(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/** The SSL Labs error body; `field` only for errors about one parameter. */
function failure(status: number, message: string, field?: string): Reply {
  return { status, body: { errors: [field === undefined ? { message } : { field, message }] } };
}

function nonNegative(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) throw new PortcullisError('config.invalid', `${name} must be a number ≥ 0, got ${value}`, { field: name, value: String(value) });
  return value;
}

function perHost(value: PerHostMs, host: string): number {
  return typeof value === 'function' ? value(host) : value;
}

function endsAt(assessment: Assessment): number {
  const { startTime, dnsMs, assessmentMs, outcome } = assessment;
  return 'error' in outcome ? startTime + dnsMs : startTime + dnsMs + assessmentMs;
}

function isRunning(assessment: Assessment, now: number): boolean {
  return now < endsAt(assessment);
}

function isCachedReport(assessment: Assessment, now: number, maxAgeHours: string | undefined): boolean {
  if (!('report' in assessment.outcome)) return false;
  return maxAgeHours === undefined || now - endsAt(assessment) <= Number(maxAgeHours) * HOUR_MS;
}

/** The Host JSON a client sees at `now`: which phase, and how far each endpoint has got. */
function hostView(assessment: Assessment, now: number, detail: Detail): Json {
  const { host, startTime, dnsMs, outcome } = assessment;
  const head = { host, port: 443, protocol: 'http', isPublic: assessment.isPublic };
  const versions = { startTime, engineVersion: EMULATOR_ENGINE_VERSION, criteriaVersion: EMULATOR_CRITERIA_VERSION };
  const elapsed = now - startTime;
  if (elapsed < dnsMs) return { ...head, status: 'DNS', statusMessage: 'Resolving domain names', ...versions };
  if ('error' in outcome) return { ...head, status: 'ERROR', statusMessage: outcome.error, ...versions, testTime: endsAt(assessment) };

  const { report } = outcome;
  const share = endpointShare(assessment, report);
  if (!isRunning(assessment, now)) {
    return {
      ...report,
      ...head,
      port: report.port ?? head.port,
      protocol: report.protocol ?? head.protocol,
      status: 'READY',
      ...versions,
      testTime: endsAt(assessment),
      endpoints: report.endpoints.map((endpoint) => finishedEndpoint(endpoint, startTime, share, detail !== 'summary')),
    };
  }
  const intoTesting = elapsed - dnsMs;
  const current = Math.min(report.endpoints.length - 1, Math.floor(intoTesting / share));
  const endpoints = report.endpoints.map((endpoint, index) => {
    if (index < current) return finishedEndpoint(endpoint, startTime, share, detail === 'on');
    const identity = { ipAddress: endpoint.ipAddress, ...(endpoint.serverName !== undefined ? { serverName: endpoint.serverName } : {}), delegation: endpoint.delegation ?? 1 };
    if (index > current) return { ...identity, statusMessage: 'Pending', progress: -1, eta: -1 };
    const progress = Math.min(99, Math.floor(((intoTesting - index * share) / share) * 100));
    const [statusDetails, statusDetailsMessage] = TEST_STAGES[Math.floor((progress * TEST_STAGES.length) / 100)] as readonly [string, string];
    const eta = Math.ceil(((index + 1) * share - intoTesting) / 1000);
    return { ...identity, statusMessage: 'In progress', statusDetails, statusDetailsMessage, progress, eta };
  });
  return { ...head, status: 'IN_PROGRESS', ...versions, endpoints };
}

/** Endpoints are tested one after the other, each in an equal share of assessmentMs. */
function endpointShare(assessment: Assessment, report: HostReport): number {
  return assessment.assessmentMs / report.endpoints.length;
}

/** A tested endpoint with its timing made consistent with the assessment; details only when asked. */
function finishedEndpoint(endpoint: Json, hostStartTime: number, durationMs: number, withDetails: boolean): Json {
  const { details, ...summary } = endpoint;
  const filled: Json = { ...summary, statusMessage: summary.statusMessage ?? 'Ready', progress: 100, duration: Math.round(durationMs), eta: 0 };
  if (withDetails && details !== undefined) filled.details = { ...(details as Json), hostStartTime };
  return filled;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

interface CertSpec {
  subject: string;
  issuerSubject: string;
  commonNames: string[];
  altNames?: string[];
  notBefore: number;
  notAfter: number;
  keySize: number;
}

function certJson(spec: CertSpec): Json {
  const digest = sha256(`cert:${spec.subject}`);
  return {
    id: digest.toString('hex'),
    subject: spec.subject,
    serialNumber: digest.subarray(0, 16).toString('hex'),
    commonNames: spec.commonNames,
    ...(spec.altNames !== undefined ? { altNames: spec.altNames } : {}),
    notBefore: spec.notBefore,
    notAfter: spec.notAfter,
    issuerSubject: spec.issuerSubject,
    sigAlg: 'SHA256withRSA',
    revocationInfo: 2,
    ocspURIs: ['http://ocsp.emulated-ca.test'],
    revocationStatus: 2,
    crlRevocationStatus: 4,
    ocspRevocationStatus: 2,
    dnsCaa: false,
    mustStaple: false,
    sgc: 0,
    issues: 0,
    sct: spec.altNames !== undefined,
    sha1Hash: createHash('sha1').update(spec.subject).digest('hex'),
    sha256Hash: digest.toString('hex'),
    pinSha256: sha256(`key:${spec.subject}`).toString('base64'),
    keyAlg: 'RSA',
    keySize: spec.keySize,
    keyStrength: spec.keySize,
    keyKnownDebianInsecure: false,
  };
}

function suite(id: number, name: string, cipherStrength: number): Json {
  return { id, name, cipherStrength, kxType: 'ECDH', kxStrength: 3072, namedGroupBits: 256, namedGroupId: 29, namedGroupName: 'x25519' };
}

/** A simulated client that completed its handshake with an ECDHE x25519 key exchange. */
function simulation(certChainId: string, client: Json, protocolId: number, suiteId: number, suiteName: string): Json {
  return { client, errorCode: 0, attempts: 1, certChainId, protocolId, suiteId, suiteName, kxType: 'ECDH', kxStrength: 3072, namedGroupBits: 256, namedGroupId: 29, namedGroupName: 'x25519', keyAlg: 'RSA', keySize: 2048, sigAlg: 'SHA256withRSA' };
}

/**
 * A grade-A Host in the shape of reference §1.7: TLS 1.2 + 1.3, ECDHE AEAD suites only, a trusted
 * two-certificate chain, no HSTS (hence A, not A+). The address is derived from the host name
 * inside 203.0.113.0/24 (documentation range), so it is stable and never routable.
 */
function defaultReport(host: string, now: number): HostReport {
  const ipAddress = `203.0.113.${1 + ((sha256(host)[0] as number) % 254)}`;
  const root = certJson({ subject: 'CN=Emulated Root CA, O=Portcullis Test PKI, C=GB', issuerSubject: 'CN=Emulated Root CA, O=Portcullis Test PKI, C=GB', commonNames: ['Emulated Root CA'], notBefore: now - 3650 * DAY_MS, notAfter: now + 3650 * DAY_MS, keySize: 4096 });
  const intermediate = certJson({ subject: 'CN=Emulated Issuing CA R1, O=Portcullis Test PKI, C=GB', issuerSubject: root.subject as string, commonNames: ['Emulated Issuing CA R1'], notBefore: now - 365 * DAY_MS, notAfter: now + 1825 * DAY_MS, keySize: 2048 });
  const leaf = certJson({ subject: `CN=${host}`, issuerSubject: intermediate.subject as string, commonNames: [host], altNames: [host, `www.${host}`], notBefore: now - 30 * DAY_MS, notAfter: now + 60 * DAY_MS, keySize: 2048 });
  const chainId = sha256(`chain:${host}`).toString('hex');
  const trust = ['Mozilla', 'Apple', 'Android', 'Java', 'Windows'].map((rootStore) => ({ rootStore, isTrusted: true }));
  const tls12Suites = [suite(49199, 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', 128), suite(49200, 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384', 256), suite(52392, 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256', 256)];
  const tls13Suites = [suite(4865, 'TLS_AES_128_GCM_SHA256', 128), suite(4866, 'TLS_AES_256_GCM_SHA384', 256), suite(4867, 'TLS_CHACHA20_POLY1305_SHA256', 256)];
  const sims = [
    { client: { id: 101, name: 'IE', platform: 'XP', version: '8', isReference: false }, errorCode: 1, errorMessage: 'Server sent fatal alert: protocol_version', attempts: 1, alertType: 2, alertCode: 70 },
    simulation(chainId, { id: 170, name: 'Chrome', platform: 'Win 10', version: '80', isReference: true }, 772, 4865, 'TLS_AES_128_GCM_SHA256'),
    simulation(chainId, { id: 169, name: 'Firefox', platform: 'Win 10', version: '73', isReference: true }, 772, 4865, 'TLS_AES_128_GCM_SHA256'),
    simulation(chainId, { id: 163, name: 'Safari', platform: 'iOS 12.3.1', version: '12.1.1', isReference: true }, 772, 4865, 'TLS_AES_128_GCM_SHA256'),
    simulation(chainId, { id: 147, name: 'Java', platform: '', version: '11.0.3', isReference: false }, 772, 4865, 'TLS_AES_128_GCM_SHA256'),
    simulation(chainId, { id: 158, name: 'Android', platform: '', version: '7.0', isReference: false }, 771, 49199, 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256'),
  ];
  const details = {
    certChains: [{ id: chainId, certIds: [leaf.id, intermediate.id], trustPaths: [{ certIds: [leaf.id, intermediate.id, root.id], trust, isPinned: false, matchedPins: 0, unmatchedPins: 0 }], issues: 0, noSni: false }],
    protocols: [{ id: 771, name: 'TLS', version: '1.2' }, { id: 772, name: 'TLS', version: '1.3' }],
    suites: [{ protocol: 771, list: tls12Suites, preference: true }, { protocol: 772, list: tls13Suites, preference: true }],
    namedGroups: { list: [{ id: 29, name: 'x25519', bits: 256, namedGroupType: 'EC' }, { id: 23, name: 'secp256r1', bits: 256, namedGroupType: 'EC' }, { id: 24, name: 'secp384r1', bits: 384, namedGroupType: 'EC' }], preference: true },
    serverSignature: 'nginx',
    prefixDelegation: false,
    nonPrefixDelegation: true,
    vulnBeast: false,
    renegSupport: 2,
    sessionResumption: 2,
    compressionMethods: 0,
    supportsNpn: false,
    supportsAlpn: true,
    alpnProtocols: 'h2 http/1.1',
    sessionTickets: 1,
    ocspStapling: true,
    staplingRevocationStatus: 2,
    sniRequired: false,
    httpStatusCode: 200,
    supportsRc4: false,
    rc4WithModern: false,
    rc4Only: false,
    forwardSecrecy: 4,
    supportsAead: true,
    supportsCBC: false,
    protocolIntolerance: 0,
    miscIntolerance: 0,
    sims: { results: sims },
    heartbleed: false,
    heartbeat: false,
    openSslCcs: 1,
    openSSLLuckyMinus20: 1,
    ticketbleed: 1,
    bleichenbacher: 1,
    poodle: false,
    poodleTls: 1,
    fallbackScsv: true,
    freak: false,
    hasSct: 1,
    ecdhParameterReuse: false,
    logjam: false,
    hstsPolicy: { LONG_MAX_AGE: 15552000, status: 'absent', directives: {} },
    hstsPreloads: ['Chrome', 'Edge', 'Firefox', 'IE'].map((source) => ({ source, hostname: host, status: 'absent', sourceTime: now - DAY_MS })),
    hpkpPolicy: { status: 'absent', pins: [], matchedPins: [], directives: [] },
    hpkpRoPolicy: { status: 'absent', pins: [], matchedPins: [], directives: [] },
    drownHosts: [],
    drownErrors: false,
    drownVulnerable: false,
    implementsTLS13MandatoryCS: true,
    zeroRTTEnabled: 0,
    zombiePoodle: 1,
    goldenDoodle: 1,
    zeroLengthPaddingOracle: 1,
    sleepingPoodle: 1,
  };
  return {
    host,
    port: 443,
    protocol: 'http',
    isPublic: false,
    endpoints: [{ ipAddress, statusMessage: 'Ready', grade: 'A', gradeTrustIgnored: 'A', hasWarnings: false, isExceptional: false, progress: 100, delegation: 1, details }],
    certs: [leaf, intermediate, root],
  };
}

/**
 * Standalone: `npx tsx src/testing/ssllabs-emulator.ts [--dns-ms N] [--assessment-ms N] [--max-assessments N]
 * [--cool-off-ms N] [--email ADDRESS]…` prints the base URL on one line and serves until killed.
 */
export async function main(argv: string[] = process.argv.slice(2), print: (line: string) => void = console.log): Promise<SslLabsEmulator> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'dns-ms': { type: 'string' },
      'assessment-ms': { type: 'string' },
      'max-assessments': { type: 'string' },
      'cool-off-ms': { type: 'string' },
      email: { type: 'string', multiple: true },
    },
  });
  const number = (flag: 'dns-ms' | 'assessment-ms' | 'max-assessments' | 'cool-off-ms'): number | undefined => {
    const raw = values[flag];
    if (raw === undefined) return undefined;
    if (!/^\d+$/.test(raw)) throw new PortcullisError('config.invalid', `--${flag} takes a whole number ≥ 0, got "${raw}"`, { field: flag, value: raw });
    return Number(raw);
  };
  const emulator = await startSslLabsEmulator({
    dnsMs: number('dns-ms'),
    assessmentMs: number('assessment-ms'),
    maxAssessments: number('max-assessments'),
    coolOffMs: number('cool-off-ms'),
    registeredEmails: values.email ?? [],
  });
  print(emulator.url);
  return emulator;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error((err as Error).message);
    process.exitCode = 2;
  });
}
