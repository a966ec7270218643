import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { testPki } from '../../testing/pki.js';
import { DerError, readSingle } from './der.js';
import { commonNameDer } from './testing/names.js';
import { nameKey, readCertificateFields, readNames } from './x509-fields.js';

describe('readCertificateFields', () => {
  it('reads what X509Certificate does not give as values: signature algorithm, validity, names, SPKI, extensions', async () => {
    const { leaf, intermediate } = await testPki();
    const x509 = new X509Certificate(leaf.der);
    const fields = readCertificateFields(leaf.der);
    expect(fields.signatureAlgorithm).toBe('1.2.840.113549.1.1.11');
    expect(fields.notBefore.getTime()).toBe(new Date(x509.validFrom).getTime());
    expect(fields.notAfter.getTime()).toBe(new Date(x509.validTo).getTime());
    expect(fields.spki).toEqual(x509.publicKey.export({ type: 'spki', format: 'der' }));
    expect(fields.issuer.bytes).toEqual(readCertificateFields(intermediate.der).subject.bytes);
    expect([...fields.extensions.keys()]).toContain('2.5.29.17');
  });

  it('reads the names of every root certificate Node ships', () => {
    for (const pem of tls.rootCertificates) {
      const der = Buffer.from(pem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s+/g, ''), 'base64');
      const names = readNames(der);
      expect(readCertificateFields(der).subject.bytes).toEqual(names.subject.bytes);
    }
  });

  it('refuses bytes that are not a certificate', () => {
    expect(() => readCertificateFields(Buffer.from('3003020101', 'hex'))).toThrow(DerError);
    expect(() => readCertificateFields(Buffer.from('not a certificate'))).toThrow(DerError);
  });
});

describe('nameKey', () => {
  it('is the same for a name in PrintableString and in UTF8String, as X509Certificate prints them alike', () => {
    const printable = readSingle(commonNameDer('Example Root CA', 0x13), 'name');
    const utf8 = readSingle(commonNameDer('Example Root CA', 0x0c), 'name');
    expect(printable.bytes.equals(utf8.bytes)).toBe(false);
    expect(nameKey(printable)).toBe(nameKey(utf8));
    expect(nameKey(readSingle(commonNameDer('Example Root CB', 0x0c), 'name'))).not.toBe(nameKey(utf8));
  });
});
