/**
 * TLS on 127.0.0.1 with a self-signed certificate made at test time by the openssl CLI (test-only: the
 * product never shells out): HTTPS, HTTP/2-first HTTPS, TLS on unusual ports, banners inside TLS.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TestServers, timer } from '../../testing/servers.js';
import { detectService, detectServiceWithPlan } from './index.js';
import type { DetectionPlan } from './plan.js';

/** Short, because tests without a port hint sit it out. */
const BANNER_MS = 300;
/** A modest budget: the silent-service test sits it out (tests without timing assertions use it too). */
const OPTIONS = { bannerTimeoutMs: BANNER_MS, timeoutMs: 2000 };
/** A long budget, which no test here waits for when all is well: a probe that sat out its share of it cannot be missed. */
const LONG_BUDGET = { bannerTimeoutMs: BANNER_MS, timeoutMs: 20_000 };
/**
 * For "no banner wait": a banner wait so long that sitting it out is unmistakable on any machine (tests
 * assert less than half of it). The budget, three times as long, gives a hinted probe a deadline as long
 * as the banner wait (half of what is left once a banner wait is set aside): sitting that out shows too.
 */
const LONG_BANNER_MS = 10_000;
const NO_BANNER_WAIT = { bannerTimeoutMs: LONG_BANNER_MS, timeoutMs: 3 * LONG_BANNER_MS };
/** What "a few ms" may become on a loaded 2-core CI machine, generously; far below any probe's share of LONG_BUDGET. */
const SLACK_MS = 2000;

let dir: string;
let key: Buffer;
let cert: Buffer;
const servers = new TestServers();
const timings: string[] = [];
const timed = timer(timings);

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'portcullis-detect-tls-'));
  execFileSync(
    'openssl',
    [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '30',
      '-subj', '/CN=localhost/O=Portcullis Test',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  key = readFileSync(path.join(dir, 'key.pem'));
  cert = readFileSync(path.join(dir, 'cert.pem'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  console.log(`TLS detection times on loopback (bannerTimeoutMs ${BANNER_MS}, or ${LONG_BANNER_MS} when it must not be waited for):\n  ${timings.join('\n  ')}`);
});

afterEach(() => servers.closeAll());

function httpsServer(): https.Server {
  return https.createServer({ key, cert }, (_req, res) => {
    res.setHeader('Server', 'Apache/2.4.58 (Debian)');
    res.end('<html><title>Secure hello</title></html>');
  });
}

const hinted = (first: DetectionPlan['order'][number]): DetectionPlan => ({
  skipBanner: true,
  order: [first, ...(['tls', 'http', 'redis', 'postgres'] as const).filter((p) => p !== first)],
});

describe('TLS', () => {
  it('identifies HTTPS: certificate facts, then the HTTP answer inside TLS', async () => {
    const port = await servers.track(httpsServer());
    const { result, ms } = await timed('https (no hint)', () => detectService('127.0.0.1', port, LONG_BUDGET));
    expect(result).toMatchObject({
      name: 'https',
      product: 'Apache',
      version: '2.4.58',
      http: { status: 200, server: 'Apache/2.4.58 (Debian)', title: 'Secure hello' },
      tls: {
        version: 'TLSv1.3',
        subject: 'CN=localhost, O=Portcullis Test',
        issuer: 'CN=localhost, O=Portcullis Test',
        subjectAltNames: ['DNS:localhost', 'IP Address:127.0.0.1'],
        selfSigned: true,
      },
      method: 'probed',
    });
    expect(result.tls?.cipher).toMatch(/^TLS_/);
    expect(result.tls?.alpn).toBe('http/1.1'); // Node's HTTPS server negotiates ALPN
    const notAfter = Date.parse(result.tls?.notAfter ?? '');
    expect(result.tls?.notAfter).toBe(new Date(notAfter).toISOString());
    expect(notAfter - Date.now()).toBeGreaterThan(29 * 86_400_000);
    expect(ms).toBeLessThan(BANNER_MS + SLACK_MS);
  });

  it('skips the banner wait on a TLS port', async () => {
    const port = await servers.track(httpsServer());
    const { result, ms } = await timed('https (port hint)', () => detectServiceWithPlan('127.0.0.1', port, NO_BANNER_WAIT, hinted('tls')));
    expect(result).toMatchObject({ name: 'https', http: { status: 200 } });
    expect(ms).toBeLessThan(LONG_BANNER_MS / 2); // no banner wait
  });

  it('sends SNI and Host from the hostname, never for a bare address', async () => {
    const seen: string[] = [];
    const server = https.createServer({ key, cert }, (req, res) => {
      seen.push(`${(req.socket as tls.TLSSocket).servername || '-'} ${req.headers.host}`);
      res.end();
    });
    const port = await servers.track(server);
    await detectServiceWithPlan('127.0.0.1', port, { ...OPTIONS, hostname: 'localhost' }, hinted('tls'));
    await detectServiceWithPlan('127.0.0.1', port, { ...OPTIONS, hostname: '127.0.0.1' }, hinted('tls'));
    expect(seen).toEqual([`localhost localhost:${port}`, `- 127.0.0.1:${port}`]);
  });

  it('speaks HTTP/1.1 to a server that picks h2 by ALPN, and records h2', async () => {
    const server = http2.createSecureServer({ key, cert, allowHTTP1: true }, (_req, res) => {
      res.setHeader('Server', 'h2-test/1.0');
      res.end('<title>Two</title>');
    });
    const port = await servers.track(server);
    const { result } = await timed('https with h2 ALPN (port hint)', () => detectServiceWithPlan('127.0.0.1', port, OPTIONS, hinted('tls')));
    expect(result).toMatchObject({ name: 'https', product: 'h2-test', tls: { alpn: 'h2' }, http: { status: 200, title: 'Two' } });
  });

  it('detects TLS on an unusual port, and on a port hinted for plain HTTP', async () => {
    const port = await servers.track(httpsServer()); // a random high port: no hint
    expect(await detectService('127.0.0.1', port, LONG_BUDGET)).toMatchObject({ name: 'https', tls: { selfSigned: true } });
    // The plain request is hung up on without a word: TLS is tried before any banner wait.
    const { result, ms } = await timed('https on an http-hinted port', () => detectServiceWithPlan('127.0.0.1', port, NO_BANNER_WAIT, hinted('http')));
    expect(result).toMatchObject({ name: 'https', http: { status: 200 } });
    expect(ms).toBeLessThan(LONG_BANNER_MS / 2); // no banner wait
  });

  it('names a TLS service that does not speak HTTP `tls`, with its greeting inside the tunnel', async () => {
    const server = tls.createServer({ key, cert }, (socket) => {
      socket.on('error', () => undefined);
      socket.write('* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] Dovecot ready.\r\n');
    });
    const port = await servers.track(server);
    const { result, ms } = await timed('tls with a greeting inside (imaps-like)', () => detectService('127.0.0.1', port, LONG_BUDGET));
    expect(result).toMatchObject({
      name: 'tls',
      product: 'Dovecot',
      banner: '* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] Dovecot ready.',
      tls: { subject: 'CN=localhost, O=Portcullis Test' },
    });
    expect(result.http).toBeUndefined();
    expect(ms).toBeLessThan(BANNER_MS + SLACK_MS);
  });

  it('names a silent TLS service `tls` within the budget', async () => {
    const server = tls.createServer({ key, cert }, (socket) => socket.on('error', () => undefined));
    const port = await servers.track(server);
    const { result, ms } = await timed('silent tls service', () => detectService('127.0.0.1', port, OPTIONS));
    expect(result).toMatchObject({ name: 'tls', tls: { version: 'TLSv1.3', selfSigned: true }, method: 'probed' });
    expect(ms).toBeLessThan(OPTIONS.timeoutMs + SLACK_MS);
  });

  it('names a TLS service that hangs up right after the handshake `tls`', async () => {
    const server = tls.createServer({ key, cert }, (socket) => {
      socket.on('error', () => undefined);
      socket.end();
    });
    const port = await servers.track(server);
    const { result, ms } = await timed('tls, hangs up after the handshake (port hint)', () => detectServiceWithPlan('127.0.0.1', port, NO_BANNER_WAIT, hinted('tls')));
    expect(result).toMatchObject({ name: 'tls', tls: { subject: 'CN=localhost, O=Portcullis Test' } });
    expect(ms).toBeLessThan(LONG_BANNER_MS / 2); // no banner wait
  });

  it('counts a handshake refused with an alert as TLS', async () => {
    // TLS 1.2 with a required client certificate: the server answers our empty Certificate with an alert.
    const server = tls.createServer({ key, cert, maxVersion: 'TLSv1.2', requestCert: true, rejectUnauthorized: true });
    const port = await servers.track(server);
    const { result } = await timed('tls, handshake refused with an alert (port hint)', () => detectServiceWithPlan('127.0.0.1', port, OPTIONS, hinted('tls')));
    expect(result).toEqual({ name: 'tls', tls: {}, method: 'probed' });
  });
});
