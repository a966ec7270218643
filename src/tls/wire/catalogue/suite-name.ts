import type { CipherSuiteInfo, ProtocolName, SuiteStrength } from '../../model.js';

/** Everything about a suite that follows from its IANA name. */
export type SuiteTraits = Omit<CipherSuiteInfo, 'id' | 'code' | 'iana' | 'openssl'>;

interface KeyExchange {
  kx: string;
  auth: string;
  fs: boolean;
  anonymous?: boolean;
  /** RFC 5487/5489-style PSK suites run their SHA-256/384 HMAC on TLS 1.0+, not only on TLS 1.2. */
  pskFamily?: boolean;
  /** Defined for TLS 1.2 only, whatever the MAC (RFC 9189 GOST). */
  tls12Only?: boolean;
  /** Defined for TLS 1.2 and TLS 1.3 alike (RFC 8492 ECCPWD). */
  alsoTls13?: boolean;
}

/** The `<KX>_<AUTH>` part before `_WITH_`, minus any `_EXPORT`/`_EXPORT1024` marker. */
const KEY_EXCHANGES: ReadonlyMap<string, KeyExchange> = new Map<string, KeyExchange>([
  ['NULL', { kx: 'NULL', auth: 'NULL', fs: false, anonymous: true }],
  ['RSA', { kx: 'RSA', auth: 'RSA', fs: false }],
  ['RSA_FIPS', { kx: 'RSA', auth: 'RSA', fs: false }],
  ['DH_DSS', { kx: 'DH', auth: 'DSS', fs: false }],
  ['DH_RSA', { kx: 'DH', auth: 'RSA', fs: false }],
  ['DHE_DSS', { kx: 'DHE', auth: 'DSS', fs: true }],
  ['DHE_RSA', { kx: 'DHE', auth: 'RSA', fs: true }],
  // Anonymous exchanges use ephemeral keys but anyone in the middle holds them: no secrecy to keep.
  ['DH_anon', { kx: 'DH', auth: 'anon', fs: false, anonymous: true }],
  ['ECDH_anon', { kx: 'ECDH', auth: 'anon', fs: false, anonymous: true }],
  ['ECDH_ECDSA', { kx: 'ECDH', auth: 'ECDSA', fs: false }],
  ['ECDH_RSA', { kx: 'ECDH', auth: 'RSA', fs: false }],
  ['ECDHE_ECDSA', { kx: 'ECDHE', auth: 'ECDSA', fs: true }],
  ['ECDHE_RSA', { kx: 'ECDHE', auth: 'RSA', fs: true }],
  ['KRB5', { kx: 'KRB5', auth: 'KRB5', fs: false }],
  ['PSK', { kx: 'PSK', auth: 'PSK', fs: false, pskFamily: true }],
  ['DHE_PSK', { kx: 'DHE-PSK', auth: 'PSK', fs: true, pskFamily: true }],
  ['PSK_DHE', { kx: 'DHE-PSK', auth: 'PSK', fs: true, pskFamily: true }],
  ['RSA_PSK', { kx: 'RSA-PSK', auth: 'RSA', fs: false, pskFamily: true }],
  ['ECDHE_PSK', { kx: 'ECDHE-PSK', auth: 'PSK', fs: true, pskFamily: true }],
  ['SRP_SHA', { kx: 'SRP', auth: 'SRP', fs: false }],
  ['SRP_SHA_RSA', { kx: 'SRP', auth: 'RSA', fs: false }],
  ['SRP_SHA_DSS', { kx: 'SRP', auth: 'DSS', fs: false }],
  ['ECCPWD', { kx: 'ECCPWD', auth: 'PWD', fs: true, alsoTls13: true }],
  ['GOSTR341094', { kx: 'GOST', auth: 'GOST94', fs: false }],
  ['GOSTR341001', { kx: 'GOST', auth: 'GOST01', fs: false }],
  ['GOSTR341094_RSA', { kx: 'RSA', auth: 'RSA', fs: false }],
  ['GOSTR341112_256', { kx: 'GOST', auth: 'GOST12', fs: false, tls12Only: true }],
  ['CECPQ1_RSA', { kx: 'CECPQ1', auth: 'RSA', fs: true }],
  ['CECPQ1_ECDSA', { kx: 'CECPQ1', auth: 'ECDSA', fs: true }],
]);

/** TLS 1.3 suites name only the AEAD and hash: key exchange and authentication are negotiated apart. */
const TLS13_KEY_EXCHANGE: KeyExchange = { kx: 'ANY', auth: 'ANY', fs: true };

interface BulkCipher {
  name: string;
  bits: number;
  blockBits: number | null;
  cbc: boolean;
  aead: boolean;
  /** Only defined for TLS 1.3 even though the name carries a `_WITH_` (RFC 9367 GOST MGM). */
  tls13Only?: boolean;
}

/** Stream ciphers, and block ciphers in counter modes (blockBits still matters there for SWEET32). */
const stream = (name: string, bits: number, blockBits: number | null = null): BulkCipher => ({ name, bits, blockBits, cbc: false, aead: false });
const cbc = (name: string, bits: number, blockBits: number): BulkCipher => ({ name, bits, blockBits, cbc: true, aead: false });
const aead = (name: string, bits: number, blockBits: number | null, tls13Only = false): BulkCipher => ({ name, bits, blockBits, cbc: false, aead: true, tls13Only });

/** Bulk ciphers whose IANA spelling does not follow `<AES|CAMELLIA|ARIA>_<bits>_<mode>`. */
const IRREGULAR_CIPHERS: ReadonlyMap<string, BulkCipher> = new Map([
  ['NULL', stream('NULL', 0)],
  ['IDEA_CBC', cbc('IDEA-CBC', 128, 64)],
  ['DES40_CBC', cbc('DES40-CBC', 40, 64)],
  ['DES_CBC_40', cbc('DES40-CBC', 40, 64)],
  ['DES_CBC', cbc('DES-CBC', 56, 64)],
  // Three-key 3DES has 168 key bits but 112 bits of strength (meet in the middle); SSL Labs counts 112.
  ['3DES_EDE_CBC', cbc('3DES-EDE-CBC', 112, 64)],
  ['SEED_CBC', cbc('SEED-CBC', 128, 128)],
  ['CHACHA20_POLY1305', aead('CHACHA20-POLY1305', 256, null)],
  ['28147_CNT', stream('GOST28147-CNT', 256, 64)],
  ['KUZNYECHIK_CTR', stream('KUZNYECHIK-CTR', 256, 128)],
  ['MAGMA_CTR', stream('MAGMA-CTR', 256, 64)],
  ['KUZNYECHIK_MGM_L', aead('KUZNYECHIK-MGM-L', 256, 128, true)],
  ['KUZNYECHIK_MGM_S', aead('KUZNYECHIK-MGM-S', 256, 128, true)],
  ['MAGMA_MGM_L', aead('MAGMA-MGM-L', 256, 64, true)],
  ['MAGMA_MGM_S', aead('MAGMA-MGM-S', 256, 64, true)],
  ['AEGIS_256', aead('AEGIS-256', 256, null)],
  ['AEGIS_128L', aead('AEGIS-128L', 128, null)],
  ['SM4_GCM', aead('SM4-GCM', 128, 128)],
  ['SM4_CCM', aead('SM4-CCM', 128, 128)],
  ['ASCONAEAD128', aead('ASCON-AEAD128', 128, null)],
]);

function bulkCipher(token: string): BulkCipher | undefined {
  const irregular = IRREGULAR_CIPHERS.get(token);
  if (irregular) return irregular;
  const rc4 = /^RC4_(\d+)$/.exec(token);
  if (rc4?.[1]) return stream(`RC4-${rc4[1]}`, Number(rc4[1]));
  const rc2 = /^RC2_CBC_(\d+)$/.exec(token);
  if (rc2?.[1]) return cbc(`RC2-CBC-${rc2[1]}`, Number(rc2[1]), 64);
  const block = /^(AES|CAMELLIA|ARIA)_(128|256)_(CBC|GCM|CCM|CCM_8)$/.exec(token);
  if (!block?.[1] || !block[2] || !block[3]) return undefined;
  const name = `${block[1]}-${block[2]}-${block[3].replace('_', '-')}`;
  return block[3] === 'CBC' ? cbc(name, Number(block[2]), 128) : aead(name, Number(block[2]), 128);
}

/** Trailing MAC/PRF tokens; a name without one is an AEAD suite (…_AES_128_CCM, …_MGM_L). */
const MAC_TOKENS = new Set(['NULL', 'MD5', 'SHA', 'SHA256', 'SHA384', 'SHA512', 'SM3', 'IMIT', 'GOSTR3411', 'GOST94', 'OMAC', 'ASCONHASH256']);

/** Names that break the scheme, rewritten into the regular spelling that means the same thing. */
const IRREGULAR_NAMES: ReadonlyMap<string, string> = new Map([
  // RFC 9150 integrity-only TLS 1.3 suites: no cipher, HMAC over the record.
  ['TLS_SHA256_SHA256', 'TLS_NULL_SHA256'],
  ['TLS_SHA384_SHA384', 'TLS_NULL_SHA384'],
]);

const LEGACY_PROTOCOLS: readonly ProtocolName[] = ['SSLv3', 'TLSv1.0', 'TLSv1.1', 'TLSv1.2'];

/**
 * How much to trust a suite, checked in this order:
 * - insecure: no encryption (NULL), no authentication (anon), EXPORT grade, RC4, DES or any cipher
 *   under 112 bits, or an MD5 MAC — broken outright.
 * - weak: a 64-bit block cipher (3DES, IDEA, RC2, GOST 28147/Magma: SWEET32), no forward secrecy
 *   (static RSA/DH/ECDH, plain PSK, KRB5, SRP…), or no AEAD (CBC and other MAC-then-encrypt modes).
 * - secure: forward secret AND AEAD, which every remaining TLS 1.3 suite is.
 */
export function classifyStrength(suite: Pick<SuiteTraits, 'cipher' | 'bits' | 'blockBits' | 'mac' | 'aead' | 'fs' | 'export' | 'anonymous'>): SuiteStrength {
  if (suite.cipher === 'NULL' || suite.anonymous || suite.export || suite.cipher.startsWith('RC4') || suite.bits < 112 || suite.mac === 'MD5') {
    return 'insecure';
  }
  if (suite.blockBits === 64 || !suite.fs || !suite.aead) return 'weak';
  return 'secure';
}

/** Derive a suite's traits from its IANA name (`TLS_<KX>_<AUTH>[_EXPORT]_WITH_<CIPHER>_<MAC>` or TLS 1.3 `TLS_<AEAD>_<HASH>`). */
export function parseSuiteName(ianaName: string): SuiteTraits {
  const regular = (IRREGULAR_NAMES.get(ianaName) ?? ianaName).replace(/_OLD$/, '');
  const body = /^(?:TLS|SSL)_(.+)$/.exec(regular)?.[1];
  if (!body) throw new Error(`suite name ${ianaName} does not start with TLS_ or SSL_`);

  const withAt = body.indexOf('_WITH_');
  const kxPart = withAt < 0 ? null : body.slice(0, withAt);
  const exportMatch = kxPart ? /_EXPORT(?:1024)?$/.exec(kxPart) : null;
  const kxName = kxPart && exportMatch ? kxPart.slice(0, exportMatch.index) : kxPart;

  const tokens = (withAt < 0 ? body : body.slice(withAt + '_WITH_'.length)).split('_');
  const last = tokens[tokens.length - 1] ?? '';
  const macToken = tokens.length > 1 && MAC_TOKENS.has(last) ? last : null;
  const cipherToken = (macToken ? tokens.slice(0, -1) : tokens).join('_');

  const cipher = bulkCipher(cipherToken);
  if (!cipher) throw new Error(`suite ${ianaName}: unknown bulk cipher ${cipherToken}`);
  if (!macToken && !cipher.aead) throw new Error(`suite ${ianaName}: no MAC and ${cipherToken} is not an AEAD`);

  const tls13 = kxName === null || cipher.tls13Only === true;
  const keyExchange = tls13 ? TLS13_KEY_EXCHANGE : KEY_EXCHANGES.get(kxName);
  if (!keyExchange) throw new Error(`suite ${ianaName}: unknown key exchange ${kxName}`);

  const mac = cipher.aead ? 'AEAD' : (macToken ?? 'NULL');
  const needsTls12 = cipher.aead || keyExchange.tls12Only === true ||
    ((macToken === 'SHA256' || macToken === 'SHA384') && !keyExchange.pskFamily);
  const protocols: readonly ProtocolName[] = tls13
    ? ['TLSv1.3']
    : needsTls12 ? (keyExchange.alsoTls13 ? ['TLSv1.2', 'TLSv1.3'] : ['TLSv1.2']) : LEGACY_PROTOCOLS;

  const traits = {
    kx: keyExchange.kx,
    auth: keyExchange.auth,
    cipher: cipher.name,
    bits: cipher.bits,
    blockBits: cipher.blockBits,
    mac,
    aead: cipher.aead,
    fs: keyExchange.fs,
    export: exportMatch !== null,
    anonymous: keyExchange.anonymous === true,
    cbc: cipher.cbc,
    protocols,
  };
  return { ...traits, strength: classifyStrength(traits) };
}

/** Traits of an SSLv2 cipher kind, from its bulk-cipher token in our spelling (RC4_128, 3DES_EDE_CBC…). */
export function sslv2KindTraits(cipherToken: string, exportGrade: boolean): SuiteTraits {
  const cipher = bulkCipher(cipherToken);
  if (!cipher) throw new Error(`SSLv2 kind: unknown bulk cipher ${cipherToken}`);
  const traits = {
    kx: 'RSA',
    auth: 'RSA',
    cipher: cipher.name,
    bits: cipher.bits,
    blockBits: cipher.blockBits,
    mac: 'MD5',
    aead: false,
    fs: false,
    export: exportGrade,
    anonymous: false,
    cbc: cipher.cbc,
    protocols: ['SSLv2'] as const,
  };
  return { ...traits, strength: classifyStrength(traits) };
}
