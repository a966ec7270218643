import pino, { type Logger } from 'pino';
import type { Config } from '../config/index.js';
import {
  createPortScanFinalizeHandler,
  createPortScanHandler,
  createPortScanShardHandler,
  createTlsScanHandler,
  DatabaseQueue,
  PORT_SCAN_FINALIZE_JOB,
  PORT_SCAN_JOB,
  PORT_SCAN_SHARD_JOB,
  submitTlsScan,
  TLS_SCAN_JOB,
} from '../jobs/index.js';
import type { JobQueue, TlsEngine, Worker } from '../jobs/index.js';
import { type Metrics, createMetrics } from '../metrics/index.js';
import { noteAssessment } from '../monitor/runs.js';
import { processMonitoring } from '../monitor/scheduler.js';
import { detectService } from '../portscan/detect/index.js';
import { createConnectionBudget, loadPortLists } from '../portscan/index.js';
import type { PortLists, ServiceDetector } from '../portscan/index.js';
import { createResolver, createScopePolicy, type ScopePolicy } from '../scope/index.js';
import type { Resolver } from '../scope/index.js';
import { PortcullisError } from '../shared/errors.js';
import { type DatabaseHandle, migrateToLatest, openDatabase, pendingMigrations } from '../store/index.js';
import { type Store, createStore } from '../store/index.js';
import { createSslLabs, type SslLabs } from '../ssllabs/index.js';
import { nativeTlsEngine } from '../tls/engine.js';

/** Everything a process needs, built once from the config and passed down. */
export interface Runtime {
  config: Config;
  logger: Logger;
  store: Store;
  queue: JobQueue;
  resolver: Resolver;
  policy: ScopePolicy;
  portLists: PortLists;
  metrics: Metrics;
  detectService: ServiceDetector;
  tlsEngine: TlsEngine;
  /** The SSL Labs engine and its governor, shared by every job of the process; undefined unless ssllabs.email is set. */
  sslLabs: SslLabs | undefined;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  logger?: Logger;
  metrics?: Metrics;
  /** An already-open database (tests); otherwise opened from the config. */
  database?: DatabaseHandle;
  /** Replaces the resolver built from config.dns (tests map names to loopback). */
  resolver?: Resolver;
  detectService?: ServiceDetector;
  /** Replaces the native TLS engine (tests return canned assessments). */
  tlsEngine?: TlsEngine;
  /** Queue tuning (tests use short leases). */
  queue?: { leaseMs?: number; pollMs?: number };
}

export function createLogger(config: Pick<Config, 'logLevel'>, destination?: pino.DestinationStream): Logger {
  const options = {
    level: config.logLevel,
    // Secrets must never reach a log line: credentials, keys, connection strings, the SSL Labs account email.
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'req.headers["x-api-key"]',
        'databaseUrl',
        'redisUrl',
        'token',
        'email',
        '*.password',
        '*.token',
        '*.apiKey',
        '*.secret',
        '*.email',
        '*.smtpPassword',
        '*.webhookSecret',
        '*.databaseUrl',
        '*.redisUrl',
      ],
      censor: '***',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

/**
 * Opens the store (migrating the embedded SQLite database automatically; PostgreSQL is migrated
 * explicitly with `portcullis migrate`, so the service can run as a role without DDL rights), the
 * queue, the resolver and the scope policy.
 */
export async function createRuntime(config: Config, options: RuntimeOptions = {}): Promise<Runtime> {
  const logger = options.logger ?? createLogger(config);
  const policy = createScopePolicy({ allow: config.scope.allow, deny: config.scope.deny });
  const resolver = options.resolver ?? createResolver(config.dns);
  const portLists = loadPortLists(config.portscan.portListFile);
  const handle = options.database ?? openDatabase({ dataDir: config.dataDir, databaseUrl: config.databaseUrl, poolSize: config.databasePoolSize, sqliteDriver: config.sqliteDriver });
  try {
    if (handle.dialect === 'sqlite') {
      const { applied } = await migrateToLatest(handle);
      if (applied.length > 0) logger.info({ applied, database: handle.location }, 'database migrated');
    } else {
      const pending = await pendingMigrations(handle);
      if (pending.length > 0) {
        throw new PortcullisError(
          'store.unavailable',
          `the PostgreSQL database has ${pending.length} pending migration(s) (${pending.join(', ')}); run \`portcullis migrate\` with an owner role first`,
        );
      }
    }
  } catch (err) {
    if (options.database === undefined) await handle.db.destroy();
    throw err instanceof PortcullisError ? err : new PortcullisError('store.unavailable', `cannot open the database at ${handle.location}: ${(err as Error).message}`);
  }
  const store = createStore(handle);
  let queue: JobQueue;
  try {
    queue = await openQueue(config, handle, options, logger);
  } catch (err) {
    if (options.database === undefined) await store.close();
    throw err;
  }
  const tlsEngine = options.tlsEngine ?? nativeTlsEngine(config.tls.caFiles);
  const sslLabs = await openSslLabs(config, tlsEngine);
  return {
    config,
    logger,
    store,
    queue,
    resolver,
    policy,
    portLists,
    metrics: options.metrics ?? createMetrics(),
    detectService: options.detectService ?? detectService,
    tlsEngine,
    sslLabs,
    close: async () => {
      await queue.close();
      await sslLabs?.close();
      if (options.database === undefined) await store.close();
    },
  };
}

/** BullMQ on Redis when REDIS_URL is set (any number of worker processes), else the embedded database queue. */
async function openQueue(config: Config, handle: DatabaseHandle, options: RuntimeOptions, logger: Logger): Promise<JobQueue> {
  const tuning = { leaseMs: config.worker.leaseMs, maxLostRuns: config.worker.maxLostRuns, ...options.queue, logger };
  if (config.redisUrl === undefined) return new DatabaseQueue({ handle, ...tuning });
  // Loaded only when used: the embedded mode does not pay for BullMQ and ioredis.
  const { BullmqQueue } = await import('../jobs/bullmq-queue.js');
  return BullmqQueue.connect({ redisUrl: config.redisUrl, prefix: config.redisPrefix, ...tuning });
}

/**
 * The SSL Labs engine when an email is configured. With REDIS_URL its limits are shared by every
 * process (a budget in Redis), so N workers together keep to SSL Labs' limits as one client would.
 */
async function openSslLabs(config: Config, tlsEngine: TlsEngine): Promise<SslLabs | undefined> {
  if (config.ssllabs.email === undefined) return undefined;
  if (config.redisUrl === undefined) return createSslLabs(config.ssllabs, tlsEngine);
  const [{ Redis }, { redisBudget }] = await Promise.all([import('ioredis'), import('../ssllabs/shared-budget.js')]);
  const shared = redisBudget({ redis: new Redis(config.redisUrl, { maxRetriesPerRequest: 3 }), prefix: config.redisPrefix });
  return createSslLabs(config.ssllabs, tlsEngine, shared);
}

/** Registers every job handler on the runtime's queue, the periodic work's (monitor/scheduler.ts) included. */
export function startWorker(runtime: Runtime, concurrency = runtime.config.worker.concurrency): Worker {
  const portScans = {
    store: runtime.store,
    queue: runtime.queue,
    portLists: runtime.portLists,
    detectService: runtime.detectService,
    config: runtime.config,
    logger: runtime.logger,
    metrics: runtime.metrics,
    // One budget for every port-scan job (and shard) this process runs at once.
    connectionBudget: createConnectionBudget(runtime.config.worker.connections),
    submitTlsScan: (hosts: string[], portScanId: string) => submitTlsScan(runtime, { hosts, portScanId }),
  };
  const workers = [
    runtime.queue.process(PORT_SCAN_JOB, createPortScanHandler(portScans), { concurrency }),
    runtime.queue.process(PORT_SCAN_SHARD_JOB, createPortScanShardHandler(portScans), { concurrency }),
    // Quick bookkeeping; one at a time is plenty.
    runtime.queue.process(PORT_SCAN_FINALIZE_JOB, createPortScanFinalizeHandler(portScans), { concurrency: 1 }),
    runtime.queue.process(
      TLS_SCAN_JOB,
      createTlsScanHandler({
        store: runtime.store,
        engine: runtime.tlsEngine,
        sslLabs: runtime.sslLabs?.engine,
        onAssessed: noteAssessment(runtime),
        resolver: runtime.resolver,
        policy: runtime.policy,
        config: runtime.config,
        logger: runtime.logger,
        metrics: runtime.metrics,
      }),
      { concurrency },
    ),
    ...processMonitoring(runtime),
  ];
  return { close: async (options) => void (await Promise.all(workers.map((w) => w.close(options)))) };
}
