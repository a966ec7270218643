import { describe, expect, it } from 'vitest';
import type { CipherSuiteInfo, ProtocolName } from '../../model.js';
import { CIPHER_SUITES, SCSV, SSLV2_CIPHER_KINDS, isIanaRegistered, suiteById, suiteByName, suitesForProtocol } from './index.js';
import { openssl, opensslAvailable } from './testing/openssl.js';

const ids = (suites: readonly CipherSuiteInfo[]): number[] => suites.map((s) => s.id);

describe('CIPHER_SUITES', () => {
  it('lists every code point once, with its code spelled 0xHHHH in upper case', () => {
    expect(new Set(ids(CIPHER_SUITES)).size).toBe(CIPHER_SUITES.length);
    for (const suite of CIPHER_SUITES) {
      expect(suite.code).toMatch(/^0x[0-9A-F]{4}$/);
      expect(Number(suite.code)).toBe(suite.id);
    }
  });

  it('gives every suite its own IANA name, except the two Netscape FIPS pairs that share one', () => {
    const byName = new Map<string, number[]>();
    for (const suite of CIPHER_SUITES) byName.set(suite.iana, [...(byName.get(suite.iana) ?? []), suite.id]);
    const shared = [...byName].filter(([, codes]) => codes.length > 1);
    expect(shared).toEqual([
      ['SSL_RSA_FIPS_WITH_DES_CBC_SHA', [0xfefe, 0xffe1]],
      ['SSL_RSA_FIPS_WITH_3DES_EDE_CBC_SHA', [0xfeff, 0xffe0]],
    ]);
  });

  it('holds the whole IANA registry (354 suites as of 2026) and no signalling or GREASE values', () => {
    expect(CIPHER_SUITES.filter((s) => isIanaRegistered(s.id))).toHaveLength(354);
    for (const id of [0x1301, 0x1302, 0x1303, 0x1304, 0x1305, 0x1306, 0x1307, 0x00c6, 0x00c7, 0xd005]) {
      expect(isIanaRegistered(id), `0x${id.toString(16)}`).toBe(true);
    }
    for (const signalling of [SCSV.emptyRenegotiationInfo, SCSV.fallback, 0x0a0a, 0xfafa]) {
      expect(suiteById(signalling)).toBeUndefined();
    }
  });

  it('keeps the well-known unregistered suites, marked as not in the registry', () => {
    for (const id of [0x0060, 0x0061, 0x0062, 0x0063, 0x0064, 0x0065, 0x0066, 0x0080, 0xcc13, 0xcc14, 0xcc15, 0xfefe, 0xfeff, 0xffe0, 0xffe1, 0xff00]) {
      expect(suiteById(id), `0x${id.toString(16)}`).toBeDefined();
      expect(isIanaRegistered(id)).toBe(false);
    }
    expect(isIanaRegistered(0x7777)).toBe(false);
  });

  type Expected = Pick<CipherSuiteInfo, 'iana' | 'openssl' | 'kx' | 'auth' | 'cipher' | 'bits' | 'blockBits' | 'mac' | 'aead' | 'fs' | 'export' | 'anonymous' | 'cbc' | 'strength' | 'protocols'>;
  const legacy: ProtocolName[] = ['SSLv3', 'TLSv1.0', 'TLSv1.1', 'TLSv1.2'];
  const wellKnown: [number, Expected][] = [
    [0xc02f, { iana: 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', openssl: 'ECDHE-RSA-AES128-GCM-SHA256', kx: 'ECDHE', auth: 'RSA', cipher: 'AES-128-GCM', bits: 128, blockBits: 128, mac: 'AEAD', aead: true, fs: true, export: false, anonymous: false, cbc: false, strength: 'secure', protocols: ['TLSv1.2'] }],
    [0xcca8, { iana: 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256', openssl: 'ECDHE-RSA-CHACHA20-POLY1305', kx: 'ECDHE', auth: 'RSA', cipher: 'CHACHA20-POLY1305', bits: 256, blockBits: null, mac: 'AEAD', aead: true, fs: true, export: false, anonymous: false, cbc: false, strength: 'secure', protocols: ['TLSv1.2'] }],
    [0x1301, { iana: 'TLS_AES_128_GCM_SHA256', openssl: 'TLS_AES_128_GCM_SHA256', kx: 'ANY', auth: 'ANY', cipher: 'AES-128-GCM', bits: 128, blockBits: 128, mac: 'AEAD', aead: true, fs: true, export: false, anonymous: false, cbc: false, strength: 'secure', protocols: ['TLSv1.3'] }],
    [0xc013, { iana: 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA', openssl: 'ECDHE-RSA-AES128-SHA', kx: 'ECDHE', auth: 'RSA', cipher: 'AES-128-CBC', bits: 128, blockBits: 128, mac: 'SHA', aead: false, fs: true, export: false, anonymous: false, cbc: true, strength: 'weak', protocols: legacy }],
    [0x009c, { iana: 'TLS_RSA_WITH_AES_128_GCM_SHA256', openssl: 'AES128-GCM-SHA256', kx: 'RSA', auth: 'RSA', cipher: 'AES-128-GCM', bits: 128, blockBits: 128, mac: 'AEAD', aead: true, fs: false, export: false, anonymous: false, cbc: false, strength: 'weak', protocols: ['TLSv1.2'] }],
    [0x003c, { iana: 'TLS_RSA_WITH_AES_128_CBC_SHA256', openssl: 'AES128-SHA256', kx: 'RSA', auth: 'RSA', cipher: 'AES-128-CBC', bits: 128, blockBits: 128, mac: 'SHA256', aead: false, fs: false, export: false, anonymous: false, cbc: true, strength: 'weak', protocols: ['TLSv1.2'] }],
    [0x000a, { iana: 'TLS_RSA_WITH_3DES_EDE_CBC_SHA', openssl: 'DES-CBC3-SHA', kx: 'RSA', auth: 'RSA', cipher: '3DES-EDE-CBC', bits: 112, blockBits: 64, mac: 'SHA', aead: false, fs: false, export: false, anonymous: false, cbc: true, strength: 'weak', protocols: legacy }],
    [0x0004, { iana: 'TLS_RSA_WITH_RC4_128_MD5', openssl: 'RC4-MD5', kx: 'RSA', auth: 'RSA', cipher: 'RC4-128', bits: 128, blockBits: null, mac: 'MD5', aead: false, fs: false, export: false, anonymous: false, cbc: false, strength: 'insecure', protocols: legacy }],
    [0x0003, { iana: 'TLS_RSA_EXPORT_WITH_RC4_40_MD5', openssl: 'EXP-RC4-MD5', kx: 'RSA', auth: 'RSA', cipher: 'RC4-40', bits: 40, blockBits: null, mac: 'MD5', aead: false, fs: false, export: true, anonymous: false, cbc: false, strength: 'insecure', protocols: legacy }],
    [0x0000, { iana: 'TLS_NULL_WITH_NULL_NULL', openssl: null, kx: 'NULL', auth: 'NULL', cipher: 'NULL', bits: 0, blockBits: null, mac: 'NULL', aead: false, fs: false, export: false, anonymous: true, cbc: false, strength: 'insecure', protocols: legacy }],
    [0x0001, { iana: 'TLS_RSA_WITH_NULL_MD5', openssl: 'NULL-MD5', kx: 'RSA', auth: 'RSA', cipher: 'NULL', bits: 0, blockBits: null, mac: 'MD5', aead: false, fs: false, export: false, anonymous: false, cbc: false, strength: 'insecure', protocols: legacy }],
    [0x0018, { iana: 'TLS_DH_anon_WITH_RC4_128_MD5', openssl: 'ADH-RC4-MD5', kx: 'DH', auth: 'anon', cipher: 'RC4-128', bits: 128, blockBits: null, mac: 'MD5', aead: false, fs: false, export: false, anonymous: true, cbc: false, strength: 'insecure', protocols: legacy }],
    [0xa7, { iana: 'TLS_DH_anon_WITH_AES_256_GCM_SHA384', openssl: 'ADH-AES256-GCM-SHA384', kx: 'DH', auth: 'anon', cipher: 'AES-256-GCM', bits: 256, blockBits: 128, mac: 'AEAD', aead: true, fs: false, export: false, anonymous: true, cbc: false, strength: 'insecure', protocols: ['TLSv1.2'] }],
    [0x0062, { iana: 'TLS_RSA_EXPORT1024_WITH_DES_CBC_SHA', openssl: 'EXP1024-DES-CBC-SHA', kx: 'RSA', auth: 'RSA', cipher: 'DES-CBC', bits: 56, blockBits: 64, mac: 'SHA', aead: false, fs: false, export: true, anonymous: false, cbc: true, strength: 'insecure', protocols: legacy }],
    [0x0015, { iana: 'TLS_DHE_RSA_WITH_DES_CBC_SHA', openssl: 'EDH-RSA-DES-CBC-SHA', kx: 'DHE', auth: 'RSA', cipher: 'DES-CBC', bits: 56, blockBits: 64, mac: 'SHA', aead: false, fs: true, export: false, anonymous: false, cbc: true, strength: 'insecure', protocols: legacy }],
    [0x00ae, { iana: 'TLS_PSK_WITH_AES_128_CBC_SHA256', openssl: 'PSK-AES128-CBC-SHA256', kx: 'PSK', auth: 'PSK', cipher: 'AES-128-CBC', bits: 128, blockBits: 128, mac: 'SHA256', aead: false, fs: false, export: false, anonymous: false, cbc: true, strength: 'weak', protocols: legacy }],
    [0xc0b4, { iana: 'TLS_SHA256_SHA256', openssl: null, kx: 'ANY', auth: 'ANY', cipher: 'NULL', bits: 0, blockBits: null, mac: 'SHA256', aead: false, fs: true, export: false, anonymous: false, cbc: false, strength: 'insecure', protocols: ['TLSv1.3'] }],
    [0xc0b0, { iana: 'TLS_ECCPWD_WITH_AES_128_GCM_SHA256', openssl: null, kx: 'ECCPWD', auth: 'PWD', cipher: 'AES-128-GCM', bits: 128, blockBits: 128, mac: 'AEAD', aead: true, fs: true, export: false, anonymous: false, cbc: false, strength: 'secure', protocols: ['TLSv1.2', 'TLSv1.3'] }],
  ];

  it.each(wellKnown.map(([id, expected]) => [`0x${id.toString(16).toUpperCase().padStart(4, '0')}`, id, expected] as const))(
    'describes %s correctly',
    (code, id, expected) => {
      expect(suiteById(id)).toEqual({ id, code, ...expected });
    },
  );

  const opensslTitle = `against \`openssl ciphers -V\`${opensslAvailable ? '' : ' (skipped: openssl binary not on PATH)'}`;
  describe.skipIf(!opensslAvailable)(opensslTitle, () => {
    // "0xC0,0x2F - ECDHE-RSA-AES128-GCM-SHA256   TLSv1.2 Kx=ECDH ..."
    const listed = opensslAvailable
      ? openssl(['ciphers', '-V', 'ALL:COMPLEMENTOFALL:@SECLEVEL=0']).trim().split('\n').map((line) => {
        const [code = '', , name = '', minimum = ''] = line.trim().split(/\s+/);
        return { id: Number(code.replace(',0x', '')), name, minimum };
      })
      : [];

    it('uses OpenSSL\'s own name for every suite OpenSSL knows', () => {
      expect(listed.length).toBeGreaterThan(100);
      for (const { id, name } of listed) expect(suiteById(id)?.openssl, name).toBe(name);
    });

    it('allows each suite from the same protocol version OpenSSL does', () => {
      const firstProtocol: Record<string, ProtocolName> = { SSLv3: 'SSLv3', TLSv1: 'TLSv1.0', 'TLSv1.2': 'TLSv1.2', 'TLSv1.3': 'TLSv1.3' };
      for (const { id, name, minimum } of listed) {
        const suite = suiteById(id);
        // OpenSSL 1.1+ dropped SSLv3 for ECDHE/PSK suites that SSLv3 servers did negotiate, so treat TLSv1 as "legacy".
        const expected = minimum === 'TLSv1' ? 'SSLv3' : firstProtocol[minimum];
        expect(suite?.protocols[0], name).toBe(expected);
      }
    });
  });
});

describe('SSLV2_CIPHER_KINDS', () => {
  it('are the seven SSLv2 kinds with 3-byte codes, SSLv2 only, all insecure', () => {
    expect(SSLV2_CIPHER_KINDS.map((k) => k.code)).toEqual(['0x010080', '0x020080', '0x030080', '0x040080', '0x050080', '0x060040', '0x0700C0']);
    for (const kind of SSLV2_CIPHER_KINDS) {
      expect(kind.protocols).toEqual(['SSLv2']);
      expect(kind.strength).toBe('insecure');
    }
    expect(suiteById(0x0700c0)).toMatchObject({ iana: 'SSL_CK_DES_192_EDE3_CBC_WITH_MD5', openssl: 'DES-CBC3-MD5', cipher: '3DES-EDE-CBC', bits: 112, blockBits: 64, mac: 'MD5' });
    expect(suiteById(0x020080)).toMatchObject({ cipher: 'RC4-40', bits: 40, export: true });
  });
});

describe('suiteByName', () => {
  it('finds a suite by its IANA or its OpenSSL name', () => {
    expect(suiteByName('TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256')?.id).toBe(0xc02f);
    expect(suiteByName('ECDHE-RSA-AES128-GCM-SHA256')?.id).toBe(0xc02f);
    expect(suiteByName('DES-CBC3-SHA')?.id).toBe(0x000a);
    expect(suiteByName('TLS_CHACHA20_POLY1305_SHA256')?.id).toBe(0x1303);
  });

  it('resolves names shared by two code points to the lower one and knows nothing it was not given', () => {
    expect(suiteByName('SSL_RSA_FIPS_WITH_3DES_EDE_CBC_SHA')?.id).toBe(0xfeff);
    expect(suiteByName('TLS_EMPTY_RENEGOTIATION_INFO_SCSV')).toBeUndefined();
    expect(suiteByName('ecdhe-rsa-aes128-gcm-sha256')).toBeUndefined();
  });
});

describe('suitesForProtocol', () => {
  it('offers only TLS 1.3 suites on TLS 1.3', () => {
    const tls13 = ids(suitesForProtocol('TLSv1.3'));
    expect(tls13).toEqual(expect.arrayContaining([0x1301, 0x1302, 0x1303, 0x1304, 0x1305]));
    expect(tls13).not.toContain(0xc02f);
    expect(suitesForProtocol('TLSv1.3').every((s) => s.kx === 'ANY' || s.kx === 'ECCPWD')).toBe(true);
  });

  it('offers every pre-1.3 suite on TLS 1.2', () => {
    const tls12 = ids(suitesForProtocol('TLSv1.2'));
    expect(tls12).toEqual(expect.arrayContaining([0xc02f, 0xcca8, 0x003c, 0x000a, 0x0004, 0x0003, 0x0000]));
    expect(tls12).not.toContain(0x1301);
    expect(tls12).toHaveLength(CIPHER_SUITES.filter((s) => !s.protocols.every((p) => p === 'TLSv1.3')).length);
  });

  it.each(['SSLv3', 'TLSv1.0', 'TLSv1.1'] as const)('leaves out suites that need TLS 1.2 on %s', (protocol) => {
    const offered = suitesForProtocol(protocol);
    expect(ids(offered)).toEqual(expect.arrayContaining([0x000a, 0xc013, 0x0035, 0x0004, 0x00ae]));
    for (const suite of offered) {
      expect(suite.aead, suite.iana).toBe(false);
      if (suite.mac === 'SHA256' || suite.mac === 'SHA384') expect(suite.kx, suite.iana).toMatch(/PSK/);
    }
    expect(ids(offered)).not.toContain(0x003c);
  });

  it('offers the SSLv2 kinds on SSLv2', () => {
    expect(suitesForProtocol('SSLv2')).toBe(SSLV2_CIPHER_KINDS);
  });
});
