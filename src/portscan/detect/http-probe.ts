/** nmap's GetRequest: `GET / HTTP/1.1` on plain TCP (and, via {@link exchangeHttp}, inside TLS). */
import net from 'node:net';
import { Conn, now, type ProbeTarget, type ReadResult } from './conn.js';
import {
  cannotBeHttp,
  describeHttpResponse,
  type HttpIdentity,
  httpResponseLooksComplete,
  MAX_HTTP_RESPONSE_BYTES,
  parseHttpResponse,
} from './http-parse.js';
import { bannerLooksComplete } from './banner-parse.js';
import { looksLikeTlsRecord, missFromRead, type ProbeOutcome } from './probe.js';

/** A pause this long after the first byte ends the response (servers that ignore `Connection: close`). */
export const HTTP_IDLE_MS = 250;

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}[A-Za-z0-9_])?)*$/;

/** The hostname, when it is a usable DNS name (not an address, no stray characters). */
export function usableHostname(hostname: string | undefined): string | undefined {
  if (hostname === undefined) return undefined;
  const name = hostname.endsWith('.') ? hostname.slice(0, -1) : hostname;
  return net.isIP(name) === 0 && HOSTNAME.test(name) ? name : undefined;
}

/** `Host` header value: the name (with a non-default port) or the address and port. */
export function hostHeader(target: ProbeTarget, defaultPort: number): string {
  const name = usableHostname(target.hostname);
  const host = name ?? (net.isIPv6(target.ip) ? `[${target.ip}]` : target.ip);
  return name !== undefined && target.port === defaultPort ? host : `${host}:${target.port}`;
}

export function httpRequest(target: ProbeTarget, defaultPort: number): string {
  return `GET / HTTP/1.1\r\nHost: ${hostHeader(target, defaultPort)}\r\nUser-Agent: Portcullis\r\nAccept: */*\r\nConnection: close\r\n\r\n`;
}

/** Sends the request on an open connection and reads a bounded response. */
export async function exchangeHttp(conn: Conn, target: ProbeTarget, defaultPort: number, deadline: number): Promise<ReadResult> {
  conn.write(httpRequest(target, defaultPort));
  return conn.read({
    deadline,
    idleMs: HTTP_IDLE_MS,
    until: (data) => httpResponseLooksComplete(data) || (cannotBeHttp(data) && (bannerLooksComplete(data) || looksLikeTlsRecord(data))),
  });
}

/** An HTTP response, else undefined. */
export function httpIdentity(data: Uint8Array): HttpIdentity | undefined {
  const response = parseHttpResponse(data);
  return response === undefined ? undefined : describeHttpResponse(response);
}

const PLAIN_HTTP_TO_TLS_PORT = /sent to HTTPS port|plain HTTP to an SSL-enabled server|HTTP request to an HTTPS server|Client sent an HTTP request to an HTTPS server/i;

export async function probeHttp(target: ProbeTarget, deadline: number): Promise<ProbeOutcome> {
  const conn = Conn.tcp(target, MAX_HTTP_RESPONSE_BYTES);
  try {
    const failure = await conn.ready(deadline);
    if (failure !== undefined) return { kind: 'miss', failure };
    const connectedAt = now();
    const read = await exchangeHttp(conn, target, 80, deadline);
    const reply = Buffer.from(read.data);
    const identity = httpIdentity(reply);
    if (identity !== undefined) {
      const service = { name: 'http', ...identity };
      const body = parseHttpResponse(reply)?.body.toString('latin1') ?? '';
      if (identity.http.status === 400 && PLAIN_HTTP_TO_TLS_PORT.test(`${body} ${identity.http.title ?? ''}`)) {
        return { kind: 'miss', reply, tlsHint: true, fallback: service };
      }
      return { kind: 'match', service };
    }
    return missFromRead(read, connectedAt);
  } finally {
    conn.close();
  }
}
