/** TLS SignatureScheme code points (RFC 8446 §4.2.3) and the TLS 1.2 hash/signature pairs they grew from. */
export interface SignatureSchemeInfo {
  id: number;
  name: string;
}

export const SIGNATURE_SCHEMES: readonly SignatureSchemeInfo[] = [
  // TLS 1.2 (RFC 5246 §7.4.1.4.1) pairs: high byte hash (1 md5 … 6 sha512), low byte signature (1 rsa, 2 dsa, 3 ecdsa).
  { id: 0x0101, name: 'rsa_pkcs1_md5' },
  { id: 0x0102, name: 'dsa_md5' },
  { id: 0x0103, name: 'ecdsa_md5' },
  { id: 0x0201, name: 'rsa_pkcs1_sha1' },
  { id: 0x0202, name: 'dsa_sha1' },
  { id: 0x0203, name: 'ecdsa_sha1' },
  { id: 0x0301, name: 'rsa_pkcs1_sha224' },
  { id: 0x0302, name: 'dsa_sha224' },
  { id: 0x0303, name: 'ecdsa_sha224' },
  { id: 0x0401, name: 'rsa_pkcs1_sha256' },
  { id: 0x0402, name: 'dsa_sha256' },
  { id: 0x0403, name: 'ecdsa_secp256r1_sha256' },
  { id: 0x0501, name: 'rsa_pkcs1_sha384' },
  { id: 0x0502, name: 'dsa_sha384' },
  { id: 0x0503, name: 'ecdsa_secp384r1_sha384' },
  { id: 0x0601, name: 'rsa_pkcs1_sha512' },
  { id: 0x0602, name: 'dsa_sha512' },
  { id: 0x0603, name: 'ecdsa_secp521r1_sha512' },
  // RFC 8998 and RFC 9367.
  { id: 0x0708, name: 'sm2sig_sm3' },
  { id: 0x0709, name: 'gostr34102012_256a' },
  { id: 0x070a, name: 'gostr34102012_256b' },
  { id: 0x070b, name: 'gostr34102012_256c' },
  { id: 0x070c, name: 'gostr34102012_256d' },
  { id: 0x070d, name: 'gostr34102012_512a' },
  { id: 0x070e, name: 'gostr34102012_512b' },
  { id: 0x070f, name: 'gostr34102012_512c' },
  // RFC 8446.
  { id: 0x0804, name: 'rsa_pss_rsae_sha256' },
  { id: 0x0805, name: 'rsa_pss_rsae_sha384' },
  { id: 0x0806, name: 'rsa_pss_rsae_sha512' },
  { id: 0x0807, name: 'ed25519' },
  { id: 0x0808, name: 'ed448' },
  { id: 0x0809, name: 'rsa_pss_pss_sha256' },
  { id: 0x080a, name: 'rsa_pss_pss_sha384' },
  { id: 0x080b, name: 'rsa_pss_pss_sha512' },
  // RFC 8734 brainpool for TLS 1.3.
  { id: 0x081a, name: 'ecdsa_brainpoolP256r1tls13_sha256' },
  { id: 0x081b, name: 'ecdsa_brainpoolP384r1tls13_sha384' },
  { id: 0x081c, name: 'ecdsa_brainpoolP512r1tls13_sha512' },
  // ML-DSA (FIPS 204) for TLS 1.3.
  { id: 0x0904, name: 'mldsa44' },
  { id: 0x0905, name: 'mldsa65' },
  { id: 0x0906, name: 'mldsa87' },
];

const schemesById: ReadonlyMap<number, SignatureSchemeInfo> = new Map(SIGNATURE_SCHEMES.map((s) => [s.id, s]));

export function signatureSchemeById(id: number): SignatureSchemeInfo | undefined {
  return schemesById.get(id);
}
