/**
 * API keys over the store: create (the key is returned once), authenticate a presented key into a
 * Principal, revoke, and the bootstrap key of a fresh installation.
 */
import { createScopePolicy } from '../scope/index.js';
import { PortcullisError } from '../shared/errors.js';
import type { ApiKeyRecord, Store } from '../store/index.js';
import { issueKey, parseKey, secretMatches } from './keys.js';
import { type Principal, type Scope, SCOPES } from './principal.js';

export interface KeyRequest {
  name: string;
  scopes: Scope[];
  /** CIDRs and domains the key may scan; empty or absent: the server's policy alone. */
  allow?: string[] | undefined;
  expiresAt?: string | undefined;
  rateLimitPerMinute?: number | undefined;
  maxConcurrentScans?: number | undefined;
}

/** Whoever creates or revokes a key, for the key's createdBy and the audit log. */
export interface Actor {
  kind: 'api-key' | 'oidc' | 'cli';
  id: string;
  name: string;
}

export const BOOTSTRAP_ACTOR: Actor = { kind: 'cli', id: 'bootstrap', name: 'first start' };

/** last_used_at is written at most this often per key, so reads do not turn into a write each. */
const TOUCH_INTERVAL_MS = 60_000;

export interface ApiKeys {
  create(request: KeyRequest, actor: Actor): Promise<{ key: ApiKeyRecord; token: string }>;
  /** The caller behind a presented key, or auth.invalid saying why not (never echoing the key). */
  authenticate(token: string): Promise<Principal>;
  /** Revokes the key (again is harmless); not-found for an unknown id. */
  revoke(id: string): Promise<ApiKeyRecord>;
  /** A first admin key when the installation has none; undefined when keys exist. */
  bootstrap(): Promise<{ key: ApiKeyRecord; token: string } | undefined>;
}

function checkName(name: string): string {
  const trimmed = name.trim();
  // Printable, single line: names appear in lists and the audit log.
  if (trimmed.length === 0 || trimmed.length > 100 || /[\p{Cc}\p{Cf}\p{Cs}]/u.test(trimmed)) {
    throw new PortcullisError('request.invalid', 'a key name must be 1 to 100 printable characters', { field: 'name' });
  }
  return trimmed;
}

function checkAllow(allow: string[]): string[] {
  try {
    createScopePolicy({ allow, deny: [] });
  } catch (err) {
    throw new PortcullisError('request.invalid', `allow: ${(err as Error).message}`, { field: 'allow' });
  }
  return allow;
}

export function principalOf(key: ApiKeyRecord): Principal {
  return {
    kind: 'api-key',
    id: key.id,
    name: key.name,
    scopes: key.scopes,
    allow: key.allow,
    rateLimitPerMinute: key.rateLimitPerMinute,
    maxConcurrentScans: key.maxConcurrentScans,
  };
}

export function createApiKeys(store: Store, now: () => Date = () => new Date()): ApiKeys {
  const lastTouched = new Map<string, number>();

  const create = async (request: KeyRequest, actor: Actor): Promise<{ key: ApiKeyRecord; token: string }> => {
    if (request.scopes.length === 0) throw new PortcullisError('request.invalid', 'a key needs at least one scope: read, scan or admin', { field: 'scopes' });
    if (request.expiresAt !== undefined && Date.parse(request.expiresAt) <= now().getTime()) {
      throw new PortcullisError('request.invalid', `expiresAt ${request.expiresAt} is not in the future`, { field: 'expiresAt', value: request.expiresAt });
    }
    const issued = issueKey();
    const key = await store.apiKeys.create({
      id: issued.id,
      name: checkName(request.name),
      salt: issued.salt,
      hash: issued.hash,
      scopes: SCOPES.filter((s) => request.scopes.includes(s)),
      allow: checkAllow(request.allow ?? []),
      rateLimitPerMinute: request.rateLimitPerMinute,
      maxConcurrentScans: request.maxConcurrentScans,
      createdAt: now().toISOString(),
      createdBy: actor.id,
      expiresAt: request.expiresAt,
    });
    return { key, token: issued.token };
  };

  return {
    create,

    async authenticate(token) {
      const parsed = parseKey(token);
      if (parsed === undefined) throw new PortcullisError('auth.invalid', 'the bearer token is not a Portcullis API key (pcl_…) or a JWT from the configured issuer');
      const stored = await store.apiKeys.getCredential(parsed.id);
      // One message for unknown ids and wrong secrets: nothing to learn about which keys exist.
      if (stored === undefined || !secretMatches(parsed.secret, stored)) throw new PortcullisError('auth.invalid', 'the API key is not valid');
      if (stored.revokedAt !== undefined) throw new PortcullisError('auth.invalid', `API key ${stored.id} (${stored.name}) was revoked at ${stored.revokedAt}`);
      const at = now();
      if (stored.expiresAt !== undefined && Date.parse(stored.expiresAt) <= at.getTime()) {
        throw new PortcullisError('auth.invalid', `API key ${stored.id} (${stored.name}) expired at ${stored.expiresAt}`);
      }
      if (at.getTime() - (lastTouched.get(stored.id) ?? 0) >= TOUCH_INTERVAL_MS) {
        lastTouched.set(stored.id, at.getTime());
        await store.apiKeys.touch(stored.id, at.toISOString());
      }
      return principalOf(stored);
    },

    async revoke(id) {
      const key = await store.apiKeys.get(id);
      if (key === undefined) throw new PortcullisError('not-found', `no API key ${id}`, { value: id });
      if (key.revokedAt !== undefined) return key;
      await store.apiKeys.revoke(id, now().toISOString());
      const revoked = await store.apiKeys.get(id);
      if (revoked === undefined) throw new PortcullisError('not-found', `no API key ${id}`, { value: id });
      return revoked;
    },

    async bootstrap() {
      if ((await store.apiKeys.count()) > 0) return undefined;
      return create({ name: 'bootstrap admin', scopes: ['admin'] }, BOOTSTRAP_ACTOR);
    },
  };
}
