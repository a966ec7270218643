/**
 * Optional OIDC: bearer JWTs from one configured issuer, verified against its published keys (JWKS)
 * and reduced to a Principal like an API key. The issuer's keys are found through discovery unless
 * configured, cached, and fetched again when a token names a key id not seen yet (key rotation).
 */
import { createRemoteJWKSet, customFetch, decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey, type ProtectedHeaderParameters } from 'jose';
import { invalid } from '../config/index.js';
import { PortcullisError, isPortcullisError } from '../shared/errors.js';
import { createScopePolicy } from '../scope/policy.js';
import { parseIp, quote } from '../scope/targets.js';
import { SCOPES, isScope, type Principal, type Scope } from './principal.js';

export interface OidcConfig {
  /** Exact `iss` expected, e.g. https://login.example.com/realms/x. */
  issuer: string;
  /** Required `aud`. */
  audience: string;
  /** Where the issuer publishes its keys; undefined: `jwks_uri` of `${issuer}/.well-known/openid-configuration`. */
  jwksUrl?: string;
  /**
   * Claim holding the caller's scopes or roles: a space-separated string (`scope`) or an array
   * (`roles`, `groups`); a dotted path (`realm_access.roles`) reaches into nested objects.
   */
  scopeClaim: string;
  /** Claim value -> Portcullis scopes, e.g. {"portcullis-admins": ["admin"]}. */
  scopeMap: Record<string, Scope[]>;
  /** Claim listing the CIDRs and domains the caller may scan (Principal.allow); undefined: no narrowing. */
  allowClaim?: string;
  clockToleranceSeconds: number;
  /** Signature algorithms accepted; asymmetric only (never `none` or HS*). */
  algorithms: string[];
}

export interface OidcVerifier {
  verify(token: string): Promise<Principal>;
}

export const DEFAULT_OIDC_SCOPE_MAP: Readonly<Record<string, Scope[]>> = { read: ['read'], scan: ['scan'], admin: ['admin'] };
const DEFAULT_ALGORITHMS = ['RS256', 'ES256', 'PS256', 'EdDSA'];
/** Every asymmetric JWS algorithm jose verifies; `none` and the HMAC family need no issuer key and are refused. */
const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];
/** Bounds each discovery and JWKS request, so a hanging issuer cannot hold requests for long. */
const FETCH_TIMEOUT_MS = 5000;

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** True for three base64url parts separated by dots (the signature part may be empty, as in `alg: none`). */
export function looksLikeJwt(token: string): boolean {
  return JWT_SHAPE.test(token);
}

export function createOidcVerifier(config: OidcConfig, options: { fetch?: typeof fetch } = {}): OidcVerifier {
  const fetchImpl = options.fetch ?? fetch;
  const issuerKeys = (url: URL): JWTVerifyGetKey => {
    const remote = createRemoteJWKSet(url, { timeoutDuration: FETCH_TIMEOUT_MS, [customFetch]: fetchImpl });
    return async (header, token) => {
      try {
        return await remote(header, token);
      } catch (err) {
        // These say the token names no usable key; anything else means the key set itself could not be had.
        if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys || err instanceof errors.JOSENotSupported) throw err;
        throw keysUnavailable(config.issuer, `the key set at ${url.href} ${failureReason(err)}`);
      }
    };
  };

  // Discovery runs on the first token; a failure is not remembered, so the next token tries again.
  let keys: Promise<JWTVerifyGetKey> | undefined;
  const getKeys = (): Promise<JWTVerifyGetKey> => {
    keys ??= (config.jwksUrl === undefined ? discoverJwksUrl(config.issuer, fetchImpl) : Promise.resolve(new URL(config.jwksUrl))).then(issuerKeys, (err: unknown) => {
      keys = undefined;
      throw err;
    });
    return keys;
  };

  return {
    async verify(token) {
      const { header, claims } = decodeUnverified(token, config.issuer);
      // Checked before any key lookup so foreign or unsigned tokens never make us fetch the issuer's keys.
      if (claims.iss !== config.issuer) {
        throw rejected(`the token's issuer ${describeClaim(claims.iss)} is not the configured issuer ${quote(config.issuer)}; request a token from that issuer`);
      }
      if (!config.algorithms.includes(String(header.alg))) {
        throw rejected(`the token's signature algorithm ${describeClaim(header.alg)} is not accepted; accepted: ${config.algorithms.join(', ')}`);
      }
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, await getKeys(), {
          issuer: config.issuer,
          audience: config.audience,
          algorithms: config.algorithms,
          clockTolerance: config.clockToleranceSeconds,
          requiredClaims: ['exp', 'sub'],
        }));
      } catch (err) {
        throw explainRejection(err, header, config);
      }
      return principalFrom(payload, config);
    },
  };
}

function rejected(message: string): PortcullisError {
  return new PortcullisError('auth.invalid', message);
}

function keysUnavailable(issuer: string, reason: string): PortcullisError {
  return new PortcullisError('auth.invalid', `the signing keys of OIDC issuer ${issuer} could not be fetched: ${reason}; check that the issuer is reachable from this server`, { issuer }, 503);
}

/** Why a fetch failed, in words: fetch's network failures (a TypeError) by their cause, e.g. ECONNREFUSED. */
function failureReason(err: unknown): string {
  if (err instanceof errors.JWKSTimeout) return `did not answer within ${FETCH_TIMEOUT_MS} ms`;
  if (err instanceof TypeError && err.cause instanceof Error) return `could not be reached (${(err.cause as NodeJS.ErrnoException).code ?? err.cause.message})`;
  return `could not be used (${err instanceof Error ? err.message : String(err)})`;
}

async function discoverJwksUrl(issuer: string, fetchImpl: typeof fetch): Promise<URL> {
  const documentUrl = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  const fail = (problem: string): PortcullisError => keysUnavailable(issuer, `the discovery document ${documentUrl} ${problem}`);
  let response: Response;
  try {
    response = await fetchImpl(documentUrl, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  } catch (err) {
    throw fail(err instanceof Error && err.name === 'TimeoutError' ? `did not answer within ${FETCH_TIMEOUT_MS} ms` : failureReason(err));
  }
  if (!response.ok) throw fail(`answered HTTP ${response.status}`);
  const document: unknown = await response.json().catch(() => undefined);
  if (!isRecord(document)) throw fail('is not a JSON object');
  // OpenID Connect Discovery 1.0 §4.3: the document must name exactly the issuer it was fetched for.
  if (document.issuer !== issuer) throw fail(`names issuer ${describeClaim(document.issuer)}, not ${quote(issuer)}`);
  if (typeof document.jwks_uri !== 'string') throw fail('has no jwks_uri');
  const problem = endpointProblem(document.jwks_uri);
  if (problem !== undefined) throw fail(`has an unusable jwks_uri ${quote(document.jwks_uri)}: ${problem}`);
  return new URL(document.jwks_uri);
}

function decodeUnverified(token: string, issuer: string): { header: ProtectedHeaderParameters; claims: JWTPayload } {
  if (!looksLikeJwt(token)) {
    throw rejected(`the bearer token is not a JWT (three base64url parts separated by dots); send an API key or an access token from ${issuer}`);
  }
  try {
    return { header: decodeProtectedHeader(token), claims: decodeJwt(token) };
  } catch (err) {
    throw rejected(`the bearer token is not a well-formed JWT: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Turns jose's verdict into a message that says what to fix; never quotes the token itself. */
function explainRejection(err: unknown, header: ProtectedHeaderParameters, config: OidcConfig): unknown {
  if (isPortcullisError(err)) return err;
  if (err instanceof errors.JWTExpired) {
    return rejected(`the token expired at ${isoTime(err.payload.exp)} (clock tolerance ${config.clockToleranceSeconds} s); get a new token from ${config.issuer}`);
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.reason === 'missing') return rejected(`the token has no "${err.claim}" claim, which is required`);
    if (err.claim === 'aud') {
      return rejected(`the token's audience ${describeClaim(err.payload.aud)} does not include ${quote(config.audience)}; request a token for that audience`);
    }
    if (err.claim === 'nbf') {
      return rejected(`the token is not valid before ${isoTime(err.payload.nbf)} (clock tolerance ${config.clockToleranceSeconds} s); check the clocks of the issuer and this server`);
    }
    return rejected(`the token's "${err.claim}" claim is invalid: ${err.message}`);
  }
  if (err instanceof errors.JWKSNoMatchingKey) {
    return rejected(`the issuer publishes no ${describeClaim(header.alg)} key with the token's key id ${describeClaim(header.kid)}; the token was not signed by ${config.issuer}, or its key was retired`);
  }
  if (err instanceof errors.JWKSMultipleMatchingKeys) {
    return rejected(`the token names no key id (kid) and the issuer publishes several ${describeClaim(header.alg)} keys; the issuer must set kid`);
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return rejected(`the token's signature does not verify with the issuer's key ${describeClaim(header.kid)}; the token was altered or not signed by ${config.issuer}`);
  }
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return rejected(`the bearer token is not a well-formed JWT: ${err.message}`);
  if (err instanceof errors.JOSEError) return rejected(`the token was rejected: ${err.message}`);
  return err;
}

function principalFrom(payload: JWTPayload, config: OidcConfig): Principal {
  const { sub } = payload;
  if (typeof sub !== 'string' || sub === '') throw rejected('the token\'s "sub" claim must be a non-empty string');
  const granted = new Set<Scope>();
  for (const value of claimValues(payload, config.scopeClaim, /\s+/) ?? []) {
    if (!Object.hasOwn(config.scopeMap, value)) continue;
    for (const scope of config.scopeMap[value] ?? []) if (isScope(scope)) granted.add(scope);
  }
  if (granted.size === 0) {
    throw new PortcullisError(
      'auth.forbidden',
      `the token's "${config.scopeClaim}" claim grants no Portcullis scope; the issuer must include one of ${Object.keys(config.scopeMap).map(quote).join(', ')}`,
    );
  }
  const name = [payload.preferred_username, payload.email].find((v): v is string => typeof v === 'string' && v !== '') ?? sub;
  return {
    kind: 'oidc',
    id: `${config.issuer}|${sub}`,
    name,
    scopes: SCOPES.filter((scope) => granted.has(scope)),
    allow: config.allowClaim === undefined ? [] : allowFrom(payload, config.allowClaim),
    rateLimitPerMinute: undefined,
    maxConcurrentScans: undefined,
  };
}

/**
 * The allow-list a token carries. Fails closed: an empty Principal.allow means "no narrowing", so a
 * token without a usable, non-empty claim is refused rather than given the server's whole scope.
 */
function allowFrom(payload: JWTPayload, claim: string): string[] {
  const entries = claimValues(payload, claim, /[\s,]+/);
  if (entries === undefined || entries.length === 0) {
    throw new PortcullisError('auth.forbidden', `the token has no "${claim}" claim listing the CIDRs and domains it may scan; the issuer must include it`);
  }
  try {
    createScopePolicy({ allow: entries, deny: [] });
  } catch (err) {
    if (!isPortcullisError(err)) throw err;
    throw new PortcullisError('auth.forbidden', `the token's "${claim}" claim is not a usable list of CIDRs and domains: ${err.message}`);
  }
  return entries;
}

/**
 * The strings in a claim: a string split on `separator`, or an array of strings. `path` is first
 * tried as a claim name (namespaced claims like `https://example.com/roles` contain dots), then as a
 * dotted path into nested objects. Undefined when the claim is absent or of another shape.
 */
function claimValues(payload: JWTPayload, path: string, separator: RegExp): string[] | undefined {
  let value: unknown = Object.hasOwn(payload, path) ? payload[path] : undefined;
  if (value === undefined) {
    value = payload;
    for (const step of path.split('.')) value = isRecord(value) && Object.hasOwn(value, step) ? value[step] : undefined;
  }
  if (typeof value === 'string') return value.split(separator).filter((s) => s !== '');
  if (Array.isArray(value) && value.every((v): v is string => typeof v === 'string')) return value;
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A value taken from the token, safe to show: quoted and cut short, or "(none)". */
function describeClaim(value: unknown): string {
  return value === undefined ? '(none)' : quote(typeof value === 'string' ? value : JSON.stringify(value));
}

function isoTime(epochSeconds: unknown): string {
  return typeof epochSeconds === 'number' ? new Date(epochSeconds * 1000).toISOString() : describeClaim(epochSeconds);
}

/** Why `text` may not be an issuer or JWKS address: keys must come over HTTPS, except from this machine (tests). */
function endpointProblem(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'it is not a URL';
  }
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return undefined;
  return 'it must be an https:// URL (http:// only for localhost, 127.0.0.0/8 and ::1)';
}

function isLoopbackHost(hostname: string): boolean {
  if (hostname === 'localhost') return true;
  const ip = parseIp(hostname.replace(/^\[(.*)\]$/, '$1'));
  return ip !== undefined && (ip.family === 4 ? ip.value >> 24n === 127n : ip.value === 1n);
}

const OIDC_SETTINGS = ['issuer', 'audience', 'jwksUrl', 'scopeClaim', 'scopeMap', 'allowClaim', 'clockToleranceSeconds', 'algorithms'];

/**
 * The `oidc` configuration section: undefined (OIDC off) when absent, otherwise checked and completed
 * with defaults. Throws PortcullisError('config.invalid') naming the setting and what to write instead.
 */
export function parseOidcConfig(raw: unknown): OidcConfig | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!isRecord(raw)) throw invalid('oidc must be an object with at least "issuer" and "audience"', 'oidc');
  for (const key of Object.keys(raw)) {
    if (!OIDC_SETTINGS.includes(key)) throw invalid(`oidc.${key} is not a known setting; known: ${OIDC_SETTINGS.join(', ')}`, `oidc.${key}`);
  }
  const text = (key: string, purpose: string): string | undefined => {
    const value = raw[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || value.trim() === '') throw invalid(`oidc.${key} must be a non-empty string: ${purpose}`, `oidc.${key}`);
    return value;
  };
  const endpoint = (key: string, purpose: string): string | undefined => {
    const value = text(key, purpose);
    const problem = value === undefined ? undefined : endpointProblem(value);
    if (problem !== undefined) throw invalid(`oidc.${key} ${quote(value as string)} is invalid: ${problem}`, `oidc.${key}`, value);
    return value;
  };

  const issuer = endpoint('issuer', 'the exact "iss" of the tokens, e.g. https://login.example.com/realms/x');
  if (issuer === undefined) throw invalid('oidc.issuer is required: the exact "iss" of the tokens, e.g. https://login.example.com/realms/x', 'oidc.issuer');
  if (/[?#]/.test(issuer)) throw invalid(`oidc.issuer ${quote(issuer)} is invalid: an issuer has no query or fragment`, 'oidc.issuer', issuer);
  const audience = text('audience', 'the "aud" the issuer puts in tokens meant for Portcullis');
  if (audience === undefined) throw invalid('oidc.audience is required: the "aud" the issuer puts in tokens meant for Portcullis (often its client id)', 'oidc.audience');
  const jwksUrl = endpoint('jwksUrl', "the issuer's JWKS address; leave it out to use discovery");
  const scopeClaim = text('scopeClaim', 'the claim holding scopes or roles, e.g. "scope", "roles" or "realm_access.roles"') ?? 'scope';
  const allowClaim = text('allowClaim', 'the claim listing the CIDRs and domains a caller may scan');

  const config: OidcConfig = {
    issuer,
    audience,
    scopeClaim,
    scopeMap: raw.scopeMap === undefined ? { ...DEFAULT_OIDC_SCOPE_MAP } : parseScopeMap(raw.scopeMap),
    clockToleranceSeconds: parseClockTolerance(raw.clockToleranceSeconds),
    algorithms: raw.algorithms === undefined ? [...DEFAULT_ALGORITHMS] : parseAlgorithms(raw.algorithms),
  };
  if (jwksUrl !== undefined) config.jwksUrl = jwksUrl;
  if (allowClaim !== undefined) config.allowClaim = allowClaim;
  return config;
}

function parseScopeMap(raw: unknown): Record<string, Scope[]> {
  const shape = `an object mapping claim values to lists of scopes (${SCOPES.join(', ')}), e.g. {"portcullis-admins": ["admin"]}`;
  if (!isRecord(raw) || Object.keys(raw).length === 0) throw invalid(`oidc.scopeMap must be ${shape}`, 'oidc.scopeMap');
  const entries = Object.entries(raw);
  for (const [value, scopes] of entries) {
    const field = `oidc.scopeMap[${quote(value)}]`;
    if (!Array.isArray(scopes) || scopes.length === 0) throw invalid(`${field} must be a non-empty list of scopes (${SCOPES.join(', ')})`, field);
    for (const scope of scopes) {
      if (typeof scope !== 'string' || !isScope(scope)) throw invalid(`${field} lists ${describeClaim(scope)}, which is not a scope; scopes: ${SCOPES.join(', ')}`, field, String(scope));
    }
  }
  // fromEntries defines own properties, so a claim value named "__proto__" stays an ordinary key.
  return Object.fromEntries(entries) as Record<string, Scope[]>;
}

function parseClockTolerance(raw: unknown): number {
  if (raw === undefined) return 60;
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 0 || raw > 600) {
    throw invalid(`oidc.clockToleranceSeconds must be a whole number of seconds from 0 to 600, got ${describeClaim(raw)}`, 'oidc.clockToleranceSeconds', String(raw));
  }
  return raw;
}

function parseAlgorithms(raw: unknown): string[] {
  if (!Array.isArray(raw) || raw.length === 0) throw invalid(`oidc.algorithms must be a non-empty list, e.g. ${JSON.stringify(DEFAULT_ALGORITHMS)}`, 'oidc.algorithms');
  for (const alg of raw) {
    const value = String(alg);
    if (value.toLowerCase() === 'none') throw invalid('oidc.algorithms may not contain "none": it accepts unsigned tokens', 'oidc.algorithms', value);
    if (/^HS\d+$/i.test(value)) {
      throw invalid(`oidc.algorithms may not contain ${quote(value)}: HMAC needs a shared secret, not the issuer's public keys; use ${ASYMMETRIC_ALGORITHMS.join(', ')}`, 'oidc.algorithms', value);
    }
    if (typeof alg !== 'string' || !ASYMMETRIC_ALGORITHMS.includes(alg)) {
      throw invalid(`oidc.algorithms lists ${quote(value)}, which is not a supported signature algorithm; use ${ASYMMETRIC_ALGORITHMS.join(', ')}`, 'oidc.algorithms', value);
    }
  }
  return [...new Set(raw as string[])];
}
