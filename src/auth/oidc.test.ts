import http from 'node:http';
import { SignJWT, UnsecuredJWT, base64url, exportJWK, generateKeyPair, generateSecret, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { errorOf, failureOf } from '../testing/errors.js';
import { closedPort } from '../testing/listeners.js';
import { TestServers } from '../testing/servers.js';
import { createOidcVerifier, looksLikeJwt } from './oidc.js';
import { parseOidcConfig, type OidcConfig } from './oidc-config.js';

const now = (): number => Math.floor(Date.now() / 1000);

interface SigningKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

async function signingKey(kid: string, alg: string): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg);
  return { kid, alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

/**
 * A local identity provider: discovery document and JWKS on 127.0.0.1. `published` is the key set it
 * serves (tests rotate keys by changing it); `jwksRequests` counts key set fetches.
 */
class TestIssuer {
  published: SigningKey[] = [];
  jwksRequests = 0;
  discoveryStatus = 200;
  issuer = '';

  async start(servers: TestServers): Promise<this> {
    const server = http.createServer((req, res) => {
      const send = (status: number, body: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      };
      if (req.url === '/realms/x/.well-known/openid-configuration') {
        if (this.discoveryStatus !== 200) return send(this.discoveryStatus, { error: 'unavailable' });
        return send(200, { issuer: this.issuer, jwks_uri: `${this.issuer}/protocol/openid-connect/certs` });
      }
      if (req.url === '/realms/x/protocol/openid-connect/certs') {
        this.jwksRequests += 1;
        return send(200, { keys: this.published.map((k) => k.jwk) });
      }
      send(404, { error: 'not found' });
    });
    const port = await servers.track(server);
    this.issuer = `http://127.0.0.1:${port}/realms/x`;
    return this;
  }

  config(overrides: Partial<OidcConfig> = {}): OidcConfig {
    return { ...(parseOidcConfig({ issuer: this.issuer, audience: 'portcullis' }) as OidcConfig), ...overrides };
  }

  /** A token from this issuer for audience `portcullis`, valid for five minutes, with `claims` on top. */
  token(key: SigningKey, claims: JWTPayload = {}): Promise<string> {
    const iat = now();
    const payload = { iss: this.issuer, aud: 'portcullis', sub: 'user-1', preferred_username: 'alice', scope: 'openid scan read', iat, exp: iat + 300, ...claims };
    return new SignJWT(payload).setProtectedHeader({ alg: key.alg, kid: key.kid }).sign(key.privateKey);
  }
}

const servers = new TestServers();
let idp: TestIssuer;
let rsaKey: SigningKey;
let ecKey: SigningKey;

beforeAll(async () => {
  [rsaKey, ecKey] = await Promise.all([signingKey('rsa-1', 'RS256'), signingKey('ec-1', 'ES256')]);
  idp = await new TestIssuer().start(servers);
  idp.published = [rsaKey, ecKey];
});
afterEach(() => {
  idp.published = [rsaKey, ecKey];
  idp.discoveryStatus = 200;
  vi.useRealTimers();
});
afterAll(() => servers.closeAll());

/** The message of the auth.invalid (or other `code`) error `verify` rejects with; checks the token is not in it. */
async function rejection(config: OidcConfig, token: string, code = 'auth.invalid'): Promise<string> {
  const err = await failureOf(createOidcVerifier(config).verify(token));
  expect(err.code).toBe(code);
  // Short garbage strings are too short to tell apart from ordinary words.
  if (token.length > 20) expect(err.message).not.toContain(token);
  const signature = token.split('.')[2] ?? '';
  if (signature.length > 20) expect(err.message).not.toContain(signature);
  return err.message;
}

describe('createOidcVerifier', () => {
  it('turns a valid token into a principal with the mapped, deduplicated scopes, discovering the JWKS', async () => {
    const verifier = createOidcVerifier(idp.config({ scopeMap: { scan: ['scan'], read: ['read'], 'portcullis:all': ['read', 'scan'] } }));
    const principal = await verifier.verify(await idp.token(rsaKey, { scope: 'openid read portcullis:all unknown', email: 'a@example.com' }));
    expect(principal).toEqual({
      kind: 'oidc',
      id: `${idp.issuer}|user-1`,
      name: 'alice',
      scopes: ['read', 'scan'],
      allow: [],
      rateLimitPerMinute: undefined,
      maxConcurrentScans: undefined,
    });
    // ES256 from the same key set; no preferred_username, so the email names the caller.
    const ec = await verifier.verify(await idp.token(ecKey, { scope: 'scan', preferred_username: undefined, email: 'b@example.com' }));
    expect(ec).toMatchObject({ name: 'b@example.com', scopes: ['scan'] });
  });

  it('reads scopes from array claims and dotted paths, and namespaced claim names containing dots', async () => {
    const map = { 'portcullis-admins': ['admin' as const], 'portcullis-readers': ['read' as const] };
    const nested = createOidcVerifier(idp.config({ scopeClaim: 'realm_access.roles', scopeMap: map }));
    const token = await idp.token(rsaKey, { realm_access: { roles: ['offline_access', 'portcullis-readers'] }, preferred_username: undefined });
    expect(await nested.verify(token)).toMatchObject({ scopes: ['read'], name: 'user-1' });

    const groups = createOidcVerifier(idp.config({ scopeClaim: 'groups', scopeMap: map }));
    expect((await groups.verify(await idp.token(rsaKey, { groups: ['portcullis-admins', 'portcullis-readers'] }))).scopes).toEqual(['read', 'admin']);

    const namespaced = createOidcVerifier(idp.config({ scopeClaim: 'https://example.com/roles', scopeMap: map }));
    expect((await namespaced.verify(await idp.token(rsaKey, { 'https://example.com/roles': ['portcullis-admins'] }))).scopes).toEqual(['admin']);
  });

  it('refuses a token whose claim maps to no scope with auth.forbidden, including prototype names', async () => {
    const config = idp.config();
    expect(await rejection(config, await idp.token(rsaKey, { scope: 'openid profile constructor __proto__' }), 'auth.forbidden')).toMatch(/"scope" claim grants no Portcullis scope.*"read", "scan", "admin"/);
    expect(await rejection(config, await idp.token(rsaKey, { scope: undefined }), 'auth.forbidden')).toMatch(/grants no Portcullis scope/);
    const roles = idp.config({ scopeClaim: 'roles' });
    expect(await rejection(roles, await idp.token(rsaKey, { roles: ['admin', 7] }), 'auth.forbidden')).toMatch(/"roles" claim grants no/);
  });

  it('takes the allow-list from allowClaim and fails closed when it is missing, empty or malformed', async () => {
    const config = idp.config({ allowClaim: 'portcullis_allow' });
    const allowed = await createOidcVerifier(config).verify(await idp.token(rsaKey, { scope: 'scan', portcullis_allow: ['198.51.100.0/24', 'example.com'] }));
    expect(allowed.allow).toEqual(['198.51.100.0/24', 'example.com']);
    const spaced = await createOidcVerifier(config).verify(await idp.token(rsaKey, { scope: 'scan', portcullis_allow: '198.51.100.0/24, example.com' }));
    expect(spaced.allow).toEqual(['198.51.100.0/24', 'example.com']);

    expect(await rejection(config, await idp.token(rsaKey, { scope: 'scan' }), 'auth.forbidden')).toMatch(/no "portcullis_allow" claim listing the CIDRs and domains/);
    expect(await rejection(config, await idp.token(rsaKey, { scope: 'scan', portcullis_allow: [] }), 'auth.forbidden')).toMatch(/no "portcullis_allow" claim/);
    expect(await rejection(config, await idp.token(rsaKey, { scope: 'scan', portcullis_allow: ['10.0.0.0/33'] }), 'auth.forbidden')).toMatch(
      /"portcullis_allow" claim is not a usable list.*10\.0\.0\.0\/33/,
    );
  });

  it('accepts a token expired within the clock tolerance and refuses one expired beyond it', async () => {
    const config = idp.config();
    await expect(createOidcVerifier(config).verify(await idp.token(rsaKey, { exp: now() - 30 }))).resolves.toMatchObject({ kind: 'oidc' });
    const exp = now() - 120;
    expect(await rejection(config, await idp.token(rsaKey, { exp }))).toBe(
      `the token expired at ${new Date(exp * 1000).toISOString()} (clock tolerance 60 s); get a new token from ${idp.issuer}`,
    );
  });

  it('refuses a token that is not valid yet, or has no expiry', async () => {
    const config = idp.config();
    expect(await rejection(config, await idp.token(rsaKey, { nbf: now() + 300 }))).toMatch(/not valid before .*clock tolerance 60 s.*check the clocks/);
    const noExpiry = await new SignJWT({ sub: 'user-1', scope: 'read' }).setProtectedHeader({ alg: 'RS256', kid: 'rsa-1' }).setIssuer(idp.issuer).setAudience('portcullis').sign(rsaKey.privateKey);
    expect(await rejection(config, noExpiry)).toBe('the token has no "exp" claim, which is required');
  });

  it('refuses a token for another audience or from another issuer, naming what was expected', async () => {
    const config = idp.config();
    expect(await rejection(config, await idp.token(rsaKey, { aud: ['account', 'grafana'] }))).toBe(
      `the token's audience "[\\"account\\",\\"grafana\\"]" does not include "portcullis"; request a token for that audience`,
    );
    const foreign = await new SignJWT({ sub: 'user-1', scope: 'read' })
      .setProtectedHeader({ alg: 'RS256', kid: 'rsa-1' })
      .setIssuer('https://evil.example')
      .setAudience('portcullis')
      .setExpirationTime('5m')
      .sign(rsaKey.privateKey);
    const requestsBefore = idp.jwksRequests;
    expect(await rejection(config, foreign)).toBe(`the token's issuer "https://evil.example" is not the configured issuer "${idp.issuer}"; request a token from that issuer`);
    expect(idp.jwksRequests).toBe(requestsBefore);
  });

  it('refetches the JWKS for an unknown key id once the cool-down has passed, so key rotation works', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const verifier = createOidcVerifier(idp.config());
    await verifier.verify(await idp.token(rsaKey));
    expect(idp.jwksRequests).toBeGreaterThan(0);
    const requestsAfterFirst = idp.jwksRequests;

    const rotated = await signingKey('rsa-2', 'RS256');
    idp.published = [rotated];
    // Within 30 s of a fetch an unknown kid is refused without hammering the issuer.
    const early = await failureOf(verifier.verify(await idp.token(rotated)));
    expect(early.message).toMatch(/publishes no "RS256" key with the token's key id "rsa-2"/);
    expect(idp.jwksRequests).toBe(requestsAfterFirst);

    vi.setSystemTime(Date.now() + 31_000);
    expect(await verifier.verify(await idp.token(rotated))).toMatchObject({ scopes: ['read', 'scan'] });
    expect(idp.jwksRequests).toBe(requestsAfterFirst + 1);
    // The retired key's tokens are refused now.
    expect(await rejection(idp.config(), await idp.token(rsaKey))).toMatch(/key id "rsa-1".*or its key was retired/);
  });

  it('refuses alg none and HS256 tokens before fetching any key', async () => {
    const config = idp.config();
    const verifier = createOidcVerifier(config);
    const requestsBefore = idp.jwksRequests;
    const unsigned = new UnsecuredJWT({ sub: 'user-1', scope: 'admin' }).setIssuer(idp.issuer).setAudience('portcullis').setExpirationTime('5m').encode();
    expect(looksLikeJwt(unsigned)).toBe(true);
    const none = await failureOf(verifier.verify(unsigned));
    expect(none.message).toBe(`the token's signature algorithm "none" is not accepted; accepted: RS256, ES256, PS256, EdDSA`);

    const secret = await generateSecret('HS256');
    const hmac = await new SignJWT({ sub: 'user-1', scope: 'admin' }).setProtectedHeader({ alg: 'HS256', kid: 'rsa-1' }).setIssuer(idp.issuer).setAudience('portcullis').setExpirationTime('5m').sign(secret);
    expect(await rejection(config, hmac)).toMatch(/signature algorithm "HS256" is not accepted/);
    expect(idp.jwksRequests).toBe(requestsBefore);
  });

  it('refuses a tampered payload or signature', async () => {
    const config = idp.config();
    const [header, payload, signature] = (await idp.token(rsaKey, { scope: 'read' })).split('.') as [string, string, string];
    const claims = JSON.parse(new TextDecoder().decode(base64url.decode(payload))) as JWTPayload;
    const elevated = base64url.encode(JSON.stringify({ ...claims, scope: 'admin' }));
    const expected = /signature does not verify with the issuer's key "rsa-1"; the token was altered or not signed by/;
    expect(await rejection(config, `${header}.${elevated}.${signature}`)).toMatch(expected);
    const middle = Math.floor(signature.length / 2);
    const flipped = `${signature.slice(0, middle)}${signature[middle] === 'A' ? 'B' : 'A'}${signature.slice(middle + 1)}`;
    expect(await rejection(config, `${header}.${payload}.${flipped}`)).toMatch(expected);
  });

  it('refuses garbage with a "not a JWT" message', async () => {
    const config = idp.config();
    for (const garbage of ['', 'pc_0123456789abcdef', 'a.b', 'a b.c.d', '..', 'Bearer x.y.z']) {
      expect(await rejection(config, garbage)).toMatch(/^the bearer token is not a JWT \(three base64url parts/);
    }
    for (const garbage of ['a.b.c', `${base64url.encode('[1]')}.${base64url.encode('{}')}.x`, `${base64url.encode('{"alg":"RS256"}')}.${base64url.encode('"text"')}.x`]) {
      expect(await rejection(config, garbage)).toMatch(/^the bearer token is not a well-formed JWT: /);
    }
  });

  it('answers 503 when the issuer is unreachable or its discovery document is unusable, and recovers', async () => {
    const port = await closedPort();
    const offline = `http://127.0.0.1:${port}/realms/x`;
    const token = await new SignJWT({ sub: 'user-1', scope: 'read' }).setProtectedHeader({ alg: 'RS256', kid: 'rsa-1' }).setIssuer(offline).setAudience('portcullis').setExpirationTime('5m').sign(rsaKey.privateKey);
    const down = await failureOf(createOidcVerifier({ ...idp.config(), issuer: offline }).verify(token));
    expect(down).toMatchObject({ code: 'auth.invalid', status: 503 });
    expect(down.message).toMatch(new RegExp(`^the signing keys of OIDC issuer ${offline} could not be fetched: the discovery document .* could not be reached \\(ECONNREFUSED\\)`));

    const jwksDown = await failureOf(createOidcVerifier({ ...idp.config(), issuer: offline, jwksUrl: `${offline}/certs` }).verify(token));
    expect(jwksDown).toMatchObject({ code: 'auth.invalid', status: 503 });
    expect(jwksDown.message).toMatch(/the key set at .*\/certs could not be reached \(ECONNREFUSED\)/);

    const verifier = createOidcVerifier(idp.config());
    idp.discoveryStatus = 502;
    const failing = await failureOf(verifier.verify(await idp.token(rsaKey)));
    expect(failing).toMatchObject({ code: 'auth.invalid', status: 503 });
    expect(failing.message).toMatch(/openid-configuration answered HTTP 502/);
    idp.discoveryStatus = 200;
    await expect(verifier.verify(await idp.token(rsaKey))).resolves.toMatchObject({ kind: 'oidc' });
  });

  it('refuses a discovery document naming another issuer, and JWKS endpoints that answer errors', async () => {
    const servers2 = new TestServers();
    try {
      const port = await servers2.track(
        http.createServer((req, res) => {
          const body = req.url?.endsWith('openid-configuration') ? { issuer: 'https://other.example', jwks_uri: 'https://other.example/certs' } : { error: 'boom' };
          res.writeHead(req.url?.endsWith('openid-configuration') ? 200 : 500, { 'content-type': 'application/json' }).end(JSON.stringify(body));
        }),
      );
      const issuer = `http://127.0.0.1:${port}`;
      const token = await new SignJWT({ sub: 'user-1', scope: 'read' }).setProtectedHeader({ alg: 'RS256', kid: 'rsa-1' }).setIssuer(issuer).setAudience('portcullis').setExpirationTime('5m').sign(rsaKey.privateKey);
      const mismatch = await failureOf(createOidcVerifier({ ...idp.config(), issuer }).verify(token));
      expect(mismatch).toMatchObject({ code: 'auth.invalid', status: 503 });
      expect(mismatch.message).toMatch(/names issuer "https:\/\/other.example", not "http:\/\/127.0.0.1:\d+"/);
      const jwks500 = await failureOf(createOidcVerifier({ ...idp.config(), issuer, jwksUrl: `${issuer}/certs` }).verify(token));
      expect(jwks500).toMatchObject({ code: 'auth.invalid', status: 503 });
      expect(jwks500.message).toMatch(/could not be used \(Expected 200 OK/);
    } finally {
      await servers2.closeAll();
    }
  });

  it('fetches discovery and keys through the fetch it is given', async () => {
    const seen: string[] = [];
    const counting: typeof fetch = (input, init) => {
      seen.push(String(input));
      return fetch(input, init);
    };
    await createOidcVerifier(idp.config(), { fetch: counting }).verify(await idp.token(rsaKey));
    expect(seen).toEqual([`${idp.issuer}/.well-known/openid-configuration`, `${idp.issuer}/protocol/openid-connect/certs`]);
  });
});

describe('looksLikeJwt', () => {
  it('routes three base64url parts to OIDC and anything else to API keys', async () => {
    expect(looksLikeJwt(await idp.token(rsaKey))).toBe(true);
    expect(looksLikeJwt('eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.')).toBe(true);
    for (const other of ['pc_live_0123456789', 'a.b', 'a.b.c.d', 'a+b.c.d', 'a.b.c=', '']) expect(looksLikeJwt(other)).toBe(false);
  });
});

describe('parseOidcConfig', () => {
  it('is off without a section and fills in the defaults', () => {
    expect(parseOidcConfig(undefined)).toBeUndefined();
    expect(parseOidcConfig({ issuer: 'https://login.example.com/realms/x', audience: 'portcullis' })).toEqual({
      issuer: 'https://login.example.com/realms/x',
      audience: 'portcullis',
      scopeClaim: 'scope',
      scopeMap: { read: ['read'], scan: ['scan'], admin: ['admin'] },
      clockToleranceSeconds: 60,
      algorithms: ['RS256', 'ES256', 'PS256', 'EdDSA'],
    });
    const full = parseOidcConfig({
      issuer: 'http://localhost:8080/realms/x',
      audience: 'portcullis',
      jwksUrl: 'http://[::1]:8080/certs',
      scopeClaim: 'realm_access.roles',
      scopeMap: { 'portcullis-admins': ['admin'] },
      allowClaim: 'portcullis_allow',
      clockToleranceSeconds: 0,
      algorithms: ['ES384', 'ES384'],
    });
    expect(full).toMatchObject({ jwksUrl: 'http://[::1]:8080/certs', allowClaim: 'portcullis_allow', clockToleranceSeconds: 0, algorithms: ['ES384'] });
    expect(parseOidcConfig({ issuer: 'http://127.8.9.10/x', audience: 'a' })?.issuer).toBe('http://127.8.9.10/x');
    const protoKey = parseOidcConfig(JSON.parse('{"issuer": "https://login.example.com", "audience": "a", "scopeMap": {"__proto__": ["read"]}}'));
    expect(Object.hasOwn(protoKey?.scopeMap ?? {}, '__proto__')).toBe(true);
  });

  it.each([
    ['not an object', 'https://x', /^oidc must be an object with at least "issuer" and "audience"$/],
    ['missing issuer', { audience: 'portcullis' }, /^oidc.issuer is required: the exact "iss" of the tokens/],
    ['missing audience', { issuer: 'https://login.example.com' }, /^oidc.audience is required/],
    ['empty audience', { issuer: 'https://login.example.com', audience: ' ' }, /^oidc.audience must be a non-empty string/],
    ['http issuer', { issuer: 'http://login.example.com/realms/x', audience: 'a' }, /oidc.issuer "http:\/\/login.example.com\/realms\/x" is invalid: it must be an https:\/\/ URL \(http:\/\/ only for localhost, 127.0.0.0\/8 and ::1\)/],
    ['http jwksUrl on a private address', { issuer: 'https://login.example.com', audience: 'a', jwksUrl: 'http://10.0.0.1/certs' }, /^oidc.jwksUrl "http:\/\/10.0.0.1\/certs" is invalid: it must be an https:\/\/ URL/],
    ['issuer not a URL', { issuer: 'login.example.com', audience: 'a' }, /is invalid: it is not a URL/],
    ['issuer with a query', { issuer: 'https://login.example.com/?x=1', audience: 'a' }, /an issuer has no query or fragment/],
    ['alg none', { issuer: 'https://login.example.com', audience: 'a', algorithms: ['RS256', 'none'] }, /may not contain "none": it accepts unsigned tokens/],
    ['HS256', { issuer: 'https://login.example.com', audience: 'a', algorithms: ['HS256'] }, /may not contain "HS256": HMAC needs a shared secret/],
    ['unknown alg', { issuer: 'https://login.example.com', audience: 'a', algorithms: ['RSA-OAEP'] }, /lists "RSA-OAEP", which is not a supported signature algorithm/],
    ['empty algorithms', { issuer: 'https://login.example.com', audience: 'a', algorithms: [] }, /^oidc.algorithms must be a non-empty list/],
    ['unknown scope', { issuer: 'https://login.example.com', audience: 'a', scopeMap: { admins: ['root'] } }, /^oidc.scopeMap\["admins"\] lists "root", which is not a scope; scopes: read, scan, admin$/],
    ['scope map not lists', { issuer: 'https://login.example.com', audience: 'a', scopeMap: { admins: 'admin' } }, /^oidc.scopeMap\["admins"\] must be a non-empty list/],
    ['clock tolerance', { issuer: 'https://login.example.com', audience: 'a', clockToleranceSeconds: -1 }, /^oidc.clockToleranceSeconds must be a whole number of seconds from 0 to 600/],
    ['typo', { issuer: 'https://login.example.com', audiance: 'a' }, /^oidc.audiance is not a known setting; known: issuer, audience/],
  ])('refuses %s', (_, raw, message) => {
    const err = errorOf(() => parseOidcConfig(raw));
    expect(err.code).toBe('config.invalid');
    expect(err.message).toMatch(message);
  });
});
