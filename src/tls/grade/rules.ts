/**
 * The caps and overrides of the rating guide (2009r), one entry per rule, in the order a reader meets
 * them: certificate trust, certificate, protocols, key exchange, ciphers, implementation bugs, HTTP.
 * Each entry decides from EndpointFacts alone; grade.ts combines them with the scores.
 */
import type { EndpointFacts, ProtocolName, SuiteResult } from '../model.js';
import {
  KNOWN_VULNERABILITIES,
  bestProtocol,
  describeKey,
  describeSuite,
  dhPrimeSizes,
  isRc4,
  keyStrength,
  leafCertificate,
  protocolLabel,
  referenceClientProblem,
  servedChain,
  supportedProtocols,
  supports,
  usesMd5OrMd2,
  usesSha1,
  type NegotiatedSuite,
} from './facts.js';
import type { GradeContext, GradeRule, RuleEvidence } from './types.js';

/** HSTS max-age SSL Labs requires for A+ (LONG_MAX_AGE, 180 days). */
export const LONG_HSTS_MAX_AGE = 15_552_000;
const RECOMMENDED_HSTS = 'Strict-Transport-Security: max-age=31536000; includeSubDomains';

const found = (items: readonly string[], basis?: string): RuleEvidence | null =>
  items.length === 0 ? null : basis === undefined ? { items } : { items, basis };

const foundOne = (item: string | undefined): RuleEvidence | null => found(item === undefined ? [] : [item]);

const listed = (evidence: RuleEvidence): string => evidence.items.join(', ');

function suitesWhere(facts: EndpointFacts, predicate: (suite: SuiteResult) => boolean): RuleEvidence | null {
  return found(facts.suites.filter(predicate).map(describeSuite));
}

function protocolEnabled(protocol: ProtocolName) {
  return (facts: EndpointFacts): RuleEvidence | null => found(supports(facts, protocol) ? [protocolLabel(protocol)] : []);
}

function referenceClientsGet(problem: (suite: NegotiatedSuite) => boolean) {
  return (facts: EndpointFacts): RuleEvidence | null => {
    const outcome = referenceClientProblem(facts, problem);
    return outcome ? found(outcome.items, outcome.basis) : null;
  };
}

const onTls11Or12 = (suite: NegotiatedSuite): boolean => suite.protocol === 'TLSv1.1' || suite.protocol === 'TLSv1.2';

function dateOnly(iso: string): string {
  return iso.slice(0, 10);
}

const expiredOn = (facts: EndpointFacts, { now }: GradeContext): string | undefined => {
  const chain = servedChain(facts);
  const leaf = chain?.served[0];
  if (chain === undefined || leaf === undefined) return undefined;
  if (Date.parse(leaf.notAfter) < now.getTime()) return `the certificate expired on ${dateOnly(leaf.notAfter)}`;
  if (Date.parse(chain.earliestExpiry) < now.getTime()) return `a certificate in the chain expired on ${dateOnly(chain.earliestExpiry)}`;
  return undefined;
};

const notYetValidFrom = (facts: EndpointFacts, { now }: GradeContext): string | undefined => {
  const leaf = leafCertificate(facts);
  return leaf !== undefined && Date.parse(leaf.notBefore) > now.getTime() ? dateOnly(leaf.notBefore) : undefined;
};

const selfSignedAndUntrusted = (facts: EndpointFacts): boolean => servedChain(facts)?.trusted === false && leafCertificate(facts)?.selfSigned === true;

const CERTIFICATE_FIX = 'install a certificate from a publicly trusted CA that covers this host name, and serve it with its intermediates';

/**
 * Revocation (SSL Labs: F for a revoked certificate) is not decided here: the native engine does not
 * fetch CRLs or query OCSP. A rule belongs here once CertificateChainResult reports revocation status.
 */
const TRUST_RULES: readonly GradeRule[] = [
  {
    rule: 'hostname-mismatch',
    effect: 'set',
    grade: 'M',
    trust: true,
    appliesTo: (facts, { host }) => {
      const chain = servedChain(facts);
      if (chain === undefined || chain.hostnameMatch) return null;
      const leaf = chain.served[0];
      const names = leaf ? [...new Set([...leaf.commonNames.map((cn) => `CN=${cn}`), ...leaf.altNames])] : [];
      return { items: [host, ...names] };
    },
    reason: ({ items: [host, ...names] }) => `the certificate is not valid for ${host} (it names ${names.length > 0 ? names.join(', ') : 'no host'})`,
    fix: 'serve a certificate whose subjectAltName lists this host name (check the server picks it for this SNI)',
  },
  {
    rule: 'certificate-expired',
    effect: 'set',
    grade: 'T',
    trust: true,
    appliesTo: (facts, context) => foundOne(expiredOn(facts, context)),
    reason: listed,
    fix: 'renew the certificate, install it with its current intermediates and reload the server',
  },
  {
    rule: 'certificate-not-yet-valid',
    effect: 'set',
    grade: 'T',
    trust: true,
    appliesTo: (facts, context) => foundOne(notYetValidFrom(facts, context)),
    reason: (e) => `the certificate is not valid before ${listed(e)}`,
    fix: "check the server's clock and the certificate's notBefore date; install a certificate that is valid now",
  },
  {
    rule: 'self-signed',
    effect: 'set',
    grade: 'T',
    trust: true,
    appliesTo: (facts) => {
      const leaf = leafCertificate(facts);
      return leaf && selfSignedAndUntrusted(facts) ? { items: [leaf.subject] } : null;
    },
    reason: (e) => `the certificate is self-signed (${listed(e)})`,
    fix: CERTIFICATE_FIX,
  },
  {
    rule: 'sha1-signature',
    effect: 'set',
    grade: 'T',
    trust: true,
    appliesTo: (facts) => {
      const leaf = leafCertificate(facts);
      return leaf && usesSha1(leaf.sigAlg) ? { items: [leaf.sigAlg] } : null;
    },
    reason: (e) => `the certificate is signed with SHA-1 (${listed(e)})`,
    fix: 'reissue the certificate with a SHA-256 signature',
  },
  {
    rule: 'untrusted',
    effect: 'set',
    grade: 'T',
    trust: true,
    // Expiry, validity start and self-signing have rules of their own; this one covers every other reason.
    appliesTo: (facts, context) => {
      const chain = servedChain(facts);
      if (chain === undefined || chain.trusted) return null;
      if (expiredOn(facts, context) || notYetValidFrom(facts, context) || selfSignedAndUntrusted(facts)) return null;
      return { items: [chain.trustError ?? 'no path to a trusted root'] };
    },
    reason: (e) => `the certificate is not trusted: ${listed(e)}`,
    fix: CERTIFICATE_FIX,
  },
];

const CERTIFICATE_RULES: readonly GradeRule[] = [
  {
    rule: 'insecure-key',
    effect: 'set',
    grade: 'F',
    appliesTo: (facts) => {
      const leaf = leafCertificate(facts);
      const strength = leaf && keyStrength(leaf);
      return leaf && strength !== undefined && strength < 1024 ? { items: [describeKey(leaf)] } : null;
    },
    reason: (e) => `the certificate key is insecure (${listed(e)})`,
    fix: 'generate a new RSA 2048+ or ECDSA P-256 key and reissue the certificate',
  },
  {
    rule: 'rsa-exponent-1',
    effect: 'set',
    grade: 'F',
    appliesTo: (facts) => found(leafCertificate(facts)?.rsaExponent === 1 ? ['e = 1'] : []),
    reason: () => 'the certificate RSA key uses public exponent 1, which does not encrypt',
    fix: 'generate a new RSA key (exponent 65537) and reissue the certificate',
  },
  {
    rule: 'insecure-signature',
    effect: 'set',
    grade: 'F',
    // A trust anchor's self-signature is never checked, so only the certificates below it count.
    appliesTo: (facts) =>
      found((servedChain(facts)?.served ?? []).filter((c, i) => (i === 0 || !c.selfSigned) && usesMd5OrMd2(c.sigAlg)).map((c) => `${c.subject}: ${c.sigAlg}`)),
    reason: (e) => `a certificate is signed with MD2 or MD5 (${listed(e)})`,
    fix: 'reissue the certificate (and any intermediate signed with MD5) with a SHA-256 signature',
  },
  {
    rule: 'weak-key',
    effect: 'cap',
    grade: 'B',
    appliesTo: (facts) => {
      const leaf = leafCertificate(facts);
      const strength = leaf && keyStrength(leaf);
      return leaf && strength !== undefined && strength >= 1024 && strength < 2048 ? { items: [describeKey(leaf)] } : null;
    },
    reason: (e) => `the certificate key is weaker than RSA 2048 (${listed(e)})`,
    fix: 'generate an RSA 2048+ or ECDSA P-256 key and reissue the certificate',
  },
  {
    rule: 'incomplete-chain',
    effect: 'cap',
    grade: 'B',
    appliesTo: (facts) => found(servedChain(facts)?.issues.incomplete ? ['intermediate certificate missing'] : []),
    reason: () => 'the server does not send the intermediate certificates',
    fix: 'serve the full chain (leaf, then each intermediate) — e.g. the fullchain.pem file, not cert.pem',
  },
];

const PROTOCOL_RULES: readonly GradeRule[] = [
  {
    rule: 'sslv2-enabled',
    effect: 'set',
    grade: 'F',
    appliesTo: protocolEnabled('SSLv2'),
    reason: () => 'SSL 2.0 is enabled',
    fix: 'disable SSL 2.0 (and SSL 3.0, TLS 1.0, TLS 1.1); keep TLS 1.2 and 1.3',
  },
  {
    rule: 'sslv3-best',
    effect: 'set',
    grade: 'F',
    appliesTo: (facts) => found(bestProtocol(facts) === 'SSLv3' ? ['SSL 3.0'] : []),
    reason: () => 'SSL 3.0 is the best protocol the server supports',
    fix: 'enable TLS 1.2 and TLS 1.3 and disable SSL 3.0',
  },
  {
    rule: 'sslv3-enabled',
    effect: 'cap',
    grade: 'B',
    appliesTo: protocolEnabled('SSLv3'),
    reason: () => 'SSL 3.0 is enabled',
    fix: 'disable SSL 3.0 (and TLS 1.0, TLS 1.1); keep TLS 1.2 and 1.3',
  },
  {
    rule: 'poodle-sslv3',
    effect: 'cap',
    grade: 'C',
    appliesTo: (facts) => suitesWhere(facts, (s) => s.protocol === 'SSLv3' && s.cbc),
    reason: (e) => `SSL 3.0 accepts CBC suites, open to POODLE (${listed(e)})`,
    fix: 'disable SSL 3.0',
  },
  {
    rule: 'no-tls12',
    effect: 'cap',
    grade: 'C',
    appliesTo: (facts) => {
      const protocols = supportedProtocols(facts);
      return protocols.length > 0 && !protocols.includes('TLSv1.2') && !protocols.includes('TLSv1.3') ? { items: protocols.map(protocolLabel) } : null;
    },
    reason: (e) => `neither TLS 1.2 nor TLS 1.3 is supported (only ${listed(e)})`,
    fix: 'enable TLS 1.2 and TLS 1.3 (upgrade the TLS library if it cannot)',
  },
  {
    rule: 'tls10-enabled',
    effect: 'cap',
    grade: 'B',
    appliesTo: protocolEnabled('TLSv1.0'),
    reason: () => 'TLS 1.0 is enabled',
    fix: 'disable TLS 1.0 and TLS 1.1; keep TLS 1.2 and 1.3',
  },
  {
    rule: 'tls11-enabled',
    effect: 'cap',
    grade: 'B',
    appliesTo: protocolEnabled('TLSv1.1'),
    reason: () => 'TLS 1.1 is enabled',
    fix: 'disable TLS 1.0 and TLS 1.1; keep TLS 1.2 and 1.3',
  },
  {
    rule: 'no-tls13',
    effect: 'warning',
    grade: 'A-',
    appliesTo: (facts) => {
      const best = bestProtocol(facts);
      return best !== undefined && best !== 'TLSv1.3' ? { items: [protocolLabel(best)] } : null;
    },
    reason: (e) => `TLS 1.3 is not supported (best is ${listed(e)})`,
    fix: 'enable TLS 1.3 (OpenSSL 1.1.1+, nginx ssl_protocols TLSv1.2 TLSv1.3)',
  },
  // Insecure client-initiated renegotiation (SSL Labs: F) needs a finished handshake to test; only the
  // missing RFC 5746 extension is measured, which the guide rates as a warning.
  {
    rule: 'no-secure-renegotiation',
    effect: 'warning',
    grade: 'A-',
    appliesTo: (facts) => found(facts.features.secureRenegotiation === false ? ['renegotiation_info not echoed'] : []),
    reason: () => 'secure renegotiation (RFC 5746) is not supported',
    fix: 'upgrade the TLS library to one that supports RFC 5746 secure renegotiation',
  },
];

const KEY_EXCHANGE_RULES: readonly GradeRule[] = [
  {
    rule: 'anonymous-suites',
    effect: 'set',
    grade: 'F',
    appliesTo: (facts) => suitesWhere(facts, (s) => s.anonymous),
    reason: (e) => `anonymous (unauthenticated) key exchange is accepted (${listed(e)})`,
    fix: 'remove anonymous suites (add !aNULL to the cipher string)',
  },
  {
    rule: 'export-suites',
    effect: 'set',
    grade: 'F',
    appliesTo: (facts) => suitesWhere(facts, (s) => s.export),
    reason: (e) => `export-grade suites are accepted, open to FREAK/Logjam (${listed(e)})`,
    fix: 'remove EXPORT suites (add !EXPORT to the cipher string)',
  },
  {
    rule: 'insecure-dh',
    effect: 'set',
    grade: 'F',
    appliesTo: (facts) => found(dhPrimeSizes(facts).filter((bits) => bits < 1024).map((bits) => `DH ${bits} bits`)),
    reason: (e) => `Diffie-Hellman parameters are weaker than 1024 bits, open to Logjam (${listed(e)})`,
    fix: 'use ECDHE, or DHE with a 2048-bit+ group (RFC 7919 ffdhe2048, e.g. nginx ssl_dhparam)',
  },
  {
    rule: 'weak-dh',
    effect: 'cap',
    grade: 'B',
    appliesTo: (facts) => found(dhPrimeSizes(facts).filter((bits) => bits >= 1024 && bits < 2048).map((bits) => `DH ${bits} bits`)),
    reason: (e) => `Diffie-Hellman parameters are weaker than 2048 bits (${listed(e)})`,
    fix: 'use a 2048-bit+ DH group (RFC 7919 ffdhe2048) or drop DHE suites in favour of ECDHE',
  },
  {
    rule: 'no-forward-secrecy',
    effect: 'cap',
    grade: 'B',
    appliesTo: referenceClientsGet((s) => !s.fs),
    reason: (e) => `modern clients negotiate suites without forward secrecy (${listed(e)})`,
    fix: 'enable ECDHE suites and order them first (e.g. the Mozilla "intermediate" configuration)',
  },
];

const CIPHER_RULES: readonly GradeRule[] = [
  {
    rule: 'rc4-only',
    effect: 'set',
    grade: 'F',
    appliesTo: (facts) => (facts.suites.length > 0 && facts.suites.every(isRc4) ? suitesWhere(facts, isRc4) : null),
    reason: (e) => `RC4 is the only cipher accepted (${listed(e)})`,
    fix: 'enable AES-GCM and ChaCha20-Poly1305 suites and remove RC4',
  },
  {
    rule: 'rc4-modern',
    effect: 'cap',
    grade: 'C',
    appliesTo: referenceClientsGet((s) => s.rc4 && onTls11Or12(s)),
    reason: (e) => `modern clients negotiate RC4 on TLS 1.1+ (${listed(e)})`,
    fix: 'remove RC4 suites (add !RC4 to the cipher string)',
  },
  {
    rule: 'rc4',
    effect: 'cap',
    grade: 'B',
    appliesTo: (facts) => suitesWhere(facts, isRc4),
    reason: (e) => `RC4 suites are accepted (${listed(e)})`,
    fix: 'remove RC4 suites (add !RC4 to the cipher string)',
  },
  {
    rule: 'sweet32-modern',
    effect: 'cap',
    grade: 'C',
    appliesTo: referenceClientsGet((s) => s.smallBlock && onTls11Or12(s)),
    reason: (e) => `modern clients negotiate 64-bit block ciphers (3DES) on TLS 1.1/1.2, open to SWEET32 (${listed(e)})`,
    fix: 'remove 3DES and other 64-bit block suites, or at least order them last with server preference on',
  },
  {
    rule: 'no-aead',
    effect: 'cap',
    grade: 'B',
    appliesTo: referenceClientsGet((s) => !s.aead),
    reason: (e) => `modern clients negotiate suites without authenticated encryption (${listed(e)})`,
    fix: 'enable AES-GCM and ChaCha20-Poly1305 suites (TLS 1.2) and TLS 1.3',
  },
  {
    rule: 'crime',
    effect: 'cap',
    grade: 'C',
    appliesTo: (facts) => found(facts.features.compression === true ? ['DEFLATE'] : []),
    reason: () => 'TLS compression is enabled, open to CRIME',
    fix: 'disable TLS compression (OpenSSL: SSL_OP_NO_COMPRESSION; upgrade very old stacks)',
  },
];

const VULNERABILITY_RULES: readonly GradeRule[] = KNOWN_VULNERABILITIES.map(
  ({ id, name, fix }): GradeRule => ({
    rule: id,
    effect: 'set',
    grade: 'F',
    appliesTo: (facts) => {
      const result = facts.vulnerabilities.find((v) => v.id === id && v.status === 'vulnerable');
      return result ? { items: [result.detail ?? name] } : null;
    },
    reason: (e) => `vulnerable to ${name}${e.items[0] === name ? '' : ` (${listed(e)})`}`,
    fix,
  }),
);

const HTTP_RULES: readonly GradeRule[] = [
  {
    rule: 'hsts-invalid',
    effect: 'warning',
    grade: 'A-',
    appliesTo: (facts) => {
      const hsts = facts.http?.hsts;
      if (hsts?.status === 'disabled') return { items: [hsts.header ?? 'max-age=0'] };
      return hsts?.status === 'invalid' ? { items: [hsts.error ?? hsts.header ?? 'unparsable header'] } : null;
    },
    reason: (e) => `the HSTS header is disabled or invalid (${listed(e)})`,
    fix: `send a valid header with a positive max-age, e.g. ${RECOMMENDED_HSTS}`,
  },
  {
    rule: 'hsts-missing',
    effect: 'no-a-plus',
    grade: 'A',
    appliesTo: (facts) => {
      const http = facts.http;
      if (http === null) return { items: ['no HTTP response to check'] };
      return http.hsts.status === 'absent' || http.hsts.status === 'unknown' ? { items: [http.hsts.error ?? `HSTS ${http.hsts.status}`] } : null;
    },
    reason: (e) => `HSTS is not set (${listed(e)})`,
    fix: `send ${RECOMMENDED_HSTS} on every HTTPS response`,
  },
  {
    rule: 'hsts-short',
    effect: 'no-a-plus',
    grade: 'A',
    appliesTo: (facts) => {
      const hsts = facts.http?.hsts;
      return hsts?.status === 'present' && (hsts.maxAge ?? 0) < LONG_HSTS_MAX_AGE ? { items: [`max-age=${hsts.maxAge ?? 0}`] } : null;
    },
    reason: (e) => `the HSTS max-age is shorter than 180 days (${listed(e)})`,
    fix: `raise the HSTS max-age to at least ${LONG_HSTS_MAX_AGE} (180 days), e.g. ${RECOMMENDED_HSTS}`,
  },
];

/** Rating guide 2009r, every rule decidable from EndpointFacts. */
export const GRADE_RULES: readonly GradeRule[] = [
  ...TRUST_RULES,
  ...CERTIFICATE_RULES,
  ...PROTOCOL_RULES,
  ...KEY_EXCHANGE_RULES,
  ...CIPHER_RULES,
  ...VULNERABILITY_RULES,
  ...HTTP_RULES,
];

