/**
 * Who may call what. Every route declares (or is given) an access level: `public`, or the scope a
 * caller needs (`read`, `scan`, `admin`). Callers present `Authorization: Bearer <key>`: a
 * Portcullis API key, or a JWT from the configured OIDC issuer. Mutating requests are written to the
 * audit log. Registered on the root instance before any route, so every route is covered.
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { type OidcVerifier, createOidcVerifier, looksLikeJwt } from '../auth/oidc.js';
import { type Principal, type Scope, hasScope } from '../auth/principal.js';
import { narrowPolicy } from '../auth/scope.js';
import { createApiKeys } from '../auth/service.js';
import type { Runtime } from '../runtime/index.js';
import type { ScopePolicy } from '../scope/index.js';
import { PortcullisError } from '../shared/errors.js';

export type RouteAccess = 'public' | Scope;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route; derived from the method when absent (GET: read, others: scan). */
    access?: RouteAccess;
    /** The audit log's name for what the route does, e.g. `keys.revoke`; derived when absent. */
    audit?: string;
  }
  interface FastifyRequest {
    /** The authenticated caller; undefined on public routes. */
    principal: Principal | undefined;
  }
}

const PUBLIC_PATHS = ['/healthz', '/readyz', '/openapi.json'];
const REALM = 'Bearer realm="portcullis"';

function defaultAccess(route: Pick<RouteOptions, 'method' | 'url'>, publicMetrics: boolean): RouteAccess {
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  // CORS preflights carry no credentials by design; @fastify/cors answers them.
  if (methods.every((m) => m === 'OPTIONS')) return 'public';
  if (PUBLIC_PATHS.includes(route.url) || route.url === '/apidocs' || route.url.startsWith('/apidocs/')) return 'public';
  if (route.url === '/metrics') return publicMetrics ? 'public' : 'read';
  return methods.every((m) => m === 'GET' || m === 'HEAD') ? 'read' : 'scan';
}

const ACCESS_NOTE: Record<Scope, string> = {
  read: 'Needs an API key with scope `read` (or `admin`).',
  scan: 'Needs an API key with scope `scan` (or `admin`).',
  admin: 'Needs an API key with scope `admin`.',
};

/** `POST /api/v1/port-scans` → `port-scans.create`; a DELETE answered 202 is a cancellation. */
function auditAction(request: FastifyRequest, status: number): string {
  const configured = request.routeOptions.config.audit;
  if (configured !== undefined) return configured;
  const path = (request.routeOptions.url ?? request.url.split('?')[0] ?? '').replace(/^\/api\/v1\//, '/');
  const noun = path.split('/').filter((s) => s.length > 0 && !s.startsWith(':')).join('.');
  const verb = request.method === 'POST' ? 'create' : request.method === 'DELETE' ? (status === 202 ? 'cancel' : 'delete') : 'update';
  return `${noun}.${verb}`;
}

export interface AuthOptions {
  /** Replaces the OIDC verifier built from config.auth.oidc (tests). */
  oidc?: OidcVerifier | undefined;
}

/** Installs authentication, authorisation, rate limits and the audit log on the root instance. */
export async function registerAuth(app: FastifyInstance, runtime: Runtime, options: AuthOptions = {}): Promise<void> {
  const { config, store, logger } = runtime;
  const keys = createApiKeys(store);
  const oidcConfig = config.auth.oidc;
  const oidc = options.oidc ?? (oidcConfig !== undefined ? createOidcVerifier(oidcConfig) : undefined);

  app.decorateRequest('principal', undefined);

  app.addHook('onRoute', (route) => {
    route.config = { ...route.config, access: route.config?.access ?? defaultAccess(route, config.auth.publicMetrics) };
    const access = route.config.access;
    if (route.schema === undefined || route.schema.hide === true) return;
    const schema = route.schema as { security?: unknown; description?: string };
    if (access === 'public') {
      schema.security = [];
    } else if (access !== undefined) {
      schema.description = schema.description === undefined ? ACCESS_NOTE[access] : `${schema.description}\n\n${ACCESS_NOTE[access]}`;
    }
  });

  const authenticate = async (request: FastifyRequest, reply: FastifyReply): Promise<Principal> => {
    const header = request.headers.authorization;
    if (header === undefined || header.trim() === '') {
      reply.header('www-authenticate', REALM);
      throw new PortcullisError('auth.required', 'this API needs a key: send `Authorization: Bearer <key>` (create one with `portcullis keys create`)');
    }
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    if (match === null) {
      reply.header('www-authenticate', `${REALM}, error="invalid_request"`);
      throw new PortcullisError('auth.invalid', 'the Authorization header must be `Bearer <key>`');
    }
    const token = match[1]!;
    try {
      if (oidc !== undefined && looksLikeJwt(token)) return await oidc.verify(token);
      return await keys.authenticate(token);
    } catch (err) {
      if (err instanceof PortcullisError && err.status === 401) reply.header('www-authenticate', `${REALM}, error="invalid_token"`);
      throw err;
    }
  };

  app.addHook('onRequest', async (request, reply) => {
    const access = request.routeOptions.config.access ?? 'read';
    if (access === 'public') return;
    const principal = await authenticate(request, reply);
    request.principal = principal;
    if (!hasScope(principal, access)) {
      reply.header('www-authenticate', `${REALM}, error="insufficient_scope", scope="${access}"`);
      throw new PortcullisError('auth.forbidden', `${principal.kind === 'api-key' ? `API key ${principal.id} (${principal.name})` : principal.name} lacks scope "${access}" needed here; it has ${principal.scopes.join(', ')}`, { scope: access });
    }
  });

  await registerRateLimit(app, runtime);

  // Written before the answer leaves (onSend, not onResponse), so whoever reads the log next sees it.
  app.addHook('onSend', async (request, reply, payload) => {
    if (!isMutation(request) || request.principal === undefined) return payload;
    const params = request.params as Record<string, unknown> | undefined;
    try {
      await store.audit.record({
        actor: { kind: request.principal.kind, id: request.principal.id, name: request.principal.name },
        action: auditAction(request, reply.statusCode),
        resource: createdId(payload, reply.statusCode) ?? (typeof params?.id === 'string' ? params.id : undefined),
        status: reply.statusCode,
        sourceIp: request.ip,
        detail: { method: request.method, path: request.url.split('?')[0] },
      });
    } catch (err) {
      logger.error({ err, method: request.method, path: request.routeOptions.url }, 'could not write the audit log entry');
    }
    return payload;
  });
}

/** The `id` of what a successful request answered with (the scan, target or key it created). */
function createdId(payload: unknown, status: number): string | undefined {
  if (status >= 300 || typeof payload !== 'string') return undefined;
  // `{"id":…}` for scans and keys, `{"items":[{"id":…}` for targets.
  return /^\{(?:"items":\[\{)?"id":"([^"\\]{1,200})"/.exec(payload)?.[1];
}

function isMutation(request: FastifyRequest): boolean {
  return request.method !== 'GET' && request.method !== 'HEAD' && request.method !== 'OPTIONS';
}

/**
 * Requests per minute per caller (a key's own limit, else auth.rateLimitPerMinute), counted in Redis
 * when REDIS_URL is set so every API replica shares the count.
 */
async function registerRateLimit(app: FastifyInstance, runtime: Runtime): Promise<void> {
  const { config } = runtime;
  let redis: import('ioredis').Redis | undefined;
  if (config.redisUrl !== undefined) {
    const { Redis } = await import('ioredis');
    redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 1, connectTimeout: 2000 });
    app.addHook('onClose', async () => void (await redis?.quit()));
  }
  await app.register(rateLimit, {
    global: true,
    timeWindow: 60_000,
    max: (request) => request.principal?.rateLimitPerMinute ?? config.auth.rateLimitPerMinute,
    keyGenerator: (request) => request.principal?.id ?? request.ip,
    allowList: (request) => request.routeOptions.config.access === 'public',
    ...(redis !== undefined ? { redis, nameSpace: `${config.redisPrefix}:ratelimit:` } : {}),
    errorResponseBuilder: (_request, context) =>
      new PortcullisError('rate-limited', `too many requests: at most ${context.max} per minute for this key; retry in ${context.after}`, { retryAfterSeconds: Math.ceil(context.ttl / 1000) }),
  });
}

/**
 * What a caller's scan request runs with: the server's scope policy narrowed by the caller's
 * allow-list, and its concurrent-scan quota checked. Throws quota.exceeded when the caller already
 * has as many scans queued or running as it may.
 */
export async function scanningAs(runtime: Runtime, request: FastifyRequest): Promise<{ policy: ScopePolicy; requestedBy: string | undefined; scopeAllow: string[] | undefined }> {
  const principal = request.principal;
  if (principal === undefined) return { policy: runtime.policy, requestedBy: undefined, scopeAllow: undefined };
  const limit = principal.maxConcurrentScans ?? runtime.config.auth.maxConcurrentScans;
  const active = await runtime.store.apiKeys.activeScans(principal.id);
  if (active >= limit) {
    throw new PortcullisError('quota.exceeded', `${principal.name} already has ${active} scans queued or running (at most ${limit}); wait for one to finish or cancel one`, { active, limit });
  }
  return {
    policy: narrowPolicy(runtime.policy, principal.allow),
    requestedBy: principal.id,
    scopeAllow: principal.allow.length > 0 ? principal.allow : undefined,
  };
}
