/**
 * The JSON the Qualys SSL Labs API (v3 and v4 share these objects) returns, as far as Portcullis reads
 * it. Field names, enums and bit meanings follow the API documentation (ssllabs-api-docs-v3.md / -v4.md).
 * Everything comes from a third party, so nearly every field is optional: SSL Labs leaves fields out
 * when a test did not run, and adds new ones without a version change.
 */

/** `register` (v4 only) request body, POSTed as JSON; every field is mandatory. */
export interface SslLabsRegisterRequest {
  firstName: string;
  lastName: string;
  /** An organisation address: free-mail domains (Gmail, Yahoo, Hotmail) are refused. */
  email: string;
  organization: string;
}

/** `register` (v4 only) answer. */
export interface SslLabsRegisterResult {
  message: string;
  status: 'success' | 'failure';
}

/** Body of a 4xx/5xx answer: `{"errors":[{"field":"host","message":"qp.mandatory"}]}`; no `field` for request-wide errors. */
export interface SslLabsErrorBody {
  errors: { field?: string; message: string }[];
}

/** `info`: availability, versions and this client's assessment limits. */
export interface SslLabsInfo {
  engineVersion: string;
  criteriaVersion: string;
  maxAssessments: number;
  currentAssessments: number;
  /** Milliseconds to wait between starting two new assessments (429 otherwise). */
  newAssessmentCoolOff: number;
  /** "[Private]"-prefixed messages are for this client only. */
  messages: string[];
  /** Name of maxAssessments before February 2015, still sent by some servers. */
  clientMaxAssessments?: number;
}

/** `getStatusCodes`: stable status-detail codes and their English text. */
export interface SslLabsStatusCodes {
  statusDetails: Record<string, string>;
}

export type SslLabsHostStatus = 'DNS' | 'ERROR' | 'IN_PROGRESS' | 'READY';

/** `analyze`: one assessment of one host name, with an endpoint per IP address. */
export interface SslLabsHost {
  host: string;
  port?: number;
  /** "http" or "HTTP". */
  protocol?: string;
  isPublic?: boolean;
  status?: SslLabsHostStatus;
  /** The error text when status is ERROR. */
  statusMessage?: string;
  /** Milliseconds since 1970. */
  startTime?: number;
  /** Completion time, milliseconds since 1970. */
  testTime?: number;
  engineVersion?: string;
  criteriaVersion?: string;
  cacheExpiryTime?: number;
  /** Names from the certificates seen, only when the certificate does not match the host. */
  certHostnames?: string[];
  endpoints?: SslLabsEndpoint[];
  /** Every certificate seen (served and from trust paths), referenced by id from certChains and trustPaths. */
  certs?: SslLabsCert[];
}

/** Grades as SSL Labs spells them: T = certificate not trusted, M = certificate name mismatch. */
export type SslLabsGrade = 'A+' | 'A' | 'A-' | 'B' | 'C' | 'D' | 'E' | 'F' | 'T' | 'M';

export interface SslLabsEndpoint {
  ipAddress: string;
  /** Reverse DNS name. */
  serverName?: string;
  /** "Ready" when the endpoint was assessed; otherwise why not ("Unable to connect to the server", "In progress"…). */
  statusMessage?: string;
  statusDetails?: string;
  statusDetailsMessage?: string;
  grade?: SslLabsGrade;
  gradeTrustIgnored?: SslLabsGrade;
  /** The grade under announced future criteria; null when they do not change it. */
  futureGrade?: SslLabsGrade | null;
  hasWarnings?: boolean;
  isExceptional?: boolean;
  /** 0–100; -1 before the endpoint assessment starts. */
  progress?: number;
  /** Milliseconds. */
  duration?: number;
  /** Seconds. */
  eta?: number;
  /** bit0 (1): reachable without the www prefix; bit1 (2): with it. */
  delegation?: number;
  /** Only with `all=on`, or `all=done` once the assessment is finished. */
  details?: SslLabsEndpointDetails;
}

export interface SslLabsTrust {
  rootStore: 'Mozilla' | 'Apple' | 'Android' | 'Java' | 'Windows' | (string & {});
  isTrusted: boolean;
  trustErrorMessage?: string | null;
}

export interface SslLabsTrustPath {
  /** Leaf to root; the root may not be among the served certificates. */
  certIds: string[];
  trust: SslLabsTrust[];
  isPinned?: boolean;
  matchedPins?: number;
  unmatchedPins?: number;
}

/** One chain the server sent (with SNI, and a second one when the certificate differs without SNI). */
export interface SslLabsCertificateChain {
  id: string;
  /** The certificates exactly as served, leaf first. */
  certIds: string[];
  trustPaths?: SslLabsTrustPath[];
  /**
   * bit1 (2) incomplete chain (completed from external sources); bit2 (4) unrelated or duplicate
   * certificates; bit3 (8) wrong order; bit4 (16) contains a self-signed root; bit5 (32) could not validate.
   */
  issues?: number;
  /** True for the chain served only to clients that send no SNI. */
  noSni?: boolean;
}

/** A certificate; `id` is its SHA-256 fingerprint in hex. */
export interface SslLabsCert {
  id: string;
  subject?: string;
  serialNumber?: string;
  commonNames?: string[];
  /** Bare DNS names and IP addresses, without a "DNS:" prefix. */
  altNames?: string[];
  /** Milliseconds since 1970. */
  notBefore?: number;
  notAfter?: number;
  issuerSubject?: string;
  /** e.g. SHA256withRSA. */
  sigAlg?: string;
  /** bit0 (1) CRL information present; bit1 (2) OCSP information present. */
  revocationInfo?: number;
  crlURIs?: string[];
  ocspURIs?: string[];
  /** 0 not checked, 1 revoked, 2 not revoked, 3 check error, 4 no revocation information, 5 internal error. */
  revocationStatus?: number;
  crlRevocationStatus?: number;
  ocspRevocationStatus?: number;
  dnsCaa?: boolean;
  caaPolicy?: { policyHostname: string; caaRecords: { tag: string; value: string; flags: number }[] };
  mustStaple?: boolean;
  /** bit0 (1) Netscape SGC; bit1 (2) Microsoft SGC. */
  sgc?: number;
  /** "E" for Extended Validation. */
  validationType?: string | null;
  /**
   * bit0 (1) no chain of trust; bit1 (2) not yet valid; bit2 (4) expired; bit3 (8) host name mismatch;
   * bit4 (16) revoked; bit5 (32) bad common name; bit6 (64) self-signed; bit7 (128) blacklisted;
   * bit8 (256) insecure signature; bit9 (512) insecure key.
   */
  issues?: number;
  /** Embedded SCTs present. */
  sct?: boolean;
  sha1Hash?: string;
  sha256Hash?: string;
  /** base64 SHA-256 of the SubjectPublicKeyInfo. */
  pinSha256?: string;
  /** "RSA", "EC", "DSA"… */
  keyAlg?: string;
  keySize?: number;
  /** RSA-equivalent bits. */
  keyStrength?: number;
  keyKnownDebianInsecure?: boolean;
  /** PEM, lines may end in CRLF. */
  raw?: string;
}

export interface SslLabsProtocol {
  /** Wire version: 512 (0x0200) SSL 2.0, 768 SSL 3.0, 769 TLS 1.0 … 772 TLS 1.3. */
  id: number;
  /** "SSL" or "TLS". */
  name: string;
  /** "2.0", "3.0", "1.0" … "1.3". */
  version: string;
  v2SuitesDisabled?: boolean;
  /** 0 when the protocol is insecure, absent otherwise. */
  q?: number | null;
}

/** One accepted cipher suite. The DH fields are byte lengths of p, g and Ys, not their values. */
export interface SslLabsSuite {
  id: number;
  /** IANA name, e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256. */
  name: string;
  cipherStrength?: number;
  kxType?: 'ECDH' | 'DH' | 'RSA' | (string & {});
  /** RSA-equivalent bits of the key exchange. */
  kxStrength?: number;
  dhBits?: number;
  dhP?: number;
  dhG?: number;
  dhYs?: number;
  namedGroupBits?: number;
  namedGroupId?: number;
  namedGroupName?: string;
  /** 0 insecure, 1 weak; absent for good suites. */
  q?: number | null;
}

/** The suites of one protocol version. */
export interface SslLabsProtocolSuites {
  /** Wire version, as SslLabsProtocol.id. */
  protocol: number;
  list: SslLabsSuite[];
  /** True: the server picks by its own order; null: could not tell. */
  preference?: boolean | null;
  /** True when the server honours a client's preference for ChaCha20. */
  chaCha20Preference?: boolean;
}

export interface SslLabsNamedGroup {
  id: number;
  name: string;
  bits: number;
  /** "EC" for elliptic curves; finite-field groups use another value. */
  namedGroupType?: string;
}

export interface SslLabsNamedGroups {
  list: SslLabsNamedGroup[];
  /** True when the server uses its own group order. */
  preference?: boolean | null;
}

export interface SslLabsSimClient {
  id: number;
  /** e.g. "Chrome". */
  name: string;
  /** e.g. "Win 10"; absent for bots and some clients. */
  platform?: string;
  /** e.g. "80". */
  version: string;
  /** A "modern" client: the forward secrecy, AEAD, RC4 and 3DES rules look at these only. */
  isReference: boolean;
}

/** One simulated client handshake. */
export interface SslLabsSimulation {
  client: SslLabsSimClient;
  /** 0 handshake succeeded, 1 failed. */
  errorCode: number;
  errorMessage?: string;
  attempts?: number;
  certChainId?: string;
  protocolId?: number;
  suiteId?: number;
  suiteName?: string;
  kxType?: string;
  kxStrength?: number;
  dhBits?: number;
  dhP?: number;
  dhG?: number;
  dhYs?: number;
  namedGroupBits?: number;
  namedGroupId?: number;
  namedGroupName?: string;
  keyAlg?: string;
  keySize?: number;
  sigAlg?: string;
  /** TLS alert level and description when the server refused, e.g. 2/40 handshake_failure. */
  alertType?: number;
  alertCode?: number;
}

export interface SslLabsSimDetails {
  results: SslLabsSimulation[];
}

export type SslLabsHstsStatus = 'unknown' | 'absent' | 'present' | 'invalid' | 'disabled';

export interface SslLabsHstsPolicy {
  /** The max-age SSL Labs considers long enough for A+ (15552000 s, 180 days). */
  LONG_MAX_AGE?: number;
  header?: string | null;
  status: SslLabsHstsStatus;
  error?: string | null;
  maxAge?: number | null;
  includeSubDomains?: boolean | null;
  preload?: boolean | null;
  directives?: Record<string, string>;
}

export interface SslLabsHstsPreload {
  source: 'Chrome' | 'Edge' | 'Firefox' | 'IE' | (string & {});
  hostname: string;
  status: 'error' | 'unknown' | 'absent' | 'present';
  error?: string;
  sourceTime?: number;
}

export interface SslLabsHpkpPolicy {
  header?: string;
  status: 'unknown' | 'absent' | 'invalid' | 'disabled' | 'incomplete' | 'partial' | 'valid';
  error?: string;
  maxAge?: number;
  includeSubDomains?: boolean | null;
  reportUri?: string;
  pins?: { hashFunction: string; value: string }[];
  matchedPins?: { hashFunction: string; value: string }[];
  directives?: { name: string; value: string }[] | Record<string, string>;
}

export interface SslLabsHttpTransaction {
  requestUrl: string;
  statusCode?: number;
  requestLine?: string;
  requestHeaders?: string[];
  responseLine?: string;
  responseHeadersRaw?: string[];
  responseHeaders?: { name: string; value: string }[];
  /** True when the server crashed under SSL Labs' inspection (the full test is then refused). */
  fragileServer?: boolean;
}

/** Another host seen (Censys data) with the same RSA key or name and SSLv2 enabled. */
export interface SslLabsDrownHost {
  ip: string;
  export: boolean;
  port: number;
  special: boolean;
  sslv2: boolean;
  status: 'error' | 'unknown' | 'not_checked' | 'not_checked_same_host' | 'handshake_failure' | 'sslv2' | 'key_match' | 'hostname_match';
}

/**
 * Full endpoint results. Numeric vulnerability results share one scheme: -1 the test failed, 0 unknown
 * (not tested), 1 not vulnerable, then field-specific "vulnerable" codes as documented per field.
 */
export interface SslLabsEndpointDetails {
  /** Equals Host.startTime when the parts of a result belong together. */
  hostStartTime?: number;
  certChains?: SslLabsCertificateChain[];
  protocols?: SslLabsProtocol[];
  suites?: SslLabsProtocolSuites[];
  /** Suites seen only without SNI. */
  noSniSuites?: SslLabsProtocolSuites;
  namedGroups?: SslLabsNamedGroups;
  /** The HTTP Server header. */
  serverSignature?: string;
  prefixDelegation?: boolean;
  nonPrefixDelegation?: boolean;
  vulnBeast?: boolean;
  /**
   * bit0 (1) insecure client-initiated renegotiation; bit1 (2) secure renegotiation; bit2 (4) secure
   * client-initiated renegotiation; bit3 (8) the server requires secure renegotiation.
   */
  renegSupport?: number;
  /** 0 disabled (empty session ids), 1 ids issued but not resumed, 2 enabled. */
  sessionResumption?: number;
  /** bit0 (1): DEFLATE (CRIME). */
  compressionMethods?: number;
  supportsNpn?: boolean;
  /** Space-separated. */
  npnProtocols?: string;
  supportsAlpn?: boolean;
  /** Space-separated. */
  alpnProtocols?: string;
  /** bit0 (1) supported; bit1 (2) faulty; bit2 (4) intolerant of the extension. */
  sessionTickets?: number;
  ocspStapling?: boolean;
  /** As SslLabsCert.revocationStatus, for the stapled response. */
  staplingRevocationStatus?: number;
  staplingRevocationErrorMessage?: string;
  sniRequired?: boolean;
  /** Status of the final HTTP response; absent when the HTTP request failed. */
  httpStatusCode?: number;
  /** Set when the server redirected to another host name. */
  httpForwarding?: string;
  supportsRc4?: boolean;
  rc4WithModern?: boolean;
  rc4Only?: boolean;
  /** bit0 (1) some simulated client negotiated FS; bit1 (2) FS with modern clients; bit2 (4) with every client. */
  forwardSecrecy?: number;
  supportsAead?: boolean;
  supportsCBC?: boolean;
  /** bit0 TLS 1.0, bit1 TLS 1.1, bit2 TLS 1.2, bit3 TLS 1.3, bit4 "TLS 1.152", bit5 "TLS 2.152" intolerance. */
  protocolIntolerance?: number;
  /** bit0 extension intolerance; bit1 long-handshake intolerance; bit2 long-handshake workaround works. */
  miscIntolerance?: number;
  sims?: SslLabsSimDetails;
  heartbleed?: boolean;
  /** The heartbeat extension is supported. */
  heartbeat?: boolean;
  /** CVE-2014-0224: -1, 0, 1 not vulnerable, 2 possibly vulnerable but not exploitable, 3 vulnerable and exploitable. */
  openSslCcs?: number;
  /** CVE-2016-2107: -1, 0, 1 not vulnerable, 2 vulnerable and insecure. */
  openSSLLuckyMinus20?: number;
  /** CVE-2016-9244: -1, 0, 1 not vulnerable, 2 vulnerable and insecure, 3 not vulnerable but a similar bug. */
  ticketbleed?: number;
  /** ROBOT: -1, 0, 1 not vulnerable, 2 vulnerable (weak oracle), 3 vulnerable (strong oracle), 4 inconsistent results. */
  bleichenbacher?: number;
  /** -1, 0, 1 not vulnerable, 2 vulnerable, 3 vulnerable and exploitable. */
  zombiePoodle?: number;
  /** -1, 0, 1 not vulnerable, 4 vulnerable, 5 vulnerable and exploitable. */
  goldenDoodle?: number;
  /** CVE-2019-1559: -1, 0, 1 not vulnerable, 6 vulnerable, 7 vulnerable and exploitable. */
  zeroLengthPaddingOracle?: number;
  /** -1, 0, 1 not vulnerable, 10 vulnerable, 11 vulnerable and exploitable. */
  sleepingPoodle?: number;
  /** POODLE over SSL 3.0. */
  poodle?: boolean;
  /** -3 timeout, -2 TLS not supported, -1 failed, 0 unknown, 1 not vulnerable, 2 vulnerable. */
  poodleTls?: number;
  /** Absent when only one protocol version is supported. */
  fallbackScsv?: boolean;
  /** Supports 512-bit (export) key exchange. */
  freak?: boolean;
  /** bit0 (1) SCT in the certificate; bit1 (2) in the stapled OCSP response; bit2 (4) in the TLS extension. */
  hasSct?: number;
  /** Hex-encoded DH primes the server used. */
  dhPrimes?: string[];
  /** 0 no, 1 known primes that are not weak, 2 known weak primes. */
  dhUsesKnownPrimes?: number;
  dhYsReuse?: boolean;
  ecdhParameterReuse?: boolean;
  /** DH parameters weaker than 1024 bits. */
  logjam?: boolean;
  chaCha20Preference?: boolean;
  hstsPolicy?: SslLabsHstsPolicy;
  hstsPreloads?: SslLabsHstsPreload[];
  hpkpPolicy?: SslLabsHpkpPolicy;
  hpkpRoPolicy?: SslLabsHpkpPolicy;
  staticPkpPolicy?: Record<string, unknown>;
  httpTransactions?: SslLabsHttpTransaction[];
  drownHosts?: SslLabsDrownHost[];
  drownErrors?: boolean;
  drownVulnerable?: boolean;
  implementsTLS13MandatoryCS?: boolean;
  /** -2 test failed, -1 not tested, 0 disabled, 1 enabled. */
  zeroRTTEnabled?: number;
}
