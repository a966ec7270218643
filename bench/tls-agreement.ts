/**
 * Agreement: for every local server configuration in tls-fixtures.ts, the protocols and (protocol, suite)
 * pairs Portcullis accepts versus sslscan and testssl.sh (`-p -E`) in the same run, plus wall time and TCP
 * connections per tool. Writes bench/results/tls-agreement.{md,json}.
 *
 *   npx tsx bench/tls-agreement.ts [fixture-name…]
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { testPki } from '../src/testing/pki.js';
import { TestServers } from '../src/testing/servers.js';
import { RESULTS_DIR, ensureBuilt, fmt, machineInfo, machineMarkdown, uptime } from './lib.js';
import { FIXTURES, startFixture } from './tls-fixtures.js';
import { difference, runPortcullis, runSslscan, runTestssl, type Difference } from './tls-peers.js';

interface Row {
  fixture: string;
  description: string;
  tools: Array<{ tool: string; wallMs: number; connections: number; protocols: string[]; suites: number; protocolDiff: Difference; suiteDiff: Difference }>;
}

async function main(): Promise<void> {
  ensureBuilt();
  const machine = machineInfo();
  const only = process.argv.slice(2);
  const servers = new TestServers();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pcbench-tls-'));
  const caFile = path.join(dir, 'root.pem');
  writeFileSync(caFile, (await testPki()).root.pem);
  const rows: Row[] = [];
  const raw: unknown[] = [];
  try {
    for (const fixture of FIXTURES.filter((f) => only.length === 0 || only.includes(f.name))) {
      const server = await startFixture(servers, fixture);
      console.error(`[tls-agreement] ${fixture.name} on ${server.host}:${server.port}`);
      server.resetConnections();
      const ours = await runPortcullis(server.host, server.port, caFile);
      const ourConnections = server.connections();
      server.resetConnections();
      const sslscan = await runSslscan(server.host, server.port);
      const sslscanConnections = server.connections();
      server.resetConnections();
      const testssl = await runTestssl(server.host, server.port, ['-p', '-E']);
      const testsslConnections = server.connections();
      const row: Row = { fixture: fixture.name, description: fixture.description, tools: [] };
      row.tools.push({ tool: 'portcullis', wallMs: ours.wallMs, connections: ourConnections, protocols: ours.protocols, suites: ours.suites.length, protocolDiff: { onlyOurs: [], onlyTheirs: [] }, suiteDiff: { onlyOurs: [], onlyTheirs: [] } });
      for (const [peer, connections] of [[sslscan, sslscanConnections], [testssl, testsslConnections]] as const) {
        row.tools.push({
          tool: peer.tool,
          wallMs: peer.wallMs,
          connections,
          protocols: peer.protocols,
          suites: peer.suites.length,
          protocolDiff: difference(ours.protocols, peer.protocols),
          suiteDiff: difference(ours.suites, peer.suites),
        });
      }
      rows.push(row);
      raw.push({ fixture: fixture.name, ours: { protocols: ours.protocols, suites: ours.suites, connections: ourConnections, engineMs: ours.engineMs }, sslscan: { protocols: sslscan.protocols, suites: sslscan.suites }, testssl: { protocols: testssl.protocols, suites: testssl.suites } });
      for (const t of row.tools) console.error(`  ${t.tool.padEnd(10)} ${fmt(t.wallMs).padStart(7)} ms ${String(t.connections).padStart(4)} conns  protocols ${t.protocols.join(',')}  suites ${t.suites}  diff +${t.suiteDiff.onlyOurs.length}/-${t.suiteDiff.onlyTheirs.length}`);
    }
  } finally {
    await servers.closeAll();
  }
  const md = [
    '# TLS agreement: Portcullis vs sslscan vs testssl.sh',
    '',
    machineMarkdown(machine, uptime()),
    '',
    'Commands: `portcullis scan tls --json --ca-file root.pem 127.0.0.1:PORT`; `sslscan --xml=- --no-colour 127.0.0.1:PORT`; `testssl --quiet --color 0 --warnings off --jsonfile F -p -E 127.0.0.1:PORT`.',
    'Connections are counted by the server (accepted TCP connections during that tool\'s run).',
    '',
    '| fixture | tool | wall ms | connections | protocols | suites | protocols only ours / only theirs | suites only ours / only theirs |',
    '|---|---|---:|---:|---|---:|---|---|',
    ...rows.flatMap((r) =>
      r.tools.map((t) => {
        const pd = t.tool === 'portcullis' ? '' : `${t.protocolDiff.onlyOurs.join(' ') || '–'} / ${t.protocolDiff.onlyTheirs.join(' ') || '–'}`;
        const sd = t.tool === 'portcullis' ? '' : `${t.suiteDiff.onlyOurs.join(' ') || '–'} / ${t.suiteDiff.onlyTheirs.join(' ') || '–'}`;
        return `| ${r.fixture} | ${t.tool} | ${fmt(t.wallMs)} | ${t.connections} | ${t.protocols.join(', ')} | ${t.suites} | ${pd} | ${sd} |`;
      }),
    ),
    '',
    ...rows.map((r) => `- **${r.fixture}**: ${r.description}`),
    '',
  ].join('\n');
  writeFileSync(path.join(RESULTS_DIR, 'tls-agreement.md'), md);
  writeFileSync(path.join(RESULTS_DIR, 'tls-agreement.json'), JSON.stringify({ machine, rows, raw }, null, 2));
  console.log(md);
}

await main();
