import { createHash, X509Certificate } from 'node:crypto';
import { PortcullisError } from '../../shared/errors.js';
import type { CertificateInfo } from '../model.js';
import { childrenOf, contextTag, decodeOid, decodeString, DerTag, readSingle, type DerElement } from './der.js';
import { GeneralNameTag, nameAttributes, readCertificateFields, type CertificateFields } from './x509-fields.js';

/**
 * X.509 facts for one certificate: node:crypto `X509Certificate` for what OpenSSL parses fast (key,
 * fingerprints, PEM, signatures), our DER reader for what it cannot give (names as values, extensions by OID).
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
  fields: CertificateFields;
}

export function parseCertificate(der: Buffer): ParsedCertificate {
  try {
    return { der, x509: new X509Certificate(der), fields: readCertificateFields(der) };
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new PortcullisError('scan.failed', `the server sent a certificate that is not valid X.509 (${der.length} bytes): ${reason}`);
  }
}

export function describeCertificate(der: Buffer, now: Date): CertificateInfo {
  return describeParsed(parseCertificate(der), now);
}

export function describeParsed({ der, x509, fields }: ParsedCertificate, now: Date): CertificateInfo {
  const { notAfter, extensions } = fields;
  return {
    subject: distinguishedName(x509.subject),
    commonNames: commonNames(fields.subject),
    altNames: altNames(extensions.get(OID.subjectAltName)),
    issuer: distinguishedName(x509.issuer),
    serialNumber: x509.serialNumber.toLowerCase(),
    notBefore: fields.notBefore.toISOString(),
    notAfter: notAfter.toISOString(),
    daysToExpiry: Math.floor((notAfter.getTime() - now.getTime()) / DAY_MS),
    ...publicKeyFacts(x509),
    sigAlg: SIGNATURE_ALGORITHMS[fields.signatureAlgorithm] ?? fields.signatureAlgorithm,
    sha1: createHash('sha1').update(der).digest('hex'),
    sha256: createHash('sha256').update(der).digest('hex'),
    pinSha256: createHash('sha256').update(fields.spki).digest('base64'),
    ocspUrls: ocspUrls(extensions.get(OID.authorityInfoAccess)),
    crlUrls: crlUrls(extensions.get(OID.crlDistributionPoints)),
    mustStaple: mustStaple(extensions.get(OID.tlsFeature)),
    sctCount: sctCount(extensions.get(OID.sctList)),
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

function commonNames(subject: DerElement): string[] {
  return nameAttributes(subject).flatMap(({ type, value }) => (type === OID.commonName ? [decodeString(value) ?? ''] : []));
}

/**
 * An extension's values, or none when it is absent or unreadable: a malformed extension costs the facts
 * it would have given (as in browsers, which ignore what they cannot parse), not the whole certificate.
 */
function readExtension<T>(value: Buffer | undefined, read: (element: DerElement) => T[]): T[] {
  if (value === undefined) return [];
  try {
    return read(readSingle(value, 'extension value'));
  } catch {
    return [];
  }
}

const generalNameText = (name: DerElement): string => name.content.toString('latin1');

function altNames(value: Buffer | undefined): string[] {
  return readExtension(value, (names) =>
    childrenOf(names).flatMap((name) => {
      if (name.tag === GeneralNameTag.dnsName) return [`DNS:${generalNameText(name)}`];
      const ip = name.tag === GeneralNameTag.ipAddress ? formatIp(name.content) : null;
      return ip ? [`IP:${ip}`] : [];
    }),
  );
}

function formatIp(bytes: Uint8Array): string | null {
  if (bytes.length === 4) return bytes.join('.');
  if (bytes.length !== 16) return null;
  const groups = Array.from({ length: 8 }, (_, i) => (((bytes[2 * i] ?? 0) << 8) | (bytes[2 * i + 1] ?? 0)).toString(16));
  // The WHATWG URL parser compresses an IPv6 literal to its canonical RFC 5952 text (no DNS involved).
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

function uris(names: DerElement[]): string[] {
  return names.filter((name) => name.tag === GeneralNameTag.uri).map(generalNameText);
}

/** AuthorityInfoAccess: SEQUENCE OF {accessMethod, accessLocation GeneralName}. */
function ocspUrls(value: Buffer | undefined): string[] {
  return readExtension(value, (descriptions) =>
    uris(
      childrenOf(descriptions).flatMap((description) => {
        const [method, location] = childrenOf(description);
        return method?.tag === DerTag.oid && decodeOid(method.content) === OID.ocsp && location !== undefined ? [location] : [];
      }),
    ),
  );
}

/** CRLDistributionPoints: SEQUENCE OF {distributionPoint [0] {fullName [0] GeneralNames}, …}. */
function crlUrls(value: Buffer | undefined): string[] {
  const tagged = (elements: DerElement[], n: number): DerElement | undefined => elements.find((element) => element.tag === contextTag(n, true));
  return readExtension(value, (points) =>
    childrenOf(points).flatMap((point) => {
      const name = tagged(childrenOf(point), 0);
      const fullName = name === undefined ? undefined : tagged(childrenOf(name), 0);
      return fullName === undefined ? [] : uris(childrenOf(fullName));
    }),
  );
}

/** TLS Feature (RFC 7633): SEQUENCE OF INTEGER; status_request means OCSP must-staple. */
function mustStaple(value: Buffer | undefined): boolean {
  return readExtension(value, (features) => childrenOf(features).filter((f) => f.tag === DerTag.integer && f.content.length === 1 && f.content[0] === STATUS_REQUEST))
    .length > 0;
}

/** Embedded SCTs (RFC 6962 §3.3): an OCTET STRING holding a TLS vector (u16 length) of u16-length-prefixed SCTs. */
function sctCount(value: Buffer | undefined): number {
  return readExtension(value, (list) => {
    if (list.tag !== DerTag.octetString || list.content.length < 2) return [];
    const bytes = list.content;
    const scts: Buffer[] = [];
    for (let offset = 2; offset + 2 <= bytes.length; offset += 2 + (scts.at(-1)?.length ?? 0)) {
      scts.push(bytes.subarray(offset + 2, offset + 2 + bytes.readUInt16BE(offset)));
    }
    return scts;
  }).length;
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
