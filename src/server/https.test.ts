import { writeFileSync } from 'node:fs';
import { request } from 'node:https';
import path from 'node:path';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../config/index.js';
import { createMetrics } from '../metrics/index.js';
import { type Runtime, createLogger, createRuntime } from '../runtime/index.js';
import { type TestApp, buildTestApp } from '../testing/app.js';
import { cleanupCli, sleep, tempDir } from '../testing/cli.js';
import { type TestDatabase, openTestDatabase } from '../testing/databases.js';
import { type TestCert, createCertificate } from '../testing/pki.js';

/** The subject CN the server presents on 127.0.0.1:port. */
function servedCommonName(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const cn = socket.getPeerCertificate().subject?.CN;
      socket.end();
      resolve(String(cn));
    });
    socket.once('error', reject);
  });
}

function httpsGet(port: number, pathname: string): Promise<{ status: number; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: pathname, rejectUnauthorized: false }, (res) => {
      res.resume();
      res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.once('error', reject);
    req.end();
  });
}

describe('HTTPS serving', () => {
  const dir = tempDir('portcullis-https-');
  const certFile = path.join(dir, 'tls.crt');
  const keyFile = path.join(dir, 'tls.key');
  let first: TestCert;
  let second: TestCert;
  let db: TestDatabase;
  let runtime: Runtime;
  let app: TestApp;
  let port: number;
  const install = (cert: TestCert) => {
    writeFileSync(keyFile, cert.key.privateKeyPem);
    writeFileSync(certFile, cert.pem);
  };

  beforeAll(async () => {
    first = await createCertificate({ commonName: 'portcullis-https-first', altNames: ['IP:127.0.0.1'], key: { alg: 'EC', curve: 'P-256' } });
    second = await createCertificate({ commonName: 'portcullis-https-second', altNames: ['IP:127.0.0.1'], key: { alg: 'EC', curve: 'P-256' } });
    install(first);
    db = await openTestDatabase('sqlite');
    const config = buildConfig({ PORTCULLIS_TLS_CERT: certFile, PORTCULLIS_TLS_KEY: keyFile }, { logLevel: 'silent' });
    runtime = await createRuntime(config, { database: db, logger: createLogger(config), metrics: createMetrics({ defaultMetrics: false }) });
    app = await buildTestApp(runtime);
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as { port: number }).port;
  });

  afterAll(async () => {
    await app?.close();
    await runtime?.close();
    await db?.cleanup();
    await cleanupCli();
  });

  it('serves the configured certificate with HSTS', async () => {
    expect(await servedCommonName(port)).toBe('portcullis-https-first');
    const res = await httpsGet(port, '/healthz');
    expect(res.status).toBe(200);
    expect(res.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
  });

  it('reloads a replaced certificate without a restart, and keeps serving when a replacement is broken', async () => {
    install(second);
    const deadline = Date.now() + 15_000;
    while ((await servedCommonName(port)) !== 'portcullis-https-second') {
      if (Date.now() > deadline) throw new Error('the replaced certificate was not picked up within 15 s');
      await sleep(250);
    }
    writeFileSync(certFile, 'not a certificate');
    await sleep(5000);
    expect(await servedCommonName(port)).toBe('portcullis-https-second');
    expect((await httpsGet(port, '/healthz')).status).toBe(200);
  }, 30_000);

  it('refuses to start with a key that does not match the certificate, or a missing half', async () => {
    install(first);
    writeFileSync(keyFile, second.key.privateKeyPem);
    const config = buildConfig({ PORTCULLIS_TLS_CERT: certFile, PORTCULLIS_TLS_KEY: keyFile }, { logLevel: 'silent' });
    const otherDb = await openTestDatabase('sqlite');
    const other = await createRuntime(config, { database: otherDb, logger: createLogger(config), metrics: createMetrics({ defaultMetrics: false }) });
    try {
      await expect(buildTestApp(other)).rejects.toMatchObject({ code: 'config.invalid', message: expect.stringContaining('cannot be used together') });
    } finally {
      await other.close();
      await otherDb.cleanup();
    }
    expect(() => buildConfig({ PORTCULLIS_TLS_CERT: certFile })).toThrow(/needs both a certificate and a key/);
  });
});
