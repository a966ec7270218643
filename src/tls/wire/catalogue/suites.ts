import type { CipherSuiteInfo, ProtocolName } from '../../model.js';
import { PROTOCOLS } from '../../model.js';
import { parseSuiteName, sslv2KindTraits } from './suite-name.js';
import { IANA_SUITE_ROWS, UNREGISTERED_SUITE_ROWS, type SuiteRow } from './suite-rows.js';

/** Signalling values sent in the cipher list; never negotiated, so not in CIPHER_SUITES. */
export const SCSV = { emptyRenegotiationInfo: 0x00ff, fallback: 0x5600 } as const;

const hexCode = (id: number, digits: number): string => `0x${id.toString(16).toUpperCase().padStart(digits, '0')}`;

function suiteFromRow([id, iana, openssl]: SuiteRow): CipherSuiteInfo {
  return { id, code: hexCode(id, 4), iana, openssl, ...parseSuiteName(iana) };
}

/** Every IANA-registered suite plus the well-known unregistered ones, in code-point order. */
export const CIPHER_SUITES: readonly CipherSuiteInfo[] = [...IANA_SUITE_ROWS, ...UNREGISTERED_SUITE_ROWS]
  .map(suiteFromRow)
  .sort((a, b) => a.id - b.id);

/** SSLv2 cipher kinds: 3-byte codes, a name scheme of their own, always RSA key exchange and MD5. */
export const SSLV2_CIPHER_KINDS: readonly CipherSuiteInfo[] = ([
  [0x010080, 'SSL_CK_RC4_128_WITH_MD5', 'RC4-MD5', 'RC4_128', false],
  [0x020080, 'SSL_CK_RC4_128_EXPORT40_WITH_MD5', 'EXP-RC4-MD5', 'RC4_40', true],
  [0x030080, 'SSL_CK_RC2_128_CBC_WITH_MD5', 'RC2-CBC-MD5', 'RC2_CBC_128', false],
  [0x040080, 'SSL_CK_RC2_128_CBC_EXPORT40_WITH_MD5', 'EXP-RC2-CBC-MD5', 'RC2_CBC_40', true],
  [0x050080, 'SSL_CK_IDEA_128_CBC_WITH_MD5', 'IDEA-CBC-MD5', 'IDEA_CBC', false],
  [0x060040, 'SSL_CK_DES_64_CBC_WITH_MD5', 'DES-CBC-MD5', 'DES_CBC', false],
  [0x0700c0, 'SSL_CK_DES_192_EDE3_CBC_WITH_MD5', 'DES-CBC3-MD5', '3DES_EDE_CBC', false],
] as const).map(([id, iana, openssl, cipher, exportGrade]) => ({
  id,
  code: hexCode(id, 6),
  iana,
  openssl,
  ...sslv2KindTraits(cipher, exportGrade),
}));

const unregisteredIds: ReadonlySet<number> = new Set(UNREGISTERED_SUITE_ROWS.map(([id]) => id));

// SSLv2 kinds are 3-byte codes (> 0xFFFF), so they share the id map without colliding.
const byId: ReadonlyMap<number, CipherSuiteInfo> = new Map([...CIPHER_SUITES, ...SSLV2_CIPHER_KINDS].map((s) => [s.id, s]));

const byName: ReadonlyMap<string, CipherSuiteInfo> = (() => {
  const names = new Map<string, CipherSuiteInfo>();
  // First writer wins: for the shared Netscape FIPS names that is the 0xFEFx code point (lower id).
  for (const suite of CIPHER_SUITES) {
    for (const name of [suite.iana, suite.openssl]) {
      if (name !== null && !names.has(name)) names.set(name, suite);
    }
  }
  return names;
})();

const byProtocol: ReadonlyMap<ProtocolName, readonly CipherSuiteInfo[]> = new Map(
  PROTOCOLS.map((protocol) => [
    protocol,
    protocol === 'SSLv2' ? SSLV2_CIPHER_KINDS : CIPHER_SUITES.filter((s) => s.protocols.includes(protocol)),
  ]),
);

/** A TLS suite by 2-byte code point, or an SSLv2 kind by its 3-byte code. */
export function suiteById(id: number): CipherSuiteInfo | undefined {
  return byId.get(id);
}

/** A TLS suite by IANA name (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256) or OpenSSL name (ECDHE-RSA-AES128-GCM-SHA256). */
export function suiteByName(name: string): CipherSuiteInfo | undefined {
  return byName.get(name);
}

/**
 * Suites that may be negotiated on `protocol`: TLS 1.3 → only TLS 1.3 suites; TLS 1.2 → every
 * pre-1.3 suite; SSLv3/TLS 1.0/1.1 → minus those that need TLS 1.2 (AEAD, SHA-256/384 MACs);
 * SSLv2 → the SSLv2 cipher kinds.
 */
export function suitesForProtocol(protocol: ProtocolName): readonly CipherSuiteInfo[] {
  return byProtocol.get(protocol) ?? [];
}

/** False for the well-known code points that are not in the IANA registry (EXPORT1024, old GOST, CECPQ1…). */
export function isIanaRegistered(id: number): boolean {
  return byId.has(id) && id <= 0xffff && !unregisteredIds.has(id);
}
