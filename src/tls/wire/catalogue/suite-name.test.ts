import { describe, expect, it } from 'vitest';
import { classifyStrength, parseSuiteName } from './suite-name.js';

describe('parseSuiteName', () => {
  it('reads key exchange, authentication, cipher and MAC from a regular name', () => {
    expect(parseSuiteName('TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA256')).toMatchObject({
      kx: 'DHE', auth: 'DSS', cipher: 'CAMELLIA-256-CBC', bits: 256, blockBits: 128, mac: 'SHA256', cbc: true, fs: true, protocols: ['TLSv1.2'],
    });
  });

  it('treats a name without a MAC as AEAD (…_AES_128_CCM_8)', () => {
    expect(parseSuiteName('TLS_PSK_DHE_WITH_AES_128_CCM_8')).toMatchObject({ kx: 'DHE-PSK', cipher: 'AES-128-CCM-8', mac: 'AEAD', aead: true, strength: 'secure' });
  });

  it('marks EXPORT and EXPORT1024 key exchanges as export grade', () => {
    expect(parseSuiteName('TLS_KRB5_EXPORT_WITH_DES_CBC_40_SHA')).toMatchObject({ kx: 'KRB5', cipher: 'DES40-CBC', bits: 40, export: true });
    expect(parseSuiteName('TLS_DHE_DSS_EXPORT1024_WITH_RC4_56_SHA')).toMatchObject({ kx: 'DHE', cipher: 'RC4-56', bits: 56, export: true });
  });

  it('reads TLS 1.3 names as AEAD plus hash with any key exchange', () => {
    expect(parseSuiteName('TLS_AEGIS_128L_SHA256')).toMatchObject({ kx: 'ANY', auth: 'ANY', cipher: 'AEGIS-128L', bits: 128, fs: true, protocols: ['TLSv1.3'] });
    expect(parseSuiteName('TLS_GOSTR341112_256_WITH_MAGMA_MGM_S')).toMatchObject({ kx: 'ANY', blockBits: 64, protocols: ['TLSv1.3'], strength: 'weak' });
  });

  it('runs PSK suites with SHA-256/384 HMACs on TLS 1.0+, other SHA-256 suites on TLS 1.2 only', () => {
    expect(parseSuiteName('TLS_ECDHE_PSK_WITH_NULL_SHA384').protocols).toEqual(['SSLv3', 'TLSv1.0', 'TLSv1.1', 'TLSv1.2']);
    expect(parseSuiteName('TLS_RSA_WITH_NULL_SHA256').protocols).toEqual(['TLSv1.2']);
    expect(parseSuiteName('TLS_GOSTR341112_256_WITH_28147_CNT_IMIT').protocols).toEqual(['TLSv1.2']);
  });

  it('reads the pre-RFC ChaCha20 code points like their standard twins', () => {
    expect(parseSuiteName('TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256_OLD')).toEqual(parseSuiteName('TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256'));
  });

  it.each([
    ['TLS_FOO_WITH_AES_128_GCM_SHA256', /unknown key exchange FOO/],
    ['TLS_RSA_WITH_BLOWFISH_CBC_SHA', /unknown bulk cipher BLOWFISH_CBC/],
    ['TLS_RSA_WITH_AES_128_CBC', /not an AEAD/],
    ['FOO_RSA_WITH_NULL_SHA', /does not start with TLS_ or SSL_/],
  ])('refuses %s rather than guess', (name, message) => {
    expect(() => parseSuiteName(name)).toThrow(message);
  });
});

describe('classifyStrength', () => {
  const base = { cipher: 'AES-128-GCM', bits: 128, blockBits: 128, mac: 'AEAD', aead: true, fs: true, export: false, anonymous: false };

  it('calls forward-secret AEAD secure', () => {
    expect(classifyStrength(base)).toBe('secure');
  });

  it.each([
    ['NULL cipher', { cipher: 'NULL', bits: 0 }],
    ['anonymous', { anonymous: true }],
    ['export', { export: true }],
    ['RC4', { cipher: 'RC4-128', blockBits: null }],
    ['under 112 bits', { bits: 56 }],
    ['MD5 MAC', { mac: 'MD5', aead: false }],
  ])('calls %s insecure', (_why, change) => {
    expect(classifyStrength({ ...base, ...change })).toBe('insecure');
  });

  it.each([
    ['a 64-bit block', { blockBits: 64 }],
    ['no forward secrecy', { fs: false }],
    ['CBC (no AEAD)', { aead: false, mac: 'SHA' }],
  ])('calls %s weak', (_why, change) => {
    expect(classifyStrength({ ...base, ...change })).toBe('weak');
  });
});
