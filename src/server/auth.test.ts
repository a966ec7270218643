import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OidcVerifier } from '../auth/oidc.js';
import type { Principal, Scope } from '../auth/principal.js';
import { type KeyRequest, createApiKeys } from '../auth/service.js';
import { type ConfigFile, buildConfig } from '../config/index.js';
import { createMetrics } from '../metrics/index.js';
import { type Runtime, createLogger, createRuntime } from '../runtime/index.js';
import { staticResolver } from '../scope/index.js';
import { PortcullisError } from '../shared/errors.js';
import { type TestApp, buildTestApp } from '../testing/app.js';
import { type TestDatabase, openTestDatabase } from '../testing/databases.js';

interface Harness {
  db: TestDatabase;
  runtime: Runtime;
  app: TestApp;
  logs: string[];
  key(request: Partial<KeyRequest> & { scopes: Scope[] }): Promise<string>;
}

const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln';
const stubOidc: OidcVerifier = {
  async verify(token): Promise<Principal> {
    if (token !== JWT) throw new PortcullisError('auth.invalid', 'bad signature');
    return { kind: 'oidc', id: 'https://idp.test|alice', name: 'alice', scopes: ['read'], allow: [], rateLimitPerMinute: undefined, maxConcurrentScans: undefined };
  },
};

async function harness(overrides: ConfigFile = {}): Promise<Harness> {
  const db = await openTestDatabase('sqlite');
  const config = buildConfig({}, { logLevel: 'info', ...overrides });
  const logs: string[] = [];
  const sink = new Writable({ write: (chunk, _enc, done) => void (logs.push(String(chunk)), done()) });
  const runtime = await createRuntime(config, {
    database: db,
    logger: createLogger(config, sink),
    metrics: createMetrics({ defaultMetrics: false }),
    resolver: staticResolver({ 'app.test': ['127.0.0.1'] }),
  });
  const app = await buildTestApp(runtime, { oidc: stubOidc });
  const keys = createApiKeys(runtime.store);
  const key = async (request: Partial<KeyRequest> & { scopes: Scope[] }) => (await keys.create({ name: 'test', ...request }, { kind: 'cli', id: 'cli', name: 'test' })).token;
  return { db, runtime, app, logs, key };
}

async function close(h: Harness | undefined): Promise<void> {
  if (h === undefined) return;
  await h.app.close();
  await h.runtime.close();
  await h.db.cleanup();
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const anonymous = { authorization: '' };

describe('authentication and authorisation', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness();
  });
  afterAll(() => close(h));

  it('answers 401 problem+json with WWW-Authenticate on every route but health, readiness and the docs when no key is sent', async () => {
    const routes = new Set<string>();
    const spec = (await h.app.inject({ url: '/openapi.json' })).json() as { paths: Record<string, Record<string, unknown>> };
    for (const [path, methods] of Object.entries(spec.paths)) {
      for (const method of Object.keys(methods)) routes.add(`${method.toUpperCase()} ${path.replace(/\{[^}]+\}/g, '00000000-0000-7000-8000-000000000000')}`);
    }
    expect(routes.size).toBeGreaterThan(30);
    const open: string[] = [];
    for (const route of routes) {
      const [method, url] = route.split(' ') as ['GET', string];
      const res = await h.app.inject({ method, url, headers: anonymous });
      if (res.statusCode !== 401) {
        open.push(`${route} → ${res.statusCode}`);
        continue;
      }
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.headers['www-authenticate']).toBe('Bearer realm="portcullis"');
      expect(res.json()).toMatchObject({ status: 401, code: 'auth.required' });
    }
    expect(open.sort()).toEqual(['GET /healthz → 200', 'GET /readyz → 200']);
    expect((await h.app.inject({ url: '/apidocs/', headers: anonymous })).statusCode).toBe(200);
    expect((await h.app.inject({ url: '/metrics', headers: anonymous })).statusCode).toBe(401);
    expect((await h.app.inject({ url: '/no/such/route', headers: anonymous })).statusCode).toBe(401);
  });

  it('documents the bearer scheme and each route\'s scope in OpenAPI', async () => {
    const spec = (await h.app.inject({ url: '/openapi.json' })).json();
    expect(spec.components.securitySchemes.apiKey).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(spec.security).toEqual([{ apiKey: [] }]);
    expect(spec.paths['/healthz'].get.security).toEqual([]);
    expect(spec.paths['/api/v1/port-scans'].post.description).toContain('scope `scan`');
    expect(spec.paths['/api/v1/targets'].post.description).toContain('scope `admin`');
    expect(spec.paths['/api/v1/port-scans'].get.description).toContain('scope `read`');
  });

  it('refuses malformed, unknown, wrong-secret, revoked and expired keys with auth.invalid and never echoes them', async () => {
    const good = await h.key({ scopes: ['read'] });
    const wrongSecret = `${good.slice(0, -4)}AAAA`;
    const revokedKey = await h.key({ scopes: ['read'] });
    const keys = createApiKeys(h.runtime.store);
    await keys.revoke(`key_${revokedKey.split('_')[1]}`);
    const soon = new Date(Date.now() + 60_000).toISOString();
    const expiring = await createApiKeys(h.runtime.store, () => new Date(Date.now() - 120_000)).create({ name: 'old', scopes: ['read'], expiresAt: soon }, { kind: 'cli', id: 'cli', name: 't' });
    const expired = createApiKeys(h.runtime.store, () => new Date(Date.now() + 120_000));
    await expect(expired.authenticate(expiring.token)).rejects.toMatchObject({ code: 'auth.invalid', message: expect.stringContaining('expired') });

    for (const [token, reason] of [
      ['Basic dXNlcjpwYXNz', 'must be `Bearer'],
      [`Bearer pcl_nosuchkey`, 'not a Portcullis API key'],
      [`Bearer ${wrongSecret}`, 'not valid'],
      [`Bearer ${revokedKey}`, 'was revoked'],
    ] as const) {
      const res = await h.app.inject({ url: '/api/v1/port-scans', headers: { authorization: token } });
      expect(res.statusCode, token).toBe(401);
      expect(res.json()).toMatchObject({ code: 'auth.invalid', detail: expect.stringContaining(reason) });
      expect(res.body).not.toContain(token.split(' ')[1]!.slice(-20));
    }
    expect((await h.app.inject({ url: '/api/v1/port-scans', headers: bearer(good) })).statusCode).toBe(200);
  });

  it('enforces scopes: read reads, scan scans, admin manages targets, keys and the audit log', async () => {
    const read = await h.key({ scopes: ['read'] });
    const scan = await h.key({ scopes: ['scan'] });
    const scanTarget = { targets: ['127.0.0.1'], ports: '1' };
    const post = (token: string, url: string, payload: unknown) => h.app.inject({ method: 'POST', url, payload: payload as object, headers: bearer(token) });

    const denied = await post(read, '/api/v1/port-scans', scanTarget);
    expect(denied.statusCode).toBe(403);
    expect(denied.json()).toMatchObject({ code: 'auth.forbidden', scope: 'scan' });
    expect(denied.headers['www-authenticate']).toContain('insufficient_scope');
    expect((await h.app.inject({ url: '/scan?host=app.test', headers: bearer(read) })).statusCode).toBe(403);

    expect((await post(scan, '/api/v1/port-scans', scanTarget)).statusCode).toBe(202);
    expect((await h.app.inject({ url: '/api/v1/port-scans', headers: bearer(scan) })).statusCode).toBe(403);
    expect((await post(scan, '/api/v1/targets', { target: 'app.test' })).statusCode).toBe(403);
    expect((await post(scan, '/api/v1/keys', { name: 'escalate', scopes: ['admin'] })).statusCode).toBe(403);
    expect((await h.app.inject({ url: '/api/v1/audit', headers: bearer(read) })).statusCode).toBe(403);
    expect((await h.app.inject({ url: '/api/v1/targets', headers: bearer(read) })).statusCode).toBe(200);
  });

  it('accepts a JWT from the OIDC verifier beside API keys', async () => {
    expect((await h.app.inject({ url: '/api/v1/port-scans', headers: bearer(JWT) })).statusCode).toBe(200);
    expect((await h.app.inject({ method: 'POST', url: '/api/v1/port-scans', payload: { targets: ['127.0.0.1'] }, headers: bearer(JWT) })).json()).toMatchObject({ code: 'auth.forbidden' });
    expect((await h.app.inject({ url: '/api/v1/port-scans', headers: bearer(`${JWT}x`) })).json()).toMatchObject({ code: 'auth.invalid' });
  });

  it('creates a key over the API, shows it once, stores only a hash, lists and revokes it', async () => {
    const created = await h.app.inject({ method: 'POST', url: '/api/v1/keys', payload: { name: 'ci', scopes: ['scan', 'read'], allow: ['127.0.0.0/24'] } });
    expect(created.statusCode).toBe(201);
    expect(created.headers['cache-control']).toBe('no-store');
    const { id, token } = created.json();
    expect(token).toMatch(/^pcl_[a-z2-7]{16}_[A-Za-z0-9_-]{43}$/);
    const row = await h.runtime.store.handle.db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain(token.slice(22));
    const listed = (await h.app.inject({ url: '/api/v1/keys' })).json().items;
    expect(listed.find((k: { id: string }) => k.id === id)).toMatchObject({ name: 'ci', scopes: ['read', 'scan'], allow: ['127.0.0.0/24'] });
    expect(JSON.stringify(listed)).not.toContain(token.slice(22));
    expect((await h.app.inject({ url: '/api/v1/port-scans', headers: bearer(token) })).statusCode).toBe(200);
    expect((await h.app.inject({ method: 'DELETE', url: `/api/v1/keys/${id}` })).json()).toMatchObject({ id, revokedAt: expect.any(String) });
    expect((await h.app.inject({ url: '/api/v1/port-scans', headers: bearer(token) })).statusCode).toBe(401);
    expect((await h.app.inject({ url: '/api/v1/keys' })).json().items.some((k: { id: string }) => k.id === id)).toBe(false);
    expect((await h.app.inject({ method: 'POST', url: '/api/v1/keys', payload: { name: 'bad', scopes: ['root'] } })).statusCode).toBe(400);
    expect((await h.app.inject({ method: 'POST', url: '/api/v1/keys', payload: { name: 'bad', scopes: ['read'], allow: ['not a cidr!'] } })).json()).toMatchObject({ status: 400, field: 'allow' });
  });

  it('narrows what a key may scan to its allow-list, and stores nothing it refuses', async () => {
    const narrow = await h.key({ scopes: ['scan', 'read'], allow: ['127.0.0.2/32'] });
    const before = (await h.app.inject({ url: '/api/v1/port-scans?limit=1' })).json().total;
    const refused = await h.app.inject({ method: 'POST', url: '/api/v1/port-scans', payload: { targets: ['127.0.0.3'], ports: '1' }, headers: bearer(narrow) });
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toMatchObject({ code: 'scope.denied', detail: expect.stringContaining('outside the scope allow-list (API key allow-list)') });
    const tls = await h.app.inject({ method: 'POST', url: '/api/v1/tls-scans', payload: { hosts: ['app.test'] }, headers: bearer(narrow) });
    expect(tls.json()).toMatchObject({ code: 'scope.denied' });
    expect((await h.app.inject({ url: '/api/v1/port-scans?limit=1' })).json().total).toBe(before);
    const accepted = await h.app.inject({ method: 'POST', url: '/api/v1/tls-scans', payload: { hosts: ['127.0.0.2:8443'] }, headers: bearer(narrow) });
    expect(accepted.statusCode).toBe(202);
    // The allow-list travels with the scan: the job resolves hosts again and holds them to it.
    expect((await h.runtime.store.tlsAssessments.getScan(accepted.json().id))?.options.scopeAllow).toEqual(['127.0.0.2/32']);
  });

  it('limits scans queued or running per key (quota.exceeded, nothing stored)', async () => {
    const quota = await h.key({ scopes: ['scan', 'read'], maxConcurrentScans: 1 });
    const post = () => h.app.inject({ method: 'POST', url: '/api/v1/port-scans', payload: { targets: ['127.0.0.1'], ports: '1' }, headers: bearer(quota) });
    expect((await post()).statusCode).toBe(202);
    const second = await post();
    expect(second.statusCode).toBe(429);
    expect(second.json()).toMatchObject({ code: 'quota.exceeded', active: 1, limit: 1 });
  });

  it('rate-limits requests per key with 429 rate-limited and Retry-After', async () => {
    const limited = await h.key({ scopes: ['read'], rateLimitPerMinute: 3 });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await h.app.inject({ url: '/api/v1/port-scans', headers: bearer(limited) })).statusCode);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const res = await h.app.inject({ url: '/api/v1/port-scans', headers: bearer(limited) });
    expect(res.json()).toMatchObject({ code: 'rate-limited', status: 429 });
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    // Another key has its own budget.
    expect((await h.app.inject({ url: '/api/v1/port-scans' })).statusCode).toBe(200);
  });

  it('writes who did what to the audit log, denied attempts included, readable by admins', async () => {
    const scan = await h.key({ name: 'auditor-test', scopes: ['scan', 'read'] });
    const started = await h.app.inject({ method: 'POST', url: '/api/v1/port-scans', payload: { targets: ['127.0.0.1'], ports: '1' }, headers: bearer(scan) });
    const scanId = started.json().id;
    await h.app.inject({ method: 'DELETE', url: `/api/v1/port-scans/${scanId}`, headers: bearer(scan) });
    await h.app.inject({ method: 'POST', url: '/api/v1/targets', payload: { target: 'app.test' }, headers: bearer(scan) });
    const keyId = `key_${scan.split('_')[1]}`;
    const entries = (await h.app.inject({ url: `/api/v1/audit?actor=${keyId}` })).json().items;
    expect(entries.map((e: { action: string; status: number; resource?: string }) => [e.action, e.status, e.resource])).toEqual([
      ['targets.create', 403, undefined],
      ['port-scans.cancel', 202, scanId],
      ['port-scans.create', 202, scanId],
    ]);
    expect(entries[0]).toMatchObject({ actor: { kind: 'api-key', id: keyId, name: 'auditor-test' }, sourceIp: '127.0.0.1', detail: { method: 'POST', path: '/api/v1/targets' } });
    const keyEvents = (await h.app.inject({ url: '/api/v1/audit?action=keys.' })).json().items;
    expect(keyEvents.map((e: { action: string }) => e.action)).toEqual(expect.arrayContaining(['keys.create', 'keys.revoke']));
  });

  it('sets security headers and sends no CORS headers unless origins are configured', async () => {
    const res = await h.app.inject({ url: '/api/v1/port-scans', headers: { origin: 'https://evil.test' } });
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    expect(res.headers['strict-transport-security']).toBeUndefined();
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('never writes keys to the log', async () => {
    const token = await h.key({ scopes: ['read'] });
    await h.app.inject({ url: '/api/v1/port-scans', headers: bearer(token) });
    await h.app.inject({ url: '/api/v1/port-scans', headers: bearer(`${token}x`) });
    const log = h.logs.join('');
    expect(log.length).toBeGreaterThan(0);
    expect(log).not.toContain(token.slice(22));
  });
});

describe('rate limits shared through Redis', () => {
  it('counts one key\'s requests across API replicas when REDIS_URL is set', async () => {
    const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
    const redisPrefix = `pctest-rl-${Date.now()}`;
    const db = await openTestDatabase('sqlite');
    const config = buildConfig({}, { logLevel: 'silent', redisUrl, redisPrefix });
    const replica = async () => {
      const runtime = await createRuntime(config, { database: db, logger: createLogger(config), metrics: createMetrics({ defaultMetrics: false }) });
      return { runtime, app: await buildTestApp(runtime) };
    };
    const [one, two] = [await replica(), await replica()];
    try {
      const token = (await createApiKeys(one.runtime.store).create({ name: 'shared', scopes: ['read'], rateLimitPerMinute: 3 }, { kind: 'cli', id: 'cli', name: 't' })).token;
      const statuses: number[] = [];
      for (const app of [one.app, two.app, one.app, two.app]) statuses.push((await app.inject({ url: '/api/v1/port-scans', headers: bearer(token) })).statusCode);
      expect(statuses).toEqual([200, 200, 200, 429]);
    } finally {
      for (const r of [one, two]) {
        await r.app.close();
        await r.runtime.close();
      }
      const { Redis } = await import('ioredis');
      const redis = new Redis(redisUrl);
      const keys = await redis.keys(`${redisPrefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
      await db.cleanup();
    }
  });
});

describe('configured access', () => {
  it('serves /metrics without a key when auth.publicMetrics is set, and answers allowed CORS origins only', async () => {
    const h = await harness({ auth: { publicMetrics: true }, server: { corsOrigins: ['https://dash.example.com'] } });
    try {
      expect((await h.app.inject({ url: '/metrics', headers: anonymous })).statusCode).toBe(200);
      const preflight = await h.app.inject({ method: 'OPTIONS', url: '/api/v1/port-scans', headers: { ...anonymous, origin: 'https://dash.example.com', 'access-control-request-method': 'POST' } });
      expect(preflight.statusCode).toBe(204);
      expect(preflight.headers['access-control-allow-origin']).toBe('https://dash.example.com');
      const other = await h.app.inject({ url: '/api/v1/port-scans', headers: { origin: 'https://evil.test' } });
      expect(other.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await close(h);
    }
  });

  it('refuses wildcard and malformed CORS origins at start', () => {
    expect(() => buildConfig({ PORTCULLIS_CORS_ORIGINS: '*' })).toThrow(/not an origin/);
    expect(() => buildConfig({ PORTCULLIS_CORS_ORIGINS: 'https://a.example.com/' })).toThrow(/not an origin/);
  });
});
