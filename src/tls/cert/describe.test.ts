import { createHash, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCertificate, testPki } from '../../testing/pki.js';
import { failureOf } from '../../testing/errors.js';
import { describeCertificate } from './describe.js';

const DAY_MS = 86_400_000;

describe('describeCertificate', () => {
  it('reports names, validity, fingerprints and key facts of a CA-issued leaf', async () => {
    const { intermediate } = await testPki();
    const notBefore = new Date('2026-01-01T00:00:00Z');
    const notAfter = new Date('2026-04-01T00:00:00Z');
    const leaf = await createCertificate({
      commonName: 'www.example.test',
      altNames: ['DNS:www.example.test', 'example.test', 'IP:192.0.2.7', 'IP:2001:db8::1'],
      issuer: intermediate,
      notBefore,
      notAfter,
      serial: 0x0123456789abcdefn,
    });
    const info = describeCertificate(leaf.der, new Date('2026-03-21T12:00:00Z'));
    const spki = new X509Certificate(leaf.der).publicKey.export({ type: 'spki', format: 'der' });

    expect(info).toMatchObject({
      subject: 'CN=www.example.test',
      commonNames: ['www.example.test'],
      altNames: ['DNS:www.example.test', 'DNS:example.test', 'IP:192.0.2.7', 'IP:2001:db8::1'],
      issuer: 'CN=Portcullis Test Intermediate CA',
      serialNumber: '0123456789abcdef',
      notBefore: '2026-01-01T00:00:00.000Z',
      notAfter: '2026-04-01T00:00:00.000Z',
      daysToExpiry: 10,
      keyAlg: 'RSA',
      keySize: 2048,
      keyStrength: 2048,
      rsaExponent: 65537,
      sigAlg: 'SHA256withRSA',
      sha1: createHash('sha1').update(leaf.der).digest('hex'),
      sha256: createHash('sha256').update(leaf.der).digest('hex'),
      pinSha256: createHash('sha256').update(spki).digest('base64'),
      ocspUrls: [],
      crlUrls: [],
      mustStaple: false,
      sctCount: 0,
      selfSigned: false,
      isCa: false,
      pem: leaf.pem,
    });
    expect(info.curve).toBeUndefined();
  });

  it('counts whole days to expiry, negative once expired', async () => {
    const { leaf } = await testPki();
    const notAfter = new Date(describeCertificate(leaf.der, new Date()).notAfter);
    expect(describeCertificate(leaf.der, new Date(notAfter.getTime() - 2.5 * DAY_MS)).daysToExpiry).toBe(2);
    expect(describeCertificate(leaf.der, new Date(notAfter.getTime() + 0.5 * DAY_MS)).daysToExpiry).toBe(-1);
    expect(describeCertificate(leaf.der, new Date(notAfter.getTime() + 3.5 * DAY_MS)).daysToExpiry).toBe(-4);
  });

  it('rates a 1024-bit RSA key at 1024 and names a SHA-1 signature SSL Labs style', async () => {
    const { leafFor } = await testPki();
    const weak = await leafFor({ key: { alg: 'RSA', bits: 1024 }, signatureHash: 'SHA-1' });
    expect(describeCertificate(weak.der, new Date())).toMatchObject({ keyAlg: 'RSA', keySize: 1024, keyStrength: 1024, sigAlg: 'SHA1withRSA' });
  });

  it.each([
    ['P-256', 'prime256v1', 256, 3072],
    ['P-384', 'secp384r1', 384, 7680],
    ['P-521', 'secp521r1', 521, 15360],
  ] as const)('rates an ECDSA %s key at its RSA equivalent', async (curve, name, size, strength) => {
    const cert = await createCertificate({ commonName: `ec-${curve}.test`, key: { alg: 'EC', curve }, signatureHash: 'SHA-384' });
    const info = describeCertificate(cert.der, new Date());
    expect(info).toMatchObject({ keyAlg: 'EC', curve: name, keySize: size, keyStrength: strength, sigAlg: 'SHA384withECDSA' });
    expect(info.rsaExponent).toBeUndefined();
  });

  it('names the signature by the issuer key: an EC leaf under an RSA CA is SHA256withRSA', async () => {
    const { leafFor } = await testPki();
    const ec = await leafFor({ key: { alg: 'EC', curve: 'P-256' } });
    expect(describeCertificate(ec.der, new Date()).sigAlg).toBe('SHA256withRSA');
  });

  it('reads OCSP and CRL URLs, must-staple and embedded SCTs', async () => {
    const { leafFor } = await testPki();
    const cert = await leafFor({
      ocspUrl: 'http://127.0.0.1:8/ocsp',
      crlUrl: 'http://127.0.0.1:8/intermediate.crl',
      mustStaple: true,
      sctCount: 3,
    });
    expect(describeCertificate(cert.der, new Date())).toMatchObject({
      ocspUrls: ['http://127.0.0.1:8/ocsp'],
      crlUrls: ['http://127.0.0.1:8/intermediate.crl'],
      mustStaple: true,
      sctCount: 3,
    });
  });

  it('recognises self-signed certificates and CAs', async () => {
    const { root, intermediate } = await testPki();
    const self = await createCertificate({ commonName: 'self-signed.test', key: { alg: 'EC', curve: 'P-256' } });
    expect(describeCertificate(self.der, new Date())).toMatchObject({ selfSigned: true, isCa: false, issuer: 'CN=self-signed.test' });
    expect(describeCertificate(root.der, new Date())).toMatchObject({ selfSigned: true, isCa: true });
    expect(describeCertificate(intermediate.der, new Date())).toMatchObject({ selfSigned: false, isCa: true });
  });

  it('does not call a certificate self-signed when only its names match', async () => {
    const impostor = await createCertificate({ commonName: 'Impostor' });
    const namedLikeIssuer = await createCertificate({ commonName: 'Impostor', issuer: await createCertificate({ commonName: 'Impostor', key: { alg: 'EC', curve: 'P-256' } }) });
    expect(describeCertificate(impostor.der, new Date()).selfSigned).toBe(true);
    expect(describeCertificate(namedLikeIssuer.der, new Date()).selfSigned).toBe(false);
  });

  it('rejects bytes that are not a certificate with an error naming the problem', async () => {
    const error = await failureOf(Promise.resolve().then(() => describeCertificate(Buffer.from('not a certificate'), new Date())));
    expect(error.code).toBe('scan.failed');
    expect(error.message).toMatch(/not valid X\.509 \(17 bytes\)/);
  });
});
