/**
 * One raw ClientHello, one answer: sends a hello to the endpoint under its deadline, limit and counter,
 * and sorts what came back into the few cases probes reason about. Identical hellos are sent once per
 * endpoint (the protocol probe's hellos are the suite enumeration's first ones).
 */
import type { ProtocolName } from '../model.js';
import { exchange, untilServerHello, untilServerHelloDone, type ExchangeResult } from '../transport.js';
import {
  buildClientHello,
  buildSslv2ClientHello,
  type ClientHelloOptions,
  type ServerHello,
  type Sslv2ServerHello,
} from '../wire/index.js';
import type { ProbeContext } from './context.js';

/** Protocols whose handshakes are in clear (certificate, key exchange, extensions), best first. */
export type LegacyProtocol = 'TLSv1.2' | 'TLSv1.1' | 'TLSv1.0' | 'SSLv3';
export const LEGACY_DOWNWARDS: readonly LegacyProtocol[] = ['TLSv1.2', 'TLSv1.1', 'TLSv1.0', 'SSLv3'];

/** The best TLS ≤ 1.2 protocol with accepted suites, and those suites. */
export function bestLegacy(accepted: Partial<Record<ProtocolName, number[]>>): { protocol: LegacyProtocol; suites: number[] } | undefined {
  const protocol = LEGACY_DOWNWARDS.find((p) => (accepted[p] ?? []).length > 0);
  return protocol === undefined ? undefined : { protocol, suites: accepted[protocol] ?? [] };
}

/** What the probes learn from the certificate-bearing part of a TLS ≤ 1.2 flight. */
export interface Flight {
  certificates: Buffer[] | null;
  /** CertificateStatus (stapled OCSP response), DER. */
  ocspResponse: Buffer | null;
  serverKeyExchange: Buffer | null;
}

export type HelloAnswer =
  | { kind: 'server-hello'; hello: ServerHello; flight: Flight }
  | { kind: 'sslv2-server-hello'; hello: Sslv2ServerHello }
  | { kind: 'alert'; description: number; name: string }
  /** No handshake: `retryable` when the server hung up (a shorter or different hello may work). */
  | { kind: 'no-answer'; outcome: ExchangeResult['outcome']; message: string; retryable: boolean };

/** How far to read: just the ServerHello (TLS 1.3, or when nothing else is needed), or the whole clear flight. */
export type ReadUntil = 'server-hello' | 'flight';

function describeOutcome(result: ExchangeResult, timeoutMs: number): string {
  switch (result.outcome) {
    case 'timeout':
      return result.bytesReceived > 0 ? `incomplete answer within ${timeoutMs} ms` : `no answer within ${timeoutMs} ms`;
    case 'closed':
      return 'the server closed the connection without a handshake';
    case 'reset':
      return 'the server reset the connection';
    case 'refused':
      return 'connection refused';
    case 'unreachable':
      return 'host unreachable';
    case 'malformed':
      return `the answer is not TLS${result.error !== undefined ? ` (${result.error.message})` : ''}`;
    case 'aborted':
      return 'aborted';
    case 'complete':
      return 'the server answered without a ServerHello';
  }
}

/** Sorts an exchange's events into an answer; the first decisive event wins. */
export function classifyAnswer(result: ExchangeResult, timeoutMs: number): HelloAnswer {
  const flight: Flight = { certificates: null, ocspResponse: null, serverKeyExchange: null };
  let hello: ServerHello | undefined;
  for (const event of result.events) {
    if (event.type === 'sslv2-server-hello') return { kind: 'sslv2-server-hello', hello: event.hello };
    // Warning alerts (a warning-level unrecognized_name) do not end a handshake.
    const decisive = event.type === 'alert' && (event.level === 2 || event.description === 0);
    if (decisive && hello === undefined) return { kind: 'alert', description: event.description, name: event.name };
    if (event.type === 'server-hello' && hello === undefined) hello = event.hello;
    if (event.type === 'certificate' && flight.certificates === null) flight.certificates = event.certificates;
    if (event.type === 'certificate-status') flight.ocspResponse = event.ocspResponse;
    if (event.type === 'server-key-exchange') flight.serverKeyExchange = event.body;
  }
  if (hello !== undefined) return { kind: 'server-hello', hello, flight };
  return {
    kind: 'no-answer',
    outcome: result.outcome,
    message: describeOutcome(result, timeoutMs),
    retryable: result.outcome === 'closed' || result.outcome === 'reset',
  };
}

async function send(ctx: ProbeContext, bytes: Buffer, readUntil: ReadUntil, urgent: boolean): Promise<HelloAnswer> {
  const result = await ctx.limit(
    () =>
      exchange({
        ip: ctx.ip,
        port: ctx.port,
        hello: bytes,
        timeoutMs: ctx.timeoutMs,
        until: readUntil === 'flight' ? untilServerHelloDone : untilServerHello,
        signal: ctx.signal,
        counter: ctx.counter,
      }),
    urgent,
  );
  return classifyAnswer(result, ctx.timeoutMs);
}

const answers = new WeakMap<ProbeContext, Map<string, Promise<HelloAnswer>>>();

/** A stable key for hello options: equal options map to one connection (Buffers serialise as their bytes). */
function cacheKey(options: ClientHelloOptions, readUntil: ReadUntil): string {
  return JSON.stringify([options, readUntil]);
}

/** Sends `build()`'s bytes once per endpoint and `key`; later calls share the first answer. */
function sendOnce(ctx: ProbeContext, key: string, build: () => Buffer, readUntil: ReadUntil, urgent = false): Promise<HelloAnswer> {
  let cache = answers.get(ctx);
  if (cache === undefined) {
    cache = new Map();
    answers.set(ctx, cache);
  }
  let answer = cache.get(key);
  if (answer === undefined) {
    answer = send(ctx, build(), readUntil, urgent);
    cache.set(key, answer);
  }
  return answer;
}

/**
 * Sends a TLS/SSLv3 hello, or reuses the answer to an identical one sent before to this endpoint.
 * `urgent`: a step of a sequential chain (see Limiter), which goes ahead of one-off hellos.
 */
export function sendHello(ctx: ProbeContext, options: ClientHelloOptions, readUntil: ReadUntil, urgent = false): Promise<HelloAnswer> {
  return sendOnce(ctx, cacheKey(options, readUntil), () => buildClientHello(options), readUntil, urgent);
}

/** Sends a pure SSLv2 CLIENT-HELLO offering `cipherKinds` (once per endpoint); the SERVER-HELLO lists every kind both share. */
export function sendSslv2Hello(ctx: ProbeContext, cipherKinds: number[]): Promise<HelloAnswer> {
  return sendOnce(ctx, `sslv2:${cipherKinds.join(',')}`, () => buildSslv2ClientHello({ cipherKinds }), 'server-hello');
}

/**
 * The hello a probe of `protocol` starts from: SNI, the RFC 5746 signal, EMS, tickets and OCSP stapling
 * requests (their echoes are features), every group, and for TLS 1.3 an empty key_share so the server
 * names its group in a HelloRetryRequest without us doing any key exchange.
 */
export function baseHello(ctx: ProbeContext, protocol: Exclude<ProtocolName, 'SSLv2'>, suites: number[]): ClientHelloOptions {
  const sni = ctx.sni;
  // SSLv3 hellos carry no extensions: the wire builder then signals RFC 5746 with the SCSV instead.
  if (protocol === 'SSLv3') return { version: 'SSLv3', suites };
  if (protocol === 'TLSv1.3') return { version: 'TLSv1.3', supportedVersions: ['TLSv1.3'], suites, sni, keyShareGroups: [], padding: true };
  return { version: protocol, suites, sni, padding: true };
}
