/**
 * Questions about EndpointFacts that the rating rules and the findings both ask: which protocols are
 * on, which suites, which DH sizes, what the reference clients negotiated.
 */
import type { CertificateChainResult, CertificateInfo, EndpointFacts, ProtocolName, SuiteResult } from '../model.js';
import { PROTOCOLS } from '../model.js';

/** "TLS 1.0", "SSL 3.0": the spelling users know from SSL Labs. */
export function protocolLabel(protocol: ProtocolName): string {
  return protocol.startsWith('SSLv') ? `SSL ${protocol.slice(4)}.0` : `TLS ${protocol.slice(4)}`;
}

/** Supported protocols, oldest first. */
export function supportedProtocols(facts: EndpointFacts): ProtocolName[] {
  return PROTOCOLS.filter((name) => facts.protocols.some((p) => p.name === name && p.supported));
}

export function supports(facts: EndpointFacts, protocol: ProtocolName): boolean {
  return facts.protocols.some((p) => p.name === protocol && p.supported);
}

export function bestProtocol(facts: EndpointFacts): ProtocolName | undefined {
  return supportedProtocols(facts).at(-1);
}

export function suitesOn(facts: EndpointFacts, protocol: ProtocolName): SuiteResult[] {
  return facts.suites.filter((s) => s.protocol === protocol);
}

/** "TLSv1.2 0xC013 TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA" */
export function describeSuite(suite: SuiteResult): string {
  return `${suite.protocol} ${suite.code} ${suite.iana}`;
}

export const isRc4 = (suite: Pick<SuiteResult, 'cipher'>): boolean => suite.cipher.startsWith('RC4');
export const isNullCipher = (suite: Pick<SuiteResult, 'cipher'>): boolean => suite.cipher === 'NULL';
/** SWEET32: 3DES, IDEA, RC2, DES and other 64-bit block ciphers. */
export const hasSmallBlock = (suite: Pick<SuiteResult, 'blockBits'>): boolean => suite.blockBits === 64;

/** The chain served for the requested SNI (the first one probed). */
export function servedChain(facts: EndpointFacts): CertificateChainResult | undefined {
  return facts.certificates[0];
}

export function leafCertificate(facts: EndpointFacts): CertificateInfo | undefined {
  return servedChain(facts)?.served[0];
}

/** The certificate key's RSA-equivalent strength, undefined when the key type was not recognised. */
export function keyStrength(cert: CertificateInfo): number | undefined {
  return cert.keyAlg === 'unknown' || cert.keyStrength <= 0 ? undefined : cert.keyStrength;
}

/** "RSA 2048 bits", "EC 256 bits (prime256v1)" */
export function describeKey(cert: CertificateInfo): string {
  return `${cert.keyAlg} ${cert.keySize} bits${cert.curve ? ` (${cert.curve})` : ''}`;
}

/** SHA-1 in a signature algorithm name: SHA1withRSA, ecdsa-with-SHA1. */
export const usesSha1 = (sigAlg: string): boolean => /SHA-?1(?!\d)/i.test(sigAlg);
export const usesMd5OrMd2 = (sigAlg: string): boolean => /MD[25]/i.test(sigAlg);

/** Finite-field DH prime sizes the server used, from ServerKeyExchange parameters, suites and FFDHE groups. */
export function dhPrimeSizes(facts: EndpointFacts): number[] {
  const sizes = [
    ...facts.dhParameters.map((p) => p.primeBits),
    ...facts.suites.flatMap((s) => (s.kxDetail?.type === 'DH' && s.kxDetail.bits !== undefined ? [s.kxDetail.bits] : [])),
    ...facts.groups.filter((g) => g.type === 'ffdhe').map((g) => g.bits),
  ];
  return [...new Set(sizes)].sort((a, b) => a - b);
}

/** The traits of a suite a client negotiated that the reference-client rules look at. */
export interface NegotiatedSuite {
  protocol: ProtocolName;
  iana: string;
  fs: boolean;
  aead: boolean;
  rc4: boolean;
  smallBlock: boolean;
}

interface ReferenceHandshake {
  /** "Chrome 137 / Windows 11" */
  client: string;
  suite: NegotiatedSuite;
}

function negotiatedFromSuite(suite: SuiteResult): NegotiatedSuite {
  return { protocol: suite.protocol, iana: suite.iana, fs: suite.fs, aead: suite.aead, rc4: isRc4(suite), smallBlock: hasSmallBlock(suite) };
}

/**
 * What the reference clients negotiated in the client simulation, or undefined when no reference
 * client completed a handshake (no simulation ran). The suite's traits come from the enumerated suites;
 * the simulation's own fs/aead flags and the IANA name stand in when the enumeration missed it.
 */
function referenceHandshakes(facts: EndpointFacts): ReferenceHandshake[] | undefined {
  const handshakes = facts.simulations.flatMap((sim): ReferenceHandshake[] => {
    if (!sim.client.isReference || !sim.ok || sim.protocol === undefined || sim.suite === undefined) return [];
    const { protocol, suite } = sim;
    const enumerated = facts.suites.find((s) => s.code === suite.code && s.protocol === protocol);
    const negotiated: NegotiatedSuite = enumerated
      ? negotiatedFromSuite(enumerated)
      : {
          protocol,
          iana: suite.iana,
          fs: sim.fs ?? false,
          aead: sim.aead ?? false,
          rc4: suite.iana.includes('_RC4_'),
          smallBlock: /_(3DES_EDE|DES|IDEA|RC2)_CBC/.test(suite.iana),
        };
    return [{ client: `${sim.client.name} ${sim.client.version}`, suite: negotiated }];
  });
  return handshakes.length > 0 ? handshakes : undefined;
}

/** Outcome of asking "do reference clients end up with a suite that has this problem?". */
export interface ReferenceProblem {
  /** The offending handshakes ("Chrome 137: TLS_RSA_WITH_AES_128_GCM_SHA256 (TLSv1.2)") or suites. */
  items: string[];
  /** Set when decided without simulations. */
  basis?: string;
}

/**
 * Do reference clients negotiate a suite with `problem`? From the simulation when there is one;
 * otherwise modern clients are assumed to speak the best protocol and to pick a suite without the
 * problem whenever the server accepts one there, so only a protocol whose every suite has it counts.
 */
export function referenceClientProblem(facts: EndpointFacts, problem: (suite: NegotiatedSuite) => boolean): ReferenceProblem | undefined {
  const handshakes = referenceHandshakes(facts);
  if (handshakes) {
    const offending = handshakes.filter((h) => problem(h.suite));
    return offending.length > 0 ? { items: offending.map((h) => `${h.client}: ${h.suite.iana} (${h.suite.protocol})`) } : undefined;
  }
  const best = bestProtocol(facts);
  const candidates = best === undefined ? [] : suitesOn(facts, best);
  if (best === undefined || candidates.length === 0 || !candidates.every((s) => problem(negotiatedFromSuite(s)))) return undefined;
  return {
    items: candidates.map(describeSuite),
    basis: `no reference-client simulation: decided from the suites accepted on ${protocolLabel(best)}`,
  };
}

/** Active vulnerability probes (ids as in facts.vulnerabilities), named for people. */
export const KNOWN_VULNERABILITIES: readonly { id: string; name: string; fix: string }[] = [
  { id: 'heartbleed', name: 'Heartbleed (CVE-2014-0160)', fix: 'upgrade OpenSSL (1.0.1g or later), restart the service, then replace the private key and revoke the old certificate' },
  { id: 'ccs-injection', name: 'OpenSSL CCS injection (CVE-2014-0224)', fix: 'upgrade OpenSSL (1.0.1h or later) on the server' },
  { id: 'ticketbleed', name: 'Ticketbleed (CVE-2016-9244)', fix: 'update the F5 BIG-IP firmware or disable session tickets on the virtual server' },
  { id: 'robot', name: 'ROBOT (Bleichenbacher RSA padding oracle)', fix: 'patch the TLS stack and disable RSA key-exchange suites (TLS_RSA_WITH_*)' },
  { id: 'padding-oracle', name: 'CBC padding oracle (POODLE TLS, CVE-2016-2107 and kin)', fix: 'patch the TLS stack; prefer AEAD suites and drop CBC suites' },
  // Cross-host: the same RSA key on any SSLv2 server. Only SSL Labs (with Censys data) can tell; the native engine reports it not tested.
  { id: 'drown', name: 'DROWN (CVE-2016-0800, key shared with an SSLv2 server)', fix: 'disable SSLv2 everywhere this key or certificate is used, or replace the key' },
];
