import net from 'node:net';
import tls from 'node:tls';

export interface TestListener {
  port: number;
  close(): Promise<void>;
}

/**
 * Starts any server (plain TCP, HTTP, HTTPS, TLS, HTTP/2) listening on 127.0.0.1 (or the given loopback
 * address), by default on a free port. Every socket it accepts is remembered, with its errors ignored,
 * and close() destroys them before closing the server, so a test's afterEach never waits on a client.
 * Rejects when the server cannot listen (e.g. no ::1 on this machine).
 */
export async function listenOn(server: net.Server, options: { host?: string; port?: number } = {}): Promise<TestListener> {
  const sockets = new Set<net.Socket>();
  const remember = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  };
  // Before the server's own connection handler, so a socket is tracked before anything is written to it.
  server.prependListener('connection', remember);
  if (server instanceof tls.Server) {
    server.on('secureConnection', remember);
    server.on('tlsClientError', () => {});
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * A TCP listener on 127.0.0.1 (or the given loopback address) for scan tests. `greeting` is sent to
 * every connection, like a banner service; without it the listener stays silent.
 */
export async function listen(options: { host?: string; greeting?: string; port?: number } = {}): Promise<TestListener> {
  const server = net.createServer((socket) => {
    if (options.greeting !== undefined) socket.write(options.greeting);
  });
  return listenOn(server, options);
}

/** A port on 127.0.0.1 that nothing listens on (bound once, then released). */
export async function closedPort(host = '127.0.0.1'): Promise<number> {
  const l = await listen({ host });
  await l.close();
  return l.port;
}
