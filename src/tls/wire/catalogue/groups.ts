/** Named groups (RFC 8422 curves, RFC 7919 FFDHE, RFC 8446, RFC 8734 brainpool, GOST, SM2, hybrid PQ). */
export interface NamedGroupInfo {
  id: number;
  name: string;
  /** Curve size (Curve25519: 253, the group order SSL Labs and testssl print), FFDHE prime size, or for a hybrid its classical curve. */
  bits: number;
  type: 'ec' | 'ffdhe' | 'hybrid-pq';
  rsaEquivalentBits: number;
  /** Bytes of the client's key_share public key for this group; null for groups TLS 1.3 does not allow. */
  keyShareLength: number | null;
  /** Allowed in TLS 1.3 (RFC 8446 §4.2.7 dropped the small and binary curves). */
  tls13: boolean;
}

/**
 * Equivalent RSA strength (SSL Labs' kxStrength) after NIST SP 800-57 Part 1 Table 2: an EC field of
 * 160/224/256/384/512 bits matches RSA 1024/2048/3072/7680/15360. Curve25519's 253-bit group order sits
 * at NIST's 128-bit level, hence the 250 threshold. EC keys under 160 bits, below the table, count as 512.
 * RSA and finite-field DH sizes are their own RSA equivalent.
 */
export function rsaEquivalentBits(kind: 'rsa' | 'dh' | 'ec', bits: number): number {
  if (kind !== 'ec') return bits;
  const level = EC_RSA_EQUIVALENTS.find(([minimumBits]) => bits >= minimumBits);
  return level ? level[1] : 512;
}

const EC_RSA_EQUIVALENTS: readonly (readonly [minimumBits: number, rsaBits: number])[] = [
  [512, 15360],
  [384, 7680],
  [250, 3072],
  [224, 2048],
  [160, 1024],
];

/** ML-KEM strength by NIST category (1, 3, 5 ≙ AES-128/192/256 ≙ RSA 3072/7680/15360). */
const ML_KEM_RSA_EQUIVALENT = { 512: 3072, 768: 7680, 1024: 15360 } as const;
/** ML-KEM encapsulation key sizes (FIPS 203), the client's share in a hybrid. */
const ML_KEM_PUBLIC_KEY_BYTES = { 512: 800, 768: 1184, 1024: 1568 } as const;

type EcRow = readonly [id: number, name: string, bits: number, keyShareLength: number | null];

/** [id, name, bits, key_share bytes] — key_share is the uncompressed point (1 + 2·field bytes) or the raw X25519/X448 key. */
const EC_ROWS: readonly EcRow[] = [
  [0x0001, 'sect163k1', 163, null],
  [0x0002, 'sect163r1', 163, null],
  [0x0003, 'sect163r2', 163, null],
  [0x0004, 'sect193r1', 193, null],
  [0x0005, 'sect193r2', 193, null],
  [0x0006, 'sect233k1', 233, null],
  [0x0007, 'sect233r1', 233, null],
  [0x0008, 'sect239k1', 239, null],
  [0x0009, 'sect283k1', 283, null],
  [0x000a, 'sect283r1', 283, null],
  [0x000b, 'sect409k1', 409, null],
  [0x000c, 'sect409r1', 409, null],
  [0x000d, 'sect571k1', 571, null],
  [0x000e, 'sect571r1', 571, null],
  [0x000f, 'secp160k1', 160, null],
  [0x0010, 'secp160r1', 160, null],
  [0x0011, 'secp160r2', 160, null],
  [0x0012, 'secp192k1', 192, null],
  [0x0013, 'secp192r1', 192, null],
  [0x0014, 'secp224k1', 224, null],
  [0x0015, 'secp224r1', 224, null],
  [0x0016, 'secp256k1', 256, null],
  [0x0017, 'secp256r1', 256, 65],
  [0x0018, 'secp384r1', 384, 97],
  [0x0019, 'secp521r1', 521, 133],
  [0x001a, 'brainpoolP256r1', 256, null],
  [0x001b, 'brainpoolP384r1', 384, null],
  [0x001c, 'brainpoolP512r1', 512, null],
  [0x001d, 'x25519', 253, 32],
  [0x001e, 'x448', 448, 56],
  [0x001f, 'brainpoolP256r1tls13', 256, 65],
  [0x0020, 'brainpoolP384r1tls13', 384, 97],
  [0x0021, 'brainpoolP512r1tls13', 512, 129],
  // RFC 9367 GOST curves: the key_share is the point's two little-endian coordinates.
  [0x0022, 'GC256A', 256, 64],
  [0x0023, 'GC256B', 256, 64],
  [0x0024, 'GC256C', 256, 64],
  [0x0025, 'GC256D', 256, 64],
  [0x0026, 'GC512A', 512, 128],
  [0x0027, 'GC512B', 512, 128],
  [0x0028, 'GC512C', 512, 128],
  [0x0029, 'curveSM2', 256, 65],
];

const FFDHE_ROWS: readonly (readonly [id: number, bits: number])[] = [
  [0x0100, 2048],
  [0x0101, 3072],
  [0x0102, 4096],
  [0x0103, 6144],
  [0x0104, 8192],
];

/** [id, name, classical component, ML-KEM parameter set]; the client share is both public keys concatenated. */
const HYBRID_ROWS: readonly (readonly [id: number, name: string, classical: number, mlKem: 512 | 768 | 1024])[] = [
  [0x11eb, 'SecP256r1MLKEM768', 0x0017, 768],
  [0x11ec, 'X25519MLKEM768', 0x001d, 768],
  [0x11ed, 'SecP384r1MLKEM1024', 0x0018, 1024],
  // Pre-standard Kyber drafts (draft-tls-westerbaan-xyber768d00), still seen in the wild.
  [0x6399, 'X25519Kyber768Draft00', 0x001d, 768],
  [0x639a, 'SecP256r1Kyber768Draft00', 0x0017, 768],
];

const ecGroups: NamedGroupInfo[] = EC_ROWS.map(([id, name, bits, keyShareLength]) => ({
  id,
  name,
  bits,
  type: 'ec',
  rsaEquivalentBits: rsaEquivalentBits('ec', bits),
  keyShareLength,
  tls13: keyShareLength !== null,
}));

const ffdheGroups: NamedGroupInfo[] = FFDHE_ROWS.map(([id, bits]) => ({
  id,
  name: `ffdhe${bits}`,
  bits,
  type: 'ffdhe',
  rsaEquivalentBits: bits,
  keyShareLength: bits / 8,
  tls13: true,
}));

const hybridGroups: NamedGroupInfo[] = HYBRID_ROWS.map(([id, name, classicalId, mlKem]) => {
  const classical = ecGroups.find((g) => g.id === classicalId);
  if (!classical?.keyShareLength) throw new Error(`hybrid group ${name}: classical group ${classicalId} has no key share`);
  return {
    id,
    name,
    bits: classical.bits,
    type: 'hybrid-pq',
    // A hybrid is as strong as its stronger half.
    rsaEquivalentBits: Math.max(classical.rsaEquivalentBits, ML_KEM_RSA_EQUIVALENT[mlKem]),
    keyShareLength: classical.keyShareLength + ML_KEM_PUBLIC_KEY_BYTES[mlKem],
    tls13: true,
  };
});

export const NAMED_GROUPS: readonly NamedGroupInfo[] = [...ecGroups, ...ffdheGroups, ...hybridGroups];

/** OpenSSL's and NIST's names for the same curves (`openssl ecparam -list_curves`, FIPS 186 P-/K-/B-). */
const GROUP_ALIASES: readonly (readonly [alias: string, name: string])[] = [
  ['prime192v1', 'secp192r1'],
  ['prime256v1', 'secp256r1'],
  ['P-192', 'secp192r1'],
  ['P-224', 'secp224r1'],
  ['P-256', 'secp256r1'],
  ['P-384', 'secp384r1'],
  ['P-521', 'secp521r1'],
  ['K-163', 'sect163k1'],
  ['B-163', 'sect163r2'],
  ['K-233', 'sect233k1'],
  ['B-233', 'sect233r1'],
  ['K-283', 'sect283k1'],
  ['B-283', 'sect283r1'],
  ['K-409', 'sect409k1'],
  ['B-409', 'sect409r1'],
  ['K-571', 'sect571k1'],
  ['B-571', 'sect571r1'],
  ['SM2', 'curveSM2'],
];

const groupsById: ReadonlyMap<number, NamedGroupInfo> = new Map(NAMED_GROUPS.map((g) => [g.id, g]));

// Case-insensitive: OpenSSL writes X25519/X448, IANA x25519/x448.
const groupsByName: ReadonlyMap<string, NamedGroupInfo> = (() => {
  const names = new Map(NAMED_GROUPS.map((g) => [g.name.toLowerCase(), g]));
  for (const [alias, name] of GROUP_ALIASES) {
    const group = names.get(name.toLowerCase());
    if (!group) throw new Error(`group alias ${alias} points at unknown group ${name}`);
    names.set(alias.toLowerCase(), group);
  }
  return names;
})();

export function groupById(id: number): NamedGroupInfo | undefined {
  return groupsById.get(id);
}

/** By IANA name (secp256r1, x25519, ffdhe2048, X25519MLKEM768) or alias (prime256v1, P-256, X25519), any case. */
export function groupByName(name: string): NamedGroupInfo | undefined {
  return groupsByName.get(name.toLowerCase());
}
