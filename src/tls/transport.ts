/**
 * One probe = one TCP connection: send a hand-built hello, read the server's answer as events until the
 * caller has what it needs. Nothing here throws for what the network or the server does; every outcome
 * is a value, the socket is always destroyed and the single deadline timer always cleared.
 */
import net from 'node:net';
import { ServerFlightParser, WireError, type ServerEvent } from './wire/index.js';

export interface ExchangeOptions {
  ip: string;
  port: number;
  hello: Buffer;
  /** Overall deadline covering connect and all reads. */
  timeoutMs: number;
  /** Stop as soon as this holds (e.g. {@link untilServerHelloDone}). */
  until: (events: readonly ServerEvent[]) => boolean;
  maxBytes?: number;
  signal?: AbortSignal;
  /** Incremented once per TCP connection attempted. */
  counter?: { connections: number };
}

export type ExchangeOutcome = 'complete' | 'closed' | 'reset' | 'timeout' | 'refused' | 'unreachable' | 'malformed' | 'aborted';

export interface ExchangeResult {
  outcome: ExchangeOutcome;
  /** Everything parsed, also when the exchange ended otherwise than 'complete'. */
  events: ServerEvent[];
  /** Why it ended, for every outcome but 'complete' and 'closed'. */
  error?: { code: string; message: string };
  bytesReceived: number;
  ms: number;
}

const isFatalAlert = (event: ServerEvent): boolean => event.type === 'alert' && (event.level === 2 || event.description === 0);

/** Stop at the first answer that decides a suite/version probe: a ServerHello (or SSLv2's), or a fatal alert. */
export function untilServerHello(events: readonly ServerEvent[]): boolean {
  return events.some((e) => e.type === 'server-hello' || e.type === 'sslv2-server-hello' || isFatalAlert(e));
}

/**
 * Stop when nothing more can be read in clear: ServerHelloDone, a fatal alert (or close_notify), a TLS 1.3
 * ServerHello or HelloRetryRequest, an SSLv2 SERVER-HELLO, or records we cannot decrypt (resumption).
 */
export function untilServerHelloDone(events: readonly ServerEvent[]): boolean {
  return events.some(
    (e) =>
      e.type === 'server-hello-done' ||
      e.type === 'sslv2-server-hello' ||
      e.type === 'encrypted' ||
      isFatalAlert(e) ||
      (e.type === 'server-hello' && (e.hello.isHelloRetryRequest || e.hello.version === 'TLSv1.3')),
  );
}

function errnoCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'ERROR';
}

/** Connects, sends `hello`, reads events until `until` holds. Rejects only for a bug (e.g. an `until` that throws). */
export function exchange(options: ExchangeOptions): Promise<ExchangeResult> {
  const started = performance.now();
  const endpoint = net.isIPv6(options.ip) ? `[${options.ip}]:${options.port}` : `${options.ip}:${options.port}`;
  const parser = new ServerFlightParser(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes });
  const events: ServerEvent[] = [];
  let bytesReceived = 0;
  let connected = false;

  return new Promise<ExchangeResult>((resolve, reject) => {
    if (options.signal?.aborted === true) {
      resolve({ outcome: 'aborted', events, error: { code: 'aborted', message: `exchange with ${endpoint} cancelled before it started` }, bytesReceived, ms: 0 });
      return;
    }
    if (options.counter !== undefined) options.counter.connections += 1;
    const socket = net.connect({ host: options.ip, port: options.port, noDelay: true });
    let settled = false;
    const cleanUp = (): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      return true;
    };
    const finish = (outcome: ExchangeOutcome, error?: { code: string; message: string }): void => {
      if (!cleanUp()) return;
      const result: ExchangeResult = { outcome, events, bytesReceived, ms: performance.now() - started };
      if (error !== undefined) result.error = error;
      resolve(result);
    };
    const malformed = (err: WireError): void => finish('malformed', { code: err.code, message: `${endpoint}: ${err.message}` });
    const onAbort = (): void => finish('aborted', { code: 'aborted', message: `exchange with ${endpoint} cancelled` });
    const timer = setTimeout(() => {
      const what = connected ? (bytesReceived === 0 ? 'no answer' : `no complete answer (${bytesReceived} bytes)`) : 'no connection';
      finish('timeout', { code: 'timeout', message: `${what} from ${endpoint} within ${options.timeoutMs} ms` });
    }, options.timeoutMs);
    options.signal?.addEventListener('abort', onAbort, { once: true });

    socket.once('connect', () => {
      connected = true;
      socket.write(options.hello);
    });
    socket.on('data', (chunk: Buffer) => {
      bytesReceived += chunk.length;
      try {
        events.push(...parser.push(chunk));
        if (options.until(events)) return finish('complete');
        // Bytes after the last complete event were bad: no point waiting for more.
        if (parser.error !== undefined) malformed(parser.error);
      } catch (err) {
        if (err instanceof WireError) return malformed(err);
        // A bug (ours or in `until`), not something the server did: surface it rather than crash the process.
        if (cleanUp()) reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
    socket.on('end', () => finish('closed'));
    socket.on('close', () => finish('closed'));
    socket.on('error', (err: Error) => {
      const code = errnoCode(err);
      if (!connected) {
        if (code === 'ECONNREFUSED') return finish('refused', { code, message: `${endpoint} refused the connection` });
        if (code === 'ETIMEDOUT') return finish('timeout', { code: 'timeout', message: `no connection to ${endpoint} (${code})` });
        return finish('unreachable', { code, message: `cannot connect to ${endpoint}: ${err.message}` });
      }
      finish('reset', { code, message: `connection to ${endpoint} failed: ${err.message}` });
    });
  });
}
