import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { staticResolver } from '../scope/index.js';
import { assertBuilt, captureIo, cleanupCli, runBin, tempDir } from '../testing/cli.js';
import { closedPort, listen, type TestListener } from '../testing/listeners.js';
import { runCli } from './program.js';

/** Spawned processes on a busy 2-core machine: generous, never a speed assertion. */
const SPAWN_TIMEOUT_MS = 120_000;

// End-to-end tests of `portcullis scan ports` through the built binary (dist/cli/main.js), against
// listeners on 127.0.0.1 that this file starts. Hostnames only ever resolve through a config file's
// dns.hosts (spawned binary) or an injected static resolver (in-process runs).

const SSH_GREETING = 'SSH-2.0-OpenSSH_9.2p1\r\n';
const ANSI = /\u001b\[/;

let ssh: TestListener;
let silent: TestListener;
let closed: number;

beforeAll(async () => {
  assertBuilt();
  ssh = await listen({ greeting: SSH_GREETING });
  silent = await listen();
  closed = await closedPort();
});

afterAll(async () => {
  await ssh?.close();
  await silent?.close();
  await cleanupCli();
});

const ports = (): string => `${ssh.port},${silent.port},${closed}`;

describe('portcullis scan ports --json (built binary)', { timeout: SPAWN_TIMEOUT_MS }, () => {
  it('prints exactly one JSON document on stdout: open ports with service and banner, and the stats', async () => {
    const run = await runBin(['scan', 'ports', '127.0.0.1', '-p', ports(), '--json', '--banner-timeout', '300']);
    expect(run.code, run.stderr).toBe(0);
    // Nothing but the document: JSON.parse rejects any leading or trailing log line or progress bar.
    const doc = JSON.parse(run.stdout);
    expect(run.stdout.trimStart().startsWith('{')).toBe(true);
    expect(Object.keys(doc).sort()).toEqual(['hosts', 'stats']);
    // No progress bar when stderr is not a terminal.
    expect(run.stderr).not.toMatch(/scanning \[|probes/);
    expect(run.stderr).not.toMatch(ANSI);

    expect(doc.hosts).toHaveLength(1);
    const host = doc.hosts[0];
    expect(host).toMatchObject({ ip: '127.0.0.1', hostnames: [], status: 'up' });
    // Open ports only without --all: the closed port is counted in the stats, not listed.
    expect(host.ports.map((p: any) => p.port).sort((a: number, b: number) => a - b)).toEqual([ssh.port, silent.port].sort((a, b) => a - b));
    for (const p of host.ports) expect(p).toMatchObject({ protocol: 'tcp', state: 'open', reason: 'syn-ack' });

    const byPort = new Map<number, any>(host.ports.map((p: any) => [p.port, p]));
    expect(byPort.get(ssh.port)).toMatchObject({ service: 'ssh', product: 'OpenSSH', version: '9.2p1', banner: 'SSH-2.0-OpenSSH_9.2p1' });
    const quiet = byPort.get(silent.port);
    expect(typeof quiet.service).toBe('string');
    expect(quiet.banner).toBeUndefined();

    expect(doc.stats).toMatchObject({ scannedPorts: 3, hosts: 1, hostsUp: 1, open: 2, closed: 1, filtered: 0 });
    expect(typeof doc.stats.durationMs).toBe('number');
    expect(doc.stats.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('with --all also lists the closed port as closed/conn-refused', async () => {
    const run = await runBin(['scan', 'ports', '127.0.0.1', '-p', ports(), '--json', '--all', '--banner-timeout', '300']);
    expect(run.code, run.stderr).toBe(0);
    const doc = JSON.parse(run.stdout);
    const byPort = new Map<number, any>(doc.hosts[0].ports.map((p: any) => [p.port, p]));
    expect([...byPort.keys()].sort((a, b) => a - b)).toEqual([ssh.port, silent.port, closed].sort((a, b) => a - b));
    expect(byPort.get(closed)).toMatchObject({ port: closed, protocol: 'tcp', state: 'closed', reason: 'conn-refused' });
    expect(byPort.get(closed).banner).toBeUndefined();
    expect(byPort.get(ssh.port)).toMatchObject({ state: 'open', reason: 'syn-ack', service: 'ssh', banner: 'SSH-2.0-OpenSSH_9.2p1' });
    expect(doc.stats).toMatchObject({ scannedPorts: 3, open: 2, closed: 1, filtered: 0 });
  });
});

describe('portcullis scan ports table output (built binary, stdout not a TTY)', { timeout: SPAWN_TIMEOUT_MS }, () => {
  it('prints a plain table of open ports and a "Not shown: N closed" line for the hidden closed port', async () => {
    const run = await runBin(['scan', 'ports', '127.0.0.1', '-p', ports(), '--banner-timeout', '300']);
    expect(run.code, run.stderr).toBe(0);
    const out = run.stdout;
    expect(out).not.toMatch(ANSI);
    expect(out).toMatch(/^Host 127\.0\.0\.1: up/m);
    expect(out).toMatch(/^\s*PORT\s+STATE\s+REASON\s+SERVICE\s+DETAILS/m);
    expect(out).toMatch(new RegExp(`^\\s*${ssh.port}/tcp\\s+open\\s+syn-ack\\s+ssh\\s+OpenSSH 9\\.2p1`, 'm'));
    expect(out).toMatch(new RegExp(`^\\s*${silent.port}/tcp\\s+open\\s+syn-ack`, 'm'));
    expect(out).toMatch(/^Not shown: 1 closed$/m);
    expect(out).not.toContain(`${closed}/tcp`);
    expect(out).not.toContain('conn-refused');
    expect(out).toMatch(/Scanned 3 port\(s\) on 1 address\(es\) in [\d.]+ s: 1 up, 2 open port\(s\)\./);
    expect(run.stderr).not.toMatch(/scanning \[/);
  });

  it('with --all lists the closed port and has no "Not shown" line', async () => {
    const run = await runBin(['scan', 'ports', '127.0.0.1', '-p', ports(), '--all', '--banner-timeout', '300']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^\\s*${closed}/tcp\\s+closed\\s+conn-refused`, 'm'));
    expect(run.stdout).toMatch(new RegExp(`^\\s*${ssh.port}/tcp\\s+open\\s+syn-ack\\s+ssh`, 'm'));
    expect(run.stdout).not.toContain('Not shown');
  });
});

describe('portcullis exit codes (built binary)', { timeout: SPAWN_TIMEOUT_MS }, () => {
  // Every case is rejected before any probe is sent; -p names a closed loopback port so that even a
  // regression would not connect anywhere interesting.
  const cases: Array<[name: string, args: () => string[], mustMention: RegExp[]]> = [
    ['an unknown option', () => ['127.0.0.1', '-p', String(closed), '--bogus'], [/--bogus/, /unknown option/]],
    ['port 0', () => ['127.0.0.1', '-p', '0'], [/"0"/, /out of range/]],
    ['port 70000', () => ['127.0.0.1', '-p', '70000'], [/70000/, /out of range/]],
    ['a malformed IPv4 target', () => ['10.0.0.300', '-p', String(closed)], [/10\.0\.0\.300/, /invalid/]],
    ['the cloud metadata address', () => ['169.254.169.254', '-p', String(closed)], [/169\.254\.169\.254/, /may not be scanned/, /scope\.denied/]],
    ['the metadata address in hex notation', () => ['0xa9fea9fe', '-p', String(closed)], [/0xa9fea9fe/, /169\.254\.169\.254/, /scope\.denied/]],
    ['more addresses than the default limit', () => ['10.0.0.0/8', '-p', String(closed)], [/16,?777,?216/, /65,?536/, /target\.too-large/]],
    ['a non-numeric --timeout', () => ['127.0.0.1', '-p', String(closed), '--timeout', 'abc'], [/--timeout/, /"abc"/]],
  ];

  it.each(cases)('exits 2 for %s, with a one-line message naming the value on stderr and nothing on stdout', async (_name, args, mustMention) => {
    const run = await runBin(['scan', 'ports', ...args()]);
    expect(run.code, run.stderr).toBe(2);
    expect(run.stdout).toBe('');
    const lines = run.stderr.split('\n').filter((l) => l.trim() !== '');
    expect(lines.length, run.stderr).toBeGreaterThanOrEqual(1);
    // The first line says it all; at most a "(run with --help for usage)" hint follows. No stack trace.
    for (const re of mustMention) expect(lines[0], run.stderr).toMatch(re);
    expect(lines.length, run.stderr).toBeLessThanOrEqual(2);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('exits 0 for --help, and the help names --json, --all and the exit codes', async () => {
    const top = await runBin(['--help']);
    expect(top.code).toBe(0);
    expect(top.stderr).toBe('');
    for (const word of ['serve', 'migrate', 'scan', 'scans', 'Exit codes: 0 success, 1 the scan or request failed, 2 usage error']) expect(top.stdout).toContain(word);

    const help = await runBin(['scan', 'ports', '--help']);
    expect(help.code).toBe(0);
    expect(help.stderr).toBe('');
    for (const word of ['--json', '--all', '-p, --ports', '--banner-timeout', 'Exit codes: 0 scan done, 1 scan error, 2 usage error']) expect(help.stdout).toContain(word);
  });

  it('exits 2 for an unknown command', async () => {
    const run = await runBin(['nosuchcommand']);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/unknown command 'nosuchcommand'/);
  });
});

describe('portcullis scan ports with a config file (built binary)', { timeout: SPAWN_TIMEOUT_MS }, () => {
  it('resolves a hostname through dns.hosts of PORTCULLIS_CONFIG and reports it with the address', async () => {
    const dir = tempDir();
    const config = path.join(dir, 'portcullis.json');
    writeFileSync(config, JSON.stringify({ dns: { hosts: { 'app.test': ['127.0.0.1'] } } }));
    const run = await runBin(['scan', 'ports', 'app.test', '-p', String(ssh.port), '--json', '--banner-timeout', '300'], { env: { PORTCULLIS_CONFIG: config } });
    expect(run.code, run.stderr).toBe(0);
    const doc = JSON.parse(run.stdout);
    expect(doc.hosts).toHaveLength(1);
    expect(doc.hosts[0]).toMatchObject({ ip: '127.0.0.1', hostnames: ['app.test'], status: 'up' });
    expect(doc.hosts[0].ports).toEqual([expect.objectContaining({ port: ssh.port, state: 'open', service: 'ssh' })]);

    const table = await runBin(['scan', 'ports', 'app.test', '-p', String(ssh.port), '--banner-timeout', '300'], { env: { PORTCULLIS_CONFIG: config } });
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^Host 127\.0\.0\.1 \(app\.test\): up/m);
  });

  it('refuses a hostname of dns.hosts that maps to the metadata address (exit 2, scope.denied)', async () => {
    const dir = tempDir();
    const config = path.join(dir, 'portcullis.json');
    writeFileSync(config, JSON.stringify({ dns: { hosts: { 'mixed.test': ['127.0.0.1', '169.254.169.254'] } } }));
    const run = await runBin(['scan', 'ports', 'mixed.test', '-p', String(closed), '--json'], { env: { PORTCULLIS_CONFIG: config } });
    expect(run.code, run.stderr).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/169\.254\.169\.254/);
    expect(run.stderr).toMatch(/scope\.denied/);
  });

  it('exits 2 naming the setting when the config file has an unknown key', async () => {
    const dir = tempDir();
    const config = path.join(dir, 'portcullis.json');
    writeFileSync(config, JSON.stringify({ dns: { hostz: {} } }));
    const run = await runBin(['scan', 'ports', '127.0.0.1', '-p', String(closed)], { env: { PORTCULLIS_CONFIG: config } });
    expect(run.code, run.stderr).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/hostz/);
    expect(run.stderr).toMatch(/config\.invalid/);
  });
});

describe('portcullis scan ports in-process (runCli with a static resolver)', { timeout: SPAWN_TIMEOUT_MS }, () => {
  it('resolves names through the injected resolver and writes the JSON to the given io', async () => {
    const io = captureIo();
    const code = await runCli(['scan', 'ports', 'app.test', '-p', `${ssh.port},${closed}`, '--json', '--banner-timeout', '300'], io, {
      resolver: staticResolver({ 'app.test': ['127.0.0.1'] }),
    });
    expect(code, io.err()).toBe(0);
    const doc = JSON.parse(io.out());
    expect(doc.hosts).toEqual([
      expect.objectContaining({ ip: '127.0.0.1', hostnames: ['app.test'], ports: [expect.objectContaining({ port: ssh.port, service: 'ssh', product: 'OpenSSH' })] }),
    ]);
    expect(doc.stats).toMatchObject({ scannedPorts: 2, open: 1, closed: 1 });
  });

  it('scans with --max-host-connections and refuses a cap that is not a whole number from 1 to 10000 (exit 2)', async () => {
    const io = captureIo();
    expect(await runCli(['scan', 'ports', '127.0.0.1', '-p', `${ssh.port},${closed}`, '--json', '--no-service-detection', '--max-host-connections', '1'], io), io.err()).toBe(0);
    expect(JSON.parse(io.out()).stats).toMatchObject({ scannedPorts: 2, open: 1, closed: 1 });
    const bad = captureIo();
    expect(await runCli(['scan', 'ports', '127.0.0.1', '--max-host-connections', '0'], bad)).toBe(2);
    expect(bad.err()).toMatch(/--max-host-connections must be between 1 and 10000/);
  });

  it('sends commander usage errors and subcommand help to the given io, not to the process streams', async () => {
    const bad = captureIo();
    expect(await runCli(['scan', 'ports', '127.0.0.1', '--bogus'], bad)).toBe(2);
    expect(bad.out()).toBe('');
    expect(bad.err()).toMatch(/unknown option '--bogus'/);

    const help = captureIo();
    expect(await runCli(['scan', 'ports', '--help'], help)).toBe(0);
    expect(help.out()).toContain('--json');
    expect(help.err()).toBe('');

    const scansHelp = captureIo();
    expect(await runCli(['scans', 'list', '--help'], scansHelp)).toBe(0);
    expect(scansHelp.out()).toContain('--server');
  });
});
