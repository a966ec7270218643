/**
 * The certificate chains the server presents. TLS ≤ 1.2 chains come free with the suite enumeration's
 * handshakes (the Certificate message is in clear; a server with RSA and ECDSA keys shows both). A TLS
 * 1.3-only server encrypts its Certificate, so `node:tls` completes a handshake and we read the chain it
 * received. One more hello without SNI tells whether the server needs SNI to present the same leaf.
 */
import type tls from 'node:tls';
import { analyzeChain, type TrustStore } from '../cert/index.js';
import type { CertificateChainResult } from '../model.js';
import { withTlsSession, type ProbeContext } from './context.js';
import { baseHello, bestLegacy, sendHello } from './hello.js';
import type { SuiteProbeResult } from './suites.js';

export interface CertificateProbeOptions {
  /** The assessed host name (or IP), matched against the leaf. */
  host: string;
  trustStore: TrustStore;
  now: Date;
}

export interface CertificateProbeResult {
  certificates: CertificateChainResult[];
  /** null when no SNI is sent (IP targets) or the question could not be asked. */
  sniRequired: boolean | null;
}


const chainKey = (chain: readonly Buffer[]): string => chain.map((der) => der.toString('base64')).join('.');

/** The chain `node:tls` received, leaf first (its issuerCertificate links end at a self-issued certificate). */
export function peerChain(socket: tls.TLSSocket): Buffer[] {
  const chain: Buffer[] = [];
  let cert: tls.DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  const seen = new Set<string>();
  while (cert?.raw !== undefined && !seen.has(cert.fingerprint256)) {
    seen.add(cert.fingerprint256);
    chain.push(cert.raw);
    cert = cert.issuerCertificate;
  }
  return chain;
}

/** Distinct served chains from the raw handshakes, best protocol first. */
function rawChains(suites: SuiteProbeResult): Buffer[][] {
  const chains = new Map<string, Buffer[]>();
  for (const { flight } of suites.handshakes) {
    if (flight.certificates !== null && flight.certificates.length > 0) chains.set(chainKey(flight.certificates), flight.certificates);
  }
  if (chains.size === 0 && suites.sslv2Certificate !== null) chains.set('sslv2', [suites.sslv2Certificate]);
  return [...chains.values()];
}

/** Does a hello without SNI get a different leaf, or none? */
async function probeSniRequired(ctx: ProbeContext, suites: SuiteProbeResult, leaves: ReadonlySet<string>): Promise<boolean | null> {
  if (ctx.sni === null || leaves.size === 0) return null;
  const legacy = bestLegacy(suites.accepted);
  let leaf: Buffer | undefined;
  if (legacy !== undefined) {
    const answer = await sendHello(ctx, { ...baseHello(ctx, legacy.protocol, legacy.suites), sni: null }, 'flight');
    if (answer.kind === 'no-answer' && !answer.retryable) {
      ctx.warn(`SNI check: ${answer.message}`);
      return null;
    }
    leaf = answer.kind === 'server-hello' ? answer.flight.certificates?.[0] : undefined;
  } else {
    const result = await withTlsSession({ ...ctx, sni: null }, {}, (socket) => peerChain(socket)[0]);
    leaf = result.ok ? result.value : undefined;
  }
  return leaf === undefined || !leaves.has(leaf.toString('base64'));
}

export async function probeCertificates(ctx: ProbeContext, suites: SuiteProbeResult, options: CertificateProbeOptions): Promise<CertificateProbeResult> {
  let chains = rawChains(suites);
  if (chains.length === 0 && (suites.accepted['TLSv1.3'] ?? []).length > 0) {
    const result = await withTlsSession(ctx, { minVersion: 'TLSv1.3' }, peerChain);
    if (result.ok && result.value.length > 0) chains = [result.value];
    else ctx.warn(`certificates: no chain over TLS 1.3 (${result.ok ? 'the server sent no certificate' : result.error})`);
  }
  const leaves = new Set(chains.flatMap((chain) => (chain[0] !== undefined ? [chain[0].toString('base64')] : [])));
  const [certificates, sniRequired] = await Promise.all([
    Promise.all(chains.map((served) => analyzeChain(served, { host: options.host, sni: ctx.sni, trustStore: options.trustStore, now: options.now }))),
    probeSniRequired(ctx, suites, leaves),
  ]);
  return { certificates, sniRequired };
}
