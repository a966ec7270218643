/**
 * The engine-agnostic TLS assessment model. The native engine (tls/assess.ts) and the SSL Labs
 * backend (later) both produce an `Assessment`; grading, diff, store, API, CLI and alerts read only this.
 * Field names follow SSL Labs' where one exists so users can map between the two.
 */

export type ProtocolName = 'SSLv2' | 'SSLv3' | 'TLSv1.0' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
export const PROTOCOLS: readonly ProtocolName[] = ['SSLv2', 'SSLv3', 'TLSv1.0', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/** secure: fine today; weak: works but should go (CBC-SHA1 without FS, 3DES…); insecure: broken (NULL, EXPORT, RC4, anon, DES, MD5…). */
export type SuiteStrength = 'secure' | 'weak' | 'insecure';

/** Static facts about one cipher suite, from the catalogue in tls/wire/catalogue/. */
export interface CipherSuiteInfo {
  /** IANA code point, e.g. 0xc02f (SSLv2 kinds use their 3-byte code). */
  id: number;
  /** The code as users see it: "0xC02F" (SSLv2: "0x010080"). */
  code: string;
  iana: string;
  /** OpenSSL's name, null when OpenSSL has none. */
  openssl: string | null;
  /** Key exchange: RSA, DHE, ECDHE, DH, ECDH, PSK, DHE-PSK, ECDHE-PSK, RSA-PSK, SRP, KRB5, ANY (TLS 1.3)… */
  kx: string;
  /** Authentication: RSA, ECDSA, DSS, anon, PSK, NULL, ANY (TLS 1.3)… */
  auth: string;
  /** Bulk cipher as a short name: AES-128-GCM, CHACHA20-POLY1305, 3DES-EDE-CBC, RC4-128, NULL… */
  cipher: string;
  /** Effective symmetric key bits (export suites: 40/56; NULL: 0). */
  bits: number;
  /** Block size in bits for block ciphers (64 → SWEET32), null for stream/AEAD-stream. */
  blockBits: number | null;
  /** MAC/PRF hash name, e.g. SHA256, SHA, MD5, or AEAD. */
  mac: string;
  aead: boolean;
  /** Forward secrecy: ephemeral (EC)DH key exchange, or any TLS 1.3 suite. */
  fs: boolean;
  export: boolean;
  anonymous: boolean;
  /** CBC mode (for BEAST/POODLE/Lucky13 style findings). */
  cbc: boolean;
  strength: SuiteStrength;
  /** Protocols this suite can be negotiated on. */
  protocols: readonly ProtocolName[];
}

export interface ProtocolSupport {
  name: ProtocolName;
  supported: boolean;
  /** Why the probe could not decide (timeout, reset…); absent when the answer was clear. */
  error?: string;
}

/** Key exchange parameters the server used when a suite was accepted. */
export interface KeyExchangeDetail {
  type: 'RSA' | 'DH' | 'ECDH';
  /** Named group for ECDH (and TLS 1.3 FFDHE), e.g. x25519, secp256r1, ffdhe2048. */
  group?: string;
  /** Real size in bits: DH prime bits, curve bits, RSA export key bits. */
  bits?: number;
  /** RSA-equivalent strength (NIST SP 800-57), as SSL Labs' kxStrength. */
  rsaEquivalentBits?: number;
}

export interface SuiteResult extends CipherSuiteInfo {
  protocol: ProtocolName;
  kxDetail?: KeyExchangeDetail;
}

export interface SuitePreference {
  protocol: ProtocolName;
  /** server: server enforces its own order (suites listed in it); client: follows client order; null: could not tell (one suite). */
  preference: 'server' | 'client' | null;
}

export interface NamedGroupResult {
  id: number;
  name: string;
  /** Curve or FFDHE prime size. */
  bits: number;
  type: 'ec' | 'ffdhe' | 'hybrid-pq';
  rsaEquivalentBits: number;
}

export interface DhParameters {
  primeBits: number;
  generator: number | null;
  /** Name of a well-known prime (RFC 7919 ffdhe2048, RFC 3526 group 14, RFC 2409 Oakley 2, Apache/nginx defaults…), null if custom. */
  knownPrime: string | null;
  /** True for known primes considered weak (≤1024-bit common primes: Logjam precomputation). */
  weakKnownPrime: boolean;
}

export interface CertificateInfo {
  subject: string;
  commonNames: string[];
  /** DNS and IP subjectAltNames as "DNS:name" / "IP:addr". */
  altNames: string[];
  issuer: string;
  serialNumber: string;
  notBefore: string;
  notAfter: string;
  /** Whole days from assessment time to notAfter (negative once expired). */
  daysToExpiry: number;
  keyAlg: 'RSA' | 'EC' | 'DSA' | 'Ed25519' | 'Ed448' | 'RSA-PSS' | 'unknown';
  keySize: number;
  /** RSA-equivalent key strength (EC 256 → 3072). */
  keyStrength: number;
  /** RSA public exponent (exponent 1 → F). */
  rsaExponent?: number;
  /** EC curve name, e.g. prime256v1. */
  curve?: string;
  /** e.g. SHA256withRSA, SHA1withRSA, SHA384withECDSA, MD5withRSA. */
  sigAlg: string;
  sha1: string;
  sha256: string;
  /** base64 SHA-256 of the SubjectPublicKeyInfo (HPKP pin). */
  pinSha256: string;
  ocspUrls: string[];
  crlUrls: string[];
  mustStaple: boolean;
  /** Number of embedded SCTs. */
  sctCount: number;
  selfSigned: boolean;
  isCa: boolean;
  pem: string;
}

export interface ChainIssues {
  /** Served chain does not reach a trusted root, but one could be built with extra intermediates from the trust store/CA files. */
  incomplete: boolean;
  /** Served certificates not on the path (unrelated or duplicate). */
  extraCerts: boolean;
  wrongOrder: boolean;
  /** The served chain contains the self-signed root. */
  rootIncluded: boolean;
  /** No path to any trusted root could be built. */
  cannotValidate: boolean;
}

export interface CertificateChainResult {
  /** Certificates exactly as served, leaf first. */
  served: CertificateInfo[];
  /** sha256 of each certificate on the validated path, leaf → root (the root may come from the trust store). */
  trustPath: string[];
  trusted: boolean;
  /** Why trust failed, in words: "certificate expired 3 days ago", "self-signed", "unknown issuer CN=…". */
  trustError: string | null;
  /** Did the leaf match the host name (incl. wildcards)? */
  hostnameMatch: boolean;
  issues: ChainIssues;
  /** Leaf notAfter and the earliest notAfter along the path. */
  leafExpiry: string;
  earliestExpiry: string;
  /** Which SNI produced this chain (null when sent without SNI). */
  sni: string | null;
}

export interface HstsPolicy {
  status: 'absent' | 'present' | 'invalid' | 'disabled' | 'unknown';
  header: string | null;
  maxAge: number | null;
  includeSubDomains: boolean;
  preload: boolean;
  error?: string;
}

export interface HttpInfo {
  status: number | null;
  server: string | null;
  hsts: HstsPolicy;
  error?: string;
}

export interface ProtocolFeatures {
  /** RFC 5746 renegotiation_info echoed. */
  secureRenegotiation: boolean | null;
  /** Server accepts TLS_FALLBACK_SCSV downgrade protection (true = protected); null when only one protocol. */
  fallbackScsv: boolean | null;
  /** Server accepted DEFLATE compression (CRIME). */
  compression: boolean | null;
  sessionResumption: {
    /** enabled: resumed by id; ids-not-resumed: ids issued but not resumed; disabled: no id. */
    ids: 'enabled' | 'ids-not-resumed' | 'disabled' | null;
    tickets: boolean | null;
  };
  ocspStapling: boolean | null;
  alpn: string[];
  extendedMasterSecret: boolean | null;
  /** Server refuses or serves a different certificate without SNI. */
  sniRequired: boolean | null;
  heartbeat: boolean | null;
}

export interface SimulatedClient {
  id: string;
  name: string;
  version: string;
  /** SSL Labs "reference" clients: caps (FS, AEAD, RC4/3DES with modern) depend on these only. */
  isReference: boolean;
}

export interface SimulationResult {
  client: SimulatedClient;
  ok: boolean;
  protocol?: ProtocolName;
  suite?: { code: string; iana: string };
  group?: string;
  fs?: boolean;
  aead?: boolean;
  error?: string;
}

/** Active vulnerability probes (Heartbleed, CCS injection, Ticketbleed, ROBOT, padding oracles) land here later. */
export type VulnerabilityStatus = 'not-tested' | 'not-vulnerable' | 'vulnerable' | 'error';
export interface VulnerabilityResult {
  id: string;
  status: VulnerabilityStatus;
  detail?: string;
}

export type FindingSeverity = 'critical' | 'high' | 'medium' | 'low' | 'info';
export interface Finding {
  /** Stable id, e.g. sslv2, poodle-sslv3, freak, logjam, sweet32, rc4, null-suites, anon-suites, crime, beast, insecure-renegotiation. */
  id: string;
  severity: FindingSeverity;
  title: string;
  detail: string;
  fix: string;
  evidence?: string[];
}

export type Grade = 'A+' | 'A' | 'A-' | 'B' | 'C' | 'D' | 'E' | 'F' | 'T' | 'M';

export interface GradeCap {
  /** Stable rule id, e.g. tls10-enabled, no-tls13, sslv3-enabled, weak-dh, untrusted. */
  rule: string;
  /** cap: grade ≤ `grade`; set: grade = `grade` (T, M, F); warning: A → A-; no-a-plus: blocks A+ only. */
  effect: 'cap' | 'set' | 'warning' | 'no-a-plus';
  grade: Grade;
  /** "capped at B: TLS 1.0 is enabled" */
  reason: string;
  /** "disable TLS 1.0 and 1.1" */
  fix: string;
}

export interface GradeScores {
  protocol: number;
  keyExchange: number;
  cipher: number;
  total: number;
}

export interface GradeResult {
  grade: Grade;
  /** The grade as if certificate trust were fine (SSL Labs gradeTrustIgnored). */
  gradeTrustIgnored: Grade;
  scores: GradeScores;
  caps: GradeCap[];
  hasWarnings: boolean;
  isExceptional: boolean;
}

/** Everything measured about one endpoint; input to findings and to the grader. */
export interface EndpointFacts {
  ip: string;
  protocols: ProtocolSupport[];
  suites: SuiteResult[];
  suitePreference: SuitePreference[];
  groups: NamedGroupResult[];
  /** null: could not tell; true: server enforces its group order. */
  groupPreference: boolean | null;
  dhParameters: DhParameters[];
  certificates: CertificateChainResult[];
  features: ProtocolFeatures;
  http: HttpInfo | null;
  simulations: SimulationResult[];
  vulnerabilities: VulnerabilityResult[];
}

export interface EndpointAssessment extends EndpointFacts {
  status: 'ready' | 'error';
  /** Grade fields are null when status is error. */
  grade: Grade | null;
  gradeTrustIgnored: Grade | null;
  scores: GradeScores | null;
  caps: GradeCap[];
  hasWarnings: boolean;
  isExceptional: boolean;
  /** When status is error: what went wrong, e.g. "connection refused", "no TLS on this port". */
  error?: { code: string; message: string };
  findings: Finding[];
  durationMs: number;
  /** TCP connections the assessment opened. */
  connections: number;
  /** Probe-level problems that did not stop the assessment ("suites TLSv1.0: timeout after 5000 ms"). */
  warnings: string[];
}

export interface Assessment {
  host: string;
  port: number;
  /** SNI sent (null for IP targets without --sni). */
  sni: string | null;
  engine: 'native' | 'ssllabs';
  engineVersion: string;
  criteriaVersion: string;
  startedAt: string;
  finishedAt: string;
  endpoints: EndpointAssessment[];
  /** Set when SSL Labs was asked for but may not assess this target (private address, not port 443…), so the native engine did. */
  fallback?: { requested: 'ssllabs'; reason: string };
  /** Things worth knowing about the assessment as a whole (SSL Labs restarted it, a poll was retried…). */
  notes?: string[];
}

/** Features not measured (endpoint unreachable, or the engine reported none). */
export const UNKNOWN_FEATURES: ProtocolFeatures = {
  secureRenegotiation: null,
  fallbackScsv: null,
  compression: null,
  sessionResumption: { ids: null, tickets: null },
  ocspStapling: null,
  alpn: [],
  extendedMasterSecret: null,
  sniRequired: null,
  heartbeat: null,
};

/** The facts of an endpoint about which nothing but its protocol answers is known. */
export function emptyEndpointFacts(ip: string, protocols: ProtocolSupport[]): EndpointFacts {
  return {
    ip,
    protocols,
    suites: [],
    suitePreference: [],
    groups: [],
    groupPreference: null,
    dhParameters: [],
    certificates: [],
    features: UNKNOWN_FEATURES,
    http: null,
    simulations: [],
    vulnerabilities: [],
  };
}
