/**
 * Findings: what is wrong or worth knowing about an endpoint, each with the concrete evidence and a fix.
 * Pure, from EndpointFacts alone; the grade explains the letter, findings explain the configuration.
 */
import {
  KNOWN_VULNERABILITIES,
  LONG_HSTS_MAX_AGE,
  bestProtocol,
  describeKey,
  describeSuite,
  dhPrimeSizes,
  hasSmallBlock,
  isNullCipher,
  isRc4,
  keyStrength,
  leafCertificate,
  protocolLabel,
  referenceClientProblem,
  servedChain,
  suitesOn,
  supports,
  usesSha1,
} from './grade/index.js';
import type { EndpointFacts, Finding, FindingSeverity, ProtocolName, SuiteResult } from './model.js';

interface Observation {
  detail: string;
  evidence: string[];
  /** Overrides the check's severity when the observation is worse (or milder) than usual. */
  severity?: FindingSeverity;
}

interface FindingCheck {
  id: string;
  severity: FindingSeverity;
  title: string;
  observe(facts: EndpointFacts): Observation | null;
  fix: string;
}

const SEVERITY_ORDER: readonly FindingSeverity[] = ['critical', 'high', 'medium', 'low', 'info'];

const plural = (count: number, noun: string): string => `${count} ${noun}${count === 1 ? '' : 's'}`;

/** A finding about the accepted suites that match `predicate`; `detail` gets how many. */
function suiteCheck(
  check: Omit<FindingCheck, 'observe'> & { matches: (suite: SuiteResult) => boolean; detail: (count: string) => string },
): FindingCheck {
  const { matches, detail, ...rest } = check;
  return {
    ...rest,
    observe: (facts) => {
      const suites = facts.suites.filter(matches);
      return suites.length === 0 ? null : { detail: detail(plural(suites.length, 'suite')), evidence: suites.map(describeSuite) };
    },
  };
}

function protocolCheck(protocol: ProtocolName, check: Omit<FindingCheck, 'observe'> & { detail: string }): FindingCheck {
  const { detail, ...rest } = check;
  return {
    ...rest,
    observe: (facts) => (supports(facts, protocol) ? { detail, evidence: [protocolLabel(protocol), ...suitesOn(facts, protocol).map(describeSuite)] } : null),
  };
}

function referenceClientCheck(check: Omit<FindingCheck, 'observe'> & { problem: Parameters<typeof referenceClientProblem>[1]; detail: string }): FindingCheck {
  const { problem, detail, ...rest } = check;
  return {
    ...rest,
    observe: (facts) => {
      const outcome = referenceClientProblem(facts, problem);
      if (outcome === undefined) return null;
      return { detail: outcome.basis ? `${detail} (${outcome.basis}).` : `${detail}.`, evidence: outcome.items };
    },
  };
}

const DISABLE_LEGACY_PROTOCOLS = 'disable SSL 2.0, SSL 3.0, TLS 1.0 and TLS 1.1; keep TLS 1.2 and TLS 1.3';
const MODERN_CIPHERS = 'offer only ECDHE suites with AES-GCM or ChaCha20-Poly1305 on TLS 1.2, plus TLS 1.3 (e.g. the Mozilla "intermediate" configuration)';
const HSTS_HEADER = 'Strict-Transport-Security: max-age=31536000; includeSubDomains';

const PROTOCOL_CHECKS: readonly FindingCheck[] = [
  protocolCheck('SSLv2', {
    id: 'sslv2',
    severity: 'critical',
    title: 'SSL 2.0 enabled (DROWN)',
    detail:
      'The server accepts SSL 2.0, prohibited since 2011 (RFC 6176). It is an oracle for decrypting TLS sessions that use the same RSA key (DROWN). ' +
      'SSL Labs also flags DROWN when the key or certificate is used on another SSLv2 host; that needs external scan data this assessment does not have.',
    fix: DISABLE_LEGACY_PROTOCOLS,
  }),
  protocolCheck('SSLv3', {
    id: 'sslv3',
    severity: 'high',
    title: 'SSL 3.0 enabled',
    detail: 'The server accepts SSL 3.0, prohibited since 2015 (RFC 7568).',
    fix: DISABLE_LEGACY_PROTOCOLS,
  }),
  suiteCheck({
    id: 'poodle-sslv3',
    severity: 'high',
    title: 'POODLE: CBC suites on SSL 3.0',
    matches: (s) => s.protocol === 'SSLv3' && s.cbc,
    detail: (count) => `SSL 3.0 accepts ${count} with CBC padding an attacker can use to decrypt traffic (POODLE).`,
    fix: DISABLE_LEGACY_PROTOCOLS,
  }),
  protocolCheck('TLSv1.0', {
    id: 'tls10',
    severity: 'medium',
    title: 'TLS 1.0 enabled',
    detail: 'The server accepts TLS 1.0, deprecated by RFC 8996 and no longer supported by current browsers.',
    fix: 'disable TLS 1.0 and TLS 1.1; keep TLS 1.2 and TLS 1.3',
  }),
  protocolCheck('TLSv1.1', {
    id: 'tls11',
    severity: 'medium',
    title: 'TLS 1.1 enabled',
    detail: 'The server accepts TLS 1.1, deprecated by RFC 8996 and no longer supported by current browsers.',
    fix: 'disable TLS 1.0 and TLS 1.1; keep TLS 1.2 and TLS 1.3',
  }),
  {
    id: 'no-tls13',
    severity: 'low',
    title: 'TLS 1.3 not supported',
    observe: (facts) => {
      const best = bestProtocol(facts);
      return best === undefined || best === 'TLSv1.3'
        ? null
        : { detail: `The best protocol is ${protocolLabel(best)}; TLS 1.3 is faster and drops every legacy construction.`, evidence: [protocolLabel(best)] };
    },
    fix: 'enable TLS 1.3 (OpenSSL 1.1.1 or later; nginx: ssl_protocols TLSv1.2 TLSv1.3)',
  },
  {
    id: 'no-secure-renegotiation',
    severity: 'medium',
    title: 'Secure renegotiation not supported',
    observe: (facts) =>
      facts.features.secureRenegotiation === false
        ? { detail: 'The server does not answer with the RFC 5746 renegotiation_info extension, so any renegotiation it allows is open to injection.', evidence: ['renegotiation_info not echoed'] }
        : null,
    fix: 'upgrade the TLS library to one that implements RFC 5746',
  },
  {
    id: 'fallback-scsv-missing',
    severity: 'info',
    title: 'No downgrade protection (TLS_FALLBACK_SCSV)',
    observe: (facts) =>
      facts.features.fallbackScsv === false
        ? { detail: 'The server accepts a lower protocol version from a client signalling a fallback (RFC 7507). Not graded since 2009r; irrelevant once only TLS 1.2+ remains.', evidence: ['inappropriate_fallback not sent'] }
        : null,
    fix: 'upgrade the TLS library, or disable the protocol versions below TLS 1.2',
  },
  {
    id: 'crime',
    severity: 'high',
    title: 'TLS compression enabled (CRIME)',
    observe: (facts) =>
      facts.features.compression === true
        ? { detail: 'The server accepts DEFLATE compression, which lets an attacker recover secrets such as cookies (CRIME).', evidence: ['compression method DEFLATE'] }
        : null,
    fix: 'disable TLS compression (OpenSSL: SSL_OP_NO_COMPRESSION; upgrade very old stacks)',
  },
];

const KEY_EXCHANGE_CHECKS: readonly FindingCheck[] = [
  suiteCheck({
    id: 'freak',
    severity: 'critical',
    title: 'Export suites accepted (FREAK, Logjam)',
    matches: (s) => s.export,
    detail: (count) => `The server accepts ${count} limited to 512-bit key exchange and 40/56-bit ciphers, breakable in hours (FREAK, Logjam).`,
    fix: 'remove EXPORT suites (add !EXPORT to the cipher string)',
  }),
  suiteCheck({
    id: 'anon-suites',
    severity: 'critical',
    title: 'Anonymous suites accepted',
    matches: (s) => s.anonymous,
    detail: (count) => `The server accepts ${count} without authentication: anyone in the path can impersonate it.`,
    fix: 'remove anonymous suites (add !aNULL to the cipher string)',
  }),
  {
    id: 'logjam',
    severity: 'critical',
    title: 'Diffie-Hellman parameters under 1024 bits (Logjam)',
    observe: (facts) => {
      const weak = dhPrimeSizes(facts).filter((bits) => bits < 1024);
      return weak.length === 0 ? null : { detail: 'DHE key exchange uses a prime under 1024 bits, which can be broken with modest resources (Logjam).', evidence: weak.map((bits) => `DH ${bits} bits`) };
    },
    fix: 'use ECDHE, or DHE with a 2048-bit+ group such as RFC 7919 ffdhe2048',
  },
  {
    id: 'weak-dh',
    severity: 'medium',
    title: 'Diffie-Hellman parameters under 2048 bits',
    observe: (facts) => {
      const weak = dhPrimeSizes(facts).filter((bits) => bits >= 1024 && bits < 2048);
      return weak.length === 0 ? null : { detail: 'DHE key exchange uses a prime under 2048 bits, within reach of well-funded attackers.', evidence: weak.map((bits) => `DH ${bits} bits`) };
    },
    fix: 'use a 2048-bit+ DH group (RFC 7919 ffdhe2048) or drop DHE in favour of ECDHE',
  },
  {
    id: 'dh-common-prime',
    severity: 'medium',
    title: 'Widely shared weak Diffie-Hellman prime',
    observe: (facts) => {
      const shared = facts.dhParameters.filter((p) => p.weakKnownPrime);
      return shared.length === 0
        ? null
        : { detail: 'DHE uses a well-known prime small enough for one precomputation to break every server that shares it (Logjam).', evidence: shared.map((p) => `${p.knownPrime ?? 'known prime'} (${p.primeBits} bits)`) };
    },
    fix: 'generate or choose a 2048-bit+ group (RFC 7919 ffdhe2048) instead of the default 1024-bit prime',
  },
  referenceClientCheck({
    id: 'no-forward-secrecy',
    severity: 'medium',
    title: 'No forward secrecy with modern clients',
    problem: (s) => !s.fs,
    detail: 'Modern clients negotiate RSA key exchange, so a stolen private key decrypts recorded traffic',
    fix: MODERN_CIPHERS,
  }),
];

const CIPHER_CHECKS: readonly FindingCheck[] = [
  suiteCheck({
    id: 'null-suites',
    severity: 'critical',
    title: 'NULL (unencrypted) suites accepted',
    matches: isNullCipher,
    detail: (count) => `The server accepts ${count} that send data in clear text.`,
    fix: 'remove NULL suites (add !eNULL to the cipher string)',
  }),
  suiteCheck({
    id: 'rc4',
    severity: 'high',
    title: 'RC4 suites accepted',
    matches: isRc4,
    detail: (count) => `The server accepts ${count} with RC4, whose keystream biases leak plaintext (RFC 7465 prohibits it).`,
    fix: 'remove RC4 suites (add !RC4 to the cipher string)',
  }),
  suiteCheck({
    id: 'sweet32',
    severity: 'medium',
    title: '64-bit block ciphers accepted (SWEET32)',
    matches: hasSmallBlock,
    detail: (count) => `The server accepts ${count} with a 64-bit block cipher (3DES, IDEA…); long connections leak plaintext through block collisions (SWEET32).`,
    fix: 'remove 3DES and other 64-bit block suites (add !3DES:!IDEA to the cipher string)',
  }),
  suiteCheck({
    id: 'beast',
    severity: 'info',
    title: 'CBC suites on TLS 1.0 (BEAST)',
    matches: (s) => (s.protocol === 'TLSv1.0' || s.protocol === 'SSLv3') && s.cbc,
    detail: (count) => `${count} with CBC on SSL 3.0/TLS 1.0 are open to BEAST; browsers mitigate it client-side, and SSL Labs no longer grades it.`,
    fix: 'disable TLS 1.0 (and SSL 3.0)',
  }),
  referenceClientCheck({
    id: 'no-aead',
    severity: 'medium',
    title: 'No authenticated encryption with modern clients',
    problem: (s) => !s.aead,
    detail: 'Modern clients negotiate CBC or stream suites instead of AES-GCM or ChaCha20-Poly1305',
    fix: MODERN_CIPHERS,
  }),
];

const CERTIFICATE_CHECKS: readonly FindingCheck[] = [
  {
    id: 'cert-expired',
    severity: 'critical',
    title: 'Certificate expired',
    observe: (facts) => {
      const leaf = leafCertificate(facts);
      return leaf && leaf.daysToExpiry < 0
        ? { detail: `The certificate expired ${plural(-leaf.daysToExpiry, 'day')} ago; browsers refuse the connection.`, evidence: [`notAfter ${leaf.notAfter}`] }
        : null;
    },
    fix: 'renew the certificate and install it with its intermediates; automate renewal (ACME)',
  },
  {
    id: 'cert-expiring',
    severity: 'medium',
    title: 'Certificate expires within 30 days',
    observe: (facts) => {
      const leaf = leafCertificate(facts);
      if (leaf === undefined || leaf.daysToExpiry < 0 || leaf.daysToExpiry > 30) return null;
      return {
        detail: `The certificate expires in ${plural(leaf.daysToExpiry, 'day')}.`,
        evidence: [`notAfter ${leaf.notAfter}`],
        severity: leaf.daysToExpiry <= 7 ? 'high' : 'medium',
      };
    },
    fix: 'renew the certificate now; automate renewal (ACME) so it never gets this close',
  },
  {
    id: 'cert-untrusted',
    severity: 'high',
    title: 'Certificate not trusted',
    observe: (facts) => {
      const chain = servedChain(facts);
      const leaf = chain?.served[0];
      // An expired certificate has its own finding; do not report it twice.
      if (chain === undefined || chain.trusted || (leaf !== undefined && leaf.daysToExpiry < 0)) return null;
      const why = chain.trustError ?? (leaf?.selfSigned ? 'self-signed' : 'no path to a trusted root');
      return { detail: `Clients cannot verify the certificate: ${why}.`, evidence: [why, ...(leaf ? [`issuer ${leaf.issuer}`] : [])] };
    },
    fix: 'install a certificate from a publicly trusted CA and serve it with its intermediates',
  },
  {
    id: 'cert-hostname-mismatch',
    severity: 'high',
    title: 'Certificate does not match the host name',
    observe: (facts) => {
      const chain = servedChain(facts);
      if (chain === undefined || chain.hostnameMatch) return null;
      const leaf = chain.served[0];
      return {
        detail: `The certificate served${chain.sni ? ` for SNI ${chain.sni}` : ' without SNI'} does not cover the host name.`,
        evidence: leaf ? [...leaf.commonNames.map((cn) => `CN=${cn}`), ...leaf.altNames] : [],
      };
    },
    fix: 'serve a certificate whose subjectAltName lists this host name (check the server picks it for this SNI)',
  },
  {
    id: 'cert-weak-key',
    severity: 'medium',
    title: 'Weak certificate key',
    observe: (facts) => {
      const leaf = leafCertificate(facts);
      const strength = leaf && keyStrength(leaf);
      if (leaf === undefined || strength === undefined || strength >= 2048) return null;
      return {
        detail: `The certificate key has the strength of RSA ${strength}; 2048 is the minimum CAs and browsers accept.`,
        evidence: [describeKey(leaf)],
        severity: strength < 1024 ? 'critical' : 'medium',
      };
    },
    fix: 'generate an RSA 2048+ or ECDSA P-256 key and reissue the certificate',
  },
  {
    id: 'cert-sha1',
    severity: 'high',
    title: 'Certificate signed with SHA-1',
    observe: (facts) => {
      const leaf = leafCertificate(facts);
      return leaf && usesSha1(leaf.sigAlg) ? { detail: 'SHA-1 signatures can be forged (SHAttered); browsers reject them.', evidence: [leaf.sigAlg] } : null;
    },
    fix: 'reissue the certificate with a SHA-256 signature',
  },
  {
    id: 'chain-incomplete',
    severity: 'medium',
    title: 'Incomplete certificate chain',
    observe: (facts) =>
      servedChain(facts)?.issues.incomplete
        ? { detail: 'The server does not send every intermediate certificate; clients without a cached copy fail to verify it.', evidence: (servedChain(facts)?.served ?? []).map((c) => c.subject) }
        : null,
    fix: 'serve the full chain (leaf, then each intermediate), e.g. fullchain.pem rather than cert.pem',
  },
  {
    id: 'chain-wrong-order',
    severity: 'low',
    title: 'Certificate chain in the wrong order',
    observe: (facts) =>
      servedChain(facts)?.issues.wrongOrder
        ? { detail: 'The served certificates are not in leaf-to-root order; strict clients reject the chain.', evidence: (servedChain(facts)?.served ?? []).map((c) => c.subject) }
        : null,
    fix: 'serve the leaf first, then each intermediate in issuing order',
  },
  {
    id: 'chain-root-included',
    severity: 'info',
    title: 'Root certificate sent in the chain',
    observe: (facts) =>
      servedChain(facts)?.issues.rootIncluded
        ? { detail: 'The server sends the self-signed root; clients ignore it, so it only adds bytes to every handshake.', evidence: (servedChain(facts)?.served ?? []).filter((c) => c.selfSigned).map((c) => c.subject) }
        : null,
    fix: 'leave the root certificate out of the served chain',
  },
  {
    id: 'chain-extra-certs',
    severity: 'info',
    title: 'Unrelated certificates in the chain',
    observe: (facts) =>
      servedChain(facts)?.issues.extraCerts
        ? { detail: 'The server sends certificates that are not on the path to the root (duplicates or leftovers).', evidence: (servedChain(facts)?.served ?? []).map((c) => c.subject) }
        : null,
    fix: 'serve only the leaf and the intermediates that issued it',
  },
  {
    id: 'ocsp-must-staple',
    severity: 'high',
    title: 'Must-Staple certificate without OCSP stapling',
    observe: (facts) =>
      leafCertificate(facts)?.mustStaple && facts.features.ocspStapling === false
        ? { detail: 'The certificate requires a stapled OCSP response (TLS Feature extension) but the server sends none; Firefox refuses the connection.', evidence: ['status_request not answered'] }
        : null,
    fix: 'enable OCSP stapling (nginx: ssl_stapling on; ssl_stapling_verify on) or reissue without Must-Staple',
  },
];

const HTTP_CHECKS: readonly FindingCheck[] = [
  {
    id: 'hsts-missing',
    severity: 'low',
    title: 'HSTS not set',
    observe: (facts) =>
      facts.http?.hsts.status === 'absent'
        ? { detail: 'Without Strict-Transport-Security, a first visit over http:// can be intercepted (SSL stripping).', evidence: ['no Strict-Transport-Security header'] }
        : null,
    fix: `send ${HSTS_HEADER} on every HTTPS response`,
  },
  {
    id: 'hsts-short',
    severity: 'low',
    title: 'HSTS max-age under 180 days',
    observe: (facts) => {
      const hsts = facts.http?.hsts;
      return hsts?.status === 'present' && hsts.maxAge !== null && hsts.maxAge < LONG_HSTS_MAX_AGE
        ? { detail: `HSTS lasts ${plural(Math.floor(hsts.maxAge / 86_400), 'day')}; SSL Labs requires 180 days for A+.`, evidence: [hsts.header ?? `max-age=${hsts.maxAge}`] }
        : null;
    },
    fix: `raise max-age to a year: ${HSTS_HEADER}`,
  },
  {
    id: 'hsts-invalid',
    severity: 'medium',
    title: 'HSTS disabled or invalid',
    observe: (facts) => {
      const hsts = facts.http?.hsts;
      if (hsts?.status === 'disabled') return { detail: 'The Strict-Transport-Security header sets max-age=0, which tells browsers to forget HSTS.', evidence: [hsts.header ?? 'max-age=0'] };
      return hsts?.status === 'invalid'
        ? { detail: `Browsers ignore the Strict-Transport-Security header: ${hsts.error ?? 'it cannot be parsed'}.`, evidence: hsts.header === null ? [] : [hsts.header] }
        : null;
    },
    fix: `send a valid header, e.g. ${HSTS_HEADER}`,
  },
];

function vulnerabilityFindings(facts: EndpointFacts): Finding[] {
  return facts.vulnerabilities
    .filter((v) => v.status === 'vulnerable')
    .map((v) => {
      const known = KNOWN_VULNERABILITIES.find((k) => k.id === v.id);
      const name = known?.name ?? v.id;
      return {
        id: v.id,
        severity: 'critical',
        title: `Vulnerable to ${name}`,
        detail: `The active probe found the server vulnerable to ${name}.`,
        fix: known?.fix ?? 'patch or upgrade the TLS implementation',
        evidence: [v.detail ?? `probe ${v.id}: vulnerable`],
      };
    });
}

const FINDING_CHECKS: readonly FindingCheck[] = [...PROTOCOL_CHECKS, ...KEY_EXCHANGE_CHECKS, ...CIPHER_CHECKS, ...CERTIFICATE_CHECKS, ...HTTP_CHECKS];

/** Every finding for the endpoint, most severe first. */
export function findingsFor(facts: EndpointFacts): Finding[] {
  const checked = FINDING_CHECKS.flatMap((check): Finding[] => {
    const observation = check.observe(facts);
    if (observation === null) return [];
    return [{ id: check.id, severity: observation.severity ?? check.severity, title: check.title, detail: observation.detail, fix: check.fix, evidence: observation.evidence }];
  });
  const all = [...vulnerabilityFindings(facts), ...checked];
  return all.sort((a, b) => SEVERITY_ORDER.indexOf(a.severity) - SEVERITY_ORDER.indexOf(b.severity));
}
