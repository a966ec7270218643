import path from 'node:path';
import type { ConnectorKind } from '../portscan/index.js';
import type { SqliteDriverChoice } from '../store/index.js';
import { PortcullisError } from '../shared/errors.js';
import type { ConfigFile } from './file.js';
import { type OidcConfig, parseOidcConfig } from '../auth/oidc-config.js';
import type { TargetSchedule } from '../monitor/model.js';
import { validateSchedule } from '../monitor/schedule.js';
import { DEFAULT_MAX_LOST_RUNS } from '../jobs/queue.js';

export type { ConfigFile } from './file.js';

/**
 * One typed configuration object, built once from defaults, an optional JSON file and environment
 * variables (in that order of precedence), then passed down. Nothing else reads process.env.
 */


export interface Config {
  /**
   * tlsCertFile/tlsKeyFile: serve HTTPS with this PEM certificate chain and key (reloaded when the
   * files change). corsOrigins: origins allowed to call the API from a browser (none by default).
   * trustProxy: take the client address from X-Forwarded-For (behind a reverse proxy only).
   * bodyLimitBytes: largest request body accepted.
   */
  server: {
    host: string;
    port: number;
    tlsCertFile: string | undefined;
    tlsKeyFile: string | undefined;
    corsOrigins: string[];
    trustProxy: boolean;
    bodyLimitBytes: number;
  };
  /**
   * Who may call the API. Every route but /healthz, /readyz, the API docs and (when publicMetrics)
   * /metrics needs an API key or, with oidc set, a JWT from that issuer. rateLimitPerMinute and
   * maxConcurrentScans: per caller, unless the key sets its own.
   */
  auth: { publicMetrics: boolean; rateLimitPerMinute: number; maxConcurrentScans: number; oidc: OidcConfig | undefined };
  /** Where the embedded SQLite database lives. */
  dataDir: string;
  /** `postgres://…` switches the store to PostgreSQL; undefined means SQLite in dataDir. */
  databaseUrl: string | undefined;
  /** `redis://…` runs jobs on BullMQ in Redis, shared by any number of worker processes; undefined means the embedded queue. */
  redisUrl: string | undefined;
  /** First part of every Redis key, so several installations can share one Redis. */
  redisPrefix: string;
  /** Connections each process keeps open at most to PostgreSQL (API and workers each have their own pool). */
  databasePoolSize: number;
  /** SQLite binding: `auto` (better-sqlite3 on Node 20/22, node:sqlite on Node ≥ 24), or one of them. */
  sqliteDriver: SqliteDriverChoice;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /**
   * concurrency: jobs run at once by this process. leaseMs: how long a running job stays claimed
   * without a heartbeat; a job of a killed process runs again after at most this long.
   * maxLostRuns: a job lost with its worker (killed, lease expired) more often than this fails.
   * shutdownGraceMs: on SIGTERM, how long running jobs get to finish before they are handed back.
   * connections: probe sockets in flight at once for all the port-scan jobs of this process together
   * (undefined: 80 % of the process's soft open-files limit).
   */
  worker: { concurrency: number; leaseMs: number; maxLostRuns: number; shutdownGraceMs: number; connections: number | undefined };
  scope: { allow: string[]; deny: string[]; maxAddressesPerScan: number };
  dns: { servers: string[]; hosts: Record<string, string[]>; timeoutMs: number };
  portscan: {
    portListFile: string | undefined;
    defaultPorts: string;
    maxConcurrency: number;
    /** Cap on connections in flight to one address, for every scan (undefined: no cap beyond congestion control). */
    maxHostConnections: number | undefined;
    /**
     * A port scan of more probes (addresses × ports) than this is split into shard jobs of about this
     * many probes, run by any workers in parallel: blocks of whole hosts, or port blocks of each host
     * when one host's ports are more than this and the scan has few addresses; 0 never splits.
     */
    shardProbes: number;
    serviceDetection: boolean;
    bannerTimeoutMs: number;
    /**
     * How probes connect: `auto` (libuv TCP handles on two threads; fastest), `handle` (one thread) or
     * `socket` (public net.Socket only, about twice as slow on loopback).
     */
    connector: ConnectorKind;
  };
  /**
   * The native TLS engine. caFiles: extra PEM roots/intermediates trusted besides the built-in roots.
   * maxAgeSeconds: a stored assessment younger than this is reused unless a request asks for a fresh one.
   * timeoutMs: per connection of a probe. parallelism: connections at once per endpoint.
   * concurrency: hosts assessed at once by one TLS scan job.
   */
  tls: { caFiles: string[]; maxAgeSeconds: number; timeoutMs: number; parallelism: number; concurrency: number };
  /**
   * The optional SSL Labs engine, off unless `email` is set (SSL Labs' terms: a registered
   * organisation email; results are never published). fromCacheMaxAgeHours: accept SSL Labs' own
   * cached reports up to that age instead of starting new assessments. pollDnsMs / pollMs: the
   * documented 5 s / 10 s polling. coolOffMarginMs: added to SSL Labs' cool-off between starts.
   * rateLimitBackoffMs: first wait after a 429 (doubling). pauseMinMs..pauseMaxMs: how long all new
   * starts pause after a 503/529.
   */
  ssllabs: {
    email: string | undefined;
    apiVersion: 'v3' | 'v4';
    baseUrl: string;
    fromCacheMaxAgeHours: number | undefined;
    pollDnsMs: number;
    pollMs: number;
    coolOffMarginMs: number;
    rateLimitBackoffMs: number;
    pauseMinMs: number;
    pauseMaxMs: number;
  };
  /**
   * Monitoring. defaultSchedule: how often a target without its own schedule is scanned.
   * expiryRescanDays: a TLS target is assessed again this many days before its earliest certificate
   * expiry (0: off); rescanAfterExpiry: and again an hour after it. jitterSeconds: random delay added
   * to periodic runs to spread load. tickSeconds: how often the scheduler looks for due targets.
   * scanBatchSize: TLS targets per scheduled TLS scan.
   */
  monitor: {
    defaultSchedule: TargetSchedule;
    expiryRescanDays: number;
    rescanAfterExpiry: boolean;
    jitterSeconds: number;
    tickSeconds: number;
    scanBatchSize: number;
  };
}

export const DEFAULT_CONFIG: Config = {
  server: { host: '0.0.0.0', port: 4545, tlsCertFile: undefined, tlsKeyFile: undefined, corsOrigins: [], trustProxy: false, bodyLimitBytes: 1024 * 1024 },
  auth: { publicMetrics: false, rateLimitPerMinute: 600, maxConcurrentScans: 20, oidc: undefined },
  dataDir: './data',
  databaseUrl: undefined,
  redisUrl: undefined,
  redisPrefix: 'portcullis',
  databasePoolSize: 10,
  sqliteDriver: 'auto',
  logLevel: 'info',
  worker: { concurrency: 2, leaseMs: 30000, maxLostRuns: DEFAULT_MAX_LOST_RUNS, shutdownGraceMs: 10_000, connections: undefined },
  scope: { allow: [], deny: [], maxAddressesPerScan: 65536 },
  dns: { servers: [], hosts: {}, timeoutMs: 5000 },
  portscan: {
    portListFile: undefined,
    defaultPorts: 'top-1000',
    maxConcurrency: 1000,
    maxHostConnections: undefined,
    shardProbes: 65_536,
    serviceDetection: true,
    bannerTimeoutMs: 2000,
    connector: 'auto',
  },
  tls: { caFiles: [], maxAgeSeconds: 3600, timeoutMs: 5000, parallelism: 4, concurrency: 4 },
  ssllabs: {
    email: undefined,
    apiVersion: 'v4',
    baseUrl: 'https://api.ssllabs.com/api/',
    fromCacheMaxAgeHours: undefined,
    pollDnsMs: 5000,
    pollMs: 10_000,
    coolOffMarginMs: 100,
    rateLimitBackoffMs: 30_000,
    pauseMinMs: 15 * 60_000,
    pauseMaxMs: 30 * 60_000,
  },
  monitor: { defaultSchedule: { everySeconds: 86_400 }, expiryRescanDays: 7, rescanAfterExpiry: true, jitterSeconds: 300, tickSeconds: 30, scanBatchSize: 100 },
};

/** Environment variables understood by Portcullis, with what they set. Documented in the README. */
export const ENV_VARS = {
  PORTCULLIS_CONFIG: 'path of a JSON config file',
  PORTCULLIS_HOST: 'server.host',
  PORTCULLIS_PORT: 'server.port',
  PORTCULLIS_TLS_CERT: 'server.tlsCertFile (PEM certificate chain; serve HTTPS)',
  PORTCULLIS_TLS_KEY: 'server.tlsKeyFile (PEM private key)',
  PORTCULLIS_CORS_ORIGINS: 'server.corsOrigins (comma-separated origins, e.g. https://dash.example.com)',
  PORTCULLIS_TRUST_PROXY: 'server.trustProxy (true or false)',
  PORTCULLIS_PUBLIC_METRICS: 'auth.publicMetrics (true: /metrics needs no key)',
  PORTCULLIS_RATE_LIMIT: 'auth.rateLimitPerMinute (requests per minute per key)',
  PORTCULLIS_MAX_CONCURRENT_SCANS: 'auth.maxConcurrentScans (queued or running scans per key)',
  PORTCULLIS_OIDC_ISSUER: 'auth.oidc.issuer (accept JWTs from this OpenID Connect issuer)',
  PORTCULLIS_OIDC_AUDIENCE: 'auth.oidc.audience',
  PORTCULLIS_DATA_DIR: 'dataDir',
  DATABASE_URL: 'databaseUrl',
  REDIS_URL: 'redisUrl (redis:// or rediss://; jobs go to BullMQ)',
  PORTCULLIS_REDIS_PREFIX: 'redisPrefix',
  PORTCULLIS_DB_POOL_SIZE: 'databasePoolSize',
  PORTCULLIS_SQLITE_DRIVER: 'sqliteDriver (auto, better-sqlite3 or node:sqlite)',
  PORTCULLIS_LOG_LEVEL: 'logLevel',
  PORTCULLIS_WORKER_CONCURRENCY: 'worker.concurrency',
  PORTCULLIS_JOB_LEASE_MS: 'worker.leaseMs',
  PORTCULLIS_MAX_LOST_RUNS: 'worker.maxLostRuns',
  PORTCULLIS_SHUTDOWN_GRACE_MS: 'worker.shutdownGraceMs',
  PORTCULLIS_WORKER_CONNECTIONS: 'worker.connections',
  PORTCULLIS_SCOPE_ALLOW: 'scope.allow (comma-separated CIDRs and domains)',
  PORTCULLIS_SCOPE_DENY: 'scope.deny (comma-separated CIDRs and domains)',
  PORTCULLIS_MAX_ADDRESSES: 'scope.maxAddressesPerScan',
  PORTCULLIS_DNS_SERVERS: 'dns.servers (comma-separated, ip or ip:port)',
  PORTCULLIS_PORT_LIST_FILE: 'portscan.portListFile',
  PORTCULLIS_DEFAULT_PORTS: 'portscan.defaultPorts',
  PORTCULLIS_MAX_CONCURRENCY: 'portscan.maxConcurrency',
  PORTCULLIS_MAX_HOST_CONNECTIONS: 'portscan.maxHostConnections',
  PORTCULLIS_SHARD_PROBES: 'portscan.shardProbes (0: never split a port scan)',
  PORTCULLIS_CONNECTOR: 'portscan.connector (auto, handle or socket)',
  PORTCULLIS_CA_FILES: 'tls.caFiles (PEM files, separated by commas or the path delimiter)',
  PORTCULLIS_TLS_MAX_AGE: 'tls.maxAgeSeconds',
  PORTCULLIS_TLS_TIMEOUT_MS: 'tls.timeoutMs',
  PORTCULLIS_TLS_CONCURRENCY: 'tls.concurrency',
  PORTCULLIS_SSLLABS_EMAIL: 'ssllabs.email (turns the SSL Labs engine on)',
  PORTCULLIS_SSLLABS_API: 'ssllabs.apiVersion (v4 or v3)',
  PORTCULLIS_SSLLABS_URL: 'ssllabs.baseUrl (API root without the version)',
  PORTCULLIS_SSLLABS_MAX_AGE_HOURS: 'ssllabs.fromCacheMaxAgeHours',
  PORTCULLIS_SCHEDULE_EVERY: 'monitor.defaultSchedule as {everySeconds} (seconds between scans of a target)',
  PORTCULLIS_EXPIRY_RESCAN_DAYS: 'monitor.expiryRescanDays',
} as const;

type Env = Record<string, string | undefined>;

export function invalid(message: string, field: string, value?: string): PortcullisError {
  return new PortcullisError('config.invalid', message, value === undefined ? { field } : { field, value });
}

function intFromEnv(env: Env, name: string, min: number, max: number): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d+$/.test(raw)) throw invalid(`${name} must be a whole number, got "${raw}"`, name, raw);
  const n = Number(raw);
  if (n < min || n > max) throw invalid(`${name} must be between ${min} and ${max}, got ${n}`, name, raw);
  return n;
}

function listFromEnv(env: Env, name: string): string[] | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** A list of paths: commas, or the platform's path delimiter (`:` here, `;` on Windows) like PATH. */
function pathListFromEnv(env: Env, name: string): string[] | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  return raw
    .split(new RegExp(`[,${path.delimiter}]`))
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function boolFromEnv(env: Env, name: string): boolean | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw invalid(`${name} must be true or false, got "${raw}"`, name, raw);
}

function sqliteDriverFromEnv(env: Env): SqliteDriverChoice | undefined {
  const raw = env.PORTCULLIS_SQLITE_DRIVER;
  if (raw === undefined || raw === '') return undefined;
  if (raw !== 'auto' && raw !== 'better-sqlite3' && raw !== 'node:sqlite') {
    throw invalid(`PORTCULLIS_SQLITE_DRIVER must be auto, better-sqlite3 or node:sqlite; got "${raw}"`, 'PORTCULLIS_SQLITE_DRIVER', raw);
  }
  return raw;
}

function connectorFromEnv(env: Env): ConnectorKind | undefined {
  const raw = env.PORTCULLIS_CONNECTOR;
  if (raw === undefined || raw === '') return undefined;
  if (raw !== 'auto' && raw !== 'handle' && raw !== 'socket') throw invalid(`PORTCULLIS_CONNECTOR must be auto, handle or socket; got "${raw}"`, 'PORTCULLIS_CONNECTOR', raw);
  return raw;
}

/**
 * Builds the configuration from the environment, the config file named by PORTCULLIS_CONFIG (if any)
 * and `overrides` (CLI flags), which win. Relative paths in the file are resolved against its folder.
 */
export async function loadConfig(env: Env = {}, overrides: ConfigFile = {}): Promise<Config> {
  if (!env.PORTCULLIS_CONFIG) return buildConfig(env, overrides);
  // The file's schema validator is only loaded when there is a file: it costs every CLI command ~0.2 s.
  const { readConfigFile } = await import('./file.js');
  return buildConfig(env, overrides, readConfigFile(env.PORTCULLIS_CONFIG), path.dirname(path.resolve(env.PORTCULLIS_CONFIG)));
}

/** The configuration from the environment, an already-read config file and overrides. */
export function buildConfig(env: Env = {}, overrides: ConfigFile = {}, file: ConfigFile = {}, fileDir = process.cwd()): Config {
  const fromFile = (p: string | undefined): string | undefined => (p === undefined ? undefined : path.resolve(fileDir, p));

  const logLevel = env.PORTCULLIS_LOG_LEVEL;
  if (logLevel !== undefined && !['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    throw invalid(`PORTCULLIS_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent; got "${logLevel}"`, 'PORTCULLIS_LOG_LEVEL', logLevel);
  }
  const databaseUrl = overrides.databaseUrl ?? env.DATABASE_URL ?? file.databaseUrl;
  if (databaseUrl !== undefined && databaseUrl !== '' && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw invalid('DATABASE_URL must be a postgres:// or postgresql:// URL; leave it unset for the embedded SQLite store', 'DATABASE_URL', databaseUrl.replace(/\/\/[^@/]*@/, '//***@'));
  }
  const redisUrl = overrides.redisUrl ?? env.REDIS_URL ?? file.redisUrl;
  if (redisUrl !== undefined && redisUrl !== '' && !/^rediss?:\/\//.test(redisUrl)) {
    throw invalid('REDIS_URL must be a redis:// or rediss:// URL; leave it unset for the embedded queue', 'REDIS_URL', redisUrl.replace(/\/\/[^@/]*@/, '//***@'));
  }

  const redisPrefix = overrides.redisPrefix ?? env.PORTCULLIS_REDIS_PREFIX ?? file.redisPrefix;
  if (redisPrefix !== undefined && !/^[A-Za-z0-9_.-]+$/.test(redisPrefix)) {
    throw invalid('PORTCULLIS_REDIS_PREFIX may contain only letters, digits, "_", "." and "-"', 'PORTCULLIS_REDIS_PREFIX', redisPrefix);
  }

  const d = DEFAULT_CONFIG;
  return {
    server: serverConfig(env, overrides.server ?? {}, file.server ?? {}, fromFile),
    auth: authConfig(env, overrides.auth ?? {}, file.auth ?? {}),
    dataDir: overrides.dataDir ?? env.PORTCULLIS_DATA_DIR ?? fromFile(file.dataDir) ?? d.dataDir,
    databaseUrl: databaseUrl === '' ? undefined : databaseUrl,
    redisUrl: redisUrl === '' ? undefined : redisUrl,
    redisPrefix: redisPrefix ?? d.redisPrefix,
    databasePoolSize: overrides.databasePoolSize ?? intFromEnv(env, 'PORTCULLIS_DB_POOL_SIZE', 1, 500) ?? file.databasePoolSize ?? d.databasePoolSize,
    sqliteDriver: overrides.sqliteDriver ?? sqliteDriverFromEnv(env) ?? file.sqliteDriver ?? d.sqliteDriver,
    logLevel: (overrides.logLevel ?? (logLevel as Config['logLevel'] | undefined) ?? file.logLevel ?? d.logLevel),
    worker: {
      concurrency: overrides.worker?.concurrency ?? intFromEnv(env, 'PORTCULLIS_WORKER_CONCURRENCY', 1, 64) ?? file.worker?.concurrency ?? d.worker.concurrency,
      leaseMs: overrides.worker?.leaseMs ?? intFromEnv(env, 'PORTCULLIS_JOB_LEASE_MS', 1000, 3600000) ?? file.worker?.leaseMs ?? d.worker.leaseMs,
      maxLostRuns: overrides.worker?.maxLostRuns ?? intFromEnv(env, 'PORTCULLIS_MAX_LOST_RUNS', 0, 1000) ?? file.worker?.maxLostRuns ?? d.worker.maxLostRuns,
      shutdownGraceMs:
        overrides.worker?.shutdownGraceMs ?? intFromEnv(env, 'PORTCULLIS_SHUTDOWN_GRACE_MS', 0, 3600000) ?? file.worker?.shutdownGraceMs ?? d.worker.shutdownGraceMs,
      connections: overrides.worker?.connections ?? intFromEnv(env, 'PORTCULLIS_WORKER_CONNECTIONS', 4, 1_000_000) ?? file.worker?.connections ?? d.worker.connections,
    },
    scope: {
      allow: overrides.scope?.allow ?? listFromEnv(env, 'PORTCULLIS_SCOPE_ALLOW') ?? file.scope?.allow ?? d.scope.allow,
      deny: overrides.scope?.deny ?? listFromEnv(env, 'PORTCULLIS_SCOPE_DENY') ?? file.scope?.deny ?? d.scope.deny,
      maxAddressesPerScan:
        overrides.scope?.maxAddressesPerScan ?? intFromEnv(env, 'PORTCULLIS_MAX_ADDRESSES', 1, 2 ** 32) ?? file.scope?.maxAddressesPerScan ?? d.scope.maxAddressesPerScan,
    },
    dns: {
      servers: overrides.dns?.servers ?? listFromEnv(env, 'PORTCULLIS_DNS_SERVERS') ?? file.dns?.servers ?? d.dns.servers,
      hosts: { ...d.dns.hosts, ...file.dns?.hosts, ...overrides.dns?.hosts },
      timeoutMs: overrides.dns?.timeoutMs ?? file.dns?.timeoutMs ?? d.dns.timeoutMs,
    },
    portscan: {
      portListFile: overrides.portscan?.portListFile ?? env.PORTCULLIS_PORT_LIST_FILE ?? fromFile(file.portscan?.portListFile) ?? d.portscan.portListFile,
      defaultPorts: overrides.portscan?.defaultPorts ?? env.PORTCULLIS_DEFAULT_PORTS ?? file.portscan?.defaultPorts ?? d.portscan.defaultPorts,
      maxConcurrency:
        overrides.portscan?.maxConcurrency ?? intFromEnv(env, 'PORTCULLIS_MAX_CONCURRENCY', 1, 10000) ?? file.portscan?.maxConcurrency ?? d.portscan.maxConcurrency,
      maxHostConnections:
        overrides.portscan?.maxHostConnections ?? intFromEnv(env, 'PORTCULLIS_MAX_HOST_CONNECTIONS', 1, 10000) ?? file.portscan?.maxHostConnections ?? d.portscan.maxHostConnections,
      shardProbes: overrides.portscan?.shardProbes ?? intFromEnv(env, 'PORTCULLIS_SHARD_PROBES', 0, 1_000_000_000) ?? file.portscan?.shardProbes ?? d.portscan.shardProbes,
      serviceDetection: overrides.portscan?.serviceDetection ?? file.portscan?.serviceDetection ?? d.portscan.serviceDetection,
      bannerTimeoutMs: overrides.portscan?.bannerTimeoutMs ?? file.portscan?.bannerTimeoutMs ?? d.portscan.bannerTimeoutMs,
      connector: overrides.portscan?.connector ?? connectorFromEnv(env) ?? file.portscan?.connector ?? d.portscan.connector,
    },
    tls: {
      caFiles: overrides.tls?.caFiles ?? pathListFromEnv(env, 'PORTCULLIS_CA_FILES') ?? file.tls?.caFiles?.map((f) => path.resolve(fileDir, f)) ?? d.tls.caFiles,
      maxAgeSeconds: overrides.tls?.maxAgeSeconds ?? intFromEnv(env, 'PORTCULLIS_TLS_MAX_AGE', 0, 31_536_000) ?? file.tls?.maxAgeSeconds ?? d.tls.maxAgeSeconds,
      timeoutMs: overrides.tls?.timeoutMs ?? intFromEnv(env, 'PORTCULLIS_TLS_TIMEOUT_MS', 100, 120_000) ?? file.tls?.timeoutMs ?? d.tls.timeoutMs,
      parallelism: overrides.tls?.parallelism ?? file.tls?.parallelism ?? d.tls.parallelism,
      concurrency: overrides.tls?.concurrency ?? intFromEnv(env, 'PORTCULLIS_TLS_CONCURRENCY', 1, 64) ?? file.tls?.concurrency ?? d.tls.concurrency,
    },
    ssllabs: sslLabsConfig(env, overrides.ssllabs ?? {}, file.ssllabs ?? {}),
    monitor: monitorConfig(env, overrides.monitor ?? {}, file.monitor ?? {}),
  };
}

function serverConfig(env: Env, overrides: NonNullable<ConfigFile['server']>, file: NonNullable<ConfigFile['server']>, fromFile: (p: string | undefined) => string | undefined): Config['server'] {
  const d = DEFAULT_CONFIG.server;
  const tlsCertFile = overrides.tlsCertFile ?? (env.PORTCULLIS_TLS_CERT || undefined) ?? fromFile(file.tlsCertFile);
  const tlsKeyFile = overrides.tlsKeyFile ?? (env.PORTCULLIS_TLS_KEY || undefined) ?? fromFile(file.tlsKeyFile);
  if ((tlsCertFile === undefined) !== (tlsKeyFile === undefined)) {
    throw invalid('HTTPS needs both a certificate and a key: set PORTCULLIS_TLS_CERT and PORTCULLIS_TLS_KEY (server.tlsCertFile and server.tlsKeyFile) together', tlsCertFile === undefined ? 'PORTCULLIS_TLS_CERT' : 'PORTCULLIS_TLS_KEY');
  }
  const corsOrigins = overrides.corsOrigins ?? listFromEnv(env, 'PORTCULLIS_CORS_ORIGINS') ?? file.corsOrigins ?? d.corsOrigins;
  for (const origin of corsOrigins) {
    // An exact origin only: a wildcard would let any web page drive the scanner with a user's credentials.
    if (!/^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/.test(origin) && !/^https?:\/\/\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(origin)) {
      throw invalid(`server.corsOrigins: "${origin}" is not an origin like https://dash.example.com (no wildcards, paths or trailing slashes)`, 'PORTCULLIS_CORS_ORIGINS', origin);
    }
  }
  return {
    host: overrides.host ?? env.PORTCULLIS_HOST ?? file.host ?? d.host,
    port: overrides.port ?? intFromEnv(env, 'PORTCULLIS_PORT', 0, 65535) ?? file.port ?? d.port,
    tlsCertFile,
    tlsKeyFile,
    corsOrigins,
    trustProxy: overrides.trustProxy ?? boolFromEnv(env, 'PORTCULLIS_TRUST_PROXY') ?? file.trustProxy ?? d.trustProxy,
    bodyLimitBytes: overrides.bodyLimitBytes ?? file.bodyLimitBytes ?? d.bodyLimitBytes,
  };
}

function authConfig(env: Env, overrides: NonNullable<ConfigFile['auth']>, file: NonNullable<ConfigFile['auth']>): Config['auth'] {
  const d = DEFAULT_CONFIG.auth;
  const issuer = env.PORTCULLIS_OIDC_ISSUER || undefined;
  const audience = env.PORTCULLIS_OIDC_AUDIENCE || undefined;
  const oidcRaw = overrides.oidc ?? (issuer !== undefined || audience !== undefined ? { ...(file.oidc as object | undefined), ...(issuer !== undefined ? { issuer } : {}), ...(audience !== undefined ? { audience } : {}) } : file.oidc);
  return {
    publicMetrics: overrides.publicMetrics ?? boolFromEnv(env, 'PORTCULLIS_PUBLIC_METRICS') ?? file.publicMetrics ?? d.publicMetrics,
    rateLimitPerMinute: overrides.rateLimitPerMinute ?? intFromEnv(env, 'PORTCULLIS_RATE_LIMIT', 1, 1_000_000) ?? file.rateLimitPerMinute ?? d.rateLimitPerMinute,
    maxConcurrentScans: overrides.maxConcurrentScans ?? intFromEnv(env, 'PORTCULLIS_MAX_CONCURRENT_SCANS', 1, 100_000) ?? file.maxConcurrentScans ?? d.maxConcurrentScans,
    oidc: oidcRaw === undefined ? undefined : parseOidcConfig(oidcRaw),
  };
}

function configSchedule(schedule: TargetSchedule): TargetSchedule {
  const checked = validateSchedule(schedule);
  if (checked instanceof PortcullisError) throw invalid(`monitor.defaultSchedule: ${checked.message}`, 'monitor.defaultSchedule');
  return checked;
}

function monitorConfig(env: Env, overrides: NonNullable<ConfigFile['monitor']>, file: NonNullable<ConfigFile['monitor']>): Config['monitor'] {
  const d = DEFAULT_CONFIG.monitor;
  const every = intFromEnv(env, 'PORTCULLIS_SCHEDULE_EVERY', 60, 31_536_000);
  return {
    defaultSchedule: configSchedule(overrides.defaultSchedule ?? (every !== undefined ? { everySeconds: every } : undefined) ?? file.defaultSchedule ?? d.defaultSchedule),
    expiryRescanDays: overrides.expiryRescanDays ?? intFromEnv(env, 'PORTCULLIS_EXPIRY_RESCAN_DAYS', 0, 365) ?? file.expiryRescanDays ?? d.expiryRescanDays,
    rescanAfterExpiry: overrides.rescanAfterExpiry ?? file.rescanAfterExpiry ?? d.rescanAfterExpiry,
    jitterSeconds: overrides.jitterSeconds ?? file.jitterSeconds ?? d.jitterSeconds,
    tickSeconds: overrides.tickSeconds ?? file.tickSeconds ?? d.tickSeconds,
    scanBatchSize: overrides.scanBatchSize ?? file.scanBatchSize ?? d.scanBatchSize,
  };
}

function sslLabsConfig(env: Env, overrides: NonNullable<ConfigFile['ssllabs']>, file: NonNullable<ConfigFile['ssllabs']>): Config['ssllabs'] {
  const d = DEFAULT_CONFIG.ssllabs;
  const email = overrides.email ?? (env.PORTCULLIS_SSLLABS_EMAIL || undefined) ?? file.email ?? d.email;
  if (email !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) throw invalid(`ssllabs.email must be an email address, got "${email}"`, 'ssllabs.email', email);
  const apiVersion = overrides.apiVersion ?? (env.PORTCULLIS_SSLLABS_API || undefined) ?? file.apiVersion ?? d.apiVersion;
  if (apiVersion !== 'v3' && apiVersion !== 'v4') throw invalid(`PORTCULLIS_SSLLABS_API must be v4 or v3, got "${apiVersion}"`, 'PORTCULLIS_SSLLABS_API', apiVersion);
  const baseUrl = overrides.baseUrl ?? (env.PORTCULLIS_SSLLABS_URL || undefined) ?? file.baseUrl ?? d.baseUrl;
  if (!/^https?:\/\/[^/]+/.test(baseUrl)) throw invalid(`ssllabs.baseUrl must be an http(s) URL, got "${baseUrl}"`, 'ssllabs.baseUrl', baseUrl);
  const pick = <K extends 'pollDnsMs' | 'pollMs' | 'coolOffMarginMs' | 'rateLimitBackoffMs' | 'pauseMinMs' | 'pauseMaxMs'>(key: K): number => overrides[key] ?? file[key] ?? d[key];
  const config: Config['ssllabs'] = {
    email,
    apiVersion,
    baseUrl,
    fromCacheMaxAgeHours:
      overrides.fromCacheMaxAgeHours ?? intFromEnv(env, 'PORTCULLIS_SSLLABS_MAX_AGE_HOURS', 1, 8760) ?? file.fromCacheMaxAgeHours ?? d.fromCacheMaxAgeHours,
    pollDnsMs: pick('pollDnsMs'),
    pollMs: pick('pollMs'),
    coolOffMarginMs: pick('coolOffMarginMs'),
    rateLimitBackoffMs: pick('rateLimitBackoffMs'),
    pauseMinMs: pick('pauseMinMs'),
    pauseMaxMs: pick('pauseMaxMs'),
  };
  if (config.pauseMaxMs < config.pauseMinMs) throw invalid('ssllabs.pauseMaxMs must not be below ssllabs.pauseMinMs', 'ssllabs.pauseMaxMs', String(config.pauseMaxMs));
  return config;
}
