import { createHash, KeyObject, randomBytes, sign, webcrypto } from 'node:crypto';
import net from 'node:net';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';

/**
 * A test PKI built at test time with pkijs + WebCrypto (no openssl binary): self-signed or CA-issued
 * certificates with the knobs a TLS assessment cares about (key type/size, signature hash, validity,
 * SANs, OCSP/CRL URLs, must-staple).
 */

type CryptoKey = webcrypto.CryptoKey;

export interface TestKey {
  privateKeyPem: string;
  publicKey: CryptoKey;
  privateKey: CryptoKey;
  alg: 'RSA' | 'EC';
  bits: number;
}

export interface TestCert {
  der: Buffer;
  pem: string;
  key: TestKey;
  /** "CN=<commonName>" */
  subject: string;
}

export type KeySpec = { alg: 'RSA'; bits: 1024 | 2048 | 3072 | 4096 } | { alg: 'EC'; curve: 'P-256' | 'P-384' | 'P-521' };

export interface CertOptions {
  commonName: string;
  /** 'DNS:x', 'IP:127.0.0.1' or bare names (an IP literal becomes an IP SAN). */
  altNames?: string[];
  /** Default: self-signed. */
  issuer?: TestCert;
  isCa?: boolean;
  /** Default RSA 2048. */
  key?: KeySpec;
  /** Default SHA-256. */
  signatureHash?: 'SHA-1' | 'SHA-256' | 'SHA-384';
  /** Default: one day ago. */
  notBefore?: Date;
  /** Default: 90 days from now. */
  notAfter?: Date;
  ocspUrl?: string;
  crlUrl?: string;
  mustStaple?: boolean;
  /** Embeds this many dummy SCTs (well-formed, signed by no log). */
  sctCount?: number;
  /** Default: 8 random bytes. */
  serial?: bigint;
}

const DAY_MS = 86_400_000;

const OID = {
  commonName: '2.5.4.3',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  crlDistributionPoints: '2.5.29.31',
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1',
  ocsp: '1.3.6.1.5.5.7.48.1',
  tlsFeature: '1.3.6.1.5.5.7.1.24',
  sctList: '1.3.6.1.4.1.11129.2.4.2',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

const SIGNATURE_OIDS: Record<TestKey['alg'], Record<NonNullable<CertOptions['signatureHash']>, string>> = {
  RSA: { 'SHA-1': '1.2.840.113549.1.1.5', 'SHA-256': '1.2.840.113549.1.1.11', 'SHA-384': '1.2.840.113549.1.1.12' },
  EC: { 'SHA-1': '1.2.840.10045.4.1', 'SHA-256': '1.2.840.10045.4.3.2', 'SHA-384': '1.2.840.10045.4.3.3' },
};

// Key generation is slow (RSA-2048 ≈ 0.5 s), so keys are cached per process by spec and common name:
// a certificate re-issued under the same name keeps its key (as CAs and servers do when renewing),
// while different names always get different keys, so an issuer never shares its key with another name.
const keyCache = new Map<string, Promise<TestKey>>();

function cachedKey(spec: KeySpec, commonName: string): Promise<TestKey> {
  const id = `${spec.alg}:${spec.alg === 'RSA' ? spec.bits : spec.curve}:${commonName}`;
  let key = keyCache.get(id);
  if (!key) {
    key = generateKey(spec);
    keyCache.set(id, key);
  }
  return key;
}

async function generateKey(spec: KeySpec): Promise<TestKey> {
  const pair =
    spec.alg === 'RSA'
      ? await webcrypto.subtle.generateKey(
          { name: 'RSASSA-PKCS1-v1_5', modulusLength: spec.bits, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
          true,
          ['sign', 'verify'],
        )
      : await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: spec.curve }, true, ['sign', 'verify']);
  const privateKeyPem = KeyObject.from(pair.privateKey).export({ type: 'pkcs8', format: 'pem' }).toString();
  const bits = spec.alg === 'RSA' ? spec.bits : Number(spec.curve.slice(2));
  return { privateKeyPem, publicKey: pair.publicKey, privateKey: pair.privateKey, alg: spec.alg, bits };
}

export async function createCertificate(options: CertOptions): Promise<TestCert> {
  const key = await cachedKey(options.key ?? { alg: 'RSA', bits: 2048 }, options.commonName);
  const spki = pkijs.PublicKeyInfo.fromBER(await webcrypto.subtle.exportKey('spki', key.publicKey));
  const subject = commonNameRdn(options.commonName);
  const keyId = keyIdentifier(spki);

  const issuerCert = options.issuer ? pkijs.Certificate.fromBER(options.issuer.der) : null;
  const signer = options.issuer?.key ?? key;
  const hash = options.signatureHash ?? 'SHA-256';
  const now = Date.now();

  const cert = new pkijs.Certificate();
  cert.version = 2;
  cert.serialNumber = new asn1js.Integer({ valueHex: serialBytes(options.serial ?? randomSerial()) });
  cert.subject = subject;
  // The issuer name is copied from the issuer certificate byte for byte, so chain builders match it.
  cert.issuer = issuerCert ? issuerCert.subject : subject;
  cert.notBefore = certTime(options.notBefore ?? new Date(now - DAY_MS));
  cert.notAfter = certTime(options.notAfter ?? new Date(now + 90 * DAY_MS));
  cert.subjectPublicKeyInfo = spki;
  const issuerKeyId = issuerCert ? keyIdentifier(issuerCert.subjectPublicKeyInfo) : keyId;
  cert.extensions = extensions(options, key.alg, keyId, issuerKeyId);

  const algorithm = new pkijs.AlgorithmIdentifier({
    algorithmId: SIGNATURE_OIDS[signer.alg][hash],
    // RSA signature algorithms carry an explicit NULL parameter; ECDSA ones carry none (RFC 5758).
    ...(signer.alg === 'RSA' ? { algorithmParams: new asn1js.Null() } : {}),
  });
  cert.signature = algorithm;
  cert.signatureAlgorithm = algorithm;
  cert.tbsView = new Uint8Array(cert.encodeTBS().toBER());
  // node:crypto signs with any hash regardless of the hash a WebCrypto RSA key was generated for.
  const signature = sign(hash.replace('-', '').toLowerCase(), cert.tbsView, KeyObject.from(signer.privateKey));
  cert.signatureValue = new asn1js.BitString({ valueHex: signature });

  const der = Buffer.from(cert.toSchema().toBER());
  return { der, pem: toPem(der), key, subject: `CN=${options.commonName}` };
}

function extensions(options: CertOptions, keyAlg: TestKey['alg'], keyId: Buffer, issuerKeyId: Buffer): pkijs.Extension[] {
  const list: pkijs.Extension[] = [
    extension(OID.basicConstraints, new pkijs.BasicConstraints({ cA: options.isCa ?? false }).toSchema(), true),
    extension(OID.keyUsage, keyUsage(options.isCa ? ['keyCertSign', 'cRLSign'] : keyAlg === 'RSA' ? ['digitalSignature', 'keyEncipherment'] : ['digitalSignature']), true),
    extension(OID.subjectKeyIdentifier, new asn1js.OctetString({ valueHex: keyId })),
    extension(OID.authorityKeyIdentifier, new pkijs.AuthorityKeyIdentifier({ keyIdentifier: new asn1js.OctetString({ valueHex: issuerKeyId }) }).toSchema()),
  ];
  if (!options.isCa) {
    list.push(extension(OID.extKeyUsage, new pkijs.ExtKeyUsage({ keyPurposes: [OID.serverAuth, OID.clientAuth] }).toSchema()));
  }
  if (options.altNames?.length) {
    list.push(extension(OID.subjectAltName, new pkijs.AltName({ altNames: options.altNames.map(altName) }).toSchema()));
  }
  if (options.ocspUrl) {
    const ocsp = new pkijs.AccessDescription({ accessMethod: OID.ocsp, accessLocation: uriName(options.ocspUrl) });
    list.push(extension(OID.authorityInfoAccess, new pkijs.InfoAccess({ accessDescriptions: [ocsp] }).toSchema()));
  }
  if (options.crlUrl) {
    const point = new pkijs.DistributionPoint({ distributionPoint: [uriName(options.crlUrl)] });
    list.push(extension(OID.crlDistributionPoints, new pkijs.CRLDistributionPoints({ distributionPoints: [point] }).toSchema()));
  }
  if (options.mustStaple) {
    // TLS Feature (RFC 7633): SEQUENCE OF INTEGER, 5 = status_request.
    list.push(extension(OID.tlsFeature, new asn1js.Sequence({ value: [new asn1js.Integer({ value: 5 })] })));
  }
  if (options.sctCount) list.push(extension(OID.sctList, dummySctList(options.sctCount)));
  return list;
}

/** RFC 6962 §3.3 SignedCertificateTimestampList: TLS-encoded SCTs inside an OCTET STRING. */
function dummySctList(count: number): asn1js.OctetString {
  const signature = Buffer.alloc(8, 0x5c);
  const timestamp = Buffer.alloc(8);
  timestamp.writeBigUInt64BE(BigInt(Date.now()));
  const sct = Buffer.concat([
    Buffer.from([0]), // version v1
    Buffer.alloc(32, 0xab), // log id
    timestamp,
    uint16(0), // no extensions
    Buffer.from([4, 3]), // sha256, ecdsa
    uint16(signature.length),
    signature,
  ]);
  const items = Array.from({ length: count }, () => Buffer.concat([uint16(sct.length), sct]));
  const list = Buffer.concat(items);
  return new asn1js.OctetString({ valueHex: Buffer.concat([uint16(list.length), list]) });
}

function uint16(value: number): Buffer {
  const bytes = Buffer.alloc(2);
  bytes.writeUInt16BE(value);
  return bytes;
}

function extension(extnID: string, value: asn1js.BaseBlock, critical = false): pkijs.Extension {
  return new pkijs.Extension({ extnID, critical, extnValue: value.toBER() });
}

const KEY_USAGE_BITS = { digitalSignature: 0, keyEncipherment: 2, keyCertSign: 5, cRLSign: 6 } as const;

function keyUsage(usages: (keyof typeof KEY_USAGE_BITS)[]): asn1js.BitString {
  let byte = 0;
  for (const usage of usages) byte |= 0x80 >> KEY_USAGE_BITS[usage];
  // DER: the unused-bits count is the number of trailing zero bits of the last byte.
  let unusedBits = 0;
  while (unusedBits < 7 && ((byte >> unusedBits) & 1) === 0) unusedBits++;
  return new asn1js.BitString({ valueHex: new Uint8Array([byte]), unusedBits });
}

function altName(name: string): pkijs.GeneralName {
  const ip = name.startsWith('IP:') ? name.slice(3) : net.isIP(name) ? name : null;
  if (ip !== null) return new pkijs.GeneralName({ type: 7, value: new asn1js.OctetString({ valueHex: ipBytes(ip) }) });
  return new pkijs.GeneralName({ type: 2, value: name.startsWith('DNS:') ? name.slice(4) : name });
}

function uriName(url: string): pkijs.GeneralName {
  return new pkijs.GeneralName({ type: 6, value: url });
}

function ipBytes(ip: string): Uint8Array {
  if (net.isIPv4(ip)) return new Uint8Array(ip.split('.').map(Number));
  if (!net.isIPv6(ip)) throw new Error(`not an IP address: ${ip}`);
  const [head = '', tail] = ip.split('::');
  const groups = (part: string | undefined): string[] => (part ? part.split(':') : []);
  const missing = 8 - groups(head).length - groups(tail).length;
  const all = [...groups(head), ...(tail === undefined ? [] : Array<string>(missing).fill('0')), ...groups(tail)];
  return new Uint8Array(all.flatMap((group) => [parseInt(group, 16) >> 8, parseInt(group, 16) & 0xff]));
}

function commonNameRdn(commonName: string): pkijs.RelativeDistinguishedNames {
  return new pkijs.RelativeDistinguishedNames({
    typesAndValues: [new pkijs.AttributeTypeAndValue({ type: OID.commonName, value: new asn1js.Utf8String({ value: commonName }) })],
  });
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
function keyIdentifier(spki: pkijs.PublicKeyInfo): Buffer {
  return createHash('sha1').update(spki.subjectPublicKey.valueBlock.valueHexView).digest();
}

function certTime(date: Date): pkijs.Time {
  // UTCTime up to 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5).
  return new pkijs.Time({ type: date.getUTCFullYear() < 2050 ? 0 : 1, value: date });
}

function randomSerial(): bigint {
  return BigInt(`0x${randomBytes(8).toString('hex')}`) | 1n;
}

function serialBytes(serial: bigint): Uint8Array {
  let hex = serial.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  // A leading 0x00 keeps the INTEGER positive when the top bit is set.
  if (parseInt(hex.slice(0, 2), 16) >= 0x80) hex = `00${hex}`;
  return Buffer.from(hex, 'hex');
}

function toPem(der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

export interface TestPki {
  root: TestCert;
  intermediate: TestCert;
  /** For 'localhost', 127.0.0.1 and ::1, issued by the intermediate. */
  leaf: TestCert;
  /** A leaf issued by the intermediate: the default leaf's options overridden by `options`. */
  leafFor(options: Partial<CertOptions>): Promise<TestCert>;
}

let pki: Promise<TestPki> | undefined;

/** A ready-made hierarchy: root CA → intermediate → leaf for 'localhost' + 127.0.0.1, cached per process. */
export function testPki(): Promise<TestPki> {
  pki ??= buildPki();
  return pki;
}

async function buildPki(): Promise<TestPki> {
  const now = Date.now();
  const root = await createCertificate({
    commonName: 'Portcullis Test Root CA',
    isCa: true,
    notBefore: new Date(now - 365 * DAY_MS),
    notAfter: new Date(now + 3650 * DAY_MS),
  });
  const intermediate = await createCertificate({
    commonName: 'Portcullis Test Intermediate CA',
    isCa: true,
    issuer: root,
    notBefore: new Date(now - 365 * DAY_MS),
    notAfter: new Date(now + 1825 * DAY_MS),
  });
  const leafDefaults: CertOptions = { commonName: 'localhost', altNames: ['DNS:localhost', 'IP:127.0.0.1', 'IP:::1'], issuer: intermediate };
  const leafFor = (options: Partial<CertOptions>): Promise<TestCert> => createCertificate({ ...leafDefaults, ...options });
  return { root, intermediate, leaf: await leafFor({}), leafFor };
}
