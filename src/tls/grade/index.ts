/** SSL Labs-compatible rating (rating guide 2009r) and the fact queries it shares with the findings. Pure: no I/O. */
export const CRITERIA_VERSION = '2009r';
export type { GradeContext, GradeRule, RuleEvidence } from './types.js';
export { gradeEndpoint } from './grade.js';
export { GRADE_RULES, LONG_HSTS_MAX_AGE } from './rules.js';
export { scoreEndpoint } from './scores.js';
export {
  KNOWN_VULNERABILITIES,
  bestProtocol,
  describeKey,
  describeSuite,
  dhPrimeSizes,
  hasSmallBlock,
  isNullCipher,
  isRc4,
  keyStrength,
  leafCertificate,
  protocolLabel,
  referenceClientProblem,
  servedChain,
  suitesOn,
  supportedProtocols,
  supports,
  usesSha1,
  type NegotiatedSuite,
  type ReferenceProblem,
} from './facts.js';
