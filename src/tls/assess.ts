/**
 * The native assessment engine: resolves the host, checks every address against the scope policy, then
 * assesses each address (endpoint) concurrently with the probes in ./probes, and grades it. Connections go
 * only to the exact addresses that were checked.
 */
import type { Resolver, ScopePolicy } from '../scope/index.js';
import { resolveEndpoints } from './resolve-endpoints.js';
import { describeError, PortcullisError } from '../shared/errors.js';
import { VERSION } from '../shared/version.js';
import type { TrustStore } from './cert/index.js';
import { findingsFor } from './findings.js';
import { CRITERIA_VERSION, gradeEndpoint } from './grade/index.js';
import type { Assessment, EndpointAssessment, EndpointFacts, ProtocolFeatures } from './model.js';
import { UNKNOWN_FEATURES, emptyEndpointFacts } from './model.js';
import { probeCertificates, type CertificateProbeResult } from './probes/certificates.js';
import type { ProbeContext } from './probes/context.js';
import { probeFeatures } from './probes/features.js';
import { probeGroups, type GroupProbeResult } from './probes/groups.js';
import type { HelloAnswer } from './probes/hello.js';
import { probeHttp } from './probes/http.js';
import { createLimiter } from './probes/limiter.js';
import { probeProtocols, type ProtocolProbeResult } from './probes/protocols.js';
import { probeSimulations } from './probes/simulation.js';
import { probeSuites, type SuiteProbeResult } from './probes/suites.js';
import { probeVulnerabilities } from './probes/vulnerabilities.js';

export interface AssessTarget {
  /** DNS name or IP literal. */
  host: string;
  port: number;
}

export interface AssessOptions {
  resolver: Resolver;
  scopePolicy: ScopePolicy;
  trustStore: TrustStore;
  /** Default: the host when it is a name; none for IP literals. */
  sni?: string | null;
  /** Per-connection deadline, default 5000 ms. */
  timeoutMs?: number;
  /** Concurrent connections per endpoint, default 8. */
  parallelism?: number;
  /** HTTP/HSTS probe, default true. */
  http?: boolean;
  signal?: AbortSignal;
  now?: () => Date;
  onProgress?: (progress: { endpoint: string; done: number; total: number }) => void;
}

const DEFAULT_TIMEOUT_MS = 5000;
const DEFAULT_PARALLELISM = 8;
/** One endpoint may take this many connection deadlines in all; then its probes are stopped. */
const ENDPOINT_BUDGET_DEADLINES = 6;
/** protocols, suites, groups, certificates, features, simulation, http, vulnerabilities */
const PROBE_COUNT = 8;

/** Why nothing could be negotiated, in words, from the answers to the protocol hellos. */
export function endpointFailure(answers: readonly HelloAnswer[], target: string): { code: string; message: string } {
  const failures = answers.flatMap((a) => (a.kind === 'no-answer' ? [a] : []));
  const alerts = [...new Set(answers.flatMap((a) => (a.kind === 'alert' ? [a.name] : [])))];
  if (alerts.length > 0 || answers.some((a) => a.kind === 'server-hello' || a.kind === 'sslv2-server-hello')) {
    const said = alerts.length > 0 ? ` (it answered ${alerts.join(', ')})` : '';
    return { code: 'tls.no-protocol', message: `${target} speaks TLS but accepted none of the protocol versions and cipher suites offered${said}` };
  }
  const outcomes = new Set(failures.map((f) => f.outcome));
  if (outcomes.has('aborted')) return { code: 'scan.cancelled', message: `the assessment of ${target} was stopped` };
  if (outcomes.size === 1 && outcomes.has('refused')) return { code: 'endpoint.refused', message: `connection refused by ${target}` };
  if (outcomes.size === 1 && outcomes.has('unreachable')) return { code: 'endpoint.unreachable', message: `${target} is unreachable` };
  const malformed = failures.find((f) => f.outcome === 'malformed');
  if (malformed !== undefined) return { code: 'tls.not-tls', message: `${target} does not speak TLS: ${malformed.message}` };
  if (outcomes.has('timeout')) return { code: 'tls.timeout', message: `${target} gave no TLS answer: ${failures.find((f) => f.outcome === 'timeout')?.message ?? 'timeout'}` };
  return { code: 'tls.not-tls', message: `${target} does not speak TLS: ${failures[0]?.message ?? 'no answer'}` };
}

export interface EndpointRequest {
  ip: string;
  port: number;
  host: string;
  sni: string | null;
  options: AssessOptions;
}

/** Runs `probe`; a failure (a bug, not a server problem: probes report those themselves) becomes a warning and `fallback`. */
async function guarded<T>(ctx: ProbeContext, name: string, probe: () => Promise<T>, fallback: T): Promise<T> {
  try {
    return await probe();
  } catch (err) {
    ctx.warn(`${name}: probe failed: ${describeError(err).message}`);
    return fallback;
  }
}

const NO_SUITES: SuiteProbeResult = { suites: [], preference: [], dhParameters: [], accepted: {}, handshakes: [], sslv2Certificate: null };
const NO_GROUPS: GroupProbeResult = { groups: [], groupPreference: null };
const NO_CERTIFICATES: CertificateProbeResult = { certificates: [], sniRequired: null };

/**
 * Every probe after the protocol probe, each started as soon as what it needs is known: the suite
 * enumeration is the long sequential chain, so nothing that needs only one accepted suite per protocol
 * (groups over TLS 1.3, features) or nothing at all (simulations, HTTP) waits for it.
 */
async function runProbes(ctx: ProbeContext, request: EndpointRequest, found: ProtocolProbeResult, now: Date, progress: () => void): Promise<EndpointFacts> {
  const { options } = request;
  const { protocols, firstAccepted } = found;
  const tracked = <T>(promise: Promise<T>): Promise<T> => promise.finally(progress);
  const suitesP = tracked(guarded(ctx, 'suites', () => probeSuites(ctx, protocols), NO_SUITES));
  const groupsP = tracked(
    guarded(
      ctx,
      'groups',
      () => probeGroups(ctx, protocols, firstAccepted, suitesP.then((suites) => suites.accepted)),
      NO_GROUPS,
    ),
  );
  const certificatesP = tracked(
    suitesP.then((suites) =>
      guarded(ctx, 'certificates', () => probeCertificates(ctx, suites, { host: request.host, trustStore: options.trustStore, now }), NO_CERTIFICATES),
    ),
  );
  const enumeration = Promise.all([suitesP, certificatesP]).then(([suites, certificates]) => ({ handshakes: suites.handshakes, sniRequired: certificates.sniRequired }));
  const featuresP = tracked(
    guarded<ProtocolFeatures | null>(ctx, 'features', () => probeFeatures(ctx, protocols, firstAccepted, enumeration), null).then(
      async (features) => features ?? { ...UNKNOWN_FEATURES, sniRequired: (await enumeration).sniRequired },
    ),
  );
  const simulationsP = tracked(guarded(ctx, 'simulation', () => probeSimulations(ctx), []));
  const httpP = tracked(options.http ?? true ? guarded(ctx, 'http', () => probeHttp(ctx), null) : Promise.resolve(null));
  const vulnerabilitiesP = tracked(guarded(ctx, 'vulnerabilities', () => probeVulnerabilities(ctx), []));
  const [suites, groups, certificates, features, simulations, http, vulnerabilities] = await Promise.all([
    suitesP,
    groupsP,
    certificatesP,
    featuresP,
    simulationsP,
    httpP,
    vulnerabilitiesP,
  ]);
  return {
    ip: request.ip,
    protocols,
    suites: suites.suites,
    suitePreference: suites.preference,
    groups: groups.groups,
    groupPreference: groups.groupPreference,
    dhParameters: suites.dhParameters,
    certificates: certificates.certificates,
    features,
    http,
    simulations,
    vulnerabilities,
  };
}

/** Assesses one address. Never throws for what the server does: an unusable endpoint comes back with status 'error'. */
export async function assessEndpoint(request: EndpointRequest): Promise<EndpointAssessment> {
  const { ip, port, options } = request;
  const started = performance.now();
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const budgetMs = timeoutMs * ENDPOINT_BUDGET_DEADLINES;
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) stop.abort();
  let overBudget = false;
  const budget = setTimeout(() => {
    overBudget = true;
    stop.abort();
  }, budgetMs);

  const warnings: string[] = [];
  const ctx: ProbeContext = {
    ip,
    port,
    sni: request.sni,
    timeoutMs,
    signal: stop.signal,
    counter: { connections: 0 },
    limit: createLimiter(options.parallelism ?? DEFAULT_PARALLELISM),
    warn: (message) => warnings.push(message),
  };
  let done = 0;
  const progress = (): void => {
    done++;
    options.onProgress?.({ endpoint: ip, done, total: PROBE_COUNT });
  };

  try {
    const found = await probeProtocols(ctx);
    const { protocols, answers } = found;
    progress();
    const measured = (): Pick<EndpointAssessment, 'durationMs' | 'connections' | 'warnings'> => ({
      durationMs: Math.round(performance.now() - started),
      connections: ctx.counter.connections,
      warnings,
    });
    if (!protocols.some((p) => p.supported)) {
      return {
        ...emptyEndpointFacts(ip, protocols),
        status: 'error',
        grade: null,
        gradeTrustIgnored: null,
        scores: null,
        caps: [],
        hasWarnings: false,
        isExceptional: false,
        error: endpointFailure(answers, endpointLabel(ip, port)),
        findings: [],
        ...measured(),
      };
    }
    const now = (options.now ?? (() => new Date()))();
    const facts = await runProbes(ctx, request, found, now, progress);
    if (overBudget) warnings.push(`the assessment was stopped after ${budgetMs} ms; results are incomplete`);
    const grade = gradeEndpoint(facts, { host: request.host, now });
    return {
      ...facts,
      status: 'ready',
      grade: grade.grade,
      gradeTrustIgnored: grade.gradeTrustIgnored,
      scores: grade.scores,
      caps: grade.caps,
      hasWarnings: grade.hasWarnings,
      isExceptional: grade.isExceptional,
      findings: findingsFor(facts),
      ...measured(),
    };
  } finally {
    clearTimeout(budget);
    options.signal?.removeEventListener('abort', onAbort);
  }
}

function endpointLabel(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/**
 * Assesses `target`: every address its name resolves to (or the IP literal), each checked against the
 * scope policy before any connection. Throws PortcullisError (target.invalid, target.unresolvable,
 * scope.denied, scan.cancelled); an endpoint that cannot be reached or does not speak TLS is reported
 * with status 'error' instead.
 */
export async function assess(target: AssessTarget, options: AssessOptions): Promise<Assessment> {
  if (!Number.isInteger(target.port) || target.port < 1 || target.port > 65535) {
    throw new PortcullisError('ports.invalid', `port must be a whole number from 1 to 65535, not ${String(target.port)}`, { value: String(target.port), field: 'port' });
  }
  const now = options.now ?? (() => new Date());
  const startedAt = now().toISOString();
  const { ips, hostname } = await resolveEndpoints(target.host, options.resolver, options.scopePolicy);
  const sni = options.sni !== undefined ? options.sni : hostname;
  const host = hostname ?? ips[0] ?? target.host;
  const endpoints = await Promise.all(ips.map((ip) => assessEndpoint({ ip, port: target.port, host, sni, options })));
  if (options.signal?.aborted) throw new PortcullisError('scan.cancelled', `the assessment of ${target.host}:${target.port} was cancelled`, { value: target.host });
  return {
    host,
    port: target.port,
    sni,
    engine: 'native',
    engineVersion: VERSION,
    criteriaVersion: CRITERIA_VERSION,
    startedAt,
    finishedAt: now().toISOString(),
    endpoints,
  };
}
