/**
 * Speed: a full assessment of one local endpoint (the `modern` fixture: TLS 1.2 + 1.3, HTTPS with HSTS),
 * median of N rounds, Portcullis (`scan tls`, everything it does) against sslscan and a full default
 * testssl.sh run, interleaved in the same run. Also the TCP connections each tool opened (counted by the
 * server). Writes bench/results/tls-speed.{md,json}.
 *
 *   npx tsx bench/tls-speed.ts [rounds=5]
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { testPki } from '../src/testing/pki.js';
import { TestServers } from '../src/testing/servers.js';
import { RESULTS_DIR, ensureBuilt, fmt, machineInfo, machineMarkdown, median, uptime } from './lib.js';
import { FIXTURES, startFixture } from './tls-fixtures.js';
import { runPortcullis, runSslscan, runTestssl } from './tls-peers.js';

interface Sample {
  wallMs: number;
  connections: number;
  engineMs?: number;
}

async function main(): Promise<void> {
  ensureBuilt();
  const rounds = Number(process.argv[2] ?? 5);
  const machine = machineInfo();
  const servers = new TestServers();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pcbench-tls-'));
  const caFile = path.join(dir, 'root.pem');
  writeFileSync(caFile, (await testPki()).root.pem);
  const fixture = FIXTURES.find((f) => f.name === 'modern');
  if (fixture === undefined) throw new Error('fixture "modern" missing');
  const samples: Record<'portcullis' | 'sslscan' | 'testssl', Sample[]> = { portcullis: [], sslscan: [], testssl: [] };
  let grade = '';
  try {
    const server = await startFixture(servers, fixture);
    for (let round = 1; round <= rounds; round++) {
      server.resetConnections();
      const ours = await runPortcullis(server.host, server.port, caFile);
      samples.portcullis.push({ wallMs: ours.wallMs, connections: server.connections(), engineMs: ours.engineMs });
      grade = JSON.stringify((ours.assessment as { assessments: Array<{ endpoints: Array<{ grade: string }> }> }).assessments[0]?.endpoints[0]?.grade);
      server.resetConnections();
      const sslscan = await runSslscan(server.host, server.port);
      samples.sslscan.push({ wallMs: sslscan.wallMs, connections: server.connections() });
      server.resetConnections();
      const testssl = await runTestssl(server.host, server.port, []);
      samples.testssl.push({ wallMs: testssl.wallMs, connections: server.connections() });
      console.error(`[tls-speed] round ${round}: portcullis ${fmt(ours.wallMs)} ms (engine ${fmt(ours.engineMs)} ms), sslscan ${fmt(sslscan.wallMs)} ms, testssl ${fmt(testssl.wallMs)} ms`);
    }
  } finally {
    await servers.closeAll();
  }
  const med = (tool: keyof typeof samples, key: keyof Sample): number => median(samples[tool].map((s) => s[key] ?? Number.NaN));
  const ours = med('portcullis', 'wallMs');
  const md = [
    '# TLS speed: one full assessment of a local endpoint',
    '',
    machineMarkdown(machine, uptime()),
    '',
    `Fixture \`modern\` (${fixture.description}); ${rounds} interleaved rounds; Portcullis graded it ${grade}.`,
    'Portcullis: `node dist/cli/main.js scan tls --json --ca-file root.pem 127.0.0.1:PORT` (whole process: Node start-up, every probe, certificate analysis, HTTP/HSTS, client simulations, grade).',
    'sslscan: `sslscan --xml=- --no-colour 127.0.0.1:PORT` (its default checks). testssl.sh: `testssl --quiet --color 0 --warnings off --jsonfile F 127.0.0.1:PORT` (its default full run).',
    '',
    '| tool | median wall ms | min | max | median connections | ratio to Portcullis |',
    '|---|---:|---:|---:|---:|---:|',
    ...(['portcullis', 'sslscan', 'testssl'] as const).map((tool) => {
      const walls = samples[tool].map((s) => s.wallMs);
      return `| ${tool} | ${fmt(median(walls))} | ${fmt(Math.min(...walls))} | ${fmt(Math.max(...walls))} | ${fmt(med(tool, 'connections'))} | ${fmt(median(walls) / ours, 2)} |`;
    }),
    '',
    `Portcullis engine time (assessment only, without process start-up), median: ${fmt(med('portcullis', 'engineMs'))} ms.`,
    '',
  ].join('\n');
  writeFileSync(path.join(RESULTS_DIR, 'tls-speed.md'), md);
  writeFileSync(path.join(RESULTS_DIR, 'tls-speed.json'), JSON.stringify({ machine, samples }, null, 2));
  console.log(md);
}

await main();
