import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import * as pkijs from 'pkijs';
import { afterEach, describe, expect, it } from 'vitest';
import { createCertificate, testPki, type TestCert } from './pki.js';
import { TestServers } from './servers.js';

const servers = new TestServers();
afterEach(() => servers.closeAll());

async function serve(leaf: TestCert, chain: TestCert[], options: tls.TlsOptions = {}): Promise<number> {
  const cert = [leaf, ...chain].map((c) => c.pem).join('');
  return servers.track(tls.createServer({ key: leaf.key.privateKeyPem, cert, ...options }, (socket) => socket.end()));
}

function connect(port: number, options: tls.ConnectionOptions): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ...options }, () => resolve(socket));
    socket.once('error', reject);
  });
}

describe('testPki', () => {
  it('serves a chain that Node trusts for localhost when given the root as CA', async () => {
    const { root, intermediate, leaf } = await testPki();
    const port = await serve(leaf, [intermediate]);
    const socket = await connect(port, { ca: root.pem, servername: 'localhost' });
    expect(socket.authorized).toBe(true);
    expect(socket.getPeerX509Certificate()?.subject).toBe('CN=localhost');
    socket.destroy();
  });

  it('gives the leaf DNS and IP SANs and chains it leaf → intermediate → root', async () => {
    const { root, intermediate, leaf } = await testPki();
    const leafX509 = new X509Certificate(leaf.der);
    const intermediateX509 = new X509Certificate(intermediate.der);
    const rootX509 = new X509Certificate(root.der);
    expect(leafX509.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(leafX509.checkIssued(intermediateX509)).toBe(true);
    expect(leafX509.verify(intermediateX509.publicKey)).toBe(true);
    expect(intermediateX509.verify(rootX509.publicKey)).toBe(true);
    expect(rootX509.verify(rootX509.publicKey)).toBe(true);
    expect(intermediateX509.ca).toBe(true);
    expect(leafX509.ca).toBe(false);
  });

  it('rejects the chain when the client does not trust the root', async () => {
    const { intermediate, leaf } = await testPki();
    const port = await serve(leaf, [intermediate]);
    await expect(connect(port, { servername: 'localhost' })).rejects.toThrow(/unable to get local issuer/);
  });

  it('produces SHA-1 / RSA-1024 leaves that a SECLEVEL=0 server loads', async () => {
    const { root, intermediate, leafFor } = await testPki();
    const weak = await leafFor({ key: { alg: 'RSA', bits: 1024 }, signatureHash: 'SHA-1' });
    const x509 = new X509Certificate(weak.der);
    expect(x509.publicKey.asymmetricKeyDetails?.modulusLength).toBe(1024);
    expect(x509.verify(new X509Certificate(intermediate.der).publicKey)).toBe(true);
    expect(x509.toLegacyObject().bits).toBe(1024);
    const port = await serve(weak, [intermediate], { ciphers: 'DEFAULT@SECLEVEL=0' });
    const socket = await connect(port, { ca: root.pem, servername: 'localhost', ciphers: 'DEFAULT@SECLEVEL=0' });
    expect(socket.getPeerX509Certificate()?.fingerprint256).toBe(x509.fingerprint256);
    socket.destroy();
  });

  it('produces ECDSA leaves under an RSA intermediate that Node trusts', async () => {
    const { root, intermediate, leafFor } = await testPki();
    const ec = await leafFor({ key: { alg: 'EC', curve: 'P-256' } });
    expect(new X509Certificate(ec.der).publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    const port = await serve(ec, [intermediate]);
    const socket = await connect(port, { ca: root.pem, servername: 'localhost' });
    expect(socket.authorized).toBe(true);
    socket.destroy();
  });

  it('honours validity dates, serial and self-signing', async () => {
    const notBefore = new Date('2020-01-01T00:00:00Z');
    const notAfter = new Date('2051-06-01T00:00:00Z');
    const cert = await createCertificate({ commonName: 'self.test', key: { alg: 'EC', curve: 'P-256' }, notBefore, notAfter, serial: 0xabcdefn });
    const x509 = new X509Certificate(cert.der);
    expect(new Date(x509.validFrom).toISOString()).toBe(notBefore.toISOString());
    expect(new Date(x509.validTo).toISOString()).toBe(notAfter.toISOString());
    expect(x509.serialNumber).toBe('ABCDEF');
    expect(x509.issuer).toBe('CN=self.test');
    expect(x509.verify(x509.publicKey)).toBe(true);
    expect(cert.subject).toBe('CN=self.test');
  });

  it('adds OCSP and CRL URLs', async () => {
    const cert = await createCertificate({ commonName: 'urls.test', key: { alg: 'EC', curve: 'P-256' }, ocspUrl: 'http://127.0.0.1:9/ocsp', crlUrl: 'http://127.0.0.1:9/crl' });
    const x509 = new X509Certificate(cert.der);
    expect(x509.infoAccess).toContain('OCSP - URI:http://127.0.0.1:9/ocsp');
    const crlPoints = pkijs.Certificate.fromBER(cert.der).extensions?.find((e) => e.extnID === '2.5.29.31')?.parsedValue;
    expect(crlPoints).toBeInstanceOf(pkijs.CRLDistributionPoints);
    expect((crlPoints as pkijs.CRLDistributionPoints).distributionPoints[0]?.distributionPoint).toEqual([
      expect.objectContaining({ type: 6, value: 'http://127.0.0.1:9/crl' }),
    ]);
  });

  it('keeps keys distinct across names and shared for re-issued names', async () => {
    const a = await createCertificate({ commonName: 'a.test', key: { alg: 'EC', curve: 'P-256' } });
    const b = await createCertificate({ commonName: 'b.test', key: { alg: 'EC', curve: 'P-256' } });
    const a2 = await createCertificate({ commonName: 'a.test', key: { alg: 'EC', curve: 'P-256' } });
    expect(a.key.privateKeyPem).not.toBe(b.key.privateKeyPem);
    expect(a2.key.privateKeyPem).toBe(a.key.privateKeyPem);
  });
});
