import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../config/index.js';
import { createMetrics } from '../metrics/index.js';
import { createLogger, createRuntime, type Runtime } from '../runtime/index.js';
import { type TestApp, buildTestApp } from '../testing/app.js';
import { timeOrderedId } from '../shared/ids.js';
import { assessment, endpoint } from '../testing/assessments.js';
import { captureIo, cleanupCli, tempDir } from '../testing/cli.js';
import { type TestDatabase, openTestDatabase } from '../testing/databases.js';
import { runCli } from './program.js';

// `portcullis report` in-process against the API listening on 127.0.0.1 (SQLite store): the command
// only builds the query and passes the answer on, so one dialect is enough here.

describe('portcullis report', () => {
  let db: TestDatabase;
  let runtime: Runtime;
  let app: TestApp;
  let server: string;

  async function target(value: string, labels: Record<string, string>, grade: 'A' | 'C'): Promise<void> {
    const now = new Date().toISOString();
    await db.db
      .insertInto('targets')
      .values({ id: timeOrderedId(), kind: 'tls', value, port: 443, ports: null, labels: JSON.stringify(labels), schedule: null, created_at: now, updated_at: now, next_run_at: null, last_run_at: null, last_scan_id: null, cert_expires_at: null })
      .execute();
    const scanId = timeOrderedId();
    const tls = runtime.store.tlsAssessments;
    await tls.createScan({ id: scanId, hosts: [value], targets: [{ host: value, port: 443 }], options: {}, createdAt: now });
    await tls.saveAssessment(scanId, { host: value, port: 443 }, assessment({ host: value, finishedAt: now, endpoints: [endpoint({ grade, gradeTrustIgnored: grade })] }), now);
  }

  beforeAll(async () => {
    db = await openTestDatabase('sqlite');
    const config = buildConfig({}, { logLevel: 'silent' });
    runtime = await createRuntime(config, { database: db, logger: createLogger(config), metrics: createMetrics({ defaultMetrics: false }), queue: { leaseMs: 2000, pollMs: 20 } });
    app = await buildTestApp(runtime);
    server = await app.listen({ host: '127.0.0.1', port: 0 });
    await target('web.test', { team: 'web' }, 'A');
    await target('db.test', { team: 'db' }, 'C');
  });

  afterAll(async () => {
    await app?.close();
    await runtime?.close();
    await db?.cleanup();
    await cleanupCli();
  });

  async function report(...args: string[]): Promise<{ code: number; out: string; err: string }> {
    const io = captureIo({ PORTCULLIS_API_KEY: app.apiKey });
    const code = await runCli(['report', ...args, '--server', server], io);
    return { code, out: io.out(), err: io.err() };
  }

  it('prints the JSON summary by default, filtered by every --label given', async () => {
    const all = await report();
    expect(all.code, all.err).toBe(0);
    expect(JSON.parse(all.out).totals.tlsTargets).toBe(2);

    const web = await report('--label', 'team=web', '--since', '2020-01-01', '--expiring-within-days', '30');
    expect(web.code, web.err).toBe(0);
    const body = JSON.parse(web.out);
    expect(body.filters).toEqual({ labels: { team: 'web' }, since: '2020-01-01T00:00:00.000Z', until: null, expiringWithinDays: 30 });
    expect(body.endpointsByGrade.flatMap((g: any) => g.endpoints.map((e: any) => e.host))).toEqual(['web.test']);
    expect(JSON.parse((await report('--label', 'team=web', '--label', 'env=prod')).out).totals.tlsTargets).toBe(0);
  });

  it('writes the CSV to --output and says where', async () => {
    const file = path.join(tempDir(), 'endpoints.csv');
    const run = await report('--format', 'csv', '--output', file);
    expect(run.code, run.err).toBe(0);
    expect(run.out).toMatch(/^Wrote the csv report to .*endpoints\.csv \(\d+ bytes\)\n$/);
    const lines = readFileSync(file, 'utf8').split('\r\n');
    expect(lines[0]).toMatch(/^host,port,ip,status,grade,/);
    // Worst grade first.
    expect(lines.slice(1, 3).map((l) => l.split(',')[0])).toEqual(['db.test', 'web.test']);
  });

  it('prints the HTML page to stdout', async () => {
    const run = await report('--format', 'html', '--label', 'team=db');
    expect(run.code, run.err).toBe(0);
    expect(run.out.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(run.out).toContain('labels team=db');
  });

  it('ends with a usage error for a malformed --label, or a filter the server rejects', async () => {
    const label = await report('--label', 'team');
    expect(label.code).toBe(2);
    expect(label.err).toContain('--label must be key=value');
    const since = await report('--since', 'last-week');
    expect(since.code).toBe(2);
    expect(since.err).toMatch(/since must be an ISO date.*\[request\.invalid\]/);
    const format = await report('--format', 'pdf');
    expect(format.code).toBe(2);
  });

  it('fails when the file cannot be written', async () => {
    const run = await report('--output', path.join(tempDir(), 'missing-dir', 'x.json'));
    expect(run.code).toBe(1);
    expect(run.err).toContain('cannot write the report to');
  });
});
