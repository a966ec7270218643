import net from 'node:net';
import { listenOn, type TestListener } from './listeners.js';

/**
 * The servers a suite starts on loopback, so that one `afterEach(() => servers.closeAll())` (or
 * afterAll) closes them all, destroying whatever connections are still open.
 */
export class TestServers {
  readonly #open: TestListener[] = [];

  /** Starts `server` (net, http, https, tls, http2) on 127.0.0.1 or `host` (e.g. '::1'); resolves to its port. */
  async track(server: net.Server, host = '127.0.0.1'): Promise<number> {
    const listener = await listenOn(server, { host });
    this.#open.push(listener);
    return listener.port;
  }

  /** A TCP server that hands every connection to `onConnection`; resolves to its port. */
  serve(onConnection: (socket: net.Socket) => void, host = '127.0.0.1'): Promise<number> {
    return this.track(net.createServer(onConnection), host);
  }

  /** Closes every server started so far; the next ones are tracked afresh. */
  async closeAll(): Promise<void> {
    await Promise.all(this.#open.splice(0).map((listener) => listener.close()));
  }
}

export type Timed = <T>(label: string, run: () => Promise<T>) => Promise<{ result: T; ms: number }>;

/** A `timed(label, run)` that measures `run` and appends "label: 12.3 ms" to `log` (for a suite's afterAll to print). */
export function timer(log: string[]): Timed {
  return async (label, run) => {
    const start = performance.now();
    const result = await run();
    const ms = performance.now() - start;
    log.push(`${label}: ${ms.toFixed(1)} ms`);
    return { result, ms };
  };
}
