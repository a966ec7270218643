/**
 * engine=both: where our engine and SSL Labs disagree about the same service: the history diff
 * (tls/compare.ts) with native as "a" and SSL Labs as "b", flattened into points. Pure.
 */
import { type ComparisonPoint, compareAssessments, comparisonPoints } from '../tls/compare.js';
import type { Assessment } from '../tls/model.js';

export interface Disagreement {
  /** The endpoint address, or `*` for the assessment as a whole. */
  ip: string;
  aspect: ComparisonPoint['aspect'];
  native: string;
  ssllabs: string;
}

export function engineDisagreements(native: Assessment, ssllabs: Assessment): Disagreement[] {
  return comparisonPoints(compareAssessments(native, ssllabs)).map((p) => ({ ip: p.ip, aspect: p.aspect, native: p.a, ssllabs: p.b }));
}
