import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { DEFAULT_TLS_PORT, parseTlsTarget, submitTlsScan, tlsScanJobId } from '../../jobs/index.js';
import { scanningAs } from '../auth.js';
import type { Runtime } from '../../runtime/index.js';
import { type ErrorCode, PortcullisError } from '../../shared/errors.js';
import type { TlsAssessmentRecord, TlsTarget } from '../../store/index.js';
import { targetKey } from '../../tls/target.js';
import { worstGrade } from '../../tls/compare.js';
import type { EndpointAssessment } from '../../tls/model.js';
import { FiniteInteger, problemResponse } from '../schemas.js';
import { engineDisagreements } from '../../ssllabs/index.js';
import { ASSESSMENTS_BASE, EngineChoice, tlsScanLinks } from './tls-scans.js';

/** Longest a request may hold on for a new assessment before it is answered 202 with a link to poll. */
const MAX_WAIT_SECONDS = 60;
const DEFAULT_WAIT_SECONDS = 25;

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);

const ScanReport = Type.Object(
  {
    host: Type.String(),
    port: Type.Integer(),
    sni: Nullable(Type.String()),
    grade: Nullable(Type.String({ description: 'Worst grade across the endpoints; null when none could be graded.' })),
    assessedAt: Type.String({ format: 'date-time', description: 'When the assessment finished.' }),
    cached: Type.Boolean({ description: 'True when a stored assessment younger than `tls.maxAgeSeconds` answered the request.' }),
    engine: Type.String(),
    criteriaVersion: Type.String(),
    endpoints: Type.Array(
      Type.Object({
        ip: Type.String(),
        status: Type.String({ description: '`ready` or `error` (could not be assessed).' }),
        error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
        grade: Nullable(Type.String()),
        gradeTrustIgnored: Nullable(Type.String({ description: 'The grade if the certificate were trusted (SSL Labs gradeTrustIgnored).' })),
        scores: Nullable(Type.Object({ protocol: Type.Number(), keyExchange: Type.Number(), cipher: Type.Number(), total: Type.Number() })),
        certificate: Nullable(
          Type.Object({
            subject: Type.String(),
            issuer: Type.String(),
            notAfter: Type.String({ description: 'Leaf expiry.' }),
            daysToExpiry: Type.Integer(),
            earliestExpiry: Type.String({ description: 'Earliest expiry on the trust path (an intermediate can expire first).' }),
            trusted: Type.Boolean(),
            trustError: Nullable(Type.String()),
            hostnameMatch: Type.Boolean(),
          }),
        ),
        protocols: Type.Array(Type.String(), { description: 'Protocols the endpoint accepts.' }),
        weakSuites: Type.Array(Type.Object({ protocol: Type.String(), code: Type.String(), iana: Type.String(), strength: Type.String() }), { description: 'Accepted suites rated weak or insecure.' }),
        findings: Type.Array(Type.Object({ id: Type.String(), severity: Type.String(), title: Type.String(), fix: Type.String() })),
        caps: Type.Array(Type.Object({ grade: Type.String(), rule: Type.String(), reason: Type.String(), fix: Type.String() }), { description: 'What holds the grade down, and how to fix it.' }),
      }),
    ),
    fallback: Type.Optional(Type.Object({ requested: Type.String(), reason: Type.String() }, { description: 'engine=ssllabs on a target SSL Labs may not assess: the native engine answered, and why.' })),
    sslLabs: Type.Optional(
      Type.Object(
        {
          grade: Nullable(Type.String()),
          assessedAt: Type.Optional(Type.String({ format: 'date-time' })),
          criteriaVersion: Type.Optional(Type.String()),
          endpoints: Type.Optional(Type.Array(Type.Object({ ip: Type.String(), status: Type.String(), grade: Nullable(Type.String()), gradeTrustIgnored: Nullable(Type.String()) }))),
          error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
          links: Type.Optional(Type.Record(Type.String(), Type.String())),
        },
        { description: 'engine=both: SSL Labs\' grades beside ours (the top-level fields are the native engine\'s), or why SSL Labs gave none.' },
      ),
    ),
    disagreements: Type.Optional(
      Type.Array(
        Type.Object({ ip: Type.String(), aspect: Type.String(), native: Type.String(), ssllabs: Type.String() }),
        { description: 'engine=both: where the two engines disagree (grade, trust-ignored grade, protocols, suites, certificate, findings, criteria version).' },
      ),
    ),
    links: Type.Record(Type.String(), Type.String()),
  },
  {
    examples: [
      {
        host: 'app.internal',
        port: 443,
        sni: 'app.internal',
        grade: 'B',
        assessedAt: '2026-07-01T10:00:04.210Z',
        cached: false,
        engine: 'native',
        criteriaVersion: '2009r',
        endpoints: [
          {
            ip: '10.0.0.5',
            status: 'ready',
            grade: 'B',
            gradeTrustIgnored: 'B',
            scores: { protocol: 95, keyExchange: 90, cipher: 90, total: 91 },
            certificate: {
              subject: 'CN=app.internal',
              issuer: 'CN=Internal CA',
              notAfter: '2026-12-31T23:59:59.000Z',
              daysToExpiry: 183,
              earliestExpiry: '2026-12-31T23:59:59.000Z',
              trusted: true,
              trustError: null,
              hostnameMatch: true,
            },
            protocols: ['TLSv1.0', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'],
            weakSuites: [{ protocol: 'TLSv1.0', code: '0xC013', iana: 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA', strength: 'weak' }],
            findings: [{ id: 'tls10', severity: 'medium', title: 'TLS 1.0 enabled', fix: 'disable TLS 1.0 and TLS 1.1' }],
            caps: [{ grade: 'B', rule: 'tls10-enabled', reason: 'capped at B: TLS 1.0 is enabled', fix: 'disable TLS 1.0 and 1.1' }],
          },
        ],
        links: { assessment: '/api/v1/tls-assessments/01990d6f-4c1e-7a3b-9f3a-2b7d5e9c0a11', history: '/api/v1/domains/app.internal?port=443', fresh: '/scan?host=app.internal&port=443&fresh=1' },
      },
    ],
  },
);

const ScanPending = Type.Object(
  {
    id: Type.String({ description: 'The TLS scan running the assessment.' }),
    status: Type.String(),
    links: Type.Record(Type.String(), Type.String()),
  },
  { description: 'The assessment takes longer than `wait`: poll `links.self`; its results link to the assessment.' },
);

function endpointReport(e: EndpointAssessment) {
  const chain = e.certificates[0];
  const leaf = chain?.served[0];
  return {
    ip: e.ip,
    status: e.status,
    ...(e.error !== undefined ? { error: e.error } : {}),
    grade: e.grade,
    gradeTrustIgnored: e.gradeTrustIgnored,
    scores: e.scores,
    certificate:
      chain !== undefined && leaf !== undefined
        ? {
            subject: leaf.subject,
            issuer: leaf.issuer,
            notAfter: chain.leafExpiry,
            daysToExpiry: leaf.daysToExpiry,
            earliestExpiry: chain.earliestExpiry,
            trusted: chain.trusted,
            trustError: chain.trustError,
            hostnameMatch: chain.hostnameMatch,
          }
        : null,
    protocols: e.protocols.filter((p) => p.supported).map((p) => p.name),
    weakSuites: e.suites.filter((s) => s.strength !== 'secure').map((s) => ({ protocol: s.protocol, code: s.code, iana: s.iana, strength: s.strength })),
    findings: e.findings.map((f) => ({ id: f.id, severity: f.severity, title: f.title, fix: f.fix })),
    caps: e.caps.map((c) => ({ grade: c.grade, rule: c.rule, reason: c.reason, fix: c.fix })),
  };
}

/** The essentials of a stored assessment, as `GET /scan` answers. */
export function scanReport(record: TlsAssessmentRecord, cached: boolean) {
  const a = record.assessment;
  const query = `host=${encodeURIComponent(a.host)}&port=${a.port}`;
  return {
    host: a.host,
    port: a.port,
    sni: a.sni,
    grade: worstGrade(a.endpoints.map((e) => e.grade)),
    assessedAt: a.finishedAt,
    cached,
    engine: a.engine,
    criteriaVersion: a.criteriaVersion,
    endpoints: a.endpoints.map(endpointReport),
    ...(a.fallback !== undefined ? { fallback: a.fallback } : {}),
    links: {
      assessment: `${ASSESSMENTS_BASE}/${record.id}`,
      history: `/api/v1/domains/${encodeURIComponent(a.host)}?port=${a.port}`,
      fresh: `/scan?${query}&fresh=1`,
    },
  };
}

/** engine=both: SSL Labs' grades beside the native report, and where the two disagree. */
function withSecondOpinion(report: ReturnType<typeof scanReport>, native: TlsAssessmentRecord, second: TlsAssessmentRecord | { error: { code: string; message: string } }) {
  if ('error' in second) return { ...report, sslLabs: { grade: null, error: second.error }, disagreements: [] };
  const a = second.assessment;
  return {
    ...report,
    sslLabs: {
      grade: worstGrade(a.endpoints.map((e) => e.grade)),
      assessedAt: a.finishedAt,
      criteriaVersion: a.criteriaVersion,
      endpoints: a.endpoints.map((e) => ({ ip: e.ip, status: e.status, grade: e.grade, gradeTrustIgnored: e.gradeTrustIgnored })),
      links: { assessment: `${ASSESSMENTS_BASE}/${second.id}`, raw: `${ASSESSMENTS_BASE}/${second.id}/ssllabs` },
    },
    disagreements: engineDisagreements(native.assessment, a),
  };
}

/** Errors a failed target carries that mean the same to the client as they did at submission. */
const CLIENT_ERRORS = new Set<string>(['target.invalid', 'target.unresolvable', 'scope.denied', 'ssllabs.disabled', 'ssllabs.assessment-failed', 'ssllabs.not-registered', 'ssllabs.email-rejected', 'ssllabs.internal-error']);

export async function scanRoutes(fastify: FastifyInstance, opts: { runtime: Runtime }): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { runtime } = opts;
  const repo = runtime.store.tlsAssessments;

  app.get(
    '/scan',
    {
      // A GET that may connect out: it needs the scope that starts scans.
      config: { access: 'scan' },
      schema: {
        tags: ['tls'],
        summary: 'Grade one host\'s TLS (SSL Labs-compatible), reusing a recent assessment',
        description:
          `Answers from a stored assessment younger than \`tls.maxAgeSeconds\` (default 3600) unless \`fresh=1\`. Otherwise queues a new assessment and waits for it up to \`wait\` seconds ` +
          `(default ${DEFAULT_WAIT_SECONDS}); if it takes longer the answer is 202 with a link to poll. The host is resolved and every address checked against the scope policy first. ` +
          '`engine=ssllabs` asks Qualys SSL Labs instead (opt-in: needs `ssllabs.email`; SSL Labs assessments take minutes, so expect 202 and poll); `engine=both` answers with our grades, SSL Labs\' grades under `sslLabs` and the list of `disagreements`.',
        querystring: Type.Object(
          {
            host: Type.String({ minLength: 1, maxLength: 261, description: 'Host name or IP address, optionally with `:port` (`[IPv6]:port`).' }),
            port: Type.Optional(FiniteInteger({ minimum: 1, maximum: 65535, description: `Port (default ${DEFAULT_TLS_PORT}).` })),
            fresh: Type.Optional(Type.String({ pattern: '^(0|1|true|false)$', description: '`1`: do not reuse a stored assessment.' })),
            wait: FiniteInteger({ minimum: 0, maximum: MAX_WAIT_SECONDS, default: DEFAULT_WAIT_SECONDS, description: 'Seconds to wait for a new assessment before answering 202.' }),
            engine: Type.Optional(EngineChoice),
          },
          { additionalProperties: false },
        ),
        response: {
          200: ScanReport,
          202: ScanPending,
          400: problemResponse('The host or port is malformed, or the host does not resolve.'),
          403: problemResponse('The host resolves to an address outside the scope policy.'),
          500: problemResponse('The assessment failed.'),
          502: problemResponse('SSL Labs failed to assess the host (its ERROR status or an internal error).'),
          503: problemResponse('The database or the queue is unavailable.'),
        },
      },
    },
    async (request, reply) => {
      const q = request.query;
      const target = requestedTarget(q.host, q.port);
      const fresh = q.fresh === '1' || q.fresh === 'true';
      const engine = q.engine ?? 'native';
      if (!fresh) {
        const maxAge = runtime.config.tls.maxAgeSeconds;
        const [cached, cachedSslLabs] = await Promise.all([
          repo.latestFresh({ ...target, engine: engine === 'ssllabs' ? 'ssllabs' : 'native' }, maxAge),
          engine === 'both' ? repo.latestFresh({ ...target, engine: 'ssllabs' }, maxAge) : undefined,
        ]);
        if (cached !== undefined && engine !== 'both') return scanReport(cached, true);
        if (cached !== undefined && cachedSslLabs !== undefined) return withSecondOpinion(scanReport(cached, true), cached, cachedSslLabs);
      }
      const caller = await scanningAs(runtime, request);
      const options = { fresh: true, engine, ...(caller.scopeAllow !== undefined ? { scopeAllow: caller.scopeAllow } : {}) };
      const scan = await submitTlsScan({ ...runtime, policy: caller.policy }, { hosts: [targetKey(target)], options, requestedBy: caller.requestedBy });
      if (q.wait > 0) {
        // Whatever ends the wait (the job finishing, the deadline, the queue closing), the store says where the scan is.
        await runtime.queue.waitUntilFinished(tlsScanJobId(scan.id), q.wait * 1000).catch((err: unknown) => request.log.debug({ err, tlsScanId: scan.id }, 'stopped waiting for the TLS scan'));
      }
      const now = await repo.getScan(scan.id);
      const [result] = now?.status === 'done' || now?.status === 'failed' ? await repo.scanResults(scan.id) : [];
      if (result?.assessment !== undefined) {
        const record = await repo.getAssessment(result.assessment.id);
        if (record !== undefined && engine !== 'both') return scanReport(record, false);
        const second = result.sslLabs?.assessment !== undefined ? await repo.getAssessment(result.sslLabs.assessment.id) : result.sslLabs?.error !== undefined ? { error: result.sslLabs.error } : undefined;
        if (record !== undefined && second !== undefined) return withSecondOpinion(scanReport(record, false), record, second);
      }
      if (result?.error !== undefined) {
        const code = (CLIENT_ERRORS.has(result.error.code) ? result.error.code : 'scan.failed') as ErrorCode;
        throw new PortcullisError(code, result.error.message, { value: q.host, field: 'host', tlsScanId: scan.id });
      }
      if (now !== undefined && now.status !== 'queued' && now.status !== 'running') {
        throw new PortcullisError('scan.failed', `the assessment of ${targetKey(target)} ended ${now.status}${now.error ? `: ${now.error.message}` : ''}`, { tlsScanId: scan.id });
      }
      const links = tlsScanLinks(scan.id);
      return reply.status(202).header('location', links.self).send({ id: scan.id, status: now?.status ?? scan.status, links });
    },
  );
}

/** host[:port] plus an optional port parameter; a port given both ways must agree. */
function requestedTarget(host: string, port: number | undefined): TlsTarget {
  const parsed = parseTlsTarget(host, 'host');
  if (port === undefined) return parsed;
  if (parsed.port !== DEFAULT_TLS_PORT && parsed.port !== port) {
    throw new PortcullisError('request.invalid', `host "${host}" names port ${parsed.port} but the port parameter is ${port}; give the port once`, { field: 'port', value: String(port) });
  }
  return { host: parsed.host, port };
}
