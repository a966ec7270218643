/**
 * Protocol features. Most are echoes in the ServerHellos the suite enumeration already received (secure
 * renegotiation, EMS, session tickets, OCSP stapling); the rest cost a connection or two each: DEFLATE
 * and heartbeat offered in one hello, TLS_FALLBACK_SCSV at a lower version, session-id resumption and
 * ALPN through `node:tls` (they need a finished handshake or, in TLS 1.3, encrypted extensions). Those
 * need only one accepted suite per protocol, so they run while the suites are still being enumerated.
 */
import { constants } from 'node:crypto';
import { childrenOf, DerTag, readSingle } from '../cert/der.js';
import { PROTOCOLS, type ProtocolFeatures, type ProtocolName, type ProtocolSupport } from '../model.js';
import { AlertDescription } from '../wire/index.js';
import { SSL_OP_TLSEXT_PADDING, withTlsSession, type ProbeContext } from './context.js';
import { enumerateAccepted, type HelloVerdict } from './enumerate.js';
import { baseHello, bestLegacy, LEGACY_DOWNWARDS, sendHello } from './hello.js';
import type { Handshake } from './suites.js';

/** Accepted suite ids per protocol; one per protocol is enough here. */
type Accepted = Partial<Record<ProtocolName, number[]>>;

const ALPN_CANDIDATES = ['h2', 'http/1.1'];
/** DEFLATE (RFC 3749), then null so a server without compression can still answer. */
const OFFER_DEFLATE = [1, 0];
const DEFLATE = 1;
/** How long to wait for a TLS 1.3 NewSessionTicket after the handshake (it follows at once when sent). */
const TICKET_WAIT_MS = 300;

/** Length of the session id in an OpenSSL SSL_SESSION (as `getSession()` returns it), null if unreadable. */
export function sessionIdLength(session: Buffer): number | null {
  try {
    const sequence = readSingle(session, 'SSL_SESSION');
    // SSL_SESSION_ASN1: version, ssl_version, cipher, session_id, …
    const field = sequence.tag === DerTag.sequence ? childrenOf(sequence)[3] : undefined;
    return field?.tag === DerTag.octetString ? field.content.length : null;
  } catch {
    // Not DER we know: the id length stays unknown, and the resumption attempt still gives the answer.
    return null;
  }
}

/** DEFLATE compression (CRIME) and the heartbeat extension, asked in one hello. */
async function probeCompressionAndHeartbeat(ctx: ProbeContext, accepted: Accepted): Promise<{ compression: boolean | null; heartbeat: boolean | null }> {
  const legacy = bestLegacy(accepted);
  if (legacy === undefined) return { compression: null, heartbeat: null };
  const options = { ...baseHello(ctx, legacy.protocol, legacy.suites), compressionMethods: OFFER_DEFLATE, heartbeat: true };
  const answer = await sendHello(ctx, options, 'server-hello');
  if (answer.kind !== 'server-hello') {
    ctx.warn(`compression/heartbeat: ${answer.kind === 'alert' ? `the server answered ${answer.name}` : answer.kind === 'no-answer' ? answer.message : 'no ServerHello'}`);
    return { compression: null, heartbeat: null };
  }
  return { compression: answer.hello.compressionMethod === DEFLATE, heartbeat: answer.hello.heartbeat };
}

/** RFC 7507: a hello below the best version, carrying TLS_FALLBACK_SCSV, must be refused with inappropriate_fallback. */
async function probeFallbackScsv(ctx: ProbeContext, protocols: readonly ProtocolSupport[], accepted: Accepted): Promise<boolean | null> {
  const supported = PROTOCOLS.filter((name) => name !== 'SSLv2' && protocols.some((p) => p.name === name && p.supported));
  const best = supported.at(-1);
  const lower = LEGACY_DOWNWARDS.find((p) => p !== best && supported.includes(p) && (accepted[p] ?? []).length > 0);
  if (best === undefined || lower === undefined) return null;
  const answer = await sendHello(ctx, { ...baseHello(ctx, lower, accepted[lower] ?? []), fallbackScsv: true }, 'server-hello');
  if (answer.kind === 'alert' && answer.description === AlertDescription.inappropriateFallback) return true;
  if (answer.kind === 'server-hello') return false;
  ctx.warn(`fallback SCSV: ${answer.kind === 'alert' ? `the server answered ${answer.name} instead of inappropriate_fallback` : answer.kind === 'no-answer' ? answer.message : 'no ServerHello'}`);
  return null;
}

/** Session-id resumption (tickets switched off on our side so only the id can resume). */
async function probeSessionIds(ctx: ProbeContext, accepted: Accepted): Promise<ProtocolFeatures['sessionResumption']['ids']> {
  // node:tls (OpenSSL 3) cannot speak SSLv3; TLS 1.3 has no session ids.
  if (!(['TLSv1.2', 'TLSv1.1', 'TLSv1.0'] as const).some((p) => (accepted[p] ?? []).length > 0)) return null;
  const options = { maxVersion: 'TLSv1.2', secureOptions: SSL_OP_TLSEXT_PADDING | constants.SSL_OP_NO_TICKET } as const;
  const first = await withTlsSession(ctx, options, (socket) => socket.getSession());
  if (!first.ok || first.value === undefined) {
    ctx.warn(`session resumption: ${first.ok ? 'no session to resume' : first.error}`);
    return null;
  }
  const idLength = sessionIdLength(first.value);
  if (idLength === 0) return 'disabled';
  const session = first.value;
  const second = await withTlsSession(ctx, { ...options, session }, (socket) => socket.isSessionReused());
  if (!second.ok) {
    ctx.warn(`session resumption: ${second.error}`);
    return null;
  }
  return second.value ? 'enabled' : 'ids-not-resumed';
}

/** ALPN protocols, by the removal loop over what we can name (the selection is encrypted in TLS 1.3, so node:tls). */
async function probeAlpn(ctx: ProbeContext): Promise<string[]> {
  const tryHello = async (offered: readonly string[]): Promise<HelloVerdict<string>> => {
    const result = await withTlsSession(ctx, { ALPNProtocols: [...offered] }, (socket) => socket.alpnProtocol);
    if (!result.ok) return { kind: 'error', message: result.error, retryable: true };
    return typeof result.value === 'string' ? { kind: 'chosen', choice: result.value } : { kind: 'rejected' };
  };
  const found = await enumerateAccepted([ALPN_CANDIDATES], tryHello);
  for (const message of found.errors) ctx.warn(`ALPN: ${message}`);
  return found.accepted;
}

/** What a TLS 1.3-only server staples and whether it issues tickets: one node:tls handshake. */
async function probeTls13Session(ctx: ProbeContext): Promise<{ ocspStapling: boolean | null; tickets: boolean | null }> {
  let stapled = false;
  const result = await withTlsSession<boolean>(
    ctx,
    { minVersion: 'TLSv1.3', requestOCSP: true },
    (socket) =>
      new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), Math.min(TICKET_WAIT_MS, ctx.timeoutMs));
        socket.once('session', () => {
          clearTimeout(timer);
          resolve(true);
        });
      }),
    // Node emits null when the server staples nothing.
    (socket) => socket.once('OCSPResponse', (response: Buffer | null) => (stapled = response !== null && response.length > 0)),
  );
  if (!result.ok) {
    ctx.warn(`TLS 1.3 session: ${result.error}`);
    return { ocspStapling: null, tickets: null };
  }
  return { ocspStapling: stapled, tickets: result.value };
}

/** Echoes in the raw handshakes' ServerHellos, best protocol first. */
function echoed(handshakes: readonly Handshake[], pick: (h: Handshake) => boolean): boolean | null {
  if (handshakes.length === 0) return null;
  return pick(handshakes[0] as Handshake);
}

/**
 * `firstAccepted`: one accepted suite per supported protocol (the protocol probe's), which the probes
 * here need; `enumeration`: what comes later, the suite enumeration's handshakes (whose echoes are
 * features) and the certificate probe's SNI verdict.
 */
export async function probeFeatures(
  ctx: ProbeContext,
  protocols: readonly ProtocolSupport[],
  firstAccepted: Accepted,
  enumeration: Promise<{ handshakes: readonly Handshake[]; sniRequired: boolean | null }>,
): Promise<ProtocolFeatures> {
  const tls13Only = bestLegacy(firstAccepted) === undefined && (firstAccepted['TLSv1.3'] ?? []).length > 0;
  const [deflateAndHeartbeat, fallbackScsv, ids, alpn, tls13, { handshakes, sniRequired }] = await Promise.all([
    probeCompressionAndHeartbeat(ctx, firstAccepted),
    probeFallbackScsv(ctx, protocols, firstAccepted),
    probeSessionIds(ctx, firstAccepted),
    probeAlpn(ctx),
    tls13Only ? probeTls13Session(ctx) : Promise.resolve(undefined),
    enumeration,
  ]);
  return {
    secureRenegotiation: echoed(handshakes, (h) => h.hello.secureRenegotiation),
    fallbackScsv,
    compression: deflateAndHeartbeat.compression,
    sessionResumption: { ids, tickets: tls13?.tickets ?? echoed(handshakes, (h) => h.hello.sessionTicket) },
    ocspStapling: tls13?.ocspStapling ?? (handshakes.length === 0 ? null : handshakes.some((h) => h.hello.statusRequest || h.flight.ocspResponse !== null)),
    alpn,
    extendedMasterSecret: echoed(handshakes, (h) => h.hello.extendedMasterSecret),
    sniRequired,
    heartbeat: deflateAndHeartbeat.heartbeat,
  };
}
