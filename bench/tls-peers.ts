/**
 * Running the peer TLS tools (Debian's sslscan and testssl.sh) and Portcullis' CLI against one local
 * endpoint, reduced to the same comparable facts: accepted protocols and accepted (protocol, suite) pairs.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLI, runTimed, type RunResult } from './lib.js';

export const SSLSCAN = process.env.SSLSCAN ?? '/usr/bin/sslscan';
export const TESTSSL = process.env.TESTSSL ?? '/usr/bin/testssl';

export interface ToolView {
  tool: 'portcullis' | 'sslscan' | 'testssl';
  wallMs: number;
  /** e.g. ["TLSv1.2", "TLSv1.3"] */
  protocols: string[];
  /** e.g. ["TLSv1.2 0xC02F"] */
  suites: string[];
  raw: RunResult;
}

const hex = (id: string): string => `0x${id.replace(/^0x|^x/i, '').toUpperCase().padStart(4, '0')}`;

export async function runPortcullis(host: string, port: number, caFile: string): Promise<ToolView & { assessment: unknown; connections: number; engineMs: number }> {
  const raw = await runTimed(process.execPath, [CLI, 'scan', 'tls', '--json', '--ca-file', caFile, `${host}:${port}`], { timeoutMs: 120_000 });
  if (raw.code !== 0) throw new Error(`portcullis scan tls exited ${raw.code}: ${raw.stderr}`);
  const parsed = JSON.parse(raw.stdout) as {
    assessments: Array<{ endpoints: Array<{ protocols: Array<{ name: string; supported: boolean }>; suites: Array<{ protocol: string; code: string }>; connections: number; durationMs: number }> }>;
  };
  const endpoint = parsed.assessments[0]?.endpoints[0];
  if (endpoint === undefined) throw new Error('portcullis returned no endpoint');
  return {
    tool: 'portcullis',
    wallMs: raw.wallMs,
    protocols: endpoint.protocols.filter((p) => p.supported).map((p) => p.name).sort(),
    suites: endpoint.suites.map((s) => `${s.protocol} ${hex(s.code)}`).sort(),
    raw,
    assessment: parsed,
    connections: endpoint.connections,
    engineMs: endpoint.durationMs,
  };
}

const SSLSCAN_PROTOCOL: Record<string, string> = { 'ssl 2': 'SSLv2', 'ssl 3': 'SSLv3', 'tls 1.0': 'TLSv1.0', 'tls 1.1': 'TLSv1.1', 'tls 1.2': 'TLSv1.2', 'tls 1.3': 'TLSv1.3' };

export async function runSslscan(host: string, port: number): Promise<ToolView> {
  const raw = await runTimed(SSLSCAN, ['--xml=-', '--no-colour', `${host}:${port}`], { timeoutMs: 120_000 });
  const protocols = [...raw.stdout.matchAll(/<protocol type="(\w+)" version="([\d.]+)" enabled="1"/g)].map((m) => SSLSCAN_PROTOCOL[`${m[1]} ${m[2]}`] ?? `${m[1]} ${m[2]}`);
  const suites = [...raw.stdout.matchAll(/<cipher status="(?:accepted|preferred)" sslversion="([^"]+)"[^>]*\sid="(0x[0-9A-Fa-f]+)"/g)].map((m) => `${m[1]} ${hex(m[2] ?? '')}`);
  return { tool: 'sslscan', wallMs: raw.wallMs, protocols: protocols.sort(), suites: suites.sort(), raw };
}

const TESTSSL_PROTOCOL: Record<string, string> = { SSLv2: 'SSLv2', SSLv3: 'SSLv3', TLS1: 'TLSv1.0', TLS1_1: 'TLSv1.1', TLS1_2: 'TLSv1.2', TLS1_3: 'TLSv1.3' };
const TESTSSL_SUITE_PROTOCOL: Record<string, string> = { ssl2: 'SSLv2', ssl3: 'SSLv3', tls1: 'TLSv1.0', tls1_1: 'TLSv1.1', tls1_2: 'TLSv1.2', tls1_3: 'TLSv1.3' };

/** `args` selects the checks: ['-p', '-E'] for protocols and per-protocol suites; [] for the full default run. */
export async function runTestssl(host: string, port: number, args: readonly string[]): Promise<ToolView & { findings: Array<{ id: string; severity: string; finding: string }> }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pcbench-testssl-'));
  const json = path.join(dir, 'out.json');
  try {
    const raw = await runTimed(TESTSSL, ['--quiet', '--color', '0', '--warnings', 'off', '--jsonfile', json, ...args, `${host}:${port}`], { timeoutMs: 600_000 });
    const findings = JSON.parse(readFileSync(json, 'utf8')) as Array<{ id: string; severity: string; finding: string }>;
    const protocols = findings.filter((f) => TESTSSL_PROTOCOL[f.id] !== undefined && /^offered/.test(f.finding)).map((f) => TESTSSL_PROTOCOL[f.id] as string);
    const suites = findings.flatMap((f) => {
      const m = /^cipher-(ssl2|ssl3|tls1|tls1_1|tls1_2|tls1_3)_x([0-9a-f]+)$/.exec(f.id);
      return m ? [`${TESTSSL_SUITE_PROTOCOL[m[1] ?? '']} ${hex(m[2] ?? '')}`] : [];
    });
    return { tool: 'testssl', wallMs: raw.wallMs, protocols: protocols.sort(), suites: suites.sort(), raw, findings };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface Difference {
  onlyOurs: string[];
  onlyTheirs: string[];
}

export function difference(ours: readonly string[], theirs: readonly string[]): Difference {
  const a = new Set(ours);
  const b = new Set(theirs);
  return { onlyOurs: [...a].filter((x) => !b.has(x)), onlyTheirs: [...b].filter((x) => !a.has(x)) };
}
