import { userInfo } from 'node:os';
import { Command } from '@commander-js/extra-typings';
import { parseExpiry, parseScopes } from '../../auth/keys.js';
import type { Actor } from '../../auth/service.js';
import { loadConfig } from '../../config/index.js';
import type { ApiKeyRecord, Store } from '../../store/index.js';
import { type CliIo, renderTable, writeJson } from '../io.js';
import { parseIntOption } from '../options.js';

/** The command line acts as the operator who can reach the database: recorded as such in the audit log. */
function cliActor(): Actor {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (some containers): the audit log still says it came from the command line.
  }
  return { kind: 'cli', id: 'cli', name: `cli (${user})` };
}

/** Opens the configured store (migrating the embedded SQLite one, as `serve` does) for one command. */
async function withStore<T>(io: CliIo, run: (store: Store) => Promise<T>): Promise<T> {
  const config = await loadConfig(io.env);
  const { openStore } = await import('../../store/index.js');
  const store = await openStore({ dataDir: config.dataDir, databaseUrl: config.databaseUrl, sqliteDriver: config.sqliteDriver, migrate: config.databaseUrl === undefined });
  try {
    return await run(store);
  } finally {
    await store.close();
  }
}

function keyRow(key: ApiKeyRecord): string[] {
  const state = key.revokedAt !== undefined ? `revoked ${key.revokedAt}` : key.expiresAt !== undefined ? `expires ${key.expiresAt}` : 'active';
  return [key.id, key.name, key.scopes.join(','), key.allow.join(',') || '-', state, key.lastUsedAt ?? 'never'];
}

export function keysCommand(io: CliIo) {
  const keys = new Command('keys').description('Manage API keys directly in the database (the same DATABASE_URL / data directory as the service)');

  keys
    .command('create')
    .description('Create an API key and print it once; only a salted hash is stored')
    .requiredOption('--name <name>', 'what the key is for, e.g. ci or grafana')
    .requiredOption('--scopes <list>', 'comma-separated: read (results), scan (start and cancel scans), admin (targets, keys, audit; implies both)')
    .option('--allow <list>', 'comma-separated CIDRs, ranges and domains the key may scan (narrows the server policy)')
    .option('--expires <when>', 'expiry: 30d, 12h, 90m or an ISO date')
    .option('--rate-limit <n>', 'requests per minute for this key (default: auth.rateLimitPerMinute)')
    .option('--max-scans <n>', 'scans queued or running at once for this key (default: auth.maxConcurrentScans)')
    .option('--json', 'print the key and its record as JSON')
    .addHelpText('after', '\nExample:\n  portcullis keys create --name ci --scopes scan,read --expires 90d\n  export PORTCULLIS_API_KEY=pcl_…   # then: portcullis scans list')
    .action(async (opts) => {
      const request = {
        name: opts.name,
        scopes: parseScopes(opts.scopes, '--scopes'),
        allow: opts.allow?.split(',').map((s) => s.trim()).filter((s) => s.length > 0),
        expiresAt: opts.expires === undefined ? undefined : parseExpiry(opts.expires, new Date(), '--expires'),
        rateLimitPerMinute: opts.rateLimit === undefined ? undefined : parseIntOption(opts.rateLimit, '--rate-limit', 1, 1_000_000),
        maxConcurrentScans: opts.maxScans === undefined ? undefined : parseIntOption(opts.maxScans, '--max-scans', 1, 100_000),
      };
      const actor = cliActor();
      const { key, token } = await withStore(io, async (store) => {
        const { createApiKeys } = await import('../../auth/service.js');
        const created = await createApiKeys(store).create(request, actor);
        await store.audit.record({ actor, action: 'keys.create', resource: created.key.id, status: 0, sourceIp: undefined, detail: { name: created.key.name, scopes: created.key.scopes } });
        return created;
      });
      if (opts.json) return writeJson(io, { ...key, token });
      io.stdout.write(`${token}\n`);
      io.stderr.write(`created ${key.id} (${key.name}, scopes ${key.scopes.join(',')}). The key is shown only now: store it in a secret manager.\n`);
    });

  keys
    .command('list')
    .description('List API keys (never the keys themselves)')
    .option('--all', 'include revoked keys')
    .option('--json', 'print as JSON')
    .action(async (opts) => {
      const items = await withStore(io, (store) => store.apiKeys.list({ includeRevoked: opts.all === true }));
      if (opts.json) return writeJson(io, { items });
      io.stdout.write(`${await renderTable(io, ['id', 'name', 'scopes', 'allow', 'state', 'last used'], items.map(keyRow))}\n`);
    });

  keys
    .command('revoke')
    .description('Revoke an API key: it stops working at once')
    .argument('<id>', 'the key id (key_…), as `keys list` shows it')
    .action(async (id) => {
      const actor = cliActor();
      const key = await withStore(io, async (store) => {
        const { createApiKeys } = await import('../../auth/service.js');
        const revoked = await createApiKeys(store).revoke(id);
        await store.audit.record({ actor, action: 'keys.revoke', resource: revoked.id, status: 0, sourceIp: undefined, detail: { name: revoked.name } });
        return revoked;
      });
      io.stdout.write(`revoked ${key.id} (${key.name}) at ${key.revokedAt}\n`);
    });

  return keys;
}
