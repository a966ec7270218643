/**
 * Name resolution. Every lookup in Portcullis goes through a Resolver so that the addresses checked by
 * the scope policy are exactly the addresses connected to, and so tests never touch real DNS.
 */
import { promises as dns } from 'node:dns';
import { PortcullisError } from '../shared/errors.js';
import { canonicalIp, normalizeHostname, quote } from './targets.js';
import type { Resolver } from './types.js';

export interface ResolverOptions {
  /** DNS servers (`ip` or `ip:port`, `[ipv6]:port`). Empty: the system resolver (getaddrinfo). */
  servers: string[];
  /** Static answers, consulted first: name (case-insensitive, exact) → IP literals. */
  hosts: Record<string, string[]>;
  /** Budget for one resolve() call, in milliseconds. */
  timeoutMs: number;
}

function unresolvable(name: string, reason: string): PortcullisError {
  return new PortcullisError('target.unresolvable', `cannot resolve ${quote(name)}: ${reason}`, { value: name });
}

/** Lower-case, no trailing dot: the key under which static names are stored and looked up. */
function hostKey(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/** Canonical, de-duplicated IP literals; anything that is not an IP literal is dropped. */
function canonicalList(addresses: Iterable<string>): string[] {
  const out = new Set<string>();
  for (const a of addresses) {
    const ip = canonicalIp(a);
    if (ip !== undefined) out.add(ip);
  }
  return [...out];
}

type StaticMap = Map<string, string[]>;

/**
 * Validates a static hosts map and returns it keyed by normalised name. Throws config.invalid naming
 * the entry that is wrong.
 */
function compileHosts(hosts: Record<string, string[]>, field: string): StaticMap {
  const out: StaticMap = new Map();
  if (hosts === null || typeof hosts !== 'object' || Array.isArray(hosts)) {
    throw new PortcullisError('config.invalid', `${field} must be an object mapping host names to IP addresses`, { field });
  }
  for (const [name, addresses] of Object.entries(hosts)) {
    const entryField = `${field}[${JSON.stringify(name)}]`;
    const key = normalizeHostname(name);
    if (key === undefined) {
      throw new PortcullisError('config.invalid', `${entryField}: ${quote(name)} is not a valid host name`, { field: entryField, value: name });
    }
    if (!Array.isArray(addresses) || addresses.length === 0) {
      throw new PortcullisError('config.invalid', `${entryField} must list at least one IP address`, { field: entryField, value: name });
    }
    const canonical: string[] = [];
    for (const a of addresses) {
      const ip = typeof a === 'string' ? canonicalIp(a) : undefined;
      if (ip === undefined) {
        throw new PortcullisError('config.invalid', `${entryField}: ${quote(String(a))} is not an IP address literal`, {
          field: entryField,
          value: String(a),
        });
      }
      if (!canonical.includes(ip)) canonical.push(ip);
    }
    const existing = out.get(key) ?? [];
    out.set(key, [...existing, ...canonical.filter((ip) => !existing.includes(ip))]);
  }
  return out;
}

/** A resolver that only knows the given names; any other name is target.unresolvable. For tests. */
export function staticResolver(map: Record<string, string[]>): Resolver {
  const table = compileHosts(map, 'hosts');
  return {
    async resolve(hostname: string): Promise<string[]> {
      const hit = table.get(hostKey(hostname));
      if (hit === undefined) throw unresolvable(hostname, 'no such name in the static hosts map');
      return [...hit];
    },
  };
}

/** Wraps a resolver so each call fails with target.unresolvable after `timeoutMs`. */
export function withTimeout(resolver: Resolver, timeoutMs: number): Resolver {
  validateTimeout(timeoutMs, 'timeoutMs');
  return {
    resolve(hostname: string): Promise<string[]> {
      return new Promise<string[]>((resolve, reject) => {
        const timer = setTimeout(() => reject(unresolvable(hostname, `timed out after ${timeoutMs} ms`)), timeoutMs);
        resolver.resolve(hostname).then(
          (v) => {
            clearTimeout(timer);
            resolve(v);
          },
          (e: unknown) => {
            clearTimeout(timer);
            reject(e);
          },
        );
      });
    },
  };
}

function validateTimeout(ms: number, field: string): void {
  if (!Number.isInteger(ms) || ms < 1 || ms > 600_000) {
    throw new PortcullisError('config.invalid', `${field} must be a whole number of milliseconds from 1 to 600000`, {
      field,
      value: String(ms),
    });
  }
}

const DNS_REASONS: Record<string, string> = {
  ENOTFOUND: 'no such name (NXDOMAIN)',
  ENODATA: 'the name has no A or AAAA records',
  ESERVFAIL: 'the DNS server failed (SERVFAIL)',
  EREFUSED: 'the DNS server refused the query',
  ETIMEOUT: 'the DNS query timed out',
  ECONNREFUSED: 'could not contact the DNS server',
  EFORMERR: 'the DNS server rejected the query (FORMERR)',
  EBADRESP: 'the DNS server sent a malformed reply',
  ECANCELLED: 'the DNS query was cancelled',
  EAI_AGAIN: 'temporary DNS failure',
  EAI_NONAME: 'no such name',
  EAI_NODATA: 'the name has no addresses',
};

function reasonOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && DNS_REASONS[code] !== undefined) return `${DNS_REASONS[code]} (${code})`;
  if (typeof code === 'string') return code;
  return err instanceof Error ? err.message : String(err);
}

/** A/AAAA through a dedicated c-ares channel: NODATA for one family is fine; both failing is an error. */
async function resolveWithServers(servers: string[], perTryMs: number, hostname: string): Promise<string[]> {
  const channel = new dns.Resolver({ timeout: perTryMs, tries: 2 });
  channel.setServers(servers);
  const [v4, v6] = await Promise.allSettled([channel.resolve4(hostname), channel.resolve6(hostname)]);
  const found = [...(v4.status === 'fulfilled' ? v4.value : []), ...(v6.status === 'fulfilled' ? v6.value : [])];
  if (found.length > 0) return found;
  // Prefer the more telling error: NXDOMAIN or a server failure over one family's NODATA.
  const errors = [v4, v6].filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
  const telling = errors.find((e) => (e as { code?: unknown } | null)?.code !== 'ENODATA') ?? errors[0];
  const err = new Error(telling === undefined ? 'the name has no A or AAAA records' : reasonOf(telling));
  throw err;
}

async function resolveWithLookup(hostname: string): Promise<string[]> {
  const results = await dns.lookup(hostname, { all: true, verbatim: true });
  return results.map((r) => r.address);
}

/**
 * The resolver the service uses: the static `hosts` map first; else the configured DNS `servers`
 * (A and AAAA in parallel); else the system resolver. Results are canonical, de-duplicated IP
 * literals. Every call is bounded by `timeoutMs`. Throws config.invalid for a bad configuration.
 */
export function createResolver(options: ResolverOptions): Resolver {
  const table = compileHosts(options.hosts ?? {}, 'dns.hosts');
  validateTimeout(options.timeoutMs, 'dns.timeoutMs');
  const servers = options.servers ?? [];
  if (!Array.isArray(servers) || servers.some((s) => typeof s !== 'string' || s.length === 0)) {
    throw new PortcullisError('config.invalid', 'dns.servers must be a list of "ip" or "ip:port" strings', { field: 'dns.servers' });
  }
  if (servers.length > 0) {
    try {
      // setServers validates the list; do it once now so a bad entry fails at start-up.
      new dns.Resolver().setServers(servers);
    } catch (err) {
      throw new PortcullisError('config.invalid', `dns.servers is invalid: ${reasonOf(err)}`, {
        field: 'dns.servers',
        value: servers.join(','),
      });
    }
  }
  // c-ares waits `timeout` for the first try and longer for the second; a third of the budget per
  // try keeps both tries inside the call's overall budget.
  const perTryMs = Math.max(1, Math.floor(options.timeoutMs / 3));
  const timeoutMs = options.timeoutMs;

  const network: Resolver = {
    async resolve(hostname: string): Promise<string[]> {
      try {
        const raw = servers.length > 0 ? await resolveWithServers(servers, perTryMs, hostname) : await resolveWithLookup(hostname);
        const list = canonicalList(raw);
        if (list.length === 0) throw new Error('the name has no A or AAAA records');
        return list;
      } catch (err) {
        if (err instanceof PortcullisError) throw err;
        throw unresolvable(hostname, reasonOf(err));
      }
    },
  };
  const bounded = withTimeout(network, timeoutMs);

  return {
    async resolve(hostname: string): Promise<string[]> {
      if (typeof hostname !== 'string' || hostname.length === 0) throw unresolvable(String(hostname), 'the name is empty');
      const hit = table.get(hostKey(hostname));
      if (hit !== undefined) return [...hit];
      return bounded.resolve(hostname);
    },
  };
}
