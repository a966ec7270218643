/**
 * Cipher suites per supported protocol: the removal loop over the whole catalogue in bundles of ≤128
 * (enumerate.ts), then server-or-client preference and the server's order, and the key exchange
 * parameters each accepted suite came with (DH prime, EC group, export RSA key) from the
 * ServerKeyExchange. SSLv2 needs one hello: its SERVER-HELLO lists every shared cipher kind.
 */
import type { CipherSuiteInfo, DhParameters, KeyExchangeDetail, ProtocolName, ProtocolSupport, SuitePreference, SuiteResult } from '../model.js';
import {
  groupById,
  identifyDhPrime,
  parseServerKeyExchange,
  rsaEquivalentBits,
  SSLV2_CIPHER_KINDS,
  suiteById,
  suitesForProtocol,
  type ServerHello,
} from '../wire/index.js';
import type { ProbeContext } from './context.js';
import { detectPreference, enumerateAccepted, splitIntoBundles, type HelloVerdict } from './enumerate.js';
import { baseHello, LEGACY_DOWNWARDS, sendHello, sendSslv2Hello, type Flight } from './hello.js';

/** Most suites per hello: servers with the "128 cipher" bug fail on more (testssl `determine_sizelimitbug`). */
const SUITES_PER_HELLO = 128;
/** SSLv3 hellos carry no extensions, so no padding: ≤ 100 suites keep them under the 256 bytes some servers hang on. */
const SUITES_PER_SSLV3_HELLO = 100;

const COMMON_KEY_EXCHANGES = ['ECDHE', 'DHE', 'RSA'];
const COMMON_AUTHENTICATIONS = ['RSA', 'ECDSA', 'DSS', 'ANY'];
/** Bulk ciphers by how often servers enable them (prefixes of CipherSuiteInfo.cipher). */
const CIPHER_LIKELIHOOD = ['AES-128-GCM', 'AES-256-GCM', 'CHACHA20', 'AES-128-CBC', 'AES-256-CBC', 'AES-128-CCM', 'AES-256-CCM', 'ARIA', '3DES', 'RC4', 'DES'];

/** Lower = more likely enabled on a server: common key exchanges first, then by bulk cipher. */
function likelihoodRank(suite: CipherSuiteInfo): number {
  const kx = COMMON_KEY_EXCHANGES.indexOf(suite.kx);
  const common = kx >= 0 && COMMON_AUTHENTICATIONS.includes(suite.auth) && !suite.export;
  const cipher = CIPHER_LIKELIHOOD.findIndex((prefix) => suite.cipher.startsWith(prefix));
  return (common ? kx : COMMON_KEY_EXCHANGES.length) * 100 + (cipher >= 0 ? cipher : CIPHER_LIKELIHOOD.length);
}

/**
 * The suite bundles of `protocol`'s first hellos, the protocol probe's too. The likeliest suites go in
 * the first, full bundle, so a typical server's accepted suites all come from one removal loop, whose
 * order is then already the server's order (no re-offering to sort them).
 */
export function suiteBundles(protocol: Exclude<ProtocolName, 'SSLv2'>): readonly (readonly number[])[] {
  let bundles = bundlesByProtocol.get(protocol);
  if (bundles === undefined) {
    const ranked = suitesForProtocol(protocol).map((suite) => ({ id: suite.id, rank: likelihoodRank(suite) }));
    const ids = ranked.sort((a, b) => a.rank - b.rank).map((suite) => suite.id);
    const size = protocol === 'SSLv3' ? SUITES_PER_SSLV3_HELLO : SUITES_PER_HELLO;
    bundles = [ids.slice(0, size), ...splitIntoBundles(ids.slice(size), size)];
    bundlesByProtocol.set(protocol, bundles);
  }
  return bundles;
}

/** Computed once per protocol: ranking ~300 suites is not free, and both the protocol and suite probes ask. */
const bundlesByProtocol = new Map<ProtocolName, readonly (readonly number[])[]>();

/** A ServerHello at a negotiated TLS ≤ 1.2 version, with the clear part of its flight. */
export interface Handshake {
  protocol: ProtocolName;
  hello: ServerHello;
  flight: Flight;
}

export interface SuiteProbeResult {
  suites: SuiteResult[];
  preference: SuitePreference[];
  dhParameters: DhParameters[];
  /** Accepted suite ids per protocol, in the order reported. */
  accepted: Partial<Record<ProtocolName, number[]>>;
  /** Every successful TLS ≤ 1.2 handshake seen, best protocol first, for the certificate and feature probes. */
  handshakes: Handshake[];
  /** SSLv2 SERVER-HELLO certificate, DER. */
  sslv2Certificate: Buffer | null;
}

function groupDetail(groupId: number): KeyExchangeDetail {
  const group = groupById(groupId);
  if (group === undefined) return { type: 'ECDH', group: `0x${groupId.toString(16).padStart(4, '0')}` };
  return { type: group.type === 'ffdhe' ? 'DH' : 'ECDH', group: group.name, bits: group.bits, rsaEquivalentBits: group.rsaEquivalentBits };
}

/** What the ServerKeyExchange (or, in TLS 1.3, the selected group) says about the key exchange. */
function keyExchange(
  ctx: ProbeContext,
  protocol: ProtocolName,
  suiteId: number,
  hello: ServerHello,
  flight: Flight,
  primes: Map<string, DhParameters>,
): KeyExchangeDetail | undefined {
  if (protocol === 'TLSv1.3') return hello.selectedGroup === undefined ? undefined : groupDetail(hello.selectedGroup);
  const suite = suiteById(suiteId);
  const body = flight.serverKeyExchange;
  if (suite === undefined || body === null) return undefined;
  const kx = suite.kx === 'DHE' ? 'DHE' : suite.kx === 'ECDHE' ? 'ECDHE' : suite.kx === 'RSA' && suite.export ? 'RSA-EXPORT' : undefined;
  if (kx === undefined) return undefined;
  try {
    const params = parseServerKeyExchange(body, kx, protocol);
    if (params.type === 'ecdh') return groupDetail(params.namedGroup);
    if (params.type === 'rsa') return { type: 'RSA', bits: params.modulusBits, rsaEquivalentBits: params.modulusBits };
    const known = identifyDhPrime(params.p);
    const generator = params.g.length <= 4 ? params.g.readUIntBE(0, Math.max(1, params.g.length)) : null;
    primes.set(params.p.toString('hex'), {
      primeBits: params.primeBits,
      generator,
      knownPrime: known?.name ?? null,
      weakKnownPrime: known?.weak ?? false,
    });
    return { type: 'DH', bits: params.primeBits, rsaEquivalentBits: rsaEquivalentBits('dh', params.primeBits) };
  } catch (err) {
    ctx.warn(`suites ${protocol} ${suite.iana}: unreadable ServerKeyExchange (${err instanceof Error ? err.message : String(err)})`);
    return undefined;
  }
}

interface ProtocolSuites {
  protocol: ProtocolName;
  ids: number[];
  preference: SuitePreference;
  details: Map<number, KeyExchangeDetail>;
  handshakes: Handshake[];
  sslv2Certificate: Buffer | null;
}

async function probeSslv2Suites(ctx: ProbeContext): Promise<ProtocolSuites> {
  const answer = await sendSslv2Hello(
    ctx,
    SSLV2_CIPHER_KINDS.map((kind) => kind.id),
  );
  const hello = answer.kind === 'sslv2-server-hello' ? answer.hello : null;
  return {
    protocol: 'SSLv2',
    ids: hello?.cipherKinds ?? [],
    preference: { protocol: 'SSLv2', preference: null },
    details: new Map(),
    handshakes: [],
    sslv2Certificate: hello?.certificate ?? null,
  };
}

async function probeTlsSuites(ctx: ProbeContext, protocol: Exclude<ProtocolName, 'SSLv2'>, primes: Map<string, DhParameters>): Promise<ProtocolSuites> {
  const details = new Map<number, KeyExchangeDetail>();
  const handshakes: Handshake[] = [];
  const tryHello = async (ids: readonly number[]): Promise<HelloVerdict<number>> => {
    // 'flight' for TLS 1.3 too (it stops at the ServerHello there), so the protocol probe's answer is reused.
    const answer = await sendHello(ctx, baseHello(ctx, protocol, [...ids]), 'flight', true);
    if (answer.kind === 'no-answer') return { kind: 'error', message: answer.message, retryable: answer.retryable };
    if (answer.kind !== 'server-hello' || answer.hello.version !== protocol) return { kind: 'rejected' };
    const chosen = answer.hello.cipherSuite;
    if (!details.has(chosen)) {
      const detail = keyExchange(ctx, protocol, chosen, answer.hello, answer.flight, primes);
      if (detail !== undefined) details.set(chosen, detail);
    }
    if (protocol !== 'TLSv1.3') handshakes.push({ protocol, hello: answer.hello, flight: answer.flight });
    return { kind: 'chosen', choice: chosen };
  };

  const found = await enumerateAccepted(suiteBundles(protocol), tryHello);
  for (const message of found.errors) ctx.warn(`suites ${protocol}: ${message}`);
  for (const id of found.unoffered) {
    ctx.warn(`suites ${protocol}: the server chose ${suiteById(id)?.iana ?? `0x${id.toString(16)}`}, which was not offered`);
  }
  const order = await detectPreference(found.accepted, tryHello, found.bundlesWithAccepted <= 1);
  for (const message of order.errors) ctx.warn(`suite preference ${protocol}: ${message}`);
  return {
    protocol,
    ids: order.order,
    preference: { protocol, preference: order.preference },
    details,
    handshakes,
    sslv2Certificate: null,
  };
}

function suiteResult(protocol: ProtocolName, id: number, detail: KeyExchangeDetail | undefined): SuiteResult | undefined {
  const info = suiteById(id);
  if (info === undefined) return undefined;
  return { ...info, protocol, ...(detail !== undefined ? { kxDetail: detail } : {}) };
}

/** Enumerates the suites of every supported protocol, concurrently. */
export async function probeSuites(ctx: ProbeContext, protocols: readonly ProtocolSupport[]): Promise<SuiteProbeResult> {
  const primes = new Map<string, DhParameters>();
  const perProtocol = await Promise.all(
    protocols
      .filter((p) => p.supported)
      .map((p) => (p.name === 'SSLv2' ? probeSslv2Suites(ctx) : probeTlsSuites(ctx, p.name, primes))),
  );
  const suites: SuiteResult[] = [];
  const accepted: Partial<Record<ProtocolName, number[]>> = {};
  for (const p of perProtocol) {
    accepted[p.protocol] = p.ids;
    for (const id of p.ids) {
      const result = suiteResult(p.protocol, id, p.details.get(id));
      if (result === undefined) ctx.warn(`suites ${p.protocol}: the server chose 0x${id.toString(16)}, a code point not in the catalogue`);
      else suites.push(result);
    }
  }
  return {
    suites,
    preference: perProtocol.filter((p) => p.protocol !== 'SSLv2').map((p) => p.preference),
    dhParameters: [...primes.values()],
    accepted,
    handshakes: LEGACY_DOWNWARDS.flatMap((protocol) => perProtocol.find((p) => p.protocol === protocol)?.handshakes ?? []),
    sslv2Certificate: perProtocol.find((p) => p.sslv2Certificate !== null)?.sslv2Certificate ?? null,
  };
}
