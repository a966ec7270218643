/** Public surface of the tls domain: the native assessment engine, its result model, trust stores and the grading criteria. */
export { assess, type AssessOptions, type AssessTarget } from './assess.js';
export { nativeTlsEngine, type BoundAssess } from './engine.js';
export type * from './model.js';
export { PROTOCOLS } from './model.js';
export { loadTrustStore, type TrustStore, type TrustStoreOptions } from './cert/index.js';
export { CRITERIA_VERSION, gradeEndpoint } from './grade/index.js';
export { findingsFor } from './findings.js';
export { compareAssessments, worstGrade, GRADE_ORDER, type AssessmentComparison } from './compare.js';
