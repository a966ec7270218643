/** Scores plus rules → the SSL Labs-style letter, the caps behind it, and the trust-ignored grade. */
import type { EndpointFacts, Grade, GradeCap, GradeResult } from '../model.js';
import { GRADE_RULES } from './rules.js';
import { baseGrade, scoreEndpoint } from './scores.js';
import type { GradeContext, GradeRule, RuleEvidence } from './types.js';

/** Letter grades from best to worst; T and M stand outside this scale and override it. */
const LETTER_ORDER: readonly Grade[] = ['A+', 'A', 'A-', 'B', 'C', 'D', 'E', 'F'];

const worse = (a: Grade, b: Grade): Grade => (LETTER_ORDER.indexOf(a) >= LETTER_ORDER.indexOf(b) ? a : b);

interface AppliedRule {
  rule: GradeRule;
  evidence: RuleEvidence;
}

const EFFECT_WORDING: Readonly<Record<GradeCap['effect'], (grade: Grade) => string>> = {
  set: (grade) => `graded ${grade}`,
  cap: (grade) => `capped at ${grade}`,
  warning: (grade) => `warning, capped at ${grade}`,
  'no-a-plus': () => 'no A+',
};

function toCap({ rule, evidence }: AppliedRule): GradeCap {
  const basis = evidence.basis === undefined ? '' : ` [${evidence.basis}]`;
  return {
    rule: rule.rule,
    effect: rule.effect,
    grade: rule.grade,
    reason: `${EFFECT_WORDING[rule.effect](rule.grade)}: ${rule.reason(evidence)}${basis}`,
    fix: rule.fix,
  };
}

/** Base letter lowered by every cap, set and warning; A becomes A+ only when nothing at all held it back. */
function letterGrade(total: number, rules: readonly GradeRule[]): Grade {
  const grade = rules.filter((r) => r.effect !== 'no-a-plus').reduce((g, r) => worse(g, r.grade), baseGrade(total));
  const heldBack = rules.some((r) => r.effect === 'warning' || r.effect === 'no-a-plus');
  return grade === 'A' && !heldBack ? 'A+' : grade;
}

/** The grade under rating guide 2009r. A name mismatch (M) wins over other trust failures (T), which win over every letter. */
export function gradeEndpoint(facts: EndpointFacts, context: GradeContext): GradeResult {
  const scores = scoreEndpoint(facts);
  const applied = GRADE_RULES.flatMap((rule): AppliedRule[] => {
    const evidence = rule.appliesTo(facts, context);
    return evidence ? [{ rule, evidence }] : [];
  });
  const trustRules = applied.filter((a) => a.rule.trust).map((a) => a.rule);
  const gradeTrustIgnored = letterGrade(
    scores.total,
    applied.filter((a) => !a.rule.trust).map((a) => a.rule),
  );
  const trustGrade = trustRules.find((r) => r.grade === 'M')?.grade ?? trustRules[0]?.grade;
  const grade = trustGrade ?? gradeTrustIgnored;
  return {
    grade,
    gradeTrustIgnored,
    scores,
    caps: applied.map(toCap),
    hasWarnings: applied.some((a) => a.rule.effect === 'warning'),
    isExceptional: grade === 'A+',
  };
}
