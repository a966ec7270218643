/**
 * Real TLS servers for the assessment engine's integration tests: `node:tls` or `node:https` on
 * 127.0.0.1 with a chosen protocol range, cipher list and order, DH and ECDH parameters, certificates
 * from testPki(), HSTS, ALPN and session resumption behaviour. What OpenSSL 3 cannot serve (SSLv2/3,
 * RC4, 3DES, EXPORT, DH < 1024) is the scripted responder's job (tls-responder.ts).
 */
import { constants, getDiffieHellman } from 'node:crypto';
import https from 'node:https';
import tls from 'node:tls';
import * as asn1js from 'asn1js';
import { testPki, type TestCert } from './pki.js';
import type { TestServers } from './servers.js';

/** Well-known MODP groups Node ships (RFC 2409/3526): modp2 is 1024-bit (Logjam-weak), modp14 2048-bit. */
export type DhGroup = 'modp2' | 'modp14' | 'modp15';

export interface TlsServerOptions {
  minVersion?: tls.SecureVersion;
  maxVersion?: tls.SecureVersion;
  /** OpenSSL cipher list for TLS ≤ 1.2; append `@SECLEVEL=0` for TLS 1.0/1.1 or weak suites. */
  ciphers?: string;
  /** OpenSSL TLS 1.3 ciphersuites, e.g. 'TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256'. */
  tls13Suites?: string;
  /** Server picks by its own order (also for TLS 1.3 suites and groups). Default false. */
  honorCipherOrder?: boolean;
  /** Enables DHE suites with this group's prime. */
  dh?: DhGroup;
  /** e.g. 'X25519:P-256'. */
  ecdhCurve?: string;
  /** Served chain, leaf first, with the leaf's key. Default testPki() leaf + intermediate. */
  chain?: TestCert[];
  /** HTTPS (GET / answers 200) instead of bare TLS. Default true. */
  http?: boolean;
  /** Strict-Transport-Security header value; absent by default. */
  hsts?: string;
  alpn?: string[];
  /** Issue session tickets. Default true (OpenSSL's default). */
  sessionTickets?: boolean;
  /** Resume sessions by id from an in-memory cache. Default false (Node servers do not by default). */
  sessionIdResumption?: boolean;
  /** Server header of HTTP answers. Default 'portcullis-test'. */
  serverHeader?: string;
}

/** DH parameters as OpenSSL reads them: PEM "DH PARAMETERS" = SEQUENCE { INTEGER p, INTEGER g }. */
export function dhParamsPem(group: DhGroup): string {
  const dh = getDiffieHellman(group);
  // A leading zero keeps the INTEGER positive whatever the top bit.
  const prime = Buffer.concat([Buffer.alloc(1), dh.getPrime()]);
  const der = new asn1js.Sequence({
    value: [new asn1js.Integer({ valueHex: prime }), new asn1js.Integer({ valueHex: Buffer.from(dh.getGenerator()) })],
  }).toBER();
  const base64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN DH PARAMETERS-----\n${base64}\n-----END DH PARAMETERS-----\n`;
}

/** The `tls.createServer` options for `options` (exported for tests that start servers themselves). */
export async function tlsServerOptions(options: TlsServerOptions = {}): Promise<tls.TlsOptions> {
  const pki = await testPki();
  const chain = options.chain ?? [pki.leaf, pki.intermediate];
  const leaf = chain[0];
  if (leaf === undefined) throw new Error('the served chain needs at least a leaf');
  let secureOptions = 0;
  if (options.sessionTickets === false) secureOptions |= constants.SSL_OP_NO_TICKET;
  return {
    key: leaf.key.privateKeyPem,
    cert: chain.map((c) => c.pem).join(''),
    minVersion: options.minVersion ?? 'TLSv1.2',
    maxVersion: options.maxVersion ?? 'TLSv1.3',
    honorCipherOrder: options.honorCipherOrder ?? false,
    secureOptions,
    ...(options.ciphers !== undefined ? { ciphers: options.ciphers } : {}),
    ...(options.tls13Suites !== undefined ? { ciphersuites: options.tls13Suites } : {}),
    ...(options.dh !== undefined ? { dhparam: dhParamsPem(options.dh) } : {}),
    ...(options.ecdhCurve !== undefined ? { ecdhCurve: options.ecdhCurve } : {}),
    ...(options.alpn !== undefined ? { ALPNProtocols: options.alpn } : {}),
  };
}

/** Remembers sessions by id, so returning clients resume (Node servers have no internal cache). */
function cacheSessions(server: tls.Server): void {
  const sessions = new Map<string, Buffer>();
  server.on('newSession', (id: Buffer, data: Buffer, done: () => void) => {
    sessions.set(id.toString('hex'), data);
    done();
  });
  server.on('resumeSession', (id: Buffer, done: (err: Error | null, data: Buffer | null) => void) => {
    done(null, sessions.get(id.toString('hex')) ?? null);
  });
}

/** Starts a TLS (default: HTTPS) server on 127.0.0.1, tracked by `servers`; resolves to its port. */
export async function startTlsServer(servers: TestServers, options: TlsServerOptions = {}, host = '127.0.0.1'): Promise<number> {
  const serverOptions = await tlsServerOptions(options);
  let server: tls.Server;
  if (options.http ?? true) {
    server = https.createServer(serverOptions, (request, response) => {
      request.resume();
      const headers: Record<string, string> = { server: options.serverHeader ?? 'portcullis-test', 'content-type': 'text/plain' };
      if (options.hsts !== undefined) headers['strict-transport-security'] = options.hsts;
      response.writeHead(200, headers);
      response.end('ok\n');
    });
  } else {
    server = tls.createServer(serverOptions, (socket) => socket.end());
  }
  if (options.sessionIdResumption === true) cacheSessions(server);
  return servers.track(server, host);
}
