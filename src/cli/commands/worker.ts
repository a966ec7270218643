import { Command } from '@commander-js/extra-typings';
import { loadConfig } from '../../config/index.js';
import type { CliIo } from '../io.js';
import { parseIntOption } from '../options.js';
import { runUntilSignalled } from './serve.js';

export function workerCommand(io: CliIo) {
  return new Command('worker')
    .description('Run jobs only (no API), next to `portcullis serve --no-worker` or as one of many workers')
    .option('--concurrency <n>', 'jobs of each kind run at once by this process (env PORTCULLIS_WORKER_CONCURRENCY, default 2)')
    .option('--data-dir <dir>', 'data directory for the SQLite store (env PORTCULLIS_DATA_DIR, default ./data)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent (env PORTCULLIS_LOG_LEVEL)')
    .addHelpText(
      'after',
      `
Workers take jobs from the queue the API process fills:
  - with REDIS_URL=redis://… the queue is BullMQ in Redis; run as many workers as you like, on any host
    that reaches Redis and the database (DATABASE_URL=postgres://… for more than one host);
  - without REDIS_URL the queue is the embedded one in the database, which is safe for several processes
    too: a worker on the same SQLite data dir (same host) or the same PostgreSQL database works.

Any worker also runs the periodic work (due targets, scan reconciliation) when its period comes: the
queue produces one such job per period for the whole installation. A port scan of more than
PORTCULLIS_SHARD_PROBES probes (default 65536) is split into shard jobs that any workers run at once:
blocks of hosts, or port blocks of each host when one host has more ports than that (fewer than 64
addresses).
All port-scan jobs of one worker share PORTCULLIS_WORKER_CONNECTIONS probe sockets (default 80 % of
the open-files limit); PORTCULLIS_MAX_HOST_CONNECTIONS caps connections to one address.

On SIGTERM or SIGINT a worker stops taking jobs, gives running ones a grace period to finish
(PORTCULLIS_SHUTDOWN_GRACE_MS, default 10 s), then hands the rest back to the queue for another worker
without using up an attempt. A worker killed outright loses its jobs to another worker once their
lease (PORTCULLIS_JOB_LEASE_MS) runs out.`,
    )
    .action(async (opts) => {
      const concurrency = opts.concurrency === undefined ? undefined : parseIntOption(opts.concurrency, '--concurrency', 1, 64);
      const config = await loadConfig(io.env, {
        ...(concurrency !== undefined ? { worker: { concurrency } } : {}),
        ...(opts.dataDir !== undefined ? { dataDir: opts.dataDir } : {}),
        ...(opts.logLevel !== undefined ? { logLevel: opts.logLevel as 'info' } : {}),
      });
      const { createLogger, createRuntime, startWorker } = await import('../../runtime/index.js');
      const logger = createLogger(config);
      const runtime = await createRuntime(config, { logger });
      const worker = startWorker(runtime);
      logger.info(
        {
          database: runtime.store.handle.location,
          dialect: runtime.store.handle.dialect,
          queue: config.redisUrl === undefined ? 'embedded' : 'bullmq',
          concurrency: config.worker.concurrency,
        },
        'portcullis worker ready',
      );
      await runUntilSignalled(logger, async () => {
        await worker.close({ graceMs: config.worker.shutdownGraceMs });
        await runtime.close();
      });
    });
}
