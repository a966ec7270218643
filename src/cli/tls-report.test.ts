import { describe, expect, it } from 'vitest';
import { FINDINGS, assessment, certificate, chain, endpoint, suite, tls12OnlyEndpoint, unreachableEndpoint } from '../testing/assessments.js';
import { renderTlsReport } from './tls-report.js';

const ANSI = /\u001b\[/;

describe('renderTlsReport', () => {
  const capped = assessment({
    endpoints: [tls12OnlyEndpoint({ suites: [...tls12OnlyEndpoint().suites, suite('0x000A', 'TLSv1.2')], findings: [FINDINGS.tls10] }), unreachableEndpoint('::1')],
  });

  it('shows per address the grade, each cap with its reason and fix, and why an address could not be assessed', () => {
    const text = renderTlsReport([capped], { color: false });
    expect(text).toMatch(/^app\.test:443 {2}SNI app\.test {2}2 address\(es\)/);
    expect(text).toContain('127.0.0.1  grade A-  (protocol 100, key exchange 90, cipher 90)');
    expect(text).toContain('A-  capped at A-: TLS 1.3 is not supported [no-tls13]\n        fix: enable TLS 1.3');
    expect(text).toContain('::1  could not be assessed: connection refused by ::1 [connection-refused]');
  });

  it('lists every protocol, newest first, and the suites per protocol with strength marks', () => {
    const text = renderTlsReport([capped], { color: false });
    expect(text).toMatch(/Protocols\n {4}TLSv1\.3 {2}no\n {4}TLSv1\.2 {2}yes\n {4}TLSv1\.1 {2}no\n {4}TLSv1\.0 {2}no\n {4}SSLv3 {4}no\n {4}SSLv2 {4}no\n/);
    expect(text).toContain('TLSv1.2 (server order)');
    expect(text).toMatch(/ok {8}0xC02F {2}TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 {2}128 bits {2}FS AEAD/);
    expect(text).toMatch(/WEAK {6}0xC013 {2}TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA/);
    expect(text).toMatch(/INSECURE {2}0x000A {2}TLS_RSA_WITH_3DES_EDE_CBC_SHA {10}112 bits {2}no FS CBC {2}RSA 2048/);
  });

  it('marks accepted legacy protocols insecure', () => {
    const legacy = endpoint({ protocols: endpoint().protocols.map((p) => (p.name === 'TLSv1.0' ? { ...p, supported: true } : p)) });
    expect(renderTlsReport([assessment({ endpoints: [legacy] })], { color: false })).toContain('TLSv1.0  yes (insecure)');
  });

  it('summarises the certificate: subject, issuer, expiry, key, trust and name match', () => {
    const text = renderTlsReport([capped], { color: false });
    expect(text).toContain('subject    CN=app.test');
    expect(text).toContain('issuer     CN=Portcullis Test Intermediate CA,O=Portcullis Tests');
    expect(text).toContain('expires    2026-12-31 (180 days left)');
    expect(text).toContain('key        RSA 2048 bits, signed SHA256withRSA');
    expect(text).toContain('trusted    yes');
    expect(text).toContain('host name  matches');
  });

  it('calls out an untrusted, mismatched, expired certificate and its chain problems', () => {
    const bad = chain({
      served: [certificate({ daysToExpiry: -3 })],
      trusted: false,
      trustError: 'certificate expired 3 days ago',
      hostnameMatch: false,
      issues: { incomplete: true, extraCerts: false, wrongOrder: false, rootIncluded: false, cannotValidate: true },
    });
    const text = renderTlsReport([assessment({ endpoints: [endpoint({ grade: 'T', gradeTrustIgnored: 'A', certificates: [bad] })] })], { color: false });
    expect(text).toContain('grade T  (if trusted: A; protocol 100');
    expect(text).toContain('EXPIRED 3 days ago');
    expect(text).toContain('trusted    no: certificate expired 3 days ago');
    expect(text).toContain('host name  DOES NOT MATCH');
    expect(text).toContain('chain      1 served; incomplete, cannot validate');
  });

  it('lists findings with severity and fix', () => {
    expect(renderTlsReport([capped], { color: false })).toContain(
      '[medium] TLS 1.0 enabled: The server accepts TLS 1.0, deprecated by RFC 8996.\n        fix: disable TLS 1.0 and TLS 1.1',
    );
  });

  it('prints no escape codes or box drawing without colour, and a coloured boxed grade with it', () => {
    const plain = renderTlsReport([capped], { color: false });
    expect(plain).not.toMatch(ANSI);
    expect(plain).not.toMatch(/[┌│└]/);
    const coloured = renderTlsReport([capped], { color: true });
    expect(coloured).toMatch(ANSI);
    expect(coloured).toMatch(/┌─+┐\n {4}│ \u001b\[42;30m\u001b\[1m A- \u001b\[0m\u001b\[0m │/);
  });
});
