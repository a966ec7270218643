/** What every client-speaks-first probe reports back to the detector. */
import type { ServiceInfo } from '../../shared/model.js';
import { type ConnectFailure, now, type ReadResult } from './conn.js';

export type ServiceMatch = Omit<ServiceInfo, 'method'>;

export type ProbeOutcome =
  | { kind: 'match'; service: ServiceMatch }
  | {
      kind: 'miss';
      /** Set when the probe never got a connection. */
      failure?: ConnectFailure;
      /** What the server sent, if anything (it may be a banner: servers that speak first do so on every connection). */
      reply?: Buffer;
      /** Connected, and the peer hung up (FIN or RST) without sending a byte. */
      peerClosed?: boolean;
      /** How long the connection stayed up without a byte from the server, ms (0 when it spoke or closed). */
      silentForMs?: number;
      /** The reply suggests TLS (a TLS record, or a "plain HTTP sent to an HTTPS port" page). */
      tlsHint?: boolean;
      /** A weaker identification to use if nothing better turns up. */
      fallback?: ServiceMatch;
    };

/** A TLS record header (handshake 0x16 or alert 0x15, major version 3). */
export function looksLikeTlsRecord(reply: Uint8Array | undefined): boolean {
  return reply !== undefined && reply.length >= 3 && (reply[0] === 0x15 || reply[0] === 0x16) && reply[1] === 0x03;
}

/** The miss for a probe whose answer (read on a connection up since `connectedAt`) was not what it wanted. */
export function missFromRead({ data, end }: ReadResult, connectedAt: number): Extract<ProbeOutcome, { kind: 'miss' }> {
  const reply = Buffer.from(data);
  return {
    kind: 'miss',
    reply,
    tlsHint: looksLikeTlsRecord(reply),
    peerClosed: reply.length === 0 && (end === 'closed' || end === 'reset'),
    silentForMs: reply.length === 0 && end === 'timeout' ? now() - connectedAt : 0,
  };
}
