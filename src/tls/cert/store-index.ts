/**
 * Finds trust-store entries by subject Name without parsing them all: parsing and verifying ~150 roots
 * costs ~100 ms before the first chain, though a chain needs one or two of them. A certificate holds
 * its subject Name's bytes, so a native byte search over each entry's DER picks the few worth reading.
 */
import { decodeString, type DerElement } from './der.js';
import { nameAttributes, nameKey, readNames } from './x509-fields.js';

export interface StoreEntry {
  der: Buffer;
  subject: DerElement;
  issuer: DerElement;
}

export interface StoreIndex {
  /**
   * Entries whose subject is `name`, in store order: byte-identical Names, or when there are none, Names
   * with the same attributes in other string types (a CA that re-encoded its name).
   */
  withSubject(name: DerElement): StoreEntry[];
}

/** Two Names that X509Certificate would print alike (see nameKey), compared bytes first. */
export function sameName(a: DerElement, b: DerElement): boolean {
  return a.bytes.equals(b.bytes) || nameKey(a) === nameKey(b);
}

/**
 * Byte strings one of which any certificate with a Name like `name` contains: its longest attribute
 * value as encoded here, in UTF-8 and in UTF-16 (BMPString).
 */
function valueNeedles(name: DerElement): Buffer[] {
  const longest = nameAttributes(name, false)
    .map(({ value }) => value)
    .sort((a, b) => b.content.length - a.content.length)[0];
  if (longest === undefined) return [];
  const text = decodeString(longest);
  if (text === undefined) return [longest.content];
  return [longest.content, Buffer.from(text, 'utf8'), Buffer.from(text, 'utf16le').swap16()];
}

/** Throws DerError when an entry the search reaches is not a certificate (CA files are checked when loaded). */
export function indexTrustStore(roots: readonly Buffer[]): StoreIndex {
  const names = new Map<Buffer, { subject: DerElement; issuer: DerElement }>();
  const entryOf = (der: Buffer): StoreEntry => {
    let read = names.get(der);
    if (read === undefined) {
      read = readNames(der);
      names.set(der, read);
    }
    return { der, ...read };
  };
  return {
    withSubject(name) {
      const exact = roots
        .filter((der) => der.includes(name.bytes))
        .map(entryOf)
        .filter((entry) => entry.subject.bytes.equals(name.bytes));
      if (exact.length > 0) return exact;
      const needles = valueNeedles(name);
      const key = nameKey(name);
      return roots
        .filter((der) => needles.some((needle) => der.includes(needle)))
        .map(entryOf)
        .filter((entry) => nameKey(entry.subject) === key);
    },
  };
}
