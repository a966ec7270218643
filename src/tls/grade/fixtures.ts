/**
 * Test facts for the grader and the findings: an endpoint that earns A+ (TLS 1.2 + 1.3, ECDHE with
 * AES-GCM and ChaCha20, RSA 2048 from a trusted CA, HSTS for a year). Tests change one thing.
 */
import { certificate, chain } from '../../testing/assessments.js';
import type { EndpointFacts, KeyExchangeDetail, ProtocolName, ProtocolSupport, SimulationResult, SuiteResult } from '../model.js';
import { PROTOCOLS } from '../model.js';
import { suiteByName } from '../wire/catalogue/index.js';
import type { GradeContext } from './types.js';

export { certificate, chain };

export const CONTEXT: GradeContext = { host: 'app.test', now: new Date('2026-06-01T00:00:00Z') };

const X25519: KeyExchangeDetail = { type: 'ECDH', group: 'x25519', bits: 253, rsaEquivalentBits: 3072 };

/** What the key exchange of a suite used, unless the test says otherwise: x25519, DH 2048 or the RSA 2048 key. */
function defaultKeyExchange(kx: string): KeyExchangeDetail | undefined {
  if (kx === 'ANY' || kx.startsWith('ECDH')) return X25519;
  if (kx.startsWith('DH')) return { type: 'DH', bits: 2048, rsaEquivalentBits: 2048 };
  if (kx === 'RSA') return { type: 'RSA', bits: 2048, rsaEquivalentBits: 2048 };
  return undefined;
}

/** A catalogue suite (IANA or OpenSSL name) as accepted on `protocol`. */
export function suite(name: string, protocol: ProtocolName, kxDetail?: KeyExchangeDetail): SuiteResult {
  const info = suiteByName(name);
  if (info === undefined) throw new Error(`unknown suite ${name}`);
  const detail = kxDetail ?? defaultKeyExchange(info.kx);
  return { ...info, protocol, ...(detail ? { kxDetail: detail } : {}) };
}

export function protocols(...enabled: ProtocolName[]): ProtocolSupport[] {
  return PROTOCOLS.map((name) => ({ name, supported: enabled.includes(name) }));
}

export const MODERN_SUITES: readonly SuiteResult[] = [
  suite('TLS_AES_128_GCM_SHA256', 'TLSv1.3'),
  suite('TLS_AES_256_GCM_SHA384', 'TLSv1.3'),
  suite('TLS_CHACHA20_POLY1305_SHA256', 'TLSv1.3'),
  suite('ECDHE-RSA-AES128-GCM-SHA256', 'TLSv1.2'),
  suite('ECDHE-RSA-AES256-GCM-SHA384', 'TLSv1.2'),
  suite('ECDHE-RSA-CHACHA20-POLY1305', 'TLSv1.2'),
];

/** What a client got in the simulation; fs and aead as the catalogue says for the suite. */
export function simulation(clientName: string, protocol: ProtocolName, suiteName: string, isReference = true): SimulationResult {
  const info = suiteByName(suiteName);
  if (info === undefined) throw new Error(`unknown suite ${suiteName}`);
  return {
    client: { id: clientName.toLowerCase(), name: clientName, version: '1', isReference },
    ok: true,
    protocol,
    suite: { code: info.code, iana: info.iana },
    fs: info.fs,
    aead: info.aead,
  };
}

export function facts(overrides: Partial<EndpointFacts> = {}): EndpointFacts {
  return {
    ip: '127.0.0.1',
    protocols: protocols('TLSv1.2', 'TLSv1.3'),
    suites: [...MODERN_SUITES],
    suitePreference: [
      { protocol: 'TLSv1.2', preference: 'server' },
      { protocol: 'TLSv1.3', preference: 'client' },
    ],
    groups: [
      { id: 0x001d, name: 'x25519', bits: 253, type: 'ec', rsaEquivalentBits: 3072 },
      { id: 0x0017, name: 'secp256r1', bits: 256, type: 'ec', rsaEquivalentBits: 3072 },
    ],
    groupPreference: true,
    dhParameters: [],
    certificates: [chain()],
    features: {
      secureRenegotiation: true,
      fallbackScsv: true,
      compression: false,
      sessionResumption: { ids: 'enabled', tickets: true },
      ocspStapling: true,
      alpn: ['h2', 'http/1.1'],
      extendedMasterSecret: true,
      sniRequired: false,
      heartbeat: false,
    },
    http: {
      status: 200,
      server: 'nginx',
      hsts: { status: 'present', header: 'max-age=31536000', maxAge: 31536000, includeSubDomains: false, preload: false },
    },
    simulations: [],
    vulnerabilities: [],
    ...overrides,
  };
}

/** The same facts with the served chain's leaf (and chain fields) changed. */
export function withLeaf(leaf: Parameters<typeof certificate>[0], chainOverrides: Parameters<typeof chain>[0] = {}): Partial<EndpointFacts> {
  const base = chain(chainOverrides);
  return { certificates: [{ ...base, served: [certificate(leaf), ...base.served.slice(1)] }] };
}
