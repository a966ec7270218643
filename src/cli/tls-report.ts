/**
 * The human report of `portcullis scan tls`: a pure function of the assessments. With `color` (a
 * terminal) the grade is a coloured box; without, the output is plain aligned text with no escape
 * codes or box-drawing characters, so grep and awk can read it.
 */
import type { Assessment, EndpointAssessment, Grade, ProtocolName, SuiteStrength } from '../tls/model.js';
import { PROTOCOLS } from '../tls/model.js';

export interface ReportOptions {
  color: boolean;
}

const ANSI = {
  reset: '\u001b[0m',
  bold: '\u001b[1m',
  dim: '\u001b[2m',
  red: '\u001b[31m',
  green: '\u001b[32m',
  yellow: '\u001b[33m',
  onGreen: '\u001b[42;30m',
  onYellow: '\u001b[43;30m',
  onRed: '\u001b[41;97m',
} as const;

type Style = keyof typeof ANSI;

export function renderTlsReport(assessments: readonly Assessment[], options: ReportOptions): string {
  const paint = (style: Style, text: string): string => (options.color ? `${ANSI[style]}${text}${ANSI.reset}` : text);
  return assessments.map((a) => renderAssessment(a, paint, options.color)).join('\n');
}

type Paint = (style: Style, text: string) => string;

/** engine=both: one line per point where the native engine and SSL Labs disagree. */
export function renderDisagreements(items: ReadonlyArray<{ host: string; port: number; ip: string; aspect: string; native: string; ssllabs: string }>): string {
  if (items.length === 0) return '\nnative engine and SSL Labs agree\n';
  const rows = [['target', 'address', 'aspect', 'native', 'SSL Labs'], ...items.map((d) => [`${d.host}:${d.port}`, d.ip, d.aspect, d.native, d.ssllabs])];
  return `\nwhere the native engine and SSL Labs disagree:\n${columns(rows, '  ').join('\n')}\n`;
}

function renderAssessment(a: Assessment, paint: Paint, boxed: boolean): string {
  const seconds = ((Date.parse(a.finishedAt) - Date.parse(a.startedAt)) / 1000).toFixed(1);
  const name = a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
  const lines = [
    paint('bold', name) + `  SNI ${a.sni ?? '(none)'}  ${a.endpoints.length} address(es), assessed in ${seconds} s (${a.engine} engine, rating guide ${a.criteriaVersion})`,
  ];
  if (a.fallback !== undefined) lines.push(`  not sent to SSL Labs: ${a.fallback.reason}; assessed by the native engine`);
  for (const note of a.notes ?? []) lines.push(`  note: ${note}`);
  if (a.endpoints.length === 0) lines.push('  no address to assess');
  for (const e of a.endpoints) lines.push('', ...renderEndpoint(e, paint, boxed));
  return `${lines.join('\n')}\n`;
}

function gradeStyle(grade: Grade): { fg: Style; bg: Style } {
  if (grade.startsWith('A')) return { fg: 'green', bg: 'onGreen' };
  if (grade === 'B' || grade === 'C') return { fg: 'yellow', bg: 'onYellow' };
  return { fg: 'red', bg: 'onRed' };
}

function renderEndpoint(e: EndpointAssessment, paint: Paint, boxed: boolean): string[] {
  if (e.status === 'error' || e.grade === null) {
    return [`  ${paint('bold', e.ip)}  ${paint('red', 'could not be assessed')}: ${e.error?.message ?? 'unknown error'}${e.error ? ` [${e.error.code}]` : ''}`];
  }
  const lines: string[] = [];
  const scores = e.scores ? `protocol ${e.scores.protocol}, key exchange ${e.scores.keyExchange}, cipher ${e.scores.cipher}` : '';
  const trustIgnored = e.gradeTrustIgnored !== null && e.gradeTrustIgnored !== e.grade ? `if trusted: ${e.gradeTrustIgnored}` : '';
  const aside = [trustIgnored, scores].filter(Boolean).join('; ');
  if (boxed) {
    const label = ` ${e.grade.padEnd(2)} `;
    const { bg } = gradeStyle(e.grade);
    lines.push(`  ${paint('bold', e.ip)}`);
    lines.push(`    ┌${'─'.repeat(label.length + 2)}┐`);
    lines.push(`    │ ${paint(bg, paint('bold', label))} │  ${aside}`);
    lines.push(`    └${'─'.repeat(label.length + 2)}┘`);
  } else {
    lines.push(`  ${e.ip}  grade ${e.grade}${aside ? `  (${aside})` : ''}`);
  }
  if (e.caps.length > 0) {
    lines.push('', '  Why not better');
    for (const cap of e.caps) {
      lines.push(`    ${paint(gradeStyle(cap.grade).fg, cap.grade.padEnd(2))}  ${cap.reason} [${cap.rule}]`);
      lines.push(`        fix: ${cap.fix}`);
    }
  }
  lines.push('', '  Protocols', ...columns(protocolRows(e, paint), '    '));
  if (e.suites.length > 0) lines.push('', '  Cipher suites', ...suiteLines(e, paint));
  lines.push(...certificateLines(e, paint));
  if (e.findings.length > 0) {
    lines.push('', '  Findings');
    for (const f of e.findings) {
      const severity = f.severity === 'critical' || f.severity === 'high' ? paint('red', f.severity) : f.severity === 'medium' ? paint('yellow', f.severity) : f.severity;
      lines.push(`    [${severity}] ${f.title}: ${f.detail}`);
      lines.push(`        fix: ${f.fix}`);
    }
  }
  if (e.warnings.length > 0) lines.push('', '  Warnings', ...e.warnings.map((w) => `    ${paint('dim', w)}`));
  return lines;
}

/** Legacy protocols accepted are bad news, modern ones refused are a missed chance. */
const LEGACY = new Set<ProtocolName>(['SSLv2', 'SSLv3', 'TLSv1.0', 'TLSv1.1']);

function protocolRows(e: EndpointAssessment, paint: Paint): string[][] {
  const byName = new Map(e.protocols.map((p) => [p.name, p]));
  return [...PROTOCOLS].reverse().map((name) => {
    const p = byName.get(name);
    if (p === undefined) return [name, paint('dim', 'not tested')];
    if (p.error !== undefined) return [name, paint('yellow', `unknown (${p.error})`)];
    if (p.supported) return [name, LEGACY.has(name) ? paint('red', 'yes (insecure)') : paint('green', 'yes')];
    return [name, LEGACY.has(name) ? 'no' : paint('yellow', 'no')];
  });
}

const STRENGTH_MARK: Record<SuiteStrength, { text: string; style: Style }> = {
  secure: { text: 'ok', style: 'green' },
  weak: { text: 'WEAK', style: 'yellow' },
  insecure: { text: 'INSECURE', style: 'red' },
};

function suiteLines(e: EndpointAssessment, paint: Paint): string[] {
  const lines: string[] = [];
  const protocols = [...PROTOCOLS].reverse().filter((p) => e.suites.some((s) => s.protocol === p));
  for (const protocol of protocols) {
    const preference = e.suitePreference.find((p) => p.protocol === protocol)?.preference;
    const order = preference === 'server' ? ' (server order)' : preference === 'client' ? ' (client order)' : '';
    lines.push(`    ${protocol}${order}`);
    const rows = e.suites
      .filter((s) => s.protocol === protocol)
      .map((s) => {
        const mark = STRENGTH_MARK[s.strength];
        const kx = s.kxDetail?.group ?? (s.kxDetail?.bits !== undefined ? `${s.kxDetail.type} ${s.kxDetail.bits}` : '');
        return [paint(mark.style, mark.text), s.code, s.iana, `${s.bits} bits`, [s.fs ? 'FS' : 'no FS', s.aead ? 'AEAD' : s.cbc ? 'CBC' : ''].filter(Boolean).join(' '), kx];
      });
    lines.push(...columns(rows, '      '));
  }
  return lines;
}

function certificateLines(e: EndpointAssessment, paint: Paint): string[] {
  const chain = e.certificates[0];
  const leaf = chain?.served[0];
  if (chain === undefined || leaf === undefined) return [];
  const day = (iso: string): string => iso.slice(0, 10);
  const expiry = leaf.daysToExpiry < 0 ? paint('red', `EXPIRED ${-leaf.daysToExpiry} days ago`) : leaf.daysToExpiry < 30 ? paint('yellow', `${leaf.daysToExpiry} days left`) : `${leaf.daysToExpiry} days left`;
  const rows = [
    ['subject', leaf.subject],
    ['alt names', leaf.altNames.join(', ') || '(none)'],
    ['issuer', leaf.issuer],
    ['expires', `${day(chain.leafExpiry)} (${expiry})${chain.earliestExpiry !== chain.leafExpiry ? `; earliest on the path ${day(chain.earliestExpiry)}` : ''}`],
    ['key', `${leaf.keyAlg} ${leaf.keySize} bits${leaf.curve ? ` (${leaf.curve})` : ''}, signed ${leaf.sigAlg}`],
    ['trusted', chain.trusted ? paint('green', 'yes') : paint('red', `no: ${chain.trustError ?? 'no path to a trusted root'}`)],
    ['host name', chain.hostnameMatch ? paint('green', 'matches') : paint('red', 'DOES NOT MATCH')],
    ['chain', `${chain.served.length} served${chainIssues(chain.issues)}`],
    ['sha256', leaf.sha256],
  ];
  return ['', '  Certificate', ...columns(rows, '    ')];
}

function chainIssues(issues: NonNullable<EndpointAssessment['certificates'][number]>['issues']): string {
  const named = [
    issues.incomplete && 'incomplete',
    issues.extraCerts && 'extra certificates',
    issues.wrongOrder && 'wrong order',
    issues.rootIncluded && 'root included',
    issues.cannotValidate && 'cannot validate',
  ].filter((x): x is string => typeof x === 'string');
  return named.length > 0 ? `; ${named.join(', ')}` : '';
}

// eslint-disable-next-line no-control-regex
const ESCAPES = /\u001b\[[0-9;]*m/g;

/** Left-aligned columns, padded by visible width (colour codes take no room). */
function columns(rows: string[][], indent: string): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.replace(ESCAPES, '').length)));
  return rows.map((row) =>
    (indent + row.map((cell, i) => (i === row.length - 1 ? cell : cell + ' '.repeat((widths[i] ?? 0) - cell.replace(ESCAPES, '').length))).join('  ')).trimEnd(),
  );
}
