/**
 * Optional OIDC: bearer JWTs from one configured issuer, verified against its published keys (JWKS)
 * and reduced to a Principal like an API key. The issuer's keys are found through discovery unless
 * configured, cached, and fetched again when a token names a key id not seen yet (key rotation).
 */
import { createRemoteJWKSet, customFetch, decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey, type ProtectedHeaderParameters } from 'jose';
import { PortcullisError, isPortcullisError } from '../shared/errors.js';
import { createScopePolicy } from '../scope/policy.js';
import { quote } from '../scope/targets.js';
import { type OidcConfig, describeClaim, endpointProblem, isRecord } from './oidc-config.js';
import { SCOPES, isScope, type Principal, type Scope } from './principal.js';

export interface OidcVerifier {
  verify(token: string): Promise<Principal>;
}

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

function isoTime(epochSeconds: unknown): string {
  return typeof epochSeconds === 'number' ? new Date(epochSeconds * 1000).toISOString() : describeClaim(epochSeconds);
}
