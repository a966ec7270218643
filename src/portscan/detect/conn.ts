/**
 * The one piece of socket code the probes share: a connection that buffers what the peer sends up to a
 * cap, and bounded reads ("until this predicate holds, the peer closes, the deadline passes, or the line
 * goes idle"). Every path ends in `close()`, which destroys the socket and clears the timer.
 */
import net from 'node:net';
import tls from 'node:tls';

/** Monotonic clock for deadlines, in ms. */
export const now = (): number => performance.now();

/** Where a probe runs and until when (an absolute {@link now} time). */
export interface ProbeTarget {
  ip: string;
  port: number;
  /** Name for SNI and the HTTP Host header, when the address came from a name. */
  hostname?: string;
  signal?: AbortSignal;
}

export type ConnectFailure = 'refused' | 'timeout' | 'closed' | 'reset' | 'aborted' | 'error';

export type ReadEnd =
  /** The caller's predicate held. */
  | 'complete'
  /** The peer closed (FIN). */
  | 'closed'
  | 'reset'
  | 'error'
  | 'timeout'
  /** Data came, then nothing for `idleMs`. */
  | 'idle'
  /** The buffer cap was reached; the socket was destroyed. */
  | 'full'
  | 'aborted';

export interface ReadResult {
  data: Buffer;
  end: ReadEnd;
}

export interface ReadOptions {
  deadline: number;
  until?: (data: Buffer) => boolean;
  /** After the first byte, give up once the peer has been quiet this long. */
  idleMs?: number;
}

// One 'abort' listener per signal, however many connections watch it (detection runs dozens at once,
// and EventTarget warns past 10 listeners).
const abortWatchers = new WeakMap<AbortSignal, Set<() => void>>();

export function onAbort(signal: AbortSignal | undefined, fn: () => void): () => void {
  if (signal === undefined) return () => undefined;
  let watchers = abortWatchers.get(signal);
  if (watchers === undefined) {
    const set = new Set<() => void>();
    abortWatchers.set(signal, set);
    signal.addEventListener(
      'abort',
      () => {
        for (const watcher of [...set]) watcher();
        set.clear();
      },
      { once: true },
    );
    watchers = set;
  }
  const set = watchers;
  set.add(fn);
  return () => {
    set.delete(fn);
  };
}

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export class Conn {
  private buf: Buffer = Buffer.alloc(0);
  private size = 0;
  private start = 0;
  private lastDataAt = 0;
  private connected = false;
  private ended: ReadEnd | undefined;
  private waiter: (() => void) | undefined;
  private readonly stopWatchingAbort: () => void;
  /** When the TCP connection (under TLS, if any) was established. */
  tcpConnectedAt: number | undefined;
  /** The first socket error, if any (TLS probes read its code). */
  error: Error | undefined;

  readonly socket: net.Socket;
  private readonly cap: number;

  private constructor(socket: net.Socket, cap: number, connectEvent: 'connect' | 'secureConnect', signal: AbortSignal | undefined) {
    this.socket = socket;
    this.cap = cap;
    socket.once('connect', () => {
      this.tcpConnectedAt = now();
    });
    socket.once(connectEvent, () => {
      this.connected = true;
      this.wake();
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.finish('closed'));
    socket.on('close', () => this.finish('closed'));
    socket.on('error', (err: Error) => {
      this.error ??= err;
      const code = errorCode(err);
      this.finish(code === 'ECONNRESET' || code === 'EPIPE' ? 'reset' : 'error');
    });
    this.stopWatchingAbort = onAbort(signal, () => {
      this.finish('aborted');
      socket.destroy();
    });
    if (signal?.aborted === true) {
      this.finish('aborted');
      socket.destroy();
    }
  }

  /** Plain TCP. `cap` bounds what is kept of the peer's bytes. */
  static tcp(target: ProbeTarget, cap: number): Conn {
    const socket = net.connect({ host: target.ip, port: target.port });
    socket.setNoDelay(true);
    return new Conn(socket, cap, 'connect', target.signal);
  }

  /** TLS client; ready once the handshake is done. */
  static tls(target: ProbeTarget, cap: number, options: tls.ConnectionOptions): Conn {
    const socket = tls.connect({ ...options, host: target.ip, port: target.port });
    return new Conn(socket, cap, 'secureConnect', target.signal);
  }

  /**
   * Waits for the connection (or TLS handshake); undefined once it was up (even if the peer has already
   * spoken and closed: {@link read} reports that), else why it never was.
   */
  async ready(deadline: number): Promise<ConnectFailure | undefined> {
    for (;;) {
      if (this.connected) return undefined;
      if (this.ended !== undefined) {
        const code = errorCode(this.error);
        if (this.ended === 'aborted') return 'aborted';
        if (code === 'ECONNREFUSED') return 'refused';
        if (this.ended === 'reset') return 'reset';
        if (this.ended === 'closed') return 'closed';
        return 'error';
      }
      const left = deadline - now();
      if (left <= 0) return 'timeout';
      await this.wait(left);
    }
  }

  /** Bytes received since the last {@link consume}. */
  get data(): Buffer {
    return this.buf.subarray(this.start, this.size);
  }

  /** Forgets what was read so far (the next read starts with the next reply). */
  consume(): void {
    this.start = this.size;
  }

  /** True once the peer closed, reset, the cap was hit, or the conversation was aborted. */
  get isEnded(): boolean {
    return this.ended !== undefined;
  }

  write(bytes: Uint8Array | string): void {
    if (this.ended === undefined && !this.socket.destroyed) this.socket.write(bytes);
  }

  async read(options: ReadOptions): Promise<ReadResult> {
    for (;;) {
      const data = this.data;
      if (options.until?.(data) === true) return { data, end: 'complete' };
      if (this.ended !== undefined) return { data, end: this.ended };
      const t = now();
      if (t >= options.deadline) return { data, end: 'timeout' };
      let wait = options.deadline - t;
      if (options.idleMs !== undefined && data.length > 0) {
        const idleLeft = this.lastDataAt + options.idleMs - t;
        if (idleLeft <= 0) return { data, end: 'idle' };
        wait = Math.min(wait, idleLeft);
      }
      await this.wait(wait);
    }
  }

  close(): void {
    this.stopWatchingAbort();
    this.ended ??= 'closed';
    this.socket.destroy();
    this.wake();
  }

  private onData(chunk: Buffer): void {
    if (this.ended !== undefined) return;
    this.lastDataAt = now();
    const room = this.cap - this.size;
    const take = Math.min(room, chunk.length);
    if (take > 0) {
      if (this.size + take > this.buf.length) {
        const grown = Buffer.alloc(Math.min(this.cap, Math.max(this.size + take, this.buf.length * 2, 1024)));
        this.buf.copy(grown, 0, 0, this.size);
        this.buf = grown;
      }
      chunk.copy(this.buf, this.size, 0, take);
      this.size += take;
    }
    if (this.size >= this.cap) {
      this.finish('full');
      this.socket.destroy();
    }
    this.wake();
  }

  private finish(end: ReadEnd): void {
    this.ended ??= end;
    this.wake();
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }

  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        if (this.waiter === done) this.waiter = undefined;
        resolve();
      };
      const timer = setTimeout(done, Math.max(1, Math.ceil(ms)));
      this.waiter = done;
    });
  }
}
