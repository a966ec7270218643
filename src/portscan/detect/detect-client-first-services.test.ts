/** Services that wait for the client (HTTP, Redis, PostgreSQL) on 127.0.0.1, with and without port hints. */
import http from 'node:http';
import net from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { TestServers, timer } from '../../testing/servers.js';
import { detectService, detectServiceWithPlan } from './index.js';
import type { DetectionPlan } from './plan.js';

/**
 * Short, because tests without a port hint sit it out. The budget is long: none of these tests waits for
 * it when all is well, and a probe that wrongly sat out its share of it (several seconds) cannot be missed.
 */
const BANNER_MS = 300;
const OPTIONS = { bannerTimeoutMs: BANNER_MS, timeoutMs: 20_000 };
/**
 * For "no banner wait": a banner wait so long that sitting it out is unmistakable on any machine (tests
 * assert less than half of it). The budget, three times as long, gives a hinted probe a deadline as long
 * as the banner wait (half of what is left once a banner wait is set aside): sitting that out shows too.
 */
const LONG_BANNER_MS = 10_000;
const NO_BANNER_WAIT = { bannerTimeoutMs: LONG_BANNER_MS, timeoutMs: 3 * LONG_BANNER_MS };
/** What "a few ms" may become on a loaded 2-core CI machine, generously; far below any probe's share of the budget. */
const SLACK_MS = 2000;
const servers = new TestServers();
const timings: string[] = [];
const timed = timer(timings);

function httpServer(): http.Server {
  return http.createServer((req, res) => {
    res.setHeader('Server', 'nginx/1.24.0');
    res.setHeader('X-Powered-By', 'Express');
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.end(`<!doctype html><html><head><title>Portcullis test &amp; co</title></head><body>${req.headers.host ?? ''}</body></html>`);
  });
}

/** Line-oriented fake Redis: PING, INFO server; like the real one, closes on an HTTP-looking `Host:` line. */
function redisServer(options: { auth?: boolean } = {}): net.Server {
  return net.createServer((socket) => {
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      for (let eol = pending.indexOf('\n'); eol !== -1; eol = pending.indexOf('\n')) {
        const line = pending.slice(0, eol).replace(/\r$/, '');
        pending = pending.slice(eol + 1);
        const command = line.split(' ')[0]?.toUpperCase();
        if (line.startsWith('Host:')) return void socket.destroy();
        if (options.auth === true) socket.write('-NOAUTH Authentication required.\r\n');
        else if (command === 'PING') socket.write('+PONG\r\n');
        else if (command === 'INFO') {
          const info = '# Server\r\nredis_version:7.2.4\r\nredis_mode:standalone\r\nos:Linux 6.1.0 x86_64\r\ntcp_port:6379\r\n';
          socket.write(`$${info.length}\r\n${info}\r\n`);
        } else socket.write(`-ERR unknown command '${command ?? ''}'\r\n`);
      }
    });
  });
}

/**
 * Fake PostgreSQL: like the real one, reads a 4-byte length first and hangs up on an implausible one
 * ("invalid length of startup packet"); answers `N` to an SSLRequest.
 */
function postgresServer(): net.Server {
  return net.createServer((socket) => {
    let got = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.length < 4) return;
      const length = got.readUInt32BE(0);
      if (length < 8 || length > 10_000) return void socket.destroy();
      if (got.length < 8) return;
      if (got.subarray(0, 8).toString('hex') === '0000000804d2162f') {
        got = got.subarray(8);
        socket.write('N');
      } else socket.destroy();
    });
  });
}

const hinted = (first: DetectionPlan['order'][number]): DetectionPlan => ({
  skipBanner: true,
  order: [first, ...(['tls', 'http', 'redis', 'postgres'] as const).filter((p) => p !== first)],
});

afterEach(() => servers.closeAll());
afterAll(() => {
  console.log(`client-first detection times on loopback (bannerTimeoutMs ${BANNER_MS}, or ${LONG_BANNER_MS} with a port hint):\n  ${timings.join('\n  ')}`);
});

describe('HTTP', () => {
  it('identifies a silent HTTP server after the banner wait, without sitting out a probe timeout', async () => {
    const port = await servers.track(httpServer());
    const { result, ms } = await timed('http (no hint)', () => detectService('127.0.0.1', port, OPTIONS));
    expect(result).toEqual({
      name: 'http',
      product: 'nginx',
      version: '1.24.0',
      http: { status: 200, server: 'nginx/1.24.0', title: 'Portcullis test & co', poweredBy: 'Express' },
      method: 'probed',
    });
    expect(ms).toBeGreaterThanOrEqual(BANNER_MS - 5);
    expect(ms).toBeLessThan(BANNER_MS + SLACK_MS);
  });

  it('skips the banner wait on an HTTP port', async () => {
    const port = await servers.track(httpServer());
    const { result, ms } = await timed('http (port hint)', () => detectServiceWithPlan('127.0.0.1', port, NO_BANNER_WAIT, hinted('http')));
    expect(result).toMatchObject({ name: 'http', http: { status: 200 } });
    expect(ms).toBeLessThan(LONG_BANNER_MS / 2); // no banner wait
  });

  it('sends Host as ip:port, or the hostname when the address came from a name', async () => {
    const hosts: string[] = [];
    const server = http.createServer((req, res) => {
      hosts.push(`${req.headers.host} ${req.headers['user-agent']} ${req.headers.connection}`);
      res.writeHead(302, { Location: '/login' }).end();
    });
    const port = await servers.track(server);
    const plan = hinted('http');
    expect(await detectServiceWithPlan('127.0.0.1', port, OPTIONS, plan)).toMatchObject({ name: 'http', http: { status: 302, location: '/login' } });
    await detectServiceWithPlan('127.0.0.1', port, { ...OPTIONS, hostname: 'www.example.test' }, plan);
    await detectServiceWithPlan('127.0.0.1', port, { ...OPTIONS, hostname: 'bad\r\nX-Injected: 1' }, plan);
    expect(hosts).toEqual([
      `127.0.0.1:${port} Portcullis close`,
      `www.example.test:${port} Portcullis close`,
      `127.0.0.1:${port} Portcullis close`,
    ]);
  });

  it('reads a chunked response and a server that ignores Connection: close', async () => {
    const server = net.createServer((socket) => {
      socket.once('data', () => {
        socket.write('HTTP/1.1 200 OK\r\nServer: Caddy\r\nTransfer-Encoding: chunked\r\n\r\n');
        socket.write('8\r\n<title>\r\n');
        socket.write('6\r\nChunky\r\n9\r\n</title>\n\r\n0\r\n\r\n'); // and keeps the connection open
      });
    });
    const port = await servers.track(server);
    const { result, ms } = await timed('http chunked keep-open', () => detectServiceWithPlan('127.0.0.1', port, NO_BANNER_WAIT, hinted('http')));
    expect(result).toMatchObject({ name: 'http', product: 'Caddy', http: { status: 200, title: 'Chunky' } });
    expect(ms).toBeLessThan(LONG_BANNER_MS / 2); // no banner wait, nor a wait for the probe's deadline
  });
});

describe('Redis', () => {
  it('identifies Redis and its version with PING and INFO server', async () => {
    const port = await servers.track(redisServer());
    const { result } = await timed('redis (no hint)', () => detectService('127.0.0.1', port, OPTIONS));
    expect(result).toEqual({ name: 'redis', product: 'Redis', version: '7.2.4', banner: '+PONG', method: 'probed' });
  });

  it('tries Redis first on a Redis port', async () => {
    const port = await servers.track(redisServer());
    const { result, ms } = await timed('redis (port hint)', () => detectServiceWithPlan('127.0.0.1', port, NO_BANNER_WAIT, hinted('redis')));
    expect(result).toMatchObject({ name: 'redis', version: '7.2.4' });
    expect(ms).toBeLessThan(LONG_BANNER_MS / 2); // no banner wait
  });

  it('identifies a Redis that wants a password from its -NOAUTH answer', async () => {
    const port = await servers.track(redisServer({ auth: true }));
    const { result } = await timed('redis with auth (port hint)', () => detectServiceWithPlan('127.0.0.1', port, OPTIONS, hinted('redis')));
    expect(result).toEqual({ name: 'redis', product: 'Redis', banner: '-NOAUTH Authentication required.', method: 'probed' });
  });
});

describe('PostgreSQL', () => {
  it('identifies PostgreSQL from its answer to an SSLRequest', async () => {
    const port = await servers.track(postgresServer());
    const { result, ms } = await timed('postgresql (no hint)', () => detectService('127.0.0.1', port, OPTIONS));
    expect(result).toEqual({ name: 'postgresql', product: 'PostgreSQL', method: 'probed' });
    expect(ms).toBeLessThan(BANNER_MS + SLACK_MS);
  });

  it('tries PostgreSQL first on a PostgreSQL port', async () => {
    const port = await servers.track(postgresServer());
    const { result, ms } = await timed('postgresql (port hint)', () => detectServiceWithPlan('127.0.0.1', port, NO_BANNER_WAIT, hinted('postgres')));
    expect(result).toMatchObject({ name: 'postgresql' });
    expect(ms).toBeLessThan(LONG_BANNER_MS / 2); // no banner wait
  });
});

describe('port hints never hide a service', () => {
  it('falls back to the banner when the hinted probe fails (SSH on an HTTP port)', async () => {
    const server = net.createServer((socket) => {
      socket.write('SSH-2.0-OpenSSH_9.6\r\n');
      socket.once('data', () => socket.end('Invalid SSH identification string.\r\n'));
    });
    const port = await servers.track(server);
    const { result, ms } = await timed('ssh on an http-hinted port', () => detectServiceWithPlan('127.0.0.1', port, NO_BANNER_WAIT, hinted('http')));
    expect(result).toMatchObject({ name: 'ssh', product: 'OpenSSH', version: '9.6' });
    expect(ms).toBeLessThan(LONG_BANNER_MS / 2); // nothing sat out
  });

  it('finds HTTP on a Redis-hinted port, going straight to HTTP when the PING got an HTTP answer', async () => {
    const port = await servers.track(httpServer());
    const { result, ms } = await timed('http on a redis-hinted port', () => detectServiceWithPlan('127.0.0.1', port, NO_BANNER_WAIT, hinted('redis')));
    expect(result).toMatchObject({ name: 'http', product: 'nginx' });
    expect(ms).toBeLessThan(LONG_BANNER_MS / 2); // no banner wait
  });
});
