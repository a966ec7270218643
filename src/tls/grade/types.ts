import type { EndpointFacts, Grade, GradeCap } from '../model.js';

export interface GradeContext {
  /** The host name the assessment was for, named in the certificate-mismatch reason. */
  host: string;
  /** Validity dates are judged against this instant. */
  now: Date;
}

/** What made a rule apply, concretely: protocols, suites, key sizes, client names. */
export interface RuleEvidence {
  items: readonly string[];
  /** How the rule was decided when not from a direct measurement, e.g. without client simulations. */
  basis?: string;
}

/** One line of the rating guide: when it applies, what it does to the grade, why, and how to fix it. */
export interface GradeRule {
  /** Stable id, kept across releases so stored caps can be compared. */
  rule: string;
  effect: GradeCap['effect'];
  grade: Grade;
  /** Certificate trust rules (T, M) are left out of gradeTrustIgnored. */
  trust?: boolean;
  appliesTo(facts: EndpointFacts, context: GradeContext): RuleEvidence | null;
  /** The finding in words, without the effect: "TLS 1.0 is enabled". */
  reason(evidence: RuleEvidence): string;
  fix: string;
}
