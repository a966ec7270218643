/**
 * The `oidc` configuration section and its checks, apart from the verifier so that loading the
 * configuration (every CLI command, every process) does not load the JWT library.
 */
import { invalid } from '../config/index.js';
import { parseIp, quote } from '../scope/targets.js';
import { SCOPES, isScope, type Scope } from './principal.js';

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

export const DEFAULT_OIDC_SCOPE_MAP: Readonly<Record<string, Scope[]>> = { read: ['read'], scan: ['scan'], admin: ['admin'] };
const DEFAULT_ALGORITHMS = ['RS256', 'ES256', 'PS256', 'EdDSA'];
/** Every asymmetric JWS algorithm jose verifies; `none` and the HMAC family need no issuer key and are refused. */
const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A value taken from the token, safe to show: quoted and cut short, or "(none)". */
export function describeClaim(value: unknown): string {
  return value === undefined ? '(none)' : quote(typeof value === 'string' ? value : JSON.stringify(value));
}

/** Why `text` may not be an issuer or JWKS address: keys must come over HTTPS, except from this machine (tests). */
export function endpointProblem(text: string): string | undefined {
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
