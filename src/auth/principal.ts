/**
 * Who is calling: an API key or an OIDC token, reduced to the same shape so routes and jobs never
 * care which. Scopes: `read` (results), `scan` (start and cancel scans), `admin` (targets, keys,
 * settings, audit; implies the other two).
 */
export const SCOPES = ['read', 'scan', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export interface Principal {
  kind: 'api-key' | 'oidc';
  /** Key id (`key_…`) or the token's `iss`+`sub`; what the audit log records. */
  id: string;
  /** Key name or the token's subject, for people reading the audit log. */
  name: string;
  scopes: Scope[];
  /**
   * CIDRs and domains this caller may scan, narrowing the server's scope policy; empty means the
   * server's policy alone.
   */
  allow: string[];
  /** Requests per minute for this caller; undefined means the server default. */
  rateLimitPerMinute: number | undefined;
  /** Scans of this caller queued or running at once; undefined means the server default. */
  maxConcurrentScans: number | undefined;
}

export function hasScope(principal: Pick<Principal, 'scopes'>, needed: Scope): boolean {
  return principal.scopes.includes('admin') || principal.scopes.includes(needed);
}

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}
