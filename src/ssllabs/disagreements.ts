/**
 * engine=both: where our engine and SSL Labs disagree about the same service. Built on the history
 * diff (tls/compare.ts) with native as "a" and SSL Labs as "b", and said the way a user compares two
 * tools' reports. Pure.
 */
import { compareAssessments } from '../tls/compare.js';
import type { Assessment } from '../tls/model.js';

export interface Disagreement {
  /** The endpoint address, or `*` for the assessment as a whole. */
  ip: string;
  aspect: 'endpoint' | 'criteria' | 'grade' | 'gradeTrustIgnored' | 'protocols' | 'suites' | 'certificate' | 'findings';
  native: string;
  ssllabs: string;
}

const list = (items: readonly string[]): string => (items.length === 0 ? '—' : items.join(', '));

export function engineDisagreements(native: Assessment, ssllabs: Assessment): Disagreement[] {
  const out: Disagreement[] = [];
  if (native.criteriaVersion !== ssllabs.criteriaVersion) {
    out.push({ ip: '*', aspect: 'criteria', native: native.criteriaVersion, ssllabs: ssllabs.criteriaVersion });
  }
  for (const e of compareAssessments(native, ssllabs).endpoints) {
    if (e.change === 'appeared' || e.change === 'disappeared') {
      const only = e.change === 'appeared' ? 'ssllabs' : 'native';
      out.push({ ip: e.ip, aspect: 'endpoint', native: only === 'native' ? 'assessed' : 'not assessed', ssllabs: only === 'ssllabs' ? 'assessed' : 'not assessed' });
      continue;
    }
    if (e.change === 'unchanged') continue;
    if (e.grade.direction !== 'same') out.push({ ip: e.ip, aspect: 'grade', native: String(e.grade.from), ssllabs: String(e.grade.to) });
    if (e.gradeTrustIgnored.direction !== 'same') {
      out.push({ ip: e.ip, aspect: 'gradeTrustIgnored', native: String(e.gradeTrustIgnored.from), ssllabs: String(e.gradeTrustIgnored.to) });
    }
    if (e.protocols.added.length + e.protocols.removed.length > 0) {
      out.push({ ip: e.ip, aspect: 'protocols', native: `only here: ${list(e.protocols.removed)}`, ssllabs: `only here: ${list(e.protocols.added)}` });
    }
    for (const s of e.suites) {
      out.push({
        ip: e.ip,
        aspect: 'suites',
        native: `${s.protocol} only here: ${list(s.removed.map((r) => r.iana))}`,
        ssllabs: `${s.protocol} only here: ${list(s.added.map((r) => r.iana))}`,
      });
    }
    if (e.certificate.changed) {
      out.push({ ip: e.ip, aspect: 'certificate', native: `leaf ${String(e.certificate.leafSha256.from)}`, ssllabs: `leaf ${String(e.certificate.leafSha256.to)}` });
    }
    if (e.findings.new.length + e.findings.fixed.length > 0) {
      out.push({ ip: e.ip, aspect: 'findings', native: `only here: ${list(e.findings.fixed.map((f) => f.id))}`, ssllabs: `only here: ${list(e.findings.new.map((f) => f.id))}` });
    }
  }
  return out;
}
