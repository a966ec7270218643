/** Static TLS facts the wire builders, parsers, probes and grader look up: suites, groups, signature schemes, DH primes, versions. */
export { CIPHER_SUITES, SCSV, SSLV2_CIPHER_KINDS, isIanaRegistered, suiteById, suiteByName, suitesForProtocol } from './suites.js';
export { NAMED_GROUPS, groupById, groupByName, rsaEquivalentBits, type NamedGroupInfo } from './groups.js';
export { SIGNATURE_SCHEMES, signatureSchemeById, type SignatureSchemeInfo } from './signature-schemes.js';
export { identifyDhPrime, knownDhPrimes, type KnownDhPrime } from './dh-primes.js';
export { PROTOCOL_VERSIONS, protocolFromVersion } from './protocols.js';
export { parseSuiteName, type SuiteTraits } from './suite-name.js';
