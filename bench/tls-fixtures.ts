/**
 * The local TLS servers the TLS benchmarks assess: real OpenSSL servers (node:tls) for what OpenSSL 3 can
 * serve, and the scripted responder for what it cannot (SSLv3, RC4, 3DES, EXPORT, DH 512). All listen on
 * loopback only. Each server counts the TCP connections it accepts so a benchmark can report how many
 * connections each tool used.
 */
import https from 'node:https';
import net from 'node:net';
import { testPki } from '../src/testing/pki.js';
import { TestServers } from '../src/testing/servers.js';
import { tlsServerOptions, type TlsServerOptions } from '../src/testing/tls-servers.js';
import { startScriptedTlsServer, type ScriptedServerConfig } from '../src/testing/tls-responder.js';

export interface BenchServer {
  name: string;
  description: string;
  host: string;
  port: number;
  /** TCP connections accepted since the last reset. */
  connections(): number;
  resetConnections(): void;
}

type Fixture =
  | { name: string; description: string; kind: 'openssl'; options: () => Promise<TlsServerOptions> }
  | { name: string; description: string; kind: 'scripted'; config: () => Promise<ScriptedServerConfig> };

const HSTS_LONG = 'max-age=31536000; includeSubDomains';

/** At least ten configurations that differ in protocols, suites, order, key exchange and certificate. */
export const FIXTURES: readonly Fixture[] = [
  { name: 'modern', description: 'TLS 1.2 + 1.3, OpenSSL default suites, HSTS', kind: 'openssl', options: async () => ({ hsts: HSTS_LONG }) },
  { name: 'tls13-only', description: 'TLS 1.3 only', kind: 'openssl', options: async () => ({ minVersion: 'TLSv1.3', hsts: HSTS_LONG }) },
  {
    name: 'tls12-strict',
    description: 'TLS 1.2 only, ECDHE+AEAD, server order',
    kind: 'openssl',
    options: async () => ({ maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256', honorCipherOrder: true }),
  },
  {
    name: 'legacy-tls10',
    description: 'TLS 1.0–1.2, every suite OpenSSL 3 has at SECLEVEL 0, DHE 1024 (modp2)',
    kind: 'openssl',
    options: async () => ({ minVersion: 'TLSv1', ciphers: 'ALL:@SECLEVEL=0', dh: 'modp2' }),
  },
  {
    name: 'tls11-cbc',
    description: 'TLS 1.0–1.1 only, CBC suites, server order',
    kind: 'openssl',
    options: async () => ({ minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'ECDHE-RSA-AES128-SHA:AES256-SHA:AES128-SHA:@SECLEVEL=0', honorCipherOrder: true }),
  },
  {
    name: 'static-rsa',
    description: 'TLS 1.2, RSA key exchange only (no forward secrecy)',
    kind: 'openssl',
    options: async () => ({ maxVersion: 'TLSv1.2', ciphers: 'AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA256:AES128-SHA' }),
  },
  {
    name: 'ecdsa',
    description: 'TLS 1.2 + 1.3, ECDSA P-256 certificate, ECDHE-ECDSA suites',
    kind: 'openssl',
    options: async () => {
      const pki = await testPki();
      const leaf = await pki.leafFor({ key: { alg: 'EC', curve: 'P-256' } });
      return { chain: [leaf, pki.intermediate], ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-SHA' };
    },
  },
  {
    name: 'dhe-2048',
    description: 'TLS 1.2, DHE only with the 2048-bit RFC 3526 prime',
    kind: 'openssl',
    options: async () => ({ maxVersion: 'TLSv1.2', ciphers: 'DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305', dh: 'modp14' }),
  },
  {
    name: 'camellia-aria',
    description: 'TLS 1.2, CAMELLIA and ARIA suites',
    kind: 'openssl',
    options: async () => ({ maxVersion: 'TLSv1.2', ciphers: 'CAMELLIA:ARIA:@SECLEVEL=0', dh: 'modp14' }),
  },
  {
    name: 'null-anon',
    description: 'TLS 1.2, NULL and anonymous suites beside AES',
    kind: 'openssl',
    options: async () => ({ maxVersion: 'TLSv1.2', ciphers: 'NULL-SHA256:NULL-SHA:ADH-AES128-SHA:AECDH-AES128-SHA:AES128-SHA:@SECLEVEL=0' }),
  },
  {
    name: 'self-signed-tls12',
    description: 'TLS 1.2 + 1.3, self-signed leaf, chacha preferred',
    kind: 'openssl',
    options: async () => {
      const { createCertificate } = await import('../src/testing/pki.js');
      const leaf = await createCertificate({ commonName: 'localhost', altNames: ['DNS:localhost', 'IP:127.0.0.1'] });
      return { chain: [leaf], ciphers: 'ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256', honorCipherOrder: true };
    },
  },
  {
    name: 'legacy-sslv3-rc4',
    description: 'scripted: SSLv3 + TLS 1.0, RC4, 3DES, DES, CBC (what OpenSSL 3 cannot serve)',
    kind: 'scripted',
    config: async () => ({
      protocols: ['SSLv3', 'TLSv1.0'],
      suites: [0x0005, 0x0004, 0x000a, 0x0009, 0x002f, 0x0035],
      certificates: await servedChain(),
    }),
  },
  {
    name: 'export-dh512',
    description: 'scripted: TLS 1.0–1.2, EXPORT suites (FREAK) and DHE with a 512-bit prime (Logjam)',
    kind: 'scripted',
    config: async () => ({
      protocols: ['TLSv1.0', 'TLSv1.1', 'TLSv1.2'],
      suites: [0x0033, 0x0003, 0x0008, 0x0014, 0x002f],
      dh: await dh512(),
      certificates: await servedChain(),
    }),
  },
];

async function servedChain(): Promise<Buffer[]> {
  const pki = await testPki();
  return [pki.leaf.der, pki.intermediate.der];
}

/** nginx/OpenSSL's historic 512-bit default DH prime would need hard-coding; any 512-bit safe prime serves. */
async function dh512(): Promise<{ p: Buffer; g: Buffer }> {
  const { generatePrimeSync } = await import('node:crypto');
  return { p: Buffer.from(generatePrimeSync(512, { safe: true })), g: Buffer.from([2]) };
}

/** A TCP server on host:0 that counts connections and splices them to target (for the scripted responder). */
async function countingProxy(servers: TestServers, host: string, targetPort: number, counter: { n: number }): Promise<number> {
  return servers.serve((client) => {
    counter.n += 1;
    const upstream = net.connect(targetPort, '127.0.0.1');
    client.pipe(upstream).pipe(client);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  }, host);
}

/** Starts `fixture` on `host` (a loopback address). */
export async function startFixture(servers: TestServers, fixture: Fixture, host = '127.0.0.1'): Promise<BenchServer> {
  const counter = { n: 0 };
  let port: number;
  if (fixture.kind === 'openssl') {
    const options = await fixture.options();
    const serverOptions = await tlsServerOptions(options);
    const server = https.createServer(serverOptions, (request, response) => {
      request.resume();
      const headers: Record<string, string> = { server: 'portcullis-bench' };
      if (options.hsts !== undefined) headers['strict-transport-security'] = options.hsts;
      response.writeHead(200, headers).end('ok\n');
    });
    server.on('connection', () => (counter.n += 1));
    server.on('tlsClientError', () => {});
    port = await servers.track(server, host);
  } else {
    const inner = await startScriptedTlsServer(servers, await fixture.config());
    port = await countingProxy(servers, host, inner, counter);
  }
  return {
    name: fixture.name,
    description: fixture.description,
    host,
    port,
    connections: () => counter.n,
    resetConnections: () => (counter.n = 0),
  };
}
