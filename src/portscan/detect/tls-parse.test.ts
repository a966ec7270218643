import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeTlsHandshake, errorProvesTls, formatDistinguishedName, splitSubjectAltNames } from './tls-parse.js';

// Certificates made at test time by the openssl CLI: a self-signed one, and a leaf signed by a test CA.
let dir: string;
let selfSigned: Buffer;
let leaf: Buffer;

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'portcullis-tls-parse-'));
  openssl('req', '-x509', ...EC, '-keyout', 'self.key', '-out', 'self.pem', '-days', '10', '-subj', '/CN=self.test', '-addext', 'subjectAltName=DNS:self.test,DNS:www.self.test,IP:192.0.2.1');
  openssl('req', '-x509', ...EC, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '10', '-subj', '/CN=Portcullis Test CA/O=Test');
  openssl('req', ...EC, '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/C=DE/O=Leaf Org/CN=leaf.test');
  writeFileSync(path.join(dir, 'leaf.ext'), 'subjectAltName=DNS:leaf.test\n');
  openssl('x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'leaf.pem', '-days', '5', '-extfile', 'leaf.ext');
  selfSigned = new X509Certificate(readFileSync(path.join(dir, 'self.pem'))).raw;
  leaf = new X509Certificate(readFileSync(path.join(dir, 'leaf.pem'))).raw;
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('TLS handshake description', () => {
  it('describes a self-signed certificate', () => {
    const info = describeTlsHandshake({ protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', alpn: 'h2', certificate: selfSigned });
    expect(info).toMatchObject({
      version: 'TLSv1.3',
      cipher: 'TLS_AES_256_GCM_SHA384',
      alpn: 'h2',
      subject: 'CN=self.test',
      issuer: 'CN=self.test',
      subjectAltNames: ['DNS:self.test', 'DNS:www.self.test', 'IP Address:192.0.2.1'],
      selfSigned: true,
    });
    expect(Date.parse(info.notAfter ?? '') - Date.now()).toBeGreaterThan(9 * 86_400_000);
    expect(info.notAfter).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
  });

  it('tells a CA-signed leaf from a self-signed one', () => {
    const info = describeTlsHandshake({ protocol: 'TLSv1.2', alpn: false, certificate: leaf, authorizationError: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    expect(info).toMatchObject({ version: 'TLSv1.2', subject: 'C=DE, O=Leaf Org, CN=leaf.test', issuer: 'CN=Portcullis Test CA, O=Test', selfSigned: false });
    expect(info.alpn).toBeUndefined();
  });

  it('trusts Node’s DEPTH_ZERO_SELF_SIGNED_CERT verdict', () => {
    expect(describeTlsHandshake({ certificate: leaf, authorizationError: 'DEPTH_ZERO_SELF_SIGNED_CERT' }).selfSigned).toBe(true);
  });

  it('copes with no certificate and with garbage certificate bytes', () => {
    expect(describeTlsHandshake({ protocol: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256', alpn: null })).toEqual({
      version: 'TLSv1.3',
      cipher: 'TLS_AES_128_GCM_SHA256',
    });
    expect(describeTlsHandshake({ certificate: Buffer.from('not a certificate') })).toEqual({});
    expect(describeTlsHandshake({ certificate: leaf.subarray(0, 100) })).toEqual({});
  });

  it.each([
    ['CN=a\nO=b', 'CN=a, O=b'],
    ['CN=only', 'CN=only'],
    ['', ''],
  ])('formats the DN %j', (dn, expected) => {
    expect(formatDistinguishedName(dn)).toBe(expected);
  });

  it.each([
    ['DNS:a.test, DNS:b.test', ['DNS:a.test', 'DNS:b.test']],
    ['DNS:a.test, IP Address:10.0.0.1, email:x@y.test', ['DNS:a.test', 'IP Address:10.0.0.1', 'email:x@y.test']],
    ['DNS:"a, b.test", DNS:c.test', ['DNS:"a, b.test"', 'DNS:c.test']],
    [undefined, []],
  ])('splits the SANs %j', (san, expected) => {
    expect(splitSubjectAltNames(san)).toEqual(expected);
  });

  it.each([
    ['ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE', true],
    ['ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION', true],
    ['ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', true],
    ['ERR_SSL_UNSUPPORTED_PROTOCOL', true],
    ['ERR_SSL_WRONG_VERSION_NUMBER', false],
    ['ERR_SSL_PACKET_LENGTH_TOO_LONG', false],
    ['ECONNRESET', false],
    [undefined, false],
  ])('%s proves TLS: %s', (code, proves) => {
    expect(errorProvesTls(code)).toBe(proves);
  });
});
