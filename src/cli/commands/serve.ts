import { Command } from '@commander-js/extra-typings';
import type { Logger } from 'pino';
import { loadConfig } from '../../config/index.js';
import type { CliIo } from '../io.js';
import { parseIntOption } from '../options.js';
import type { Store } from '../../store/index.js';

/**
 * Resolves once the first SIGTERM or SIGINT has been handled by `shutdown` (stop taking work, let
 * running jobs finish within the grace period, hand the rest back, close connections).
 */
export function runUntilSignalled(logger: Logger, shutdown: () => Promise<void>): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const stop = (signal: string): void => {
      logger.info({ signal }, 'shutting down');
      shutdown().then(resolve, reject);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

/**
 * A fresh installation has no key, and every API route needs one: the first start creates an admin
 * key and prints it once, outside the log (log lines are shipped and kept; this must not be).
 */
async function printBootstrapKey(io: CliIo, store: Store): Promise<void> {
  const { BOOTSTRAP_ACTOR, createApiKeys } = await import('../../auth/service.js');
  const first = await createApiKeys(store).bootstrap();
  if (first === undefined) return;
  await store.audit.record({ actor: BOOTSTRAP_ACTOR, action: 'keys.create', resource: first.key.id, status: 0, sourceIp: undefined, detail: { name: first.key.name, scopes: first.key.scopes } });
  io.stderr.write(
    `\nNo API keys existed, so an admin key was created (${first.key.id}). It is shown only now:\n\n  ${first.token}\n\n` +
      'Use it as `Authorization: Bearer <key>` or PORTCULLIS_API_KEY; create narrower keys with `portcullis keys create` and revoke this one when done.\n\n',
  );
}

export function serveCommand(io: CliIo) {
  return new Command('serve')
    .description('Start the API, the embedded worker and the scheduler (SQLite in ./data and the in-process queue by default)')
    .option('--host <address>', 'listen address (env PORTCULLIS_HOST, default 0.0.0.0)')
    .option('--port <port>', 'listen port (env PORTCULLIS_PORT, default 4545)')
    .option('--data-dir <dir>', 'data directory for the SQLite store (env PORTCULLIS_DATA_DIR, default ./data)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent (env PORTCULLIS_LOG_LEVEL)')
    .option('--no-worker', 'run the API only and register the periodic schedules; every job, periodic ones included, runs in `portcullis worker` processes')
    .addHelpText(
      'after',
      '\nEvery API route but /healthz and /readyz needs an API key; the first start prints an admin key once (see `portcullis keys`).\n' +
        'Set PORTCULLIS_TLS_CERT and PORTCULLIS_TLS_KEY to serve HTTPS.\n' +
        'Set DATABASE_URL=postgres://… to use PostgreSQL (run `portcullis migrate` first), and REDIS_URL=redis://… to run jobs on BullMQ. See the README for every setting.',
    )
    .action(async (opts) => {
      const config = await loadConfig(io.env, {
        ...(opts.host !== undefined || opts.port !== undefined
          ? { server: { ...(opts.host !== undefined ? { host: opts.host } : {}), ...(opts.port !== undefined ? { port: parseIntOption(opts.port, '--port', 0, 65535) } : {}) } }
          : {}),
        ...(opts.dataDir !== undefined ? { dataDir: opts.dataDir } : {}),
        ...(opts.logLevel !== undefined ? { logLevel: opts.logLevel as 'info' } : {}),
      });
      // Loaded here, not at the top: other commands should not pay for the server's modules.
      const [{ createLogger, createRuntime, startWorker }, { scheduleMonitoring }, { buildApp }] = await Promise.all([
        import('../../runtime/index.js'),
        import('../../monitor/scheduler.js'),
        import('../../server/app.js'),
      ]);
      const logger = createLogger(config);
      const runtime = await createRuntime(config, { logger });
      await printBootstrapKey(io, runtime.store);
      const worker = opts.worker ? startWorker(runtime) : undefined;
      await scheduleMonitoring(runtime);
      const app = await buildApp(runtime);
      await app.listen({ host: config.server.host, port: config.server.port });
      logger.info(
        {
          database: runtime.store.handle.location,
          dialect: runtime.store.handle.dialect,
          queue: config.redisUrl === undefined ? 'embedded' : 'bullmq',
          workerConcurrency: worker ? config.worker.concurrency : 0,
        },
        'portcullis ready',
      );

      await runUntilSignalled(logger, async () => {
        await app.close();
        await worker?.close({ graceMs: config.worker.shutdownGraceMs });
        await runtime.close();
      });
    });
}
