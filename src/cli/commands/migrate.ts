import { existsSync } from 'node:fs';
import path from 'node:path';
import { Command } from '@commander-js/extra-typings';
import { loadConfig } from '../../config/index.js';
import { type CliIo, CliExit, EXIT_FAILED } from '../io.js';

export function migrateCommand(io: CliIo) {
  return new Command('migrate')
    .description('Apply database migrations (automatic at start on the embedded SQLite store; required once per release on PostgreSQL)')
    .option('--check', 'only list pending migrations; exit 1 if there are any')
    .action(async (opts) => {
      const config = await loadConfig(io.env);
      const { migrateToLatest, openDatabase, pendingMigrations } = await import('../../store/db.js');
      const databaseUrl = io.env.DATABASE_ADMIN_URL ?? config.databaseUrl;
      if (opts.check && databaseUrl === undefined && !existsSync(path.join(config.dataDir, 'portcullis.sqlite'))) {
        // A check creates nothing: no data directory, no empty database file.
        throw new CliExit(EXIT_FAILED, `no database in ${path.resolve(config.dataDir)} yet; every migration is pending (run \`portcullis migrate\` or start the service)`);
      }
      const handle = openDatabase({ dataDir: config.dataDir, databaseUrl, readOnly: opts.check === true, sqliteDriver: config.sqliteDriver });
      try {
        if (opts.check) {
          const pending = await pendingMigrations(handle);
          io.stdout.write(pending.length === 0 ? `${handle.location}: up to date\n` : `${handle.location}: pending ${pending.join(', ')}\n`);
          if (pending.length > 0) throw new CliExit(EXIT_FAILED, `${pending.length} migration(s) pending`);
          return;
        }
        const { applied } = await migrateToLatest(handle);
        io.stdout.write(applied.length === 0 ? `${handle.location}: already up to date\n` : `${handle.location}: applied ${applied.join(', ')}\n`);
      } finally {
        await handle.db.destroy();
      }
    });
}
