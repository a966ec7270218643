/**
 * A finished SSL Labs assessment (`analyze?host=H&all=done`, status READY) as Portcullis' engine-neutral
 * Assessment, so the API, diff, reports and alerts treat it like the native engine's. The grades are
 * SSL Labs' own; caps, scores and findings come from our grader and findings over the mapped facts, so
 * users get the same explanations whichever engine ran.
 *
 * The JSON comes from a third party: nothing here trusts a field's type. What cannot be mapped is left
 * out with a warning on the endpoint; only an answer that is not a Host at all is refused.
 */
import { isIP } from 'node:net';
import { describeError, PortcullisError } from '../shared/errors.js';
import { findingsFor } from '../tls/findings.js';
import { dhPrimeSizes, gradeEndpoint } from '../tls/grade/index.js';
import type {
  Assessment,
  CertificateChainResult,
  CertificateInfo,
  ChainIssues,
  CipherSuiteInfo,
  DhParameters,
  EndpointAssessment,
  EndpointFacts,
  Grade,
  HstsPolicy,
  HttpInfo,
  KeyExchangeDetail,
  NamedGroupResult,
  ProtocolFeatures,
  ProtocolName,
  ProtocolSupport,
  SimulatedClient,
  SimulationResult,
  SuiteResult,
  SuitePreference,
  SuiteStrength,
  VulnerabilityResult,
  VulnerabilityStatus,
} from '../tls/model.js';
import { PROTOCOLS, emptyEndpointFacts } from '../tls/model.js';
import { groupById, groupByName, identifyDhPrime, parseSuiteName, protocolFromVersion, rsaEquivalentBits, suiteById, type SuiteTraits } from '../tls/wire/catalogue/index.js';
import type {
  SslLabsCert,
  SslLabsCertificateChain,
  SslLabsEndpoint,
  SslLabsEndpointDetails,
  SslLabsHost,
  SslLabsHstsPolicy,
  SslLabsNamedGroups,
  SslLabsProtocol,
  SslLabsProtocolSuites,
  SslLabsSimClient,
  SslLabsSimDetails,
  SslLabsSuite,
  SslLabsTrustPath,
} from './api-types.js';

export interface MapSslLabsOptions {
  /** Certificate expiry (daysToExpiry, the expiry caps) is judged at this instant. Default: the Host's testTime. */
  now?: Date;
}

const ENDPOINT_ERROR = 'ssllabs.endpoint-error';
const READY = 'Ready';
const DEFAULT_PORT = 443;
const DAY_MS = 86_400_000;

type Warn = (message: string) => void;

interface HostContext {
  host: string;
  now: Date;
  /** Host.certs by id (their SHA-256). */
  certs: ReadonlyMap<string, SslLabsCert>;
}

/** Maps a READY SSL Labs Host. Throws PortcullisError ssllabs.bad-response only when `host` is not a Host object at all. */
export function mapSslLabsHost(host: SslLabsHost, options: MapSslLabsOptions = {}): Assessment {
  if (!isRecord(host) || text(host.host) === undefined) {
    throw new PortcullisError(
      'ssllabs.bad-response',
      `SSL Labs answered with ${describeValue(host)} where a Host object ({"host": …, "endpoints": […]}) was expected; check the API URL and that the call was analyze`,
    );
  }
  const finished = dateFrom(host.testTime);
  const now = options.now ?? finished ?? new Date();
  const context: HostContext = {
    host: host.host,
    now,
    certs: new Map(records(host.certs).flatMap((cert) => (typeof cert.id === 'string' ? [[cert.id, cert] as const] : []))),
  };
  const port = finite(host.port);
  return {
    host: host.host,
    port: port !== undefined && Number.isInteger(port) && port >= 1 && port <= 65535 ? port : DEFAULT_PORT,
    sni: host.host,
    engine: 'ssllabs',
    engineVersion: text(host.engineVersion) ?? 'unknown',
    criteriaVersion: text(host.criteriaVersion) ?? 'unknown',
    startedAt: (dateFrom(host.startTime) ?? finished ?? now).toISOString(),
    finishedAt: (finished ?? now).toISOString(),
    endpoints: records(host.endpoints).map((endpoint) => mapEndpoint(endpoint, context)),
  };
}

const GRADES: readonly Grade[] = ['A+', 'A', 'A-', 'B', 'C', 'D', 'E', 'F', 'T', 'M'];
const gradeOf = (value: unknown): Grade | undefined => GRADES.find((grade) => grade === value);

function mapEndpoint(endpoint: SslLabsEndpoint, context: HostContext): EndpointAssessment {
  const ip = text(endpoint.ipAddress) ?? '';
  const durationMs = nonNegative(endpoint.duration) ?? 0;
  const statusMessage = text(endpoint.statusMessage);
  const grade = gradeOf(endpoint.grade);
  if (statusMessage !== READY || grade === undefined) {
    const message = statusMessage === READY ? 'SSL Labs finished the endpoint but gave it no grade' : (statusMessage ?? 'SSL Labs gave no endpoint status');
    return errorEndpoint(ip, message, durationMs);
  }

  const warnings: string[] = [];
  const warn: Warn = (message) => warnings.push(message);
  let facts: EndpointFacts;
  try {
    facts = mapFacts(ip, endpoint.details, context, warn);
  } catch (err) {
    // Last line of defence against JSON shapes nobody anticipated: keep the grade, drop the details.
    warn(`SSL Labs endpoint details could not be mapped: ${describeError(err).message}`);
    facts = emptyFacts(ip, 'SSL Labs endpoint details could not be mapped');
  }
  const ours = gradeEndpoint(facts, { host: context.host, now: context.now });
  return {
    ...facts,
    status: 'ready',
    grade,
    gradeTrustIgnored: trustIgnoredGrade(endpoint, grade, warn),
    scores: ours.scores,
    caps: ours.caps,
    hasWarnings: endpoint.hasWarnings === true,
    isExceptional: typeof endpoint.isExceptional === 'boolean' ? endpoint.isExceptional : grade === 'A+',
    findings: findingsFor(facts),
    durationMs,
    connections: 0,
    warnings,
  };
}

/** Without SSL Labs' trust-ignored grade, a letter grade is its own; behind T or M it is unknown. */
function trustIgnoredGrade(endpoint: SslLabsEndpoint, grade: Grade, warn: Warn): Grade | null {
  const given = gradeOf(endpoint.gradeTrustIgnored);
  if (given !== undefined) return given;
  if (grade !== 'T' && grade !== 'M') return grade;
  warn(`SSL Labs gave grade ${grade} without gradeTrustIgnored`);
  return null;
}

function errorEndpoint(ip: string, message: string, durationMs: number): EndpointAssessment {
  return {
    ...emptyFacts(ip),
    status: 'error',
    grade: null,
    gradeTrustIgnored: null,
    scores: null,
    caps: [],
    hasWarnings: false,
    isExceptional: false,
    error: { code: ENDPOINT_ERROR, message },
    findings: [],
    durationMs,
    connections: 0,
    warnings: [],
  };
}

/** Facts with nothing known; `protocolError` says why the protocols are unknown, when that needs saying. */
function emptyFacts(ip: string, protocolError?: string): EndpointFacts {
  return emptyEndpointFacts(ip, PROTOCOLS.map((name) => ({ name, supported: false, ...(protocolError === undefined ? {} : { error: protocolError }) })));
}

function mapFacts(ip: string, details: SslLabsEndpointDetails | undefined, context: HostContext, warn: Warn): EndpointFacts {
  if (!isRecord(details)) {
    warn('SSL Labs sent no endpoint details (they come with all=done once the assessment is READY): protocols, suites, certificates and features are unknown');
    return emptyFacts(ip, 'not reported by SSL Labs');
  }
  const { suites, suitePreference } = mapSuites(details.suites, warn);
  const { groups, groupPreference } = mapGroups(details.namedGroups, warn);
  const facts: EndpointFacts = {
    ip,
    protocols: mapProtocols(details.protocols, warn),
    suites,
    suitePreference,
    groups,
    groupPreference,
    dhParameters: mapDhParameters(details, suites, warn),
    certificates: mapChains(details.certChains, context, warn),
    features: mapFeatures(details),
    http: mapHttp(details),
    simulations: mapSimulations(details.sims),
    vulnerabilities: mapVulnerabilities(details),
  };
  warnAboutUnseenFlags(details, facts, warn);
  return facts;
}

// ---------------------------------------------------------------------------------------------------
// Protocols and suites

/** SSL Labs numbers SSL 2.0 as 0x0200 (512) where the wire and our catalogue use 0x0002. */
const SSL_LABS_SSLV2_ID = 0x0200;

function protocolFromId(id: unknown): ProtocolName | undefined {
  if (typeof id !== 'number') return undefined;
  return id === SSL_LABS_SSLV2_ID ? 'SSLv2' : protocolFromVersion(id);
}

/** "SSL" "3.0" → SSLv3, "TLS" "1.2" → TLSv1.2; the id when the name is odd. */
function protocolOf(protocol: SslLabsProtocol): ProtocolName | undefined {
  const version = text(protocol.version);
  const label = protocol.name === 'SSL' ? `SSLv${version?.split('.')[0] ?? ''}` : `TLSv${version ?? ''}`;
  return PROTOCOLS.find((name) => name === label) ?? protocolFromId(protocol.id);
}

function mapProtocols(reported: SslLabsProtocol[] | undefined, warn: Warn): ProtocolSupport[] {
  if (!Array.isArray(reported)) {
    warn('SSL Labs reported no protocol list');
    return PROTOCOLS.map((name) => ({ name, supported: false, error: 'not reported by SSL Labs' }));
  }
  const supported = new Set<ProtocolName>();
  for (const protocol of records(reported)) {
    const name = protocolOf(protocol);
    if (name === undefined) warn(`SSL Labs reported protocol ${String(protocol.name)} ${String(protocol.version)} (id ${String(protocol.id)}), which Portcullis does not model`);
    else supported.add(name);
  }
  return PROTOCOLS.map((name) => ({ name, supported: supported.has(name) }));
}

function mapSuites(sets: SslLabsProtocolSuites[] | undefined, warn: Warn): { suites: SuiteResult[]; suitePreference: SuitePreference[] } {
  const suites: SuiteResult[] = [];
  const suitePreference: SuitePreference[] = [];
  for (const set of records(sets)) {
    const protocol = protocolFromId(set.protocol);
    if (protocol === undefined) {
      warn(`suites for protocol id ${String(set.protocol)} left out: not a protocol Portcullis models`);
      continue;
    }
    suitePreference.push({ protocol, preference: set.preference === true ? 'server' : set.preference === false ? 'client' : null });
    for (const suite of records(set.list)) {
      const id = finite(suite.id);
      if (id === undefined || !Number.isInteger(id) || id < 0) {
        warn(`a ${protocol} suite without a valid id left out: ${String(suite.name)}`);
        continue;
      }
      const info = suiteById(id) ?? uncataloguedSuite(id, suite, protocol, warn);
      const kxDetail = keyExchangeOf(suite);
      suites.push({ ...info, protocol, ...(kxDetail === undefined ? {} : { kxDetail }) });
    }
  }
  return { suites, suitePreference };
}

/** "0xC02F" as the catalogue writes codes; SSLv2 kinds have three bytes. */
function suiteCode(id: number): string {
  return `0x${id.toString(16).toUpperCase().padStart(id > 0xffff ? 6 : 4, '0')}`;
}

/** SSL Labs' `q`: 0 insecure, 1 weak, absent for good suites. */
function strengthFromQ(q: unknown): SuiteStrength {
  if (q === 0) return 'insecure';
  return q === 1 ? 'weak' : 'secure';
}

/** A suite our catalogue does not know: its traits read from the SSL Labs name where it parses, its strength as SSL Labs rates it. */
function uncataloguedSuite(id: number, suite: SslLabsSuite, protocol: ProtocolName, warn: Warn): CipherSuiteInfo {
  const code = suiteCode(id);
  const name = text(suite.name) ?? `UNKNOWN_${code}`;
  warn(`suite ${code} ${name} is not in the Portcullis catalogue: traits taken from its name, strength from SSL Labs`);
  return { id, code, iana: name, openssl: null, ...traitsFromName(name, suite, protocol), strength: strengthFromQ(suite.q) };
}

/** What the name tells (parseSuiteName), or next to nothing when it follows no known scheme. */
function traitsFromName(name: string, suite: SslLabsSuite, protocol: ProtocolName): Omit<SuiteTraits, 'strength'> {
  try {
    return parseSuiteName(name);
  } catch {
    return {
      kx: text(suite.kxType) ?? 'unknown',
      auth: 'unknown',
      cipher: 'unknown',
      bits: nonNegative(suite.cipherStrength) ?? 0,
      blockBits: null,
      mac: 'unknown',
      aead: false,
      fs: false,
      export: name.includes('_EXPORT'),
      anonymous: name.includes('_anon_'),
      cbc: name.includes('_CBC'),
      protocols: [protocol],
    };
  }
}

/** SSL Labs' dhP, dhG and dhYs are byte lengths (a 2048-bit prime comes as dhP 256 with kxStrength 2048). */
const dhBitsFromBytes = (bytes: unknown): number | undefined => {
  const length = positive(bytes);
  return length === undefined ? undefined : length * 8;
};

const KEY_EXCHANGE_TYPES: readonly KeyExchangeDetail['type'][] = ['ECDH', 'DH', 'RSA'];

function keyExchangeOf(suite: SslLabsSuite): KeyExchangeDetail | undefined {
  const type = KEY_EXCHANGE_TYPES.find((t) => t === suite.kxType);
  if (type === undefined) return undefined;
  const group = text(suite.namedGroupName);
  const bits = type === 'DH' ? (dhBitsFromBytes(suite.dhP) ?? positive(suite.namedGroupBits)) : type === 'ECDH' ? positive(suite.namedGroupBits) : positive(suite.kxStrength);
  const rsaEquivalent = positive(suite.kxStrength);
  return {
    type,
    ...(group === undefined ? {} : { group }),
    ...(bits === undefined ? {} : { bits }),
    ...(rsaEquivalent === undefined ? {} : { rsaEquivalentBits: rsaEquivalent }),
  };
}

// ---------------------------------------------------------------------------------------------------
// Groups and DH parameters

function groupType(namedGroupType: unknown, name: string): NamedGroupResult['type'] {
  if (/mlkem|kyber/i.test(name)) return 'hybrid-pq';
  if (/^ffdhe/i.test(name) || (typeof namedGroupType === 'string' && /^(DH|FFDHE?)$/i.test(namedGroupType))) return 'ffdhe';
  return 'ec';
}

function mapGroups(reported: SslLabsNamedGroups | undefined, warn: Warn): { groups: NamedGroupResult[]; groupPreference: boolean | null } {
  if (!isRecord(reported)) return { groups: [], groupPreference: null };
  const groups = records(reported.list).flatMap((group): NamedGroupResult[] => {
    const id = finite(group.id);
    const reportedName = text(group.name);
    const catalogued = (id === undefined ? undefined : groupById(id)) ?? (reportedName === undefined ? undefined : groupByName(reportedName));
    const name = reportedName ?? catalogued?.name;
    const groupId = id ?? catalogued?.id;
    if (name === undefined || groupId === undefined) {
      warn(`a named group without id or name left out (${String(group.id)} ${String(group.name)})`);
      return [];
    }
    const type = catalogued?.type ?? groupType(group.namedGroupType, name);
    const bits = positive(group.bits) ?? catalogued?.bits ?? 0;
    return [{ id: groupId, name, bits, type, rsaEquivalentBits: catalogued?.rsaEquivalentBits ?? rsaEquivalentBits(type === 'ffdhe' ? 'dh' : 'ec', bits) }];
  });
  const preference = reported.preference;
  return { groups, groupPreference: typeof preference === 'boolean' ? preference : null };
}

/** SSL Labs' words for "one of the well-known primes" when the prime itself is not listed. */
const KNOWN_PRIME_UNNAMED = 'a well-known prime (per SSL Labs)';

/** A positive number from hex digits; undefined for anything else. */
function bigintFromHex(hex: string): bigint | undefined {
  const value = /^[0-9a-f]+$/i.test(hex) ? BigInt(`0x${hex}`) : 0n;
  return value > 0n ? value : undefined;
}

/** From the primes SSL Labs lists (named with our catalogue); without them, one entry per DH size the suites used. */
function mapDhParameters(details: SslLabsEndpointDetails, suites: readonly SuiteResult[], warn: Warn): DhParameters[] {
  const usesKnown = finite(details.dhUsesKnownPrimes) ?? 0;
  const unnamedKnown = usesKnown >= 1 ? KNOWN_PRIME_UNNAMED : null;
  const primes = strings(details.dhPrimes).flatMap((hex) => {
    const prime = bigintFromHex(hex);
    if (prime !== undefined) return [prime];
    warn(`a DH prime SSL Labs listed is not hex and was left out: ${hex.slice(0, 32)}…`);
    return [];
  });
  if (primes.length > 0) {
    return primes.map((prime) => {
      const known = identifyDhPrime(prime);
      return {
        primeBits: prime.toString(2).length,
        // SSL Labs gives only the generator's length, not its value.
        generator: null,
        knownPrime: known?.name ?? unnamedKnown,
        weakKnownPrime: known?.weak ?? usesKnown === 2,
      };
    });
  }
  const sizes = new Set(suites.flatMap((s) => (s.kxDetail?.type === 'DH' && s.kxDetail.bits !== undefined ? [s.kxDetail.bits] : [])));
  return [...sizes].map((primeBits) => ({ primeBits, generator: null, knownPrime: unnamedKnown, weakKnownPrime: usesKnown === 2 }));
}

// ---------------------------------------------------------------------------------------------------
// Certificates

/** CertificateChain.issues bits. */
const CHAIN_ISSUE_BITS: Readonly<Record<keyof ChainIssues, number>> = {
  incomplete: 2,
  extraCerts: 4,
  wrongOrder: 8,
  rootIncluded: 16,
  cannotValidate: 32,
};

/** Cert.issues bits. */
const CERT_NO_TRUST = 1;
const CERT_HOSTNAME_MISMATCH = 8;
const CERT_SELF_SIGNED = 64;
/** Cert.issues bits that explain a trust failure, in words. */
const CERT_TRUST_PROBLEMS: readonly (readonly [bit: number, words: string])[] = [
  [2, 'the certificate is not yet valid'],
  [4, 'the certificate has expired'],
  [16, 'the certificate has been revoked'],
  [32, 'the certificate has a bad common name'],
  [CERT_SELF_SIGNED, 'the certificate is self-signed'],
  [128, 'the certificate is blacklisted'],
  [256, 'the certificate has an insecure signature'],
  [512, 'the certificate key is insecure'],
];

const KEY_ALGORITHMS: ReadonlyMap<string, CertificateInfo['keyAlg']> = new Map([
  ['RSA', 'RSA'],
  ['EC', 'EC'],
  ['ECDSA', 'EC'],
  ['DSA', 'DSA'],
  ['ED25519', 'Ed25519'],
  ['ED448', 'Ed448'],
  ['RSA-PSS', 'RSA-PSS'],
  ['RSASSA-PSS', 'RSA-PSS'],
]);

const flagsOf = (value: unknown): number => (typeof value === 'number' && Number.isInteger(value) ? value : 0);

function altName(name: string): string {
  return isIP(name) === 0 ? `DNS:${name}` : `IP:${name}`;
}

/** A certificate from Host.certs; undefined when it lacks the validity dates everything else hangs on. */
function certificateInfo(cert: SslLabsCert, context: HostContext): CertificateInfo | undefined {
  const notBefore = dateFrom(cert.notBefore);
  const notAfter = dateFrom(cert.notAfter);
  if (notBefore === undefined || notAfter === undefined) return undefined;
  const subject = text(cert.subject) ?? '';
  const issuer = text(cert.issuerSubject) ?? '';
  return {
    subject,
    commonNames: strings(cert.commonNames),
    altNames: strings(cert.altNames).map(altName),
    issuer,
    serialNumber: text(cert.serialNumber) ?? '',
    notBefore: notBefore.toISOString(),
    notAfter: notAfter.toISOString(),
    daysToExpiry: Math.floor((notAfter.getTime() - context.now.getTime()) / DAY_MS),
    keyAlg: KEY_ALGORITHMS.get(text(cert.keyAlg)?.toUpperCase() ?? '') ?? 'unknown',
    keySize: positive(cert.keySize) ?? 0,
    keyStrength: positive(cert.keyStrength) ?? 0,
    sigAlg: text(cert.sigAlg) ?? '',
    sha1: text(cert.sha1Hash) ?? '',
    sha256: text(cert.sha256Hash) ?? cert.id,
    pinSha256: text(cert.pinSha256) ?? '',
    ocspUrls: strings(cert.ocspURIs),
    crlUrls: strings(cert.crlURIs),
    mustStaple: cert.mustStaple === true,
    sctCount: cert.sct === true ? 1 : 0,
    // SSL Labs flags only self-signed leaves; a served root shows itself by subject = issuer.
    selfSigned: (flagsOf(cert.issues) & CERT_SELF_SIGNED) !== 0 || (subject !== '' && subject === issuer),
    // Best effort: SSL Labs does not send basic constraints, but a certificate that issued another one is a CA.
    isCa: subject !== '' && [...context.certs.values()].some((other) => other.id !== cert.id && other.issuerSubject === subject),
    pem: text(cert.raw)?.replace(/\r\n/g, '\n') ?? '',
  };
}

interface TrustVerdict {
  trusted: boolean;
  path: string[];
  message: string | null;
}

/** Trusted by Mozilla's store, as SSL Labs grades; by any store when SSL Labs reports no Mozilla verdict. */
function trustOf(paths: readonly SslLabsTrustPath[]): TrustVerdict | undefined {
  const verdicts = paths.flatMap((path) => records(path.trust).map((trust) => ({ path: strings(path.certIds), trust })));
  const mozilla = verdicts.filter((v) => v.trust.rootStore === 'Mozilla');
  const considered = mozilla.length > 0 ? mozilla : verdicts;
  const trusted = considered.find((v) => v.trust.isTrusted === true);
  const chosen = trusted ?? considered[0];
  if (chosen === undefined) return undefined;
  return { trusted: trusted !== undefined, path: chosen.path, message: trusted ? null : (text(chosen.trust.trustErrorMessage) ?? null) };
}

function trustError(leaf: SslLabsCert | undefined, verdictMessage: string | null): string {
  const issues = flagsOf(leaf?.issues);
  const problems = CERT_TRUST_PROBLEMS.filter(([bit]) => (issues & bit) !== 0).map(([, words]) => words);
  if (problems.length > 0) return problems.join('; ');
  if (verdictMessage !== null) return verdictMessage;
  return (issues & CERT_NO_TRUST) !== 0 ? 'no chain of trust to a trusted root' : 'SSL Labs found no trusted path to a root';
}

const earliest = (dates: readonly string[]): string | undefined =>
  dates.reduce<string | undefined>((min, date) => (min === undefined || Date.parse(date) < Date.parse(min) ? date : min), undefined);

function mapChain(chain: SslLabsCertificateChain, context: HostContext, warn: Warn): CertificateChainResult {
  const chainName = text(chain.id)?.slice(0, 12) ?? '?';
  const describe = (id: string): CertificateInfo[] => {
    const cert = context.certs.get(id);
    const info = cert && certificateInfo(cert, context);
    if (info === undefined) warn(`certificate ${id.slice(0, 12)}… of chain ${chainName}… left out: ${cert ? 'it has no validity dates' : 'it is not in the Host certs'}`);
    return info === undefined ? [] : [info];
  };
  const servedIds = strings(chain.certIds);
  const served = servedIds.flatMap(describe);
  const leaf = servedIds[0] === undefined ? undefined : context.certs.get(servedIds[0]);
  const verdict = trustOf(records(chain.trustPaths));
  if (verdict === undefined) warn(`chain ${chainName}…: SSL Labs reported no trust verdict; taken as untrusted`);
  const trusted = verdict?.trusted ?? false;
  const trustPath = verdict?.path ?? [];
  const issues = flagsOf(chain.issues);
  const pathExpiries = trustPath.flatMap((id) => {
    const cert = context.certs.get(id);
    const notAfter = cert && dateFrom(cert.notAfter);
    return notAfter === undefined ? [] : [notAfter.toISOString()];
  });
  const leafExpiry = served[0]?.notAfter ?? '';
  return {
    served,
    trustPath,
    trusted,
    trustError: trusted ? null : trustError(leaf, verdict?.message ?? null),
    hostnameMatch: (flagsOf(leaf?.issues) & CERT_HOSTNAME_MISMATCH) === 0,
    issues: {
      incomplete: (issues & CHAIN_ISSUE_BITS.incomplete) !== 0,
      extraCerts: (issues & CHAIN_ISSUE_BITS.extraCerts) !== 0,
      wrongOrder: (issues & CHAIN_ISSUE_BITS.wrongOrder) !== 0,
      rootIncluded: (issues & CHAIN_ISSUE_BITS.rootIncluded) !== 0,
      cannotValidate: (issues & CHAIN_ISSUE_BITS.cannotValidate) !== 0,
    },
    leafExpiry,
    // Along the trusted path, as the native engine does; over the served certificates otherwise.
    earliestExpiry: earliest(trusted ? pathExpiries : served.map((c) => c.notAfter)) ?? leafExpiry,
    sni: chain.noSni === true ? null : context.host,
  };
}

/** The chain served with SNI first: the grader and the findings read certificates[0]. */
function mapChains(chains: SslLabsCertificateChain[] | undefined, context: HostContext, warn: Warn): CertificateChainResult[] {
  const mapped = records(chains).map((chain) => mapChain(chain, context, warn));
  return [...mapped.filter((c) => c.sni !== null), ...mapped.filter((c) => c.sni === null)];
}

// ---------------------------------------------------------------------------------------------------
// Features, HTTP, simulations

function bit(value: unknown, mask: number): boolean | null {
  return typeof value === 'number' && Number.isInteger(value) ? (value & mask) !== 0 : null;
}

const optionalBoolean = (value: unknown): boolean | null => (typeof value === 'boolean' ? value : null);

const SESSION_RESUMPTION: ReadonlyMap<unknown, ProtocolFeatures['sessionResumption']['ids']> = new Map([
  [0, 'disabled'],
  [1, 'ids-not-resumed'],
  [2, 'enabled'],
]);

function mapFeatures(details: SslLabsEndpointDetails): ProtocolFeatures {
  return {
    secureRenegotiation: bit(details.renegSupport, 2),
    fallbackScsv: optionalBoolean(details.fallbackScsv),
    compression: bit(details.compressionMethods, 1),
    sessionResumption: {
      ids: SESSION_RESUMPTION.get(details.sessionResumption) ?? null,
      tickets: bit(details.sessionTickets, 1),
    },
    ocspStapling: optionalBoolean(details.ocspStapling),
    alpn: text(details.alpnProtocols)?.split(/\s+/).filter((p) => p !== '') ?? [],
    // SSL Labs does not report the extended_master_secret extension.
    extendedMasterSecret: null,
    sniRequired: optionalBoolean(details.sniRequired),
    heartbeat: optionalBoolean(details.heartbeat),
  };
}

const HSTS_STATUSES: readonly HstsPolicy['status'][] = ['absent', 'present', 'invalid', 'disabled', 'unknown'];

function mapHsts(policy: SslLabsHstsPolicy | undefined): HstsPolicy {
  if (!isRecord(policy)) {
    return { status: 'unknown', header: null, maxAge: null, includeSubDomains: false, preload: false, error: 'SSL Labs reported no HSTS policy' };
  }
  const error = text(policy.error);
  return {
    status: HSTS_STATUSES.find((status) => status === policy.status) ?? 'unknown',
    header: text(policy.header) ?? null,
    maxAge: nonNegative(policy.maxAge) ?? null,
    includeSubDomains: policy.includeSubDomains === true,
    preload: policy.preload === true,
    ...(error === undefined ? {} : { error }),
  };
}

function mapHttp(details: SslLabsEndpointDetails): HttpInfo {
  const status = finite(details.httpStatusCode) ?? null;
  return {
    status,
    server: text(details.serverSignature) ?? null,
    hsts: mapHsts(details.hstsPolicy),
    // SSL Labs leaves httpStatusCode out when its HTTP request failed.
    ...(status === null ? { error: 'SSL Labs could not complete an HTTP request' } : {}),
  };
}

/** "Chrome" "80" on "Win 10" → name Chrome, version "80 / Win 10", as the native clients read ("Chrome 80 / Win 10"). */
function simulatedClient(client: Partial<SslLabsSimClient>): SimulatedClient {
  const id = finite(client.id) ?? text(client.id);
  return {
    id: id === undefined ? '' : String(id),
    name: text(client.name) ?? 'unknown client',
    version: [text(client.version), text(client.platform)].filter((part) => part !== undefined).join(' / '),
    isReference: client.isReference === true,
  };
}

function mapSimulations(sims: SslLabsSimDetails | undefined): SimulationResult[] {
  return records(isRecord(sims) ? sims.results : undefined).map((sim): SimulationResult => {
    const ok = sim.errorCode === 0;
    const protocol = protocolFromId(sim.protocolId);
    const suiteId = finite(sim.suiteId);
    const info = suiteId === undefined ? undefined : suiteById(suiteId);
    const iana = text(sim.suiteName) ?? info?.iana;
    const group = text(sim.namedGroupName);
    return {
      client: simulatedClient(isRecord(sim.client) ? sim.client : {}),
      ok,
      ...(protocol === undefined ? {} : { protocol }),
      ...(suiteId === undefined || iana === undefined ? {} : { suite: { code: info?.code ?? suiteCode(suiteId), iana } }),
      ...(group === undefined ? {} : { group }),
      ...(info === undefined ? {} : { fs: info.fs, aead: info.aead }),
      ...(ok ? {} : { error: text(sim.errorMessage) ?? 'the simulated handshake failed' }),
    };
  });
}

// ---------------------------------------------------------------------------------------------------
// Vulnerabilities

interface Verdict {
  status: VulnerabilityStatus;
  detail?: string;
}

/** What SSL Labs' numeric results mean; every field shares -1, 0 and 1. */
interface CodeMeaning {
  status: VulnerabilityStatus;
  words?: string;
}

function codeMeanings(specific: [code: number, status: VulnerabilityStatus, words: string][]): ReadonlyMap<number, CodeMeaning> {
  return new Map<number, CodeMeaning>([
    [-1, { status: 'error', words: 'the test failed' }],
    [0, { status: 'not-tested' }],
    [1, { status: 'not-vulnerable' }],
    ...specific.map(([code, status, words]) => [code, { status, words }] as const),
  ]);
}

const MEANINGS = {
  openSslCcs: codeMeanings([
    [2, 'not-vulnerable', 'possibly vulnerable, but not exploitable'],
    [3, 'vulnerable', 'vulnerable and exploitable'],
  ]),
  ticketbleed: codeMeanings([
    [2, 'vulnerable', 'vulnerable'],
    [3, 'not-vulnerable', 'not vulnerable, but a similar bug was detected'],
  ]),
  bleichenbacher: codeMeanings([
    [2, 'vulnerable', 'vulnerable (weak oracle)'],
    [3, 'vulnerable', 'vulnerable (strong oracle)'],
    [4, 'error', 'inconsistent results'],
  ]),
  poodleTls: codeMeanings([
    [-3, 'error', 'timeout'],
    [-2, 'not-tested', 'TLS not supported'],
    [2, 'vulnerable', 'vulnerable'],
  ]),
  openSSLLuckyMinus20: codeMeanings([[2, 'vulnerable', 'vulnerable']]),
  zombiePoodle: codeMeanings([
    [2, 'vulnerable', 'vulnerable'],
    [3, 'vulnerable', 'vulnerable and exploitable'],
  ]),
  goldenDoodle: codeMeanings([
    [4, 'vulnerable', 'vulnerable'],
    [5, 'vulnerable', 'vulnerable and exploitable'],
  ]),
  zeroLengthPaddingOracle: codeMeanings([
    [6, 'vulnerable', 'vulnerable'],
    [7, 'vulnerable', 'vulnerable and exploitable'],
  ]),
  sleepingPoodle: codeMeanings([
    [10, 'vulnerable', 'vulnerable'],
    [11, 'vulnerable', 'vulnerable and exploitable'],
  ]),
} as const;

type CodedField = keyof typeof MEANINGS;

/** "SSL Labs bleichenbacher=2: vulnerable (weak oracle)" */
function codedVerdict(details: SslLabsEndpointDetails, field: CodedField, label: string = field): Verdict {
  const code = details[field];
  if (typeof code !== 'number') return { status: 'not-tested' };
  const meaning = MEANINGS[field].get(code);
  if (meaning === undefined) return { status: 'error', detail: `${label}: unknown SSL Labs result ${field}=${code}` };
  return { status: meaning.status, ...(meaning.words === undefined ? {} : { detail: `${label}: ${meaning.words} (SSL Labs ${field}=${code})` }) };
}

function booleanVerdict(value: unknown, label: string, field: string): Verdict {
  if (value === true) return { status: 'vulnerable', detail: `${label}: vulnerable (SSL Labs ${field}=true)` };
  return value === false ? { status: 'not-vulnerable' } : { status: 'not-tested' };
}

/** Several SSL Labs tests behind one of our ids: vulnerable if any is, then error if any failed, then not vulnerable if any ran. */
function combinedVerdict(parts: readonly Verdict[]): Verdict {
  for (const status of ['vulnerable', 'error'] as const) {
    const details = parts.filter((p) => p.status === status).flatMap((p) => (p.detail === undefined ? [] : [p.detail]));
    if (parts.some((p) => p.status === status)) return { status, ...(details.length > 0 ? { detail: details.join('; ') } : {}) };
  }
  return { status: parts.some((p) => p.status === 'not-vulnerable') ? 'not-vulnerable' : 'not-tested' };
}

/** DROWN as SSL Labs tests it: the same RSA key or host name seen on another host that speaks SSLv2 (Censys data). */
function drownVerdict(details: SslLabsEndpointDetails): Verdict {
  if (details.drownVulnerable === true) {
    const hosts = records(details.drownHosts)
      .filter((h) => h.status === 'key_match' || h.status === 'hostname_match')
      .map((h) => `${String(h.ip)}:${String(h.port)} (${h.status === 'key_match' ? 'same RSA key' : 'same host name'})`);
    return { status: 'vulnerable', detail: hosts.length > 0 ? `this server's key or name is used by SSLv2 hosts: ${hosts.join(', ')}` : 'DROWN: vulnerable (SSL Labs drownVulnerable=true)' };
  }
  if (details.drownVulnerable !== false) return { status: 'not-tested' };
  return details.drownErrors === true ? { status: 'error', detail: 'SSL Labs could not complete the DROWN check (drownErrors=true)' } : { status: 'not-vulnerable' };
}

/**
 * The native registry's ids (KNOWN_VULNERABILITIES in src/tls/grade), so the grader's F rules and the
 * findings apply alike, plus `drown`, which only SSL Labs can test (it needs scan data of other hosts).
 */
function mapVulnerabilities(details: SslLabsEndpointDetails): VulnerabilityResult[] {
  const verdicts: [id: string, verdict: Verdict][] = [
    ['heartbleed', booleanVerdict(details.heartbleed, 'Heartbleed', 'heartbleed')],
    ['ccs-injection', codedVerdict(details, 'openSslCcs', 'CCS injection')],
    ['ticketbleed', codedVerdict(details, 'ticketbleed', 'Ticketbleed')],
    ['robot', codedVerdict(details, 'bleichenbacher', 'ROBOT')],
    [
      'padding-oracle',
      combinedVerdict([
        codedVerdict(details, 'poodleTls', 'POODLE TLS'),
        codedVerdict(details, 'openSSLLuckyMinus20', 'OpenSSL padding oracle CVE-2016-2107'),
        codedVerdict(details, 'zombiePoodle', 'Zombie POODLE'),
        codedVerdict(details, 'goldenDoodle', 'GOLDENDOODLE'),
        codedVerdict(details, 'zeroLengthPaddingOracle', '0-length padding oracle CVE-2019-1559'),
        codedVerdict(details, 'sleepingPoodle', 'Sleeping POODLE'),
      ]),
    ],
    ['drown', drownVerdict(details)],
  ];
  return verdicts.map(([id, verdict]) => ({ id, ...verdict }));
}

/**
 * SSL Labs' poodle, freak and logjam flags are conclusions from the suites and DH sizes, which the
 * facts carry: findings poodle-sslv3, freak and logjam come from those, as for the native engine. A flag
 * the mapped facts do not bear out is said, not silently lost.
 */
function warnAboutUnseenFlags(details: SslLabsEndpointDetails, facts: EndpointFacts, warn: Warn): void {
  const flags: readonly [field: 'poodle' | 'freak' | 'logjam', name: string, seen: boolean][] = [
    ['poodle', 'POODLE (SSL 3.0)', facts.suites.some((s) => s.protocol === 'SSLv3' && s.cbc)],
    ['freak', 'FREAK (export RSA key exchange)', facts.suites.some((s) => s.export)],
    ['logjam', 'Logjam (DH under 1024 bits)', dhPrimeSizes(facts).some((bits) => bits < 1024)],
  ];
  for (const [field, name, seen] of flags) {
    if (details[field] === true && !seen) warn(`SSL Labs reports ${name} (${field}=true) but its suite list does not show it; the findings do not include it`);
  }
}

// ---------------------------------------------------------------------------------------------------
// Reading untrusted JSON

/** A JSON object (not null, not an array); narrows a declared SSL Labs type without widening it. */
function isRecord(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The object elements of an array; anything else (a missing list, nulls, numbers in it) is dropped. */
function records<T extends object>(value: readonly T[] | null | undefined): T[] {
  return Array.isArray(value) ? value.filter((item): item is T => isRecord(item)) : [];
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);
const finite = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);
const nonNegative = (value: unknown): number | undefined => {
  const n = finite(value);
  return n !== undefined && n >= 0 ? n : undefined;
};
const positive = (value: unknown): number | undefined => {
  const n = finite(value);
  return n !== undefined && n > 0 ? n : undefined;
};

/** A Date from milliseconds since 1970, undefined for anything else. */
function dateFrom(value: unknown): Date | undefined {
  const ms = finite(value);
  if (ms === undefined) return undefined;
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (isRecord(value)) return 'an object without a "host" name';
  return `a ${typeof value}`;
}
