/**
 * TLS ClientHello on any port (nmap's SSLSessionReq/TLSSessionReq, done with node:tls), then the HTTP
 * probe inside the tunnel (nmap's `ssl/http`).
 */
import type tls from 'node:tls';
import { genericBanner, identifyBanner } from './banner-parse.js';
import { Conn, now, type ProbeTarget } from './conn.js';
import { MAX_HTTP_RESPONSE_BYTES } from './http-parse.js';
import { exchangeHttp, httpIdentity, usableHostname } from './http-probe.js';
import type { ProbeOutcome, ServiceMatch } from './probe.js';
import { describeTlsHandshake, errorProvesTls } from './tls-parse.js';

/** Detection, not assessment: accept any certificate, and old protocol versions and ciphers too. */
function tlsOptions(target: ProbeTarget, alpn: string[]): tls.ConnectionOptions {
  const servername = usableHostname(target.hostname);
  return {
    rejectUnauthorized: false,
    ALPNProtocols: alpn,
    minVersion: 'TLSv1',
    ciphers: 'DEFAULT:@SECLEVEL=0',
    ...(servername !== undefined ? { servername } : {}),
  };
}

/**
 * `deadline` bounds the handshake (this probe's share of the budget); once the port is known to speak
 * TLS, the HTTP exchange inside may use half of what is left before `budgetDeadline` (the whole budget),
 * and never less than the handshake share.
 */
export async function probeTls(target: ProbeTarget, deadline: number, budgetDeadline: number): Promise<ProbeOutcome> {
  const conns: Conn[] = [];
  try {
    const conn = Conn.tls(target, MAX_HTTP_RESPONSE_BYTES, tlsOptions(target, ['h2', 'http/1.1']));
    conns.push(conn);
    const failure = await conn.ready(deadline);
    if (failure !== undefined) {
      const code = (conn.error as { code?: string } | undefined)?.code;
      if (errorProvesTls(code)) return { kind: 'match', service: { name: 'tls', tls: {} } };
      // No answer at all to a ClientHello is silence a server that speaks first would have broken.
      const connectedAt = conn.tcpConnectedAt;
      if (failure === 'timeout' && connectedAt !== undefined) return { kind: 'miss', silentForMs: now() - connectedAt };
      return { kind: 'miss', ...(failure !== 'error' ? { failure } : {}) };
    }
    // The server may already have hung up: these getters then return null.
    const socket = conn.socket as tls.TLSSocket;
    const peer = socket.getPeerCertificate(false) as tls.PeerCertificate | null;
    const certificate = (peer?.raw as Buffer | undefined) ?? undefined;
    const cipher = (socket.getCipher() as tls.CipherNameAndProtocol | null)?.name;
    const info = describeTlsHandshake({
      protocol: socket.getProtocol(),
      ...(cipher !== undefined ? { cipher } : {}),
      alpn: socket.alpnProtocol,
      ...(certificate !== undefined ? { certificate } : {}),
      authorizationError: socket.authorizationError,
    });
    const speaksHttp = info.alpn === 'h2' || info.alpn === 'http/1.1';

    const handshakeAt = now();
    const innerDeadline = Math.min(budgetDeadline, Math.max(deadline, handshakeAt + (budgetDeadline - handshakeAt) / 2));
    let inner = conn;
    if (info.alpn === 'h2') {
      // We speak HTTP/1.1 only: ask again without h2 for the request.
      conn.close();
      inner = Conn.tls(target, MAX_HTTP_RESPONSE_BYTES, tlsOptions(target, ['http/1.1']));
      conns.push(inner);
      if ((await inner.ready(innerDeadline)) !== undefined) return { kind: 'match', service: { name: 'https', tls: info } };
    }
    const { data } = await exchangeHttp(inner, target, 443, innerDeadline);
    const http = httpIdentity(data);
    if (http !== undefined) return { kind: 'match', service: { name: 'https', tls: info, ...http } };
    const service: ServiceMatch = { name: speaksHttp ? 'https' : 'tls', tls: info };
    // Services that speak first inside TLS (IMAPS, POP3S, SMTPS) greet before reading our request.
    const greeting = identifyBanner(data, target.port);
    if (greeting !== undefined) {
      const { name: _name, ...rest } = greeting;
      return { kind: 'match', service: { ...service, ...rest } };
    }
    if (data.length > 0) service.banner = genericBanner(data);
    return { kind: 'match', service };
  } finally {
    for (const conn of conns) conn.close();
  }
}
