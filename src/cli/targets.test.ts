import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../config/index.js';
import { createMetrics } from '../metrics/index.js';
import { createLogger, createRuntime, type Runtime } from '../runtime/index.js';
import { type TestApp, buildTestApp } from '../testing/app.js';
import { assessment, endpoint } from '../testing/assessments.js';
import { captureIo, cleanupCli, tempDir } from '../testing/cli.js';
import { type TestDatabase, openTestDatabase } from '../testing/databases.js';
import { runCli } from './program.js';

// `portcullis targets` in-process against the API listening on 127.0.0.1 (SQLite store): the command
// sends the file and prints the answer; the API and store are proven on both dialects elsewhere.

describe('portcullis targets import|list|show', () => {
  let db: TestDatabase;
  let runtime: Runtime;
  let app: TestApp;
  let server: string;
  let dir: string;

  beforeAll(async () => {
    db = await openTestDatabase('sqlite');
    const config = buildConfig({}, { logLevel: 'silent' });
    runtime = await createRuntime(config, { database: db, logger: createLogger(config), metrics: createMetrics({ defaultMetrics: false }) });
    app = await buildTestApp(runtime);
    server = await app.listen({ host: '127.0.0.1', port: 0 });
    dir = tempDir();
  });

  afterAll(async () => {
    await app?.close();
    await runtime?.close();
    await db?.cleanup();
    await cleanupCli();
  });

  async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
    const io = captureIo({ PORTCULLIS_API_KEY: app.apiKey });
    const code = await runCli(['targets', ...args, '--server', server], io);
    return { code, out: io.out(), err: io.err() };
  }

  function file(name: string, content: string): string {
    const where = path.join(dir, name);
    writeFileSync(where, content);
    return where;
  }

  it('dry-runs, then imports a CSV file, printing each line and exiting 1 because a line was rejected', async () => {
    const csv = file('hosts.csv', 'target,ports,owner\napp.example.com,"443,8443",alice\n192.0.2.0/28,top-100,bob\n169.254.169.254,,mallory\n');
    const dry = await cli('import', csv, '--dry-run');
    expect(dry.code).toBe(1);
    expect(dry.out).toMatch(/^\s*2\s+added\s+app\.example\.com/m);
    expect(dry.out).toMatch(/^\s*4\s+rejected\s+169\.254\.169\.254\s+.*cloud metadata/m);
    expect(dry.out).toMatch(/2 added, 0 updated, 0 duplicate, 1 rejected \(read as csv\); dry run: nothing was stored/);
    expect((await runtime.store.targets.list({ limit: 10, offset: 0 })).total).toBe(0);

    const real = await cli('import', csv);
    expect(real.code).toBe(1);
    expect(real.err).toMatch(/1 line\(s\) of .*hosts\.csv were rejected; the others were imported/);
    expect((await runtime.store.targets.list({ limit: 10, offset: 0 })).total).toBe(3);
  });

  it('imports a clean text file with exit 0 and reports repeats as duplicates; --json prints the API answer', async () => {
    const list = file('hosts.txt', '# web\nwww.example.com\nwww.example.com\n');
    const run = await cli('import', list, '--json');
    expect(run.code, run.err).toBe(0);
    expect(JSON.parse(run.out)).toMatchObject({ format: 'text', added: 1, duplicates: 1, rejected: 0 });
  });

  it('refuses a file the server cannot read as a whole with exit 2, and an unreadable path', async () => {
    const noHeader = await cli('import', file('bad.csv', 'host,owner\na.example.com,x\n'), '--format', 'csv');
    expect(noHeader.code).toBe(2);
    expect(noHeader.err).toMatch(/no "target" column.*\[request\.invalid\]/);
    const missing = await cli('import', path.join(dir, 'missing.txt'));
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/cannot read .*missing\.txt/);
  });

  it('lists targets filtered by --label and --kind', async () => {
    const byOwner = await cli('list', '--label', 'owner=alice');
    expect(byOwner.code, byOwner.err).toBe(0);
    expect(byOwner.out).toMatch(/^\s*\S+\s+tls\s+app\.example\.com:443\s+owner=alice\s+default/m);
    expect(byOwner.out).toMatch(/app\.example\.com:8443/);
    expect(byOwner.out).toMatch(/2 of 2 target\(s\)/);
    const ports = await cli('list', '--kind', 'ports', '--json');
    expect(JSON.parse(ports.out).items.map((t: { value: string }) => t.value)).toEqual(['192.0.2.0/28']);
    expect((await cli('list', '--label', 'owner')).code).toBe(2);
  });

  it('shows a target with its grade and certificate expiry per endpoint', async () => {
    const [target] = await runtime.store.targets.findTls('app.example.com', 443);
    const at = '2026-07-01T10:00:00.000Z';
    await runtime.store.tlsAssessments.createScan({ id: 'scan-1', hosts: ['app.example.com'], targets: [{ host: 'app.example.com', port: 443 }], options: {}, createdAt: at });
    await runtime.store.tlsAssessments.saveAssessment('scan-1', { host: 'app.example.com', port: 443 }, assessment({ host: 'app.example.com', finishedAt: at, endpoints: [endpoint({ ip: '192.0.2.10' })] }), at);
    const run = await cli('show', target?.id as string);
    expect(run.code, run.err).toBe(0);
    expect(run.out).toContain(`Target ${target?.id}: app.example.com:443 (TLS)`);
    expect(run.out).toMatch(/grade A, certificate expires 2026-12-31T23:59:59\.000Z/);
    expect(run.out).toMatch(/^\s*192\.0\.2\.10\s+ready\s+A\s+2026-12-31T23:59:59\.000Z/m);
    expect((await cli('show', 'no-such-id')).code).toBe(1);
  });
});
