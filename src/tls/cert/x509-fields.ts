/**
 * The parts of an X.509 certificate (RFC 5280 §4.1) that node:crypto's X509Certificate does not give as
 * values: the outer signature algorithm, validity as dates, names as attribute values, the SPKI as sent
 * and the extensions by OID. Read with the DER walker in ./der.ts.
 */
import { childrenOf, contextTag, DerError, decodeOid, decodeString, decodeTime, DerTag, expectTag, readSingle, type DerElement } from './der.js';

export interface CertificateFields {
  /** OID of Certificate.signatureAlgorithm. */
  signatureAlgorithm: string;
  issuer: DerElement;
  subject: DerElement;
  notBefore: Date;
  notAfter: Date;
  /** SubjectPublicKeyInfo, DER exactly as in the certificate. */
  spki: Buffer;
  /** extnValue contents (the DER inside the OCTET STRING) by extnID. */
  extensions: ReadonlyMap<string, Buffer>;
}

/** The TBSCertificate fields from serialNumber on (the optional version [0] skipped), and the outer signature algorithm. */
function tbsFields(der: Buffer): { fields: DerElement[]; signatureAlgorithm: DerElement | undefined } {
  const [tbs, signatureAlgorithm] = childrenOf(expectTag(readSingle(der, 'certificate'), DerTag.sequence, 'certificate'));
  const fields = childrenOf(expectTag(tbs, DerTag.sequence, 'tbsCertificate'));
  return { fields: fields[0]?.tag === contextTag(0, true) ? fields.slice(1) : fields, signatureAlgorithm };
}

/** Just the issuer and subject Names: what indexing a trust store needs. */
export function readNames(der: Buffer): { issuer: DerElement; subject: DerElement } {
  const [, , issuer, , subject] = tbsFields(der).fields;
  return { issuer: expectTag(issuer, DerTag.sequence, 'issuer'), subject: expectTag(subject, DerTag.sequence, 'subject') };
}

/** Throws DerError when `der` is not a certificate's structure. */
export function readCertificateFields(der: Buffer): CertificateFields {
  const { fields, signatureAlgorithm } = tbsFields(der);
  const [, , issuer, validity, subject, spki, ...optional] = fields;
  const [notBefore, notAfter] = childrenOf(expectTag(validity, DerTag.sequence, 'validity'));
  if (notBefore === undefined || notAfter === undefined) throw new DerError('validity needs notBefore and notAfter');
  const extensions = new Map<string, Buffer>();
  const wrapped = optional.find((field) => field.tag === contextTag(3, true));
  for (const extension of wrapped === undefined ? [] : childrenOf(expectTag(childrenOf(wrapped)[0], DerTag.sequence, 'extensions'))) {
    const parts = childrenOf(expectTag(extension, DerTag.sequence, 'extension'));
    const id = expectTag(parts[0], DerTag.oid, 'extnID');
    const value = expectTag(parts.at(-1), DerTag.octetString, 'extnValue');
    extensions.set(decodeOid(id.content), value.content);
  }
  return {
    signatureAlgorithm: decodeOid(expectTag(childrenOf(expectTag(signatureAlgorithm, DerTag.sequence, 'signatureAlgorithm'))[0], DerTag.oid, 'algorithm').content),
    issuer: expectTag(issuer, DerTag.sequence, 'issuer'),
    subject: expectTag(subject, DerTag.sequence, 'subject'),
    notBefore: decodeTime(notBefore),
    notAfter: decodeTime(notAfter),
    spki: expectTag(spki, DerTag.sequence, 'subjectPublicKeyInfo').bytes,
    extensions,
  };
}

/** The attribute type OIDs and values of a Name (RDNSequence), most significant first. */
export function nameAttributes(name: DerElement): Array<{ type: string; value: DerElement }>;
/** Types as their raw OID contents, for comparing without decoding. */
export function nameAttributes(name: DerElement, decodeTypes: false): Array<{ type: Buffer; value: DerElement }>;
export function nameAttributes(name: DerElement, decodeTypes = true): Array<{ type: string | Buffer; value: DerElement }> {
  return childrenOf(name).flatMap((rdn) =>
    childrenOf(expectTag(rdn, DerTag.set, 'relative distinguished name')).map((attribute) => {
      const [type, value] = childrenOf(expectTag(attribute, DerTag.sequence, 'attribute'));
      if (value === undefined) throw new DerError('attribute without a value');
      const oid = expectTag(type, DerTag.oid, 'attribute type').content;
      return { type: decodeTypes ? decodeOid(oid) : oid, value };
    }),
  );
}

/**
 * A key under which two Names compare equal when they hold the same attributes with the same text,
 * whatever string types encode them (PrintableString and UTF8String alike): how X509Certificate's
 * `subject` and `issuer` strings compare. Raw bytes, decoded only for the two-byte and four-byte string
 * types, so indexing a whole trust store stays cheap.
 */
export function nameKey(name: DerElement): string {
  return nameAttributes(name, false)
    .map(({ type, value }) => {
      const wide = value.tag === DerTag.bmpString || value.tag === DerTag.universalString;
      return `${type.toString('hex')}=${(wide ? Buffer.from(decodeString(value) ?? '', 'utf8') : value.content).toString('hex')}`;
    })
    .join(',');
}

/** GeneralName tags (RFC 5280 §4.2.1.6), IMPLICIT over strings. */
export const GeneralNameTag = {
  dnsName: contextTag(2, false),
  uri: contextTag(6, false),
  ipAddress: contextTag(7, false),
} as const;
