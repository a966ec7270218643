import { describe, expect, it } from 'vitest';
import { SIGNATURE_SCHEMES, signatureSchemeById } from './index.js';

describe('SIGNATURE_SCHEMES', () => {
  it('lists each code point once with RFC 8446 names and the legacy TLS 1.2 pairs', () => {
    expect(new Set(SIGNATURE_SCHEMES.map((s) => s.id)).size).toBe(SIGNATURE_SCHEMES.length);
    expect(signatureSchemeById(0x0804)?.name).toBe('rsa_pss_rsae_sha256');
    expect(signatureSchemeById(0x0403)?.name).toBe('ecdsa_secp256r1_sha256');
    expect(signatureSchemeById(0x0807)?.name).toBe('ed25519');
    expect(signatureSchemeById(0x0201)?.name).toBe('rsa_pkcs1_sha1');
    expect(signatureSchemeById(0x0203)?.name).toBe('ecdsa_sha1');
    expect(signatureSchemeById(0x0101)?.name).toBe('rsa_pkcs1_md5');
    expect(signatureSchemeById(0x0202)?.name).toBe('dsa_sha1');
    expect(signatureSchemeById(0x0a0a)).toBeUndefined();
  });
});
