import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Runtime } from '../runtime/index.js';
import { VERSION } from '../shared/version.js';
import type { OidcVerifier } from '../auth/oidc.js';
import { registerAuth } from './auth.js';
import { readCertificate, watchCertificate } from './https.js';
import { registerProblemHandlers, sendFrameworkProblem } from './problem.js';
import { auditRoutes } from './routes/audit.js';
import { keyRoutes } from './routes/keys.js';
import { batchRoutes } from './routes/batches.js';
import { domainRoutes } from './routes/domains.js';
import { healthRoutes } from './routes/health.js';
import { hostRoutes } from './routes/hosts.js';
import { portScanRoutes } from './routes/port-scans.js';
import { reportRoutes } from './routes/reports.js';
import { scanRoutes } from './routes/scan.js';
import { sslLabsRoutes } from './routes/ssllabs.js';
import { targetChangeRoutes } from './routes/target-changes.js';
import { targetRoutes } from './routes/targets.js';
import { tlsScanRoutes } from './routes/tls-scans.js';


const API_DESCRIPTION = `Portcullis tells you how exposed your perimeter is: nmap-style port scans and SSL Labs-style TLS grades of the targets you own, with history and diffs.

Scans run as background jobs: \`POST\` returns 202 with a link to poll. Every error is RFC 9457 \`application/problem+json\` with a stable \`code\`.

Targets are checked against the scope policy after DNS resolution; link-local, cloud-metadata, multicast, broadcast and 0.0.0.0/8 addresses are always refused.

Every route except \`/healthz\`, \`/readyz\`, these docs and (when configured) \`/metrics\` needs \`Authorization: Bearer <key>\`: an API key (\`portcullis keys create\`; the first start prints an admin key) or, when OIDC is configured, a JWT from that issuer. Keys carry scopes: \`read\` (results), \`scan\` (start and cancel scans), \`admin\` (targets, keys, audit log; implies both). Each route says which it needs. Too many requests answer 429 with \`Retry-After\`.`;

export interface AppOptions {
  /** Replaces the OIDC verifier built from config.auth.oidc (tests). */
  oidc?: OidcVerifier | undefined;
}

/** Builds the HTTP API on a runtime. Routes only validate, read the store and enqueue jobs. */
export async function buildApp(runtime: Runtime, options: AppOptions = {}): Promise<FastifyInstance> {
  const { server } = runtime.config;
  const certificate = server.tlsCertFile !== undefined && server.tlsKeyFile !== undefined ? { certFile: server.tlsCertFile, keyFile: server.tlsKeyFile } : undefined;
  // The factory's overloads pick http or https from the options' type; one instance type serves both here.
  const app = (Fastify as (options: object) => FastifyInstance)({
    // pino's Logger is Fastify's logger; the cast only bridges two declarations of the same type.
    loggerInstance: runtime.logger as FastifyBaseLogger,
    ...(certificate !== undefined ? { https: readCertificate(certificate) } : {}),
    trustProxy: server.trustProxy,
    bodyLimit: server.bodyLimitBytes,
    // What the router refuses before any route (malformed percent-encoding, over-long path segments) as problem+json too.
    frameworkErrors: sendFrameworkProblem,
    ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false, useDefaults: true, allErrors: true } },
  });

  registerProblemHandlers(app);
  if (certificate !== undefined) {
    app.addHook('onListen', async () => {
      const stop = watchCertificate(app.server as import('node:https').Server, certificate, runtime.logger);
      app.addHook('onClose', async () => stop());
    });
  }

  app.addHook('onResponse', async (request, reply) => {
    runtime.metrics.httpRequestDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  await registerAuth(app, runtime, { oidc: options.oidc });
  await app.register(helmet, {
    // The API answers JSON; the docs page and the HTML report set their own policies.
    contentSecurityPolicy: { directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    hsts: certificate !== undefined ? { maxAge: 31_536_000 } : false,
  });
  if (server.corsOrigins.length > 0) {
    await app.register(cors, {
      origin: server.corsOrigins,
      methods: ['GET', 'POST', 'PATCH', 'DELETE'],
      allowedHeaders: ['authorization', 'content-type'],
      exposedHeaders: ['location', 'retry-after', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'],
      maxAge: 600,
    });
  }

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Portcullis API', version: VERSION, description: API_DESCRIPTION },
      servers: [{ url: '/' }],
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: 'A Portcullis API key (`pcl_…`) or, when OIDC is configured, a JWT from the issuer.' },
        },
      },
      security: [{ apiKey: [] }],
      tags: [
        { name: 'port scans', description: 'Scan addresses for open TCP ports, read results, compare scans.' },
        { name: 'hosts', description: 'Everything known about one address across scans.' },
        { name: 'tls', description: 'Grade TLS like SSL Labs with the native engine: `GET /scan` for one host, TLS scans for many, history per host, diffs.' },
        { name: 'ssllabs', description: 'The optional Qualys SSL Labs engine (opt-in with `ssllabs.email`): its budget and SSL Labs\' raw results. Choose it per request with `engine=ssllabs|both`.' },
        { name: 'reports', description: 'Executive summary of the monitored targets as JSON, CSV and a printable HTML page: grades, expiring certificates, common findings, changes, failures.' },
        { name: 'targets', description: 'The inventory of monitored targets (TLS endpoints and address blocks) with labels and schedules: add, import from a file, list, their current state.' },
        { name: 'monitoring', description: 'Batches: a file of targets scanned once, with progress and results.' },
        { name: 'operations', description: 'Health, readiness and metrics.' },
        { name: 'security', description: 'API keys and the audit log (scope `admin`).' },
      ],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/apidocs', staticCSP: true, uiConfig: { deepLinking: true, persistAuthorization: true } });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(healthRoutes, { runtime });
  await app.register(portScanRoutes, { runtime });
  await app.register(hostRoutes, { runtime });
  await app.register(tlsScanRoutes, { runtime });
  await app.register(scanRoutes, { runtime });
  await app.register(domainRoutes, { runtime });
  await app.register(sslLabsRoutes, { runtime });
  await app.register(batchRoutes, { runtime });
  await app.register(targetChangeRoutes, { runtime });
  await app.register(targetRoutes, { runtime });
  await app.register(reportRoutes, { runtime });
  await app.register(keyRoutes, { runtime });
  await app.register(auditRoutes, { runtime });
  return app;
}
