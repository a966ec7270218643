/**
 * What changed between two assessments of the same service, endpoint by endpoint (matched by IP).
 * Pure: reads only the Assessment model, so it works for either engine and for stored history.
 */
import type { Assessment, EndpointAssessment, Finding, FindingSeverity, Grade, GradeCap, ProtocolName, SuiteStrength } from './model.js';

/**
 * Grades from best to worst. F, T and M all fail; F ranks last because it fails on the protocol
 * configuration itself, while T and M would pass once the certificate is fixed.
 */
export const GRADE_ORDER: readonly Grade[] = ['A+', 'A', 'A-', 'B', 'C', 'D', 'E', 'T', 'M', 'F'];

/** Position in GRADE_ORDER: lower is better. */
export function gradeRank(grade: Grade): number {
  return GRADE_ORDER.indexOf(grade);
}

/** The worst grade among the endpoints that were graded; null when none was. */
export function worstGrade(grades: ReadonlyArray<Grade | null>): Grade | null {
  let worst: Grade | null = null;
  for (const g of grades) if (g !== null && (worst === null || gradeRank(g) > gradeRank(worst))) worst = g;
  return worst;
}

export interface GradeChange {
  from: Grade | null;
  to: Grade | null;
  /** better/worse by GRADE_ORDER; `unknown` when either side has no grade. */
  direction: 'better' | 'worse' | 'same' | 'unknown';
}

export interface SuiteRef {
  code: string;
  iana: string;
  strength: SuiteStrength;
}

export interface SuiteChanges {
  protocol: ProtocolName;
  added: SuiteRef[];
  removed: SuiteRef[];
}

export interface CertificateChange {
  /** Leaf certificate replaced (different SHA-256). */
  changed: boolean;
  leafSha256: { from: string | null; to: string | null };
  leafExpiry: { from: string | null; to: string | null };
  /** Earliest notAfter on the validated path: an intermediate can expire before the leaf. */
  earliestExpiry: { from: string | null; to: string | null };
  subject: { from: string | null; to: string | null };
}

export interface FindingRef {
  id: string;
  severity: FindingSeverity;
  title: string;
}

export interface EndpointComparison {
  ip: string;
  /** appeared/disappeared: the address is in only one assessment; then only the grade is compared. */
  change: 'appeared' | 'disappeared' | 'changed' | 'unchanged';
  status: { from: EndpointAssessment['status'] | null; to: EndpointAssessment['status'] | null };
  grade: GradeChange;
  gradeTrustIgnored: GradeChange;
  protocols: { added: ProtocolName[]; removed: ProtocolName[] };
  /** Only protocols where something changed. */
  suites: SuiteChanges[];
  certificate: CertificateChange;
  findings: { new: FindingRef[]; fixed: FindingRef[] };
  caps: { new: GradeCap[]; removed: GradeCap[] };
}

export interface AssessmentComparison {
  a: AssessmentRef;
  b: AssessmentRef;
  /** True when any endpoint appeared, disappeared or changed. */
  changed: boolean;
  endpoints: EndpointComparison[];
}

export interface AssessmentRef {
  host: string;
  port: number;
  sni: string | null;
  engine: Assessment['engine'];
  criteriaVersion: string;
  startedAt: string;
  finishedAt: string;
}

/** Compares assessment `a` (before) with `b` (after). Endpoints are listed in address order of b, then those only in a. */
export function compareAssessments(a: Assessment, b: Assessment): AssessmentComparison {
  const before = new Map(a.endpoints.map((e) => [e.ip, e]));
  const after = new Map(b.endpoints.map((e) => [e.ip, e]));
  const ips = [...b.endpoints.map((e) => e.ip), ...a.endpoints.map((e) => e.ip).filter((ip) => !after.has(ip))];
  const endpoints = ips.map((ip) => compareEndpoints(ip, before.get(ip), after.get(ip)));
  return { a: refOf(a), b: refOf(b), changed: endpoints.some((e) => e.change !== 'unchanged'), endpoints };
}

function refOf(x: Assessment): AssessmentRef {
  return { host: x.host, port: x.port, sni: x.sni, engine: x.engine, criteriaVersion: x.criteriaVersion, startedAt: x.startedAt, finishedAt: x.finishedAt };
}

function compareEndpoints(ip: string, a: EndpointAssessment | undefined, b: EndpointAssessment | undefined): EndpointComparison {
  const grade = gradeChange(a?.grade ?? null, b?.grade ?? null);
  const gradeTrustIgnored = gradeChange(a?.gradeTrustIgnored ?? null, b?.gradeTrustIgnored ?? null);
  const status = { from: a?.status ?? null, to: b?.status ?? null };
  if (a === undefined || b === undefined) {
    return {
      ip,
      change: a === undefined ? 'appeared' : 'disappeared',
      status,
      grade,
      gradeTrustIgnored,
      protocols: { added: [], removed: [] },
      suites: [],
      certificate: certificateChange(a, b),
      findings: { new: [], fixed: [] },
      caps: { new: [], removed: [] },
    };
  }
  const protocols = setChanges(supportedProtocols(a), supportedProtocols(b));
  const suites = suiteChanges(a, b);
  const certificate = certificateChange(a, b);
  const findings = keyedChanges(a.findings, b.findings, (f) => f.id);
  const caps = keyedChanges(a.caps, b.caps, (c) => c.rule);
  const comparison = {
    ip,
    status,
    grade,
    gradeTrustIgnored,
    protocols: { added: protocols.added, removed: protocols.removed },
    suites,
    certificate,
    findings: { new: findings.added.map(findingRef), fixed: findings.removed.map(findingRef) },
    caps: { new: caps.added, removed: caps.removed },
  };
  const changed =
    status.from !== status.to ||
    grade.direction !== 'same' ||
    gradeTrustIgnored.direction !== 'same' ||
    protocols.added.length + protocols.removed.length > 0 ||
    suites.length > 0 ||
    certificate.changed ||
    certificate.leafExpiry.from !== certificate.leafExpiry.to ||
    certificate.earliestExpiry.from !== certificate.earliestExpiry.to ||
    findings.added.length + findings.removed.length > 0 ||
    caps.added.length + caps.removed.length > 0;
  return { ...comparison, change: changed ? 'changed' : 'unchanged' };
}

function gradeChange(from: Grade | null, to: Grade | null): GradeChange {
  if (from === to) return { from, to, direction: from === null ? 'unknown' : 'same' };
  if (from === null || to === null) return { from, to, direction: 'unknown' };
  return { from, to, direction: gradeRank(to) < gradeRank(from) ? 'better' : 'worse' };
}

function supportedProtocols(e: EndpointAssessment): ProtocolName[] {
  return e.protocols.filter((p) => p.supported).map((p) => p.name);
}

function setChanges<T>(a: readonly T[], b: readonly T[]): { added: T[]; removed: T[] } {
  return { added: b.filter((x) => !a.includes(x)), removed: a.filter((x) => !b.includes(x)) };
}

function keyedChanges<T>(a: readonly T[], b: readonly T[], key: (x: T) => string): { added: T[]; removed: T[] } {
  const inA = new Set(a.map(key));
  const inB = new Set(b.map(key));
  return { added: b.filter((x) => !inA.has(key(x))), removed: a.filter((x) => !inB.has(key(x))) };
}

function suiteChanges(a: EndpointAssessment, b: EndpointAssessment): SuiteChanges[] {
  const out: SuiteChanges[] = [];
  const protocols = [...new Set([...a.suites, ...b.suites].map((s) => s.protocol))];
  for (const protocol of protocols) {
    const { added, removed } = keyedChanges(
      a.suites.filter((s) => s.protocol === protocol),
      b.suites.filter((s) => s.protocol === protocol),
      (s) => s.code,
    );
    if (added.length + removed.length === 0) continue;
    const ref = (s: SuiteRef): SuiteRef => ({ code: s.code, iana: s.iana, strength: s.strength });
    out.push({ protocol, added: added.map(ref), removed: removed.map(ref) });
  }
  return out;
}

function certificateChange(a: EndpointAssessment | undefined, b: EndpointAssessment | undefined): CertificateChange {
  // The first chain is the one served for the SNI the assessment used.
  const chainA = a?.certificates[0];
  const chainB = b?.certificates[0];
  const leafA = chainA?.served[0];
  const leafB = chainB?.served[0];
  const pair = <T>(x: T | undefined, y: T | undefined) => ({ from: x ?? null, to: y ?? null });
  return {
    changed: leafA !== undefined && leafB !== undefined && leafA.sha256 !== leafB.sha256,
    leafSha256: pair(leafA?.sha256, leafB?.sha256),
    leafExpiry: pair(chainA?.leafExpiry, chainB?.leafExpiry),
    earliestExpiry: pair(chainA?.earliestExpiry, chainB?.earliestExpiry),
    subject: pair(leafA?.subject, leafB?.subject),
  };
}

function findingRef(f: Finding): FindingRef {
  return { id: f.id, severity: f.severity, title: f.title };
}

/** One point where two assessments differ, said as text a user reads in a table. */
export interface ComparisonPoint {
  /** The endpoint address, or `*` for the assessment as a whole. */
  ip: string;
  aspect: 'endpoint' | 'criteria' | 'grade' | 'gradeTrustIgnored' | 'protocols' | 'suites' | 'certificate' | 'findings';
  /** Assessment a's side ("only here: …" for sets). */
  a: string;
  b: string;
}

const listed = (items: readonly string[]): string => (items.length === 0 ? '—' : items.join(', '));

/**
 * A comparison flattened into points: endpoints only one side assessed, criteria version, grades,
 * protocols, suites per protocol, the leaf certificate and findings. Used for history ("what
 * changed") and for engine disagreements.
 */
export function comparisonPoints(c: AssessmentComparison): ComparisonPoint[] {
  const out: ComparisonPoint[] = [];
  if (c.a.criteriaVersion !== c.b.criteriaVersion) out.push({ ip: '*', aspect: 'criteria', a: c.a.criteriaVersion, b: c.b.criteriaVersion });
  for (const e of c.endpoints) {
    if (e.change === 'appeared' || e.change === 'disappeared') {
      const inB = e.change === 'appeared';
      out.push({ ip: e.ip, aspect: 'endpoint', a: inB ? 'not assessed' : 'assessed', b: inB ? 'assessed' : 'not assessed' });
      continue;
    }
    if (e.change === 'unchanged') continue;
    if (e.grade.direction !== 'same') out.push({ ip: e.ip, aspect: 'grade', a: String(e.grade.from), b: String(e.grade.to) });
    if (e.gradeTrustIgnored.direction !== 'same') out.push({ ip: e.ip, aspect: 'gradeTrustIgnored', a: String(e.gradeTrustIgnored.from), b: String(e.gradeTrustIgnored.to) });
    if (e.protocols.added.length + e.protocols.removed.length > 0) {
      out.push({ ip: e.ip, aspect: 'protocols', a: `only here: ${listed(e.protocols.removed)}`, b: `only here: ${listed(e.protocols.added)}` });
    }
    for (const s of e.suites) {
      out.push({ ip: e.ip, aspect: 'suites', a: `${s.protocol} only here: ${listed(s.removed.map((r) => r.iana))}`, b: `${s.protocol} only here: ${listed(s.added.map((r) => r.iana))}` });
    }
    if (e.certificate.changed) out.push({ ip: e.ip, aspect: 'certificate', a: `leaf ${String(e.certificate.leafSha256.from)}`, b: `leaf ${String(e.certificate.leafSha256.to)}` });
    if (e.findings.new.length + e.findings.fixed.length > 0) {
      out.push({ ip: e.ip, aspect: 'findings', a: `only here: ${listed(e.findings.fixed.map((f) => f.id))}`, b: `only here: ${listed(e.findings.new.map((f) => f.id))}` });
    }
  }
  return out;
}
