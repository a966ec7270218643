/** What a finished TLS handshake tells about the service. Pure (works on the DER certificate bytes). */
import { X509Certificate } from 'node:crypto';
import type { TlsServiceInfo } from '../../shared/model.js';

export interface TlsHandshakeFacts {
  /** `TLSSocket.getProtocol()` */
  protocol?: string | null;
  /** `TLSSocket.getCipher().name` */
  cipher?: string;
  /** `TLSSocket.alpnProtocol` */
  alpn?: string | false | null;
  /** DER of the leaf certificate, if the server sent one. */
  certificate?: Uint8Array;
  /** `TLSSocket.authorizationError` (we never reject, we only record). */
  authorizationError?: string | Error | null;
}

const MAX_SANS = 256;

/** `CN=example\nO=Org` (Node's X509 form) → `CN=example, O=Org`. */
export function formatDistinguishedName(dn: string): string {
  return dn
    .split('\n')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .join(', ');
}

/** Node's `DNS:a.test, IP Address:127.0.0.1` → `['DNS:a.test', 'IP Address:127.0.0.1']`. */
export function splitSubjectAltNames(san: string | undefined): string[] {
  if (san === undefined || san.trim() === '') return [];
  return san
    .split(/, (?=[A-Za-z][A-Za-z ]*:)/)
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .slice(0, MAX_SANS);
}

function isoDate(text: string): string | undefined {
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

/** True when the certificate names itself as issuer and its own key verifies its signature. */
export function isSelfSigned(cert: X509Certificate): boolean {
  try {
    return cert.checkIssued(cert) && cert.verify(cert.publicKey);
  } catch {
    return false;
  }
}

export function describeTlsHandshake(facts: TlsHandshakeFacts): TlsServiceInfo {
  const info: TlsServiceInfo = {};
  if (typeof facts.protocol === 'string' && facts.protocol !== 'unknown') info.version = facts.protocol;
  if (facts.cipher !== undefined && facts.cipher !== '') info.cipher = facts.cipher;
  if (typeof facts.alpn === 'string' && facts.alpn !== '') info.alpn = facts.alpn;
  if (facts.certificate !== undefined && facts.certificate.length > 0) {
    let cert: X509Certificate | undefined;
    try {
      cert = new X509Certificate(facts.certificate);
    } catch {
      cert = undefined;
    }
    if (cert !== undefined) {
      info.subject = formatDistinguishedName(cert.subject);
      info.issuer = formatDistinguishedName(cert.issuer);
      const sans = splitSubjectAltNames(cert.subjectAltName);
      if (sans.length > 0) info.subjectAltNames = sans;
      const notAfter = isoDate(cert.validTo);
      if (notAfter !== undefined) info.notAfter = notAfter;
      const authError = typeof facts.authorizationError === 'string' ? facts.authorizationError : facts.authorizationError?.message;
      info.selfSigned = authError === 'DEPTH_ZERO_SELF_SIGNED_CERT' || isSelfSigned(cert);
    }
  }
  return info;
}

/**
 * A handshake that failed with an alert from the peer still proves the port speaks TLS (OpenSSL error
 * codes `ERR_SSL_…_ALERT_…`); `WRONG_VERSION_NUMBER` and friends mean the peer answered something else.
 */
export function errorProvesTls(code: string | undefined): boolean {
  return (
    code !== undefined &&
    /^ERR_SSL_(?:.*_ALERT_|UNSUPPORTED_PROTOCOL$|UNSAFE_LEGACY_RENEGOTIATION_DISABLED$|DH_KEY_TOO_SMALL$|EE_KEY_TOO_SMALL$|CA_MD_TOO_WEAK$)/.test(code)
  );
}
