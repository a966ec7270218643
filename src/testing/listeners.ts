import net from 'node:net';

export interface TestListener {
  port: number;
  close(): Promise<void>;
}

/**
 * A TCP listener on 127.0.0.1 (or the given loopback address) for scan tests. `greeting` is sent to
 * every connection, like a banner service; without it the listener stays silent.
 */
export async function listen(options: { host?: string; greeting?: string; port?: number } = {}): Promise<TestListener> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    if (options.greeting !== undefined) socket.write(options.greeting);
  });
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

/** A port on 127.0.0.1 that nothing listens on (bound once, then released). */
export async function closedPort(host = '127.0.0.1'): Promise<number> {
  const l = await listen({ host });
  await l.close();
  return l.port;
}
