import { describe, expect, it } from 'vitest';
import { matchesHostname } from './hostname.js';

function cert(altNames: string[], commonNames: string[] = []): { altNames: string[]; commonNames: string[] } {
  return { altNames, commonNames };
}

describe('matchesHostname', () => {
  it.each([
    ['exact DNS SAN', cert(['DNS:www.example.com']), 'www.example.com', true],
    ['any of several SANs', cert(['DNS:example.com', 'DNS:www.example.com']), 'www.example.com', true],
    ['case-insensitive', cert(['DNS:WWW.Example.COM']), 'www.EXAMPLE.com', true],
    ['trailing dot on the host', cert(['DNS:www.example.com']), 'www.example.com.', true],
    ['trailing dot in the SAN', cert(['DNS:www.example.com.']), 'www.example.com', true],
    ['different name', cert(['DNS:www.example.com']), 'mail.example.com', false],
    ['parent domain is not a match', cert(['DNS:www.example.com']), 'example.com', false],
  ])('%s', (_label, certificate, host, expected) => {
    expect(matchesHostname(certificate, host)).toBe(expected);
  });

  it.each([
    ['one label under the wildcard', '*.example.com', 'www.example.com', true],
    ['wildcard is case-insensitive', '*.Example.com', 'WWW.example.COM', true],
    ['not the bare parent', '*.example.com', 'example.com', false],
    ['not two labels deep', '*.example.com', 'a.b.example.com', false],
    ['not over a single-label suffix', '*.com', 'example.com', false],
    ['not a partial-label wildcard', 'w*.example.com', 'www.example.com', false],
    ['not a wildcard below the left-most label', 'www.*.com', 'www.example.com', false],
  ])('wildcard: %s', (_label, pattern, host, expected) => {
    expect(matchesHostname(cert([`DNS:${pattern}`]), host)).toBe(expected);
  });

  it('uses the CN only when there is no DNS SAN', () => {
    expect(matchesHostname(cert([], ['www.example.com']), 'www.example.com')).toBe(true);
    expect(matchesHostname(cert(['IP:192.0.2.1'], ['www.example.com']), 'www.example.com')).toBe(true);
    expect(matchesHostname(cert(['DNS:other.example.com'], ['www.example.com']), 'www.example.com')).toBe(false);
  });

  it('compares internationalised names in A-label form', () => {
    const idn = cert(['DNS:xn--bcher-kva.example']);
    expect(matchesHostname(idn, 'bücher.example')).toBe(true);
    expect(matchesHostname(idn, 'xn--bcher-kva.example')).toBe(true);
    expect(matchesHostname(cert(['DNS:*.xn--bcher-kva.example']), 'www.bücher.example')).toBe(true);
    expect(matchesHostname(cert(['DNS:buecher.example']), 'bücher.example')).toBe(false);
  });

  it('matches IP targets against IP SANs only', () => {
    const ipCert = cert(['DNS:localhost', 'IP:127.0.0.1', 'IP:::1'], ['127.0.0.2']);
    expect(matchesHostname(ipCert, '127.0.0.1')).toBe(true);
    expect(matchesHostname(ipCert, '::1')).toBe(true);
    expect(matchesHostname(ipCert, '[::1]')).toBe(true);
    expect(matchesHostname(ipCert, '0:0:0:0:0:0:0:1')).toBe(true);
    expect(matchesHostname(ipCert, '127.0.0.2')).toBe(false);
    expect(matchesHostname(cert(['DNS:127.0.0.1']), '127.0.0.1')).toBe(false);
  });
});
