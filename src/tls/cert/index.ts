export { analyzeChain, type AnalyzeChainOptions } from './chain.js';
export { describeCertificate } from './describe.js';
export { matchesHostname } from './hostname.js';
export { loadTrustStore, type TrustStore, type TrustStoreOptions } from './trust-store.js';
