import { isIP } from 'node:net';
import type { TlsEngine } from '../jobs/index.js';
import type {
  Assessment,
  CertificateChainResult,
  CertificateInfo,
  EndpointAssessment,
  Finding,
  GradeCap,
  ProtocolName,
  SuiteResult,
} from '../tls/model.js';
import { PROTOCOLS } from '../tls/model.js';

/**
 * Realistic `Assessment`s for tests of everything that reads the model (store, jobs, API, CLI,
 * diff) without running the engine: an nginx-like endpoint with TLS 1.2 and 1.3, an ECDSA-free RSA
 * chain from a private CA, one weak CBC suite, a TLS 1.2-only cap and HSTS. Override what a test
 * is about; everything else stays plausible.
 */

type SuiteSpec = Omit<SuiteResult, 'protocol'>;

const SUITE_CATALOGUE: Record<string, SuiteSpec> = {
  '0x1301': suiteSpec(0x1301, 'TLS_AES_128_GCM_SHA256', 'TLS_AES_128_GCM_SHA256', 'ANY', 'ANY', 'AES-128-GCM', 128, 'AEAD', true, false, 'secure', ['TLSv1.3']),
  '0x1302': suiteSpec(0x1302, 'TLS_AES_256_GCM_SHA384', 'TLS_AES_256_GCM_SHA384', 'ANY', 'ANY', 'AES-256-GCM', 256, 'AEAD', true, false, 'secure', ['TLSv1.3']),
  '0x1303': suiteSpec(0x1303, 'TLS_CHACHA20_POLY1305_SHA256', 'TLS_CHACHA20_POLY1305_SHA256', 'ANY', 'ANY', 'CHACHA20-POLY1305', 256, 'AEAD', true, false, 'secure', ['TLSv1.3']),
  '0xC02F': suiteSpec(0xc02f, 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', 'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE', 'RSA', 'AES-128-GCM', 128, 'AEAD', true, false, 'secure', ['TLSv1.2']),
  '0xC030': suiteSpec(0xc030, 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384', 'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE', 'RSA', 'AES-256-GCM', 256, 'AEAD', true, false, 'secure', ['TLSv1.2']),
  '0xC013': suiteSpec(0xc013, 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA', 'ECDHE-RSA-AES128-SHA', 'ECDHE', 'RSA', 'AES-128-CBC', 128, 'SHA', true, true, 'weak', ['TLSv1.0', 'TLSv1.1', 'TLSv1.2']),
  '0x002F': suiteSpec(0x002f, 'TLS_RSA_WITH_AES_128_CBC_SHA', 'AES128-SHA', 'RSA', 'RSA', 'AES-128-CBC', 128, 'SHA', false, true, 'weak', ['TLSv1.0', 'TLSv1.1', 'TLSv1.2']),
  '0x000A': suiteSpec(0x000a, 'TLS_RSA_WITH_3DES_EDE_CBC_SHA', 'DES-CBC3-SHA', 'RSA', 'RSA', '3DES-EDE-CBC', 112, 'SHA', false, true, 'insecure', ['SSLv3', 'TLSv1.0', 'TLSv1.1', 'TLSv1.2']),
};

function suiteSpec(
  id: number,
  iana: string,
  openssl: string,
  kx: string,
  auth: string,
  cipher: string,
  bits: number,
  mac: string,
  fs: boolean,
  cbc: boolean,
  strength: SuiteSpec['strength'],
  protocols: ProtocolName[],
): SuiteSpec {
  return {
    id,
    code: `0x${id.toString(16).toUpperCase().padStart(4, '0')}`,
    iana,
    openssl,
    kx,
    auth,
    cipher,
    bits,
    blockBits: cbc ? (cipher.startsWith('3DES') ? 64 : 128) : null,
    mac,
    aead: mac === 'AEAD',
    fs,
    export: false,
    anonymous: false,
    cbc,
    strength,
    protocols,
  };
}

/** A suite from the fixture catalogue as accepted on `protocol`, e.g. `suite('0xC02F', 'TLSv1.2')`. */
export function suite(code: string, protocol: ProtocolName): SuiteResult {
  const spec = SUITE_CATALOGUE[code];
  if (spec === undefined) throw new Error(`no fixture suite ${code}; known: ${Object.keys(SUITE_CATALOGUE).join(', ')}`);
  const kxDetail: SuiteResult['kxDetail'] =
    spec.kx === 'RSA' ? { type: 'RSA', bits: 2048, rsaEquivalentBits: 2048 } : { type: 'ECDH', group: 'x25519', bits: 253, rsaEquivalentBits: 3072 };
  return { ...spec, protocol, kxDetail };
}

export function certificate(overrides: Partial<CertificateInfo> = {}): CertificateInfo {
  return {
    subject: 'CN=app.test',
    commonNames: ['app.test'],
    altNames: ['DNS:app.test', 'DNS:www.app.test'],
    issuer: 'CN=Portcullis Test Intermediate CA,O=Portcullis Tests',
    serialNumber: '4f3a9c01',
    notBefore: '2026-01-01T00:00:00.000Z',
    notAfter: '2026-12-31T23:59:59.000Z',
    daysToExpiry: 180,
    keyAlg: 'RSA',
    keySize: 2048,
    keyStrength: 2048,
    rsaExponent: 65537,
    sigAlg: 'SHA256withRSA',
    sha1: 'a1'.repeat(20),
    sha256: 'b2'.repeat(32),
    pinSha256: 'n7yP0z6m3sJr0jW0m1wq6b2C2k1b5y8s8t4m3u2s1q0=',
    ocspUrls: [],
    crlUrls: [],
    mustStaple: false,
    sctCount: 0,
    selfSigned: false,
    isCa: false,
    pem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
    ...overrides,
  };
}

export function chain(overrides: Partial<CertificateChainResult> = {}): CertificateChainResult {
  const leaf = certificate();
  const intermediate = certificate({
    subject: 'CN=Portcullis Test Intermediate CA,O=Portcullis Tests',
    commonNames: ['Portcullis Test Intermediate CA'],
    altNames: [],
    issuer: 'CN=Portcullis Test Root CA,O=Portcullis Tests',
    notAfter: '2030-06-30T00:00:00.000Z',
    daysToExpiry: 1460,
    sha256: 'c3'.repeat(32),
    isCa: true,
  });
  return {
    served: [leaf, intermediate],
    trustPath: [leaf.sha256, intermediate.sha256, 'd4'.repeat(32)],
    trusted: true,
    trustError: null,
    hostnameMatch: true,
    issues: { incomplete: false, extraCerts: false, wrongOrder: false, rootIncluded: false, cannotValidate: false },
    leafExpiry: leaf.notAfter,
    earliestExpiry: leaf.notAfter,
    sni: 'app.test',
    ...overrides,
  };
}

const TLS12_ONLY_CAP: GradeCap = {
  rule: 'no-tls13',
  effect: 'cap',
  grade: 'A-',
  reason: 'capped at A-: TLS 1.3 is not supported',
  fix: 'enable TLS 1.3',
};

export const FINDINGS = {
  cbc: {
    id: 'cbc-suites',
    severity: 'low',
    title: 'CBC cipher suites offered',
    detail: 'TLSv1.2 accepts 1 CBC suite (TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA).',
    fix: 'prefer AEAD suites (AES-GCM, ChaCha20-Poly1305) and drop CBC suites',
    evidence: ['TLSv1.2 0xC013 TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA'],
  },
  tls10: {
    id: 'tls10',
    severity: 'medium',
    title: 'TLS 1.0 enabled',
    detail: 'The server accepts TLS 1.0, deprecated by RFC 8996.',
    fix: 'disable TLS 1.0 and TLS 1.1',
  },
} satisfies Record<string, Finding>;

/** A graded endpoint: TLS 1.2 + 1.3, three TLS 1.3 suites, two GCM and one CBC suite on 1.2, grade A. */
export function endpoint(overrides: Partial<EndpointAssessment> = {}): EndpointAssessment {
  const enabled = new Set<ProtocolName>(['TLSv1.2', 'TLSv1.3']);
  return {
    ip: '127.0.0.1',
    status: 'ready',
    grade: 'A',
    gradeTrustIgnored: 'A',
    scores: { protocol: 100, keyExchange: 90, cipher: 90, total: 93 },
    caps: [],
    hasWarnings: false,
    isExceptional: false,
    protocols: PROTOCOLS.map((name) => ({ name, supported: enabled.has(name) })),
    suites: [suite('0x1301', 'TLSv1.3'), suite('0x1302', 'TLSv1.3'), suite('0x1303', 'TLSv1.3'), suite('0xC02F', 'TLSv1.2'), suite('0xC030', 'TLSv1.2'), suite('0xC013', 'TLSv1.2')],
    suitePreference: [
      { protocol: 'TLSv1.2', preference: 'server' },
      { protocol: 'TLSv1.3', preference: 'client' },
    ],
    groups: [
      { id: 29, name: 'x25519', bits: 253, type: 'ec', rsaEquivalentBits: 3072 },
      { id: 23, name: 'secp256r1', bits: 256, type: 'ec', rsaEquivalentBits: 3072 },
    ],
    groupPreference: true,
    dhParameters: [],
    certificates: [chain()],
    features: {
      secureRenegotiation: true,
      fallbackScsv: true,
      compression: false,
      sessionResumption: { ids: 'enabled', tickets: true },
      ocspStapling: false,
      alpn: ['h2', 'http/1.1'],
      extendedMasterSecret: true,
      sniRequired: false,
      heartbeat: false,
    },
    http: { status: 200, server: 'nginx', hsts: { status: 'present', header: 'max-age=31536000', maxAge: 31536000, includeSubDomains: false, preload: false } },
    simulations: [],
    vulnerabilities: [],
    findings: [FINDINGS.cbc],
    durationMs: 840,
    connections: 31,
    warnings: [],
    ...overrides,
  };
}

/** An endpoint that could not be assessed (nothing listening). */
export function unreachableEndpoint(ip: string): EndpointAssessment {
  return endpoint({
    ip,
    status: 'error',
    grade: null,
    gradeTrustIgnored: null,
    scores: null,
    protocols: [],
    suites: [],
    suitePreference: [],
    groups: [],
    certificates: [],
    http: null,
    findings: [],
    error: { code: 'connection-refused', message: `connection refused by ${ip}` },
  });
}

/** A TLS 1.2-only endpoint capped at A-, as a second state for diffs. */
export function tls12OnlyEndpoint(overrides: Partial<EndpointAssessment> = {}): EndpointAssessment {
  return endpoint({
    grade: 'A-',
    gradeTrustIgnored: 'A-',
    caps: [TLS12_ONLY_CAP],
    protocols: PROTOCOLS.map((name) => ({ name, supported: name === 'TLSv1.2' })),
    suites: [suite('0xC02F', 'TLSv1.2'), suite('0xC030', 'TLSv1.2'), suite('0xC013', 'TLSv1.2')],
    ...overrides,
  });
}

export function assessment(overrides: Partial<Assessment> = {}): Assessment {
  return {
    host: 'app.test',
    port: 443,
    sni: 'app.test',
    engine: 'native',
    engineVersion: '0.1.0',
    criteriaVersion: '2009r',
    startedAt: '2026-07-01T10:00:00.000Z',
    finishedAt: '2026-07-01T10:00:01.000Z',
    endpoints: [endpoint()],
    ...overrides,
  };
}

type FakeAnswer = Assessment | Error | ((signal: AbortSignal | undefined) => Promise<Assessment>);

export interface FakeEngine {
  engine: TlsEngine;
  /** Targets the engine was asked to assess, as `host:port`, in call order. */
  calls: string[];
  /** The answer table; tests may change it between scans. */
  answers: Record<string, FakeAnswer>;
}

/**
 * A TLS engine answering from a table keyed by `host:port` (IPv6 as `[::1]:443`): an Assessment
 * (its host, port, SNI and times are set as the engine would), an error to throw, or a function of
 * the signal for tests that hold an assessment open. Unknown targets get the default fixture.
 */
export function fakeTlsEngine(answers: Record<string, FakeAnswer> = {}): FakeEngine {
  const calls: string[] = [];
  const engine: TlsEngine = async (target, options) => {
    const key = target.host.includes(':') ? `[${target.host}]:${target.port}` : `${target.host}:${target.port}`;
    calls.push(key);
    const answer = answers[key] ?? assessment();
    if (answer instanceof Error) throw answer;
    const startedAt = new Date().toISOString();
    const result = typeof answer === 'function' ? await answer(options.signal) : answer;
    // As the engine does: SNI is the host name unless overridden, IP targets send none; times are now.
    const sni = options.sni ?? (isIP(target.host) === 0 ? target.host : null);
    return { ...result, host: target.host, port: target.port, sni, startedAt, finishedAt: new Date().toISOString() };
  };
  return { engine, calls, answers };
}
