import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ServeProcess,
  apiJson,
  assertBuilt,
  cleanupCli,
  freePort,
  runBin,
  startServeOnFreePort,
  tempDir,
  waitForScanDone,
} from '../testing/cli.js';
import { listen, type TestListener } from '../testing/listeners.js';

/** Spawned processes on a busy 2-core machine: generous, never a speed assertion. */
const SPAWN_TIMEOUT_MS = 120_000;

// End-to-end: `portcullis serve` as a child process (SQLite in a temporary data dir, embedded queue),
// scans submitted over HTTP, then `portcullis scans list|show|compare` against it. Everything listens
// and connects on 127.0.0.1 only.

afterAll(async () => {
  await cleanupCli();
});

/** A plain-table row (stdout is not a terminal: no box borders) whose cells are these, in order. */
function row(...cells: string[]): RegExp {
  const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  return new RegExp(`^\\s*${cells.map(esc).join('\\s+')}`, 'm');
}

describe('portcullis scans list|show|compare against a running `portcullis serve`', { timeout: SPAWN_TIMEOUT_MS }, () => {
  let server: ServeProcess;
  let ssh: TestListener;
  let extra: TestListener;
  let extraPort: number;
  let first: string;
  let second: string;

  beforeAll(async () => {
    assertBuilt();
    ssh = await listen({ greeting: 'SSH-2.0-OpenSSH_9.2p1\r\n' });
    extra = await listen();
    extraPort = extra.port;
    server = await startServeOnFreePort({ dataDir: tempDir() });

    const body = { targets: ['127.0.0.1'], ports: `${ssh.port},${extraPort}`, options: { bannerTimeoutMs: 300 } };
    const a = await apiJson('POST', `${server.url}/api/v1/port-scans`, body, server.apiKey);
    expect(a.status, JSON.stringify(a.body)).toBe(202);
    first = a.body.id;
    expect((await waitForScanDone(server, first)).status).toBe('done');

    // The silent listener goes away between the two scans: the comparison must report it closed.
    await extra.close();
    const b = await apiJson('POST', `${server.url}/api/v1/port-scans`, body, server.apiKey);
    expect(b.status, JSON.stringify(b.body)).toBe(202);
    second = b.body.id;
    expect((await waitForScanDone(server, second)).status).toBe('done');
  }, 120_000);

  afterAll(async () => {
    await ssh?.close();
    await server?.stop('SIGKILL').catch(() => {});
  });

  const cli = (...args: string[]) => runBin(['scans', ...args, '--server', server.url], { env: { PORTCULLIS_API_KEY: server.apiKey } });

  it('stores the embedded database as portcullis.sqlite in the data dir', () => {
    expect(existsSync(path.join(server.dataDir, 'portcullis.sqlite'))).toBe(true);
  });

  it('`scans list` prints a table with both scans, newest first', async () => {
    const run = await cli('list');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(row('ID', 'STATUS', 'DONE', 'TARGETS', 'PORTS', 'UP', 'OPEN', 'CREATED'));
    expect(run.stdout).not.toMatch(/[┌│└─]/);
    expect(run.stdout).toMatch(row(first, 'done', '100%', '127.0.0.1', `${ssh.port},${extraPort}`, '1/1', '2'));
    expect(run.stdout).toMatch(row(second, 'done', '100%', '127.0.0.1', `${ssh.port},${extraPort}`, '1/1', '1'));
    expect(run.stdout.indexOf(second)).toBeLessThan(run.stdout.indexOf(first));
    expect(run.stdout).toContain('2 of 2 scan(s)');
    expect(run.stdout).not.toMatch(/\u001b\[/);
  });

  it('`scans list` finds the server through PORTCULLIS_SERVER when --server is not given', async () => {
    const anonymous = await runBin(['scans', 'list'], { env: { PORTCULLIS_SERVER: server.url } });
    expect(anonymous.code).toBe(2);
    expect(anonymous.stderr).toMatch(/needs a key.*set PORTCULLIS_API_KEY.*\[auth\.required\]/);
    const run = await runBin(['scans', 'list'], { env: { PORTCULLIS_SERVER: server.url, PORTCULLIS_API_KEY: server.apiKey } });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(first);
    expect(run.stdout).toContain(second);
  });

  it('`scans list --json` prints the API page as one JSON document', async () => {
    const run = await cli('list', '--json');
    expect(run.code, run.stderr).toBe(0);
    const page = JSON.parse(run.stdout);
    expect(page.total).toBe(2);
    expect(page.items.map((s: any) => s.id)).toEqual([second, first]);
    for (const s of page.items) expect(s).toMatchObject({ status: 'done', targets: ['127.0.0.1'], addressCount: 1, portCount: 2 });
    expect(page.items[1].stats).toMatchObject({ hostsUp: 1, open: 2 });
    expect(page.items[0].stats).toMatchObject({ hostsUp: 1, open: 1, closed: 1 });
  });

  it('`scans show <id>` prints the host and its open ports with the service', async () => {
    const run = await cli('show', first);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`Scan ${first}: done (100%)`);
    expect(run.stdout).toContain('Targets: 127.0.0.1');
    expect(run.stdout).toMatch(/^Host 127\.0\.0\.1: up/m);
    expect(run.stdout).toMatch(row('PORT', 'STATE', 'REASON', 'SERVICE', 'DETAILS'));
    expect(run.stdout).toMatch(row(`${ssh.port}/tcp`, 'open', 'syn-ack', 'ssh', 'OpenSSH 9.2p1'));
    expect(run.stdout).toMatch(row(`${extraPort}/tcp`, 'open', 'syn-ack'));
    expect(run.stdout).toContain('1 host(s)');

    const json = await cli('show', second, '--json');
    expect(json.code, json.stderr).toBe(0);
    const scan = JSON.parse(json.stdout);
    expect(scan).toMatchObject({ id: second, status: 'done', hostsDone: 1 });
    expect(scan.hosts.items[0].ports.map((p: any) => p.port)).toEqual([ssh.port]);
  });

  it('`scans compare <a> <b>` reports the port closed between the two scans', async () => {
    const run = await cli('compare', first, second);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).not.toContain('has not finished');
    expect(run.stdout).toMatch(/^127\.0\.0\.1: changed/m);
    expect(run.stdout).toMatch(new RegExp(`^\\s+- ${extraPort}/tcp no longer open`, 'm'));
    expect(run.stdout).not.toContain(`${ssh.port}/tcp`);
    expect(run.stdout).toMatch(/newlyClosed: 1/);
    expect(run.stdout).toMatch(/newlyOpen: 0/);

    const json = await cli('compare', first, second, '--json');
    expect(json.code, json.stderr).toBe(0);
    const diff = JSON.parse(json.stdout);
    expect(diff.complete).toBe(true);
    expect(diff.hosts.find((h: any) => h.ip === '127.0.0.1').newlyClosed.map((p: any) => p.port)).toEqual([extraPort]);

    // Reversed, the same port is newly open.
    const reverse = await cli('compare', second, first);
    expect(reverse.code, reverse.stderr).toBe(0);
    expect(reverse.stdout).toMatch(new RegExp(`^\\s+\\+ ${extraPort}/tcp open`, 'm'));
  });

  it('`scans show does-not-exist` exits 1 with the server\'s message on stderr and nothing on stdout', async () => {
    const run = await cli('show', 'does-not-exist');
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim()).toBe('portcullis: no port scan with id does-not-exist [not-found]');

    const compare = await cli('compare', first, 'does-not-exist');
    expect(compare.code).toBe(1);
    expect(compare.stdout).toBe('');
    expect(compare.stderr).toMatch(/not-found/);
  });

  it('`scans list` with a bad --limit or --status is a usage error (exit 2)', async () => {
    const limit = await cli('list', '--limit', '0');
    expect(limit.code).toBe(2);
    expect(limit.stdout).toBe('');
    expect(limit.stderr).toMatch(/--limit must be between 1 and 500, got 0/);

    // Rejected by the server's schema (400): the server's own message, exit 2.
    const status = await cli('list', '--status', 'bogus');
    expect(status.code).toBe(2);
    expect(status.stdout).toBe('');
    expect(status.stderr).toMatch(/^portcullis: .+\[request\.invalid\]$/m);
  });

  // Runs last in this block: the server that ran the scans stops cleanly on SIGTERM.
  it('the server that ran the scans exits 0 on SIGTERM', async () => {
    const exit = await server.stop('SIGTERM', 20_000);
    expect(exit.signal, exit.stderr).toBeNull();
    expect(exit.code, `${exit.stdout}\n${exit.stderr}`).toBe(0);
  }, 30_000);
});

describe('portcullis scans without a reachable server', { timeout: SPAWN_TIMEOUT_MS }, () => {
  it('exits 1 with a "cannot reach" message naming the server URL', async () => {
    assertBuilt();
    const url = `http://127.0.0.1:${await freePort()}`;
    const run = await runBin(['scans', 'show', '6f1c0000-0000-4000-8000-000000000000', '--server', url]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    const lines = run.stderr.split('\n').filter((l) => l.trim() !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`cannot reach the Portcullis server at ${url}`);
    expect(lines[0]).toMatch(/ECONNREFUSED/);
  });
});

describe('portcullis serve lifecycle', { timeout: SPAWN_TIMEOUT_MS }, () => {
  it('creates portcullis.sqlite in a fresh data dir, answers /healthz and /readyz, and exits 0 on SIGTERM', async () => {
    assertBuilt();
    const dataDir = path.join(tempDir(), 'nested', 'data');
    const server = await startServeOnFreePort({ dataDir });
    expect(existsSync(path.join(dataDir, 'portcullis.sqlite'))).toBe(true);
    expect((await apiJson('GET', `${server.url}/healthz`, undefined, '')).body).toEqual({ status: 'ok' });
    const ready = await apiJson('GET', `${server.url}/readyz`, undefined, '');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: 'ready', database: { dialect: 'sqlite', location: path.join(dataDir, 'portcullis.sqlite') } });

    const exit = await server.stop('SIGTERM', 15_000);
    expect(exit.signal, exit.stderr).toBeNull();
    expect(exit.code, exit.stderr).toBe(0);
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
  }, 60_000);

  it('exits 2 with a clear message when PORTCULLIS_PORT is not a port number', async () => {
    assertBuilt();
    const run = await runBin(['serve'], { env: { PORTCULLIS_PORT: 'abc', PORTCULLIS_HOST: '127.0.0.1', PORTCULLIS_DATA_DIR: tempDir() }, timeoutMs: 30_000 });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/PORTCULLIS_PORT must be a whole number, got "abc"/);
  });
});
