import { createHash, X509Certificate } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { PortcullisError } from '../../shared/errors.js';
import type { CertificateInfo } from '../model.js';

/**
 * X.509 facts for one certificate: node:crypto `X509Certificate` for what OpenSSL parses fast (key,
 * fingerprints, PEM), pkijs for what it cannot give (names as values, extensions by OID).
 */

const DAY_MS = 86_400_000;

const OID = {
  commonName: '2.5.4.3',
  subjectAltName: '2.5.29.17',
  crlDistributionPoints: '2.5.29.31',
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1',
  ocsp: '1.3.6.1.5.5.7.48.1',
  tlsFeature: '1.3.6.1.5.5.7.1.24',
  sctList: '1.3.6.1.4.1.11129.2.4.2',
} as const;

/** TLS Feature value for status_request (RFC 7633): its presence is OCSP must-staple. */
const STATUS_REQUEST = 5;

/** Signature algorithm OIDs in SSL Labs' naming. */
const SIGNATURE_ALGORITHMS: Record<string, string> = {
  '1.2.840.113549.1.1.2': 'MD2withRSA',
  '1.2.840.113549.1.1.4': 'MD5withRSA',
  '1.2.840.113549.1.1.5': 'SHA1withRSA',
  '1.2.840.113549.1.1.14': 'SHA224withRSA',
  '1.2.840.113549.1.1.11': 'SHA256withRSA',
  '1.2.840.113549.1.1.12': 'SHA384withRSA',
  '1.2.840.113549.1.1.13': 'SHA512withRSA',
  '1.2.840.113549.1.1.10': 'RSASSA-PSS',
  '1.2.840.10045.4.1': 'SHA1withECDSA',
  '1.2.840.10045.4.3.1': 'SHA224withECDSA',
  '1.2.840.10045.4.3.2': 'SHA256withECDSA',
  '1.2.840.10045.4.3.3': 'SHA384withECDSA',
  '1.2.840.10045.4.3.4': 'SHA512withECDSA',
  '1.2.840.10040.4.3': 'SHA1withDSA',
  '2.16.840.1.101.3.4.3.2': 'SHA256withDSA',
  '1.3.101.112': 'Ed25519',
  '1.3.101.113': 'Ed448',
};

/** Named curves OpenSSL reports, with their size in bits. */
const CURVE_BITS: Record<string, number> = {
  prime192v1: 192,
  secp224r1: 224,
  prime256v1: 256,
  secp256k1: 256,
  secp384r1: 384,
  secp521r1: 521,
  brainpoolP256r1: 256,
  brainpoolP384r1: 384,
  brainpoolP512r1: 512,
};

/** A certificate parsed both ways; throws a PortcullisError naming the problem for bytes that are not X.509. */
export interface ParsedCertificate {
  der: Buffer;
  x509: X509Certificate;
  pkijs: pkijs.Certificate;
}

export function parseCertificate(der: Buffer): ParsedCertificate {
  try {
    return { der, x509: new X509Certificate(der), pkijs: pkijs.Certificate.fromBER(der) };
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new PortcullisError('scan.failed', `the server sent a certificate that is not valid X.509 (${der.length} bytes): ${reason}`);
  }
}

export function describeCertificate(der: Buffer, now: Date): CertificateInfo {
  return describeParsed(parseCertificate(der), now);
}

export function describeParsed({ der, x509, pkijs: cert }: ParsedCertificate, now: Date): CertificateInfo {
  const notAfter = cert.notAfter.value;
  const spki = Buffer.from(cert.subjectPublicKeyInfo.toSchema().toBER());
  return {
    subject: distinguishedName(x509.subject),
    commonNames: commonNames(cert.subject),
    altNames: altNames(cert),
    issuer: distinguishedName(x509.issuer),
    serialNumber: x509.serialNumber.toLowerCase(),
    notBefore: cert.notBefore.value.toISOString(),
    notAfter: notAfter.toISOString(),
    daysToExpiry: Math.floor((notAfter.getTime() - now.getTime()) / DAY_MS),
    ...publicKeyFacts(x509),
    sigAlg: SIGNATURE_ALGORITHMS[cert.signatureAlgorithm.algorithmId] ?? cert.signatureAlgorithm.algorithmId,
    sha1: createHash('sha1').update(der).digest('hex'),
    sha256: createHash('sha256').update(der).digest('hex'),
    pinSha256: createHash('sha256').update(spki).digest('base64'),
    ocspUrls: ocspUrls(cert),
    crlUrls: crlUrls(cert),
    mustStaple: mustStaple(cert),
    sctCount: sctCount(cert),
    selfSigned: isSelfSigned(x509),
    isCa: x509.ca,
    pem: x509.toString(),
  };
}

/** True when `issuer` may sign certificates, its name and key identifiers fit `cert`, and its key verifies `cert`'s signature. */
export function isIssuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  return cert.issuer === issuer.subject && cert.checkIssued(issuer) && verifies(cert, issuer);
}

/** Issued by its own name and key; unlike isIssuedBy, a self-signed leaf needs no certificate-signing key usage. */
export function isSelfSigned(x509: X509Certificate): boolean {
  return x509.issuer === x509.subject && verifies(x509, x509);
}

function verifies(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.verify(issuer.publicKey);
  } catch {
    // A key type or signature algorithm OpenSSL cannot handle verifies nothing.
    return false;
  }
}

/** Node prints one RDN per line, most significant first; SSL Labs shows them RFC 4514 style, CN first. */
function distinguishedName(lines: string): string {
  return lines.split('\n').filter(Boolean).reverse().join(', ');
}

function commonNames(name: pkijs.RelativeDistinguishedNames): string[] {
  return name.typesAndValues.filter((tv) => tv.type === OID.commonName).map((tv) => String(tv.value.valueBlock.value));
}

function extension(cert: pkijs.Certificate, oid: string): pkijs.Extension | undefined {
  return cert.extensions?.find((e) => e.extnID === oid);
}

function altNames(cert: pkijs.Certificate): string[] {
  const san = extension(cert, OID.subjectAltName)?.parsedValue;
  if (!(san instanceof pkijs.AltName)) return [];
  return san.altNames.flatMap((name) => {
    if (name.type === 2) return [`DNS:${String(name.value)}`];
    if (name.type === 7 && name.value instanceof asn1js.OctetString) {
      const ip = formatIp(name.value.valueBlock.valueHexView);
      return ip ? [`IP:${ip}`] : [];
    }
    return [];
  });
}

function formatIp(bytes: Uint8Array): string | null {
  if (bytes.length === 4) return bytes.join('.');
  if (bytes.length !== 16) return null;
  const groups = Array.from({ length: 8 }, (_, i) => (((bytes[2 * i] ?? 0) << 8) | (bytes[2 * i + 1] ?? 0)).toString(16));
  // The WHATWG URL parser compresses an IPv6 literal to its canonical RFC 5952 text (no DNS involved).
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

function uris(names: pkijs.GeneralName[]): string[] {
  return names.filter((name) => name.type === 6).map((name) => String(name.value));
}

function ocspUrls(cert: pkijs.Certificate): string[] {
  const aia = extension(cert, OID.authorityInfoAccess)?.parsedValue;
  if (!(aia instanceof pkijs.InfoAccess)) return [];
  return uris(aia.accessDescriptions.filter((d) => d.accessMethod === OID.ocsp).map((d) => d.accessLocation));
}

function crlUrls(cert: pkijs.Certificate): string[] {
  const points = extension(cert, OID.crlDistributionPoints)?.parsedValue;
  if (!(points instanceof pkijs.CRLDistributionPoints)) return [];
  return points.distributionPoints.flatMap((point) => (Array.isArray(point.distributionPoint) ? uris(point.distributionPoint) : []));
}

function mustStaple(cert: pkijs.Certificate): boolean {
  const feature = extension(cert, OID.tlsFeature);
  if (!feature) return false;
  const parsed = asn1js.fromBER(feature.extnValue.valueBlock.valueHexView);
  if (parsed.offset === -1 || !(parsed.result instanceof asn1js.Sequence)) return false;
  return parsed.result.valueBlock.value.some((item) => item instanceof asn1js.Integer && item.valueBlock.valueDec === STATUS_REQUEST);
}

function sctCount(cert: pkijs.Certificate): number {
  const list = extension(cert, OID.sctList)?.parsedValue;
  return list instanceof pkijs.SignedCertificateTimestampList ? list.timestamps.length : 0;
}

type KeyFacts = Pick<CertificateInfo, 'keyAlg' | 'keySize' | 'keyStrength' | 'rsaExponent' | 'curve'>;

function publicKeyFacts(x509: X509Certificate): KeyFacts {
  let key;
  try {
    key = x509.publicKey;
  } catch {
    // OpenSSL cannot load this key type (e.g. GOST): reported as an unknown key of no strength.
    return { keyAlg: 'unknown', keySize: 0, keyStrength: 0 };
  }
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa':
    case 'rsa-pss': {
      const size = details.modulusLength ?? 0;
      const exponent = details.publicExponent;
      return {
        keyAlg: key.asymmetricKeyType === 'rsa' ? 'RSA' : 'RSA-PSS',
        keySize: size,
        keyStrength: size,
        ...(exponent === undefined ? {} : { rsaExponent: Number(exponent) }),
      };
    }
    case 'dsa':
      return { keyAlg: 'DSA', keySize: details.modulusLength ?? 0, keyStrength: details.modulusLength ?? 0 };
    case 'ec': {
      const curve = details.namedCurve ?? 'unknown';
      const size = CURVE_BITS[curve] ?? Number(/\d{3}/.exec(curve)?.[0] ?? 0);
      return { keyAlg: 'EC', keySize: size, keyStrength: ellipticStrength(size), curve };
    }
    case 'ed25519':
      return { keyAlg: 'Ed25519', keySize: 256, keyStrength: ellipticStrength(256) };
    case 'ed448':
      return { keyAlg: 'Ed448', keySize: 448, keyStrength: ellipticStrength(448) };
    default:
      return { keyAlg: 'unknown', keySize: 0, keyStrength: 0 };
  }
}

/** RSA-equivalent strength of an elliptic-curve key (NIST SP 800-57 Part 1, table 2). */
function ellipticStrength(bits: number): number {
  if (bits >= 512) return 15360;
  if (bits >= 384) return 7680;
  if (bits >= 256) return 3072;
  if (bits >= 224) return 2048;
  return bits >= 160 ? 1024 : 0;
}
