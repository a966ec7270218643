import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PortcullisError } from '../shared/errors.js';
import { DEFAULT_CONFIG, loadConfig } from './index.js';

function configFile(content: unknown): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'portcullis-config-'));
  const file = path.join(dir, 'portcullis.json');
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

async function expectConfigError(f: () => unknown, pattern: RegExp): Promise<void> {
  try {
    await f();
  } catch (err) {
    expect(err).toBeInstanceOf(PortcullisError);
    expect((err as PortcullisError).code).toBe('config.invalid');
    expect((err as Error).message).toMatch(pattern);
    return;
  }
  throw new Error('expected a config.invalid error');
}

describe('loadConfig', () => {
  it('uses the embedded defaults with an empty environment: port 4545, ./data, SQLite', async () => {
    const config = await loadConfig({});
    expect(config.server.port).toBe(4545);
    expect(config.dataDir).toBe('./data');
    expect(config.databaseUrl).toBeUndefined();
    expect(config).toEqual(DEFAULT_CONFIG);
  });

  it('reads the documented environment variables', async () => {
    const config = await loadConfig({
      PORTCULLIS_PORT: '8080',
      PORTCULLIS_DATA_DIR: '/var/lib/portcullis',
      DATABASE_URL: 'postgres://svc@db/portcullis',
      PORTCULLIS_LOG_LEVEL: 'debug',
      PORTCULLIS_SCOPE_ALLOW: '10.0.0.0/8, example.com',
      PORTCULLIS_MAX_ADDRESSES: '256',
      PORTCULLIS_DNS_SERVERS: '127.0.0.53',
      PORTCULLIS_WORKER_CONCURRENCY: '4',
    });
    expect(config.server.port).toBe(8080);
    expect(config.dataDir).toBe('/var/lib/portcullis');
    expect(config.databaseUrl).toBe('postgres://svc@db/portcullis');
    expect(config.logLevel).toBe('debug');
    expect(config.scope.allow).toEqual(['10.0.0.0/8', 'example.com']);
    expect(config.scope.maxAddressesPerScan).toBe(256);
    expect(config.dns.servers).toEqual(['127.0.0.53']);
    expect(config.worker.concurrency).toBe(4);
  });

  it('reads the scale-out settings (shards, politeness, connection budget, lost runs, shutdown grace) from the environment and the file', async () => {
    expect((await loadConfig({})).worker).toEqual({ concurrency: 2, leaseMs: 30000, maxLostRuns: 25, shutdownGraceMs: 10000, connections: undefined });
    expect((await loadConfig({})).portscan).toMatchObject({ maxHostConnections: undefined, shardProbes: 65536 });
    const fromEnv = await loadConfig({
      PORTCULLIS_SHARD_PROBES: '0',
      PORTCULLIS_MAX_HOST_CONNECTIONS: '4',
      PORTCULLIS_WORKER_CONNECTIONS: '512',
      PORTCULLIS_MAX_LOST_RUNS: '3',
      PORTCULLIS_SHUTDOWN_GRACE_MS: '0',
    });
    expect(fromEnv.portscan).toMatchObject({ shardProbes: 0, maxHostConnections: 4 });
    expect(fromEnv.worker).toMatchObject({ connections: 512, maxLostRuns: 3, shutdownGraceMs: 0 });
    const fromFile = await loadConfig({ PORTCULLIS_CONFIG: configFile({ worker: { connections: 64, shutdownGraceMs: 5000 }, portscan: { shardProbes: 1000, maxHostConnections: 2 } }) });
    expect(fromFile.worker).toMatchObject({ connections: 64, shutdownGraceMs: 5000 });
    expect(fromFile.portscan).toMatchObject({ shardProbes: 1000, maxHostConnections: 2 });
    await expectConfigError(() => loadConfig({ PORTCULLIS_WORKER_CONNECTIONS: '2' }), /PORTCULLIS_WORKER_CONNECTIONS/);
    await expectConfigError(() => loadConfig({ PORTCULLIS_MAX_HOST_CONNECTIONS: '0' }), /PORTCULLIS_MAX_HOST_CONNECTIONS/);
    await expectConfigError(() => loadConfig({ PORTCULLIS_SHARD_PROBES: '-1' }), /PORTCULLIS_SHARD_PROBES/);
  });

  it('reads the TLS settings from the environment and from the config file (CA paths against its folder)', async () => {
    const fromEnv = await loadConfig({ PORTCULLIS_CA_FILES: '/etc/pki/a.pem,/etc/pki/b.pem', PORTCULLIS_TLS_MAX_AGE: '600', PORTCULLIS_TLS_TIMEOUT_MS: '2500', PORTCULLIS_TLS_CONCURRENCY: '8' });
    expect(fromEnv.tls).toEqual({ ...DEFAULT_CONFIG.tls, caFiles: ['/etc/pki/a.pem', '/etc/pki/b.pem'], maxAgeSeconds: 600, timeoutMs: 2500, concurrency: 8 });
    const file = configFile({ tls: { caFiles: ['internal-root.pem'], parallelism: 6 } });
    const fromFile = await loadConfig({ PORTCULLIS_CONFIG: file });
    expect(fromFile.tls.caFiles).toEqual([path.join(path.dirname(file), 'internal-root.pem')]);
    expect(fromFile.tls.parallelism).toBe(6);
    await expectConfigError(() => loadConfig({ PORTCULLIS_TLS_TIMEOUT_MS: '5' }), /PORTCULLIS_TLS_TIMEOUT_MS/);
    await expectConfigError(() => loadConfig({ PORTCULLIS_TLS_CONCURRENCY: '0' }), /PORTCULLIS_TLS_CONCURRENCY/);
  });

  it('keeps the SSL Labs engine off by default and reads its settings from the environment and the file', async () => {
    expect((await loadConfig({})).ssllabs).toMatchObject({ email: undefined, apiVersion: 'v4', baseUrl: 'https://api.ssllabs.com/api/', pollDnsMs: 5000, pollMs: 10000, pauseMinMs: 900000, pauseMaxMs: 1800000 });
    const fromEnv = await loadConfig({ PORTCULLIS_SSLLABS_EMAIL: 'secops@corp.example', PORTCULLIS_SSLLABS_API: 'v3', PORTCULLIS_SSLLABS_URL: 'http://127.0.0.1:9999/api/', PORTCULLIS_SSLLABS_MAX_AGE_HOURS: '12' });
    expect(fromEnv.ssllabs).toMatchObject({ email: 'secops@corp.example', apiVersion: 'v3', baseUrl: 'http://127.0.0.1:9999/api/', fromCacheMaxAgeHours: 12 });
    const fromFile = await loadConfig({ PORTCULLIS_CONFIG: configFile({ ssllabs: { email: 'a@corp.example', pollMs: 20000, pauseMinMs: 60000, pauseMaxMs: 120000 } }) });
    expect(fromFile.ssllabs).toMatchObject({ email: 'a@corp.example', pollMs: 20000, pauseMinMs: 60000, pauseMaxMs: 120000 });
    await expectConfigError(() => loadConfig({ PORTCULLIS_SSLLABS_EMAIL: 'not an email' }), /ssllabs\.email must be an email address/);
    await expectConfigError(() => loadConfig({ PORTCULLIS_SSLLABS_API: 'v2' }), /PORTCULLIS_SSLLABS_API must be v4 or v3/);
    await expectConfigError(() => loadConfig({ PORTCULLIS_SSLLABS_URL: 'ftp://x' }), /ssllabs\.baseUrl must be an http/);
    await expectConfigError(() => loadConfig({ PORTCULLIS_CONFIG: configFile({ ssllabs: { pauseMinMs: 10, pauseMaxMs: 5 } }) }), /pauseMaxMs must not be below/);
    await expectConfigError(() => loadConfig({ PORTCULLIS_CONFIG: configFile({ ssllabs: { publish: true } }) }), /\/ssllabs\/publish is not a known setting/);
  });

  it('takes the config file below environment variables and resolves its paths against its folder', async () => {
    const file = configFile({ server: { port: 9000 }, dataDir: 'state', scope: { deny: ['192.0.2.0/24'] }, dns: { hosts: { 'app.test': ['127.0.0.1'] } } });
    const fromFile = await loadConfig({ PORTCULLIS_CONFIG: file });
    expect(fromFile.server.port).toBe(9000);
    expect(fromFile.dataDir).toBe(path.join(path.dirname(file), 'state'));
    expect(fromFile.scope.deny).toEqual(['192.0.2.0/24']);
    expect(fromFile.dns.hosts['app.test']).toEqual(['127.0.0.1']);
    expect((await loadConfig({ PORTCULLIS_CONFIG: file, PORTCULLIS_PORT: '9001' })).server.port).toBe(9001);
  });

  it('rejects bad values with a message naming the setting', async () => {
    await expectConfigError(() => loadConfig({ PORTCULLIS_PORT: 'eighty' }), /PORTCULLIS_PORT must be a whole number/);
    await expectConfigError(() => loadConfig({ PORTCULLIS_PORT: '70000' }), /between 0 and 65535/);
    await expectConfigError(() => loadConfig({ PORTCULLIS_LOG_LEVEL: 'loud' }), /PORTCULLIS_LOG_LEVEL/);
    await expectConfigError(() => loadConfig({ DATABASE_URL: 'mysql://x' }), /postgres:\/\//);
  });

  it('rejects a config file that is missing, not JSON, or has unknown keys', async () => {
    await expectConfigError(() => loadConfig({ PORTCULLIS_CONFIG: '/nonexistent/portcullis.json' }), /cannot read config file/);
    await expectConfigError(() => loadConfig({ PORTCULLIS_CONFIG: configFile('{ not json') }), /not valid JSON/);
    await expectConfigError(() => loadConfig({ PORTCULLIS_CONFIG: configFile({ sever: { port: 1 } }) }), /\/sever is not a known setting/);
    await expectConfigError(() => loadConfig({ PORTCULLIS_CONFIG: configFile({ server: { port: -1 } }) }), /\/server\/port/);
  });

  it('never echoes a database password in its error', async () => {
    try {
      await loadConfig({ DATABASE_URL: 'mysql://admin:hunter2@db/x' });
    } catch (err) {
      expect(JSON.stringify((err as PortcullisError).detail)).not.toContain('hunter2');
    }
  });
});
