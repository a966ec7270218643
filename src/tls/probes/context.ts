/**
 * What every probe of one endpoint shares: the exact address to connect to (already checked against
 * the scope policy), the SNI, the per-connection deadline, the parallelism limit, the connection
 * counter, the abort signal and the warning list. Also the one way probes open a `node:tls` connection.
 */
import tls from 'node:tls';
import type { Limiter } from './limiter.js';

export interface ProbeContext {
  /** The checked IP literal: probes connect to this and nothing else. */
  ip: string;
  port: number;
  /** Server name sent in SNI, null for none. */
  sni: string | null;
  /** Deadline of one connection, from connect to the last byte needed. */
  timeoutMs: number;
  signal: AbortSignal;
  /** Every TCP connection a probe opens is counted here (EndpointAssessment.connections). */
  counter: { connections: number };
  /** Runs a connection-holding task under the endpoint's parallelism limit. */
  limit: Limiter;
  /** Records a probe-level problem that did not stop the assessment. */
  warn(message: string): void;
}

export type TlsSessionResult<T> = { ok: true; value: T } | { ok: false; error: string };

/**
 * OpenSSL's SSL_OP_TLSEXT_PADDING (RFC 7685), which node:crypto's constants do not list: pads hellos out of
 * the 256–511 byte range some servers hang on, as the raw hellos are.
 */
export const SSL_OP_TLSEXT_PADDING = 0x10;

/** Options for a `node:tls` client that accepts anything: we assess certificates, we do not trust them. */
export function permissiveTlsOptions(ctx: ProbeContext): tls.ConnectionOptions {
  return {
    host: ctx.ip,
    port: ctx.port,
    rejectUnauthorized: false,
    minVersion: 'TLSv1',
    ciphers: 'ALL:@SECLEVEL=0',
    secureOptions: SSL_OP_TLSEXT_PADDING,
    ...(ctx.sni !== null ? { servername: ctx.sni } : {}),
  };
}

/** Words for socket errors users recognise ("connection refused"), the message otherwise. */
export function describeSocketError(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ECONNRESET') return 'connection reset by the server';
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return 'host unreachable';
  // OpenSSL errors carry a short reason ("invalid padding") under a long, multi-line message.
  const reason = (err as { reason?: unknown } | null)?.reason;
  if (typeof reason === 'string') return `TLS handshake failed: ${reason}`;
  return err instanceof Error ? err.message.trim() : String(err);
}

/**
 * Opens a `node:tls` connection to the endpoint, runs `use` once the handshake is done and closes the
 * connection, all under one deadline and the abort signal. Never rejects: failures come back as text.
 */
export function withTlsSession<T>(
  ctx: ProbeContext,
  // tls.connect passes requestOCSP on to its TLSSocket, though its type does not list it.
  options: tls.ConnectionOptions & { requestOCSP?: boolean },
  use: (socket: tls.TLSSocket) => Promise<T> | T,
  /** Called with the socket before the handshake, for events that precede it (OCSPResponse). */
  observe?: (socket: tls.TLSSocket) => void,
): Promise<TlsSessionResult<T>> {
  return ctx.limit(
    () =>
      new Promise<TlsSessionResult<T>>((resolve) => {
        if (ctx.signal.aborted) {
          resolve({ ok: false, error: 'aborted' });
          return;
        }
        ctx.counter.connections++;
        const socket = tls.connect({ ...permissiveTlsOptions(ctx), ...options });
        observe?.(socket);
        let settled = false;
        const finish = (result: TlsSessionResult<T>): void => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          ctx.signal.removeEventListener('abort', onAbort);
          socket.destroy();
          resolve(result);
        };
        const onAbort = (): void => finish({ ok: false, error: 'aborted' });
        const timer = setTimeout(() => finish({ ok: false, error: `timeout after ${ctx.timeoutMs} ms` }), ctx.timeoutMs);
        ctx.signal.addEventListener('abort', onAbort, { once: true });
        socket.on('error', (err) => finish({ ok: false, error: describeSocketError(err) }));
        let connected = false;
        socket.on('close', () => {
          if (!connected) finish({ ok: false, error: 'the server closed the connection during the handshake' });
        });
        socket.once('secureConnect', () => {
          connected = true;
          Promise.resolve()
            .then(() => use(socket))
            .then(
              (value) => finish({ ok: true, value }),
              (err: unknown) => finish({ ok: false, error: describeSocketError(err) }),
            );
        });
      }),
  );
}
