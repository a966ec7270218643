/** Code points of the TLS record and handshake layers (RFC 5246, RFC 8446 and the extension RFCs). */

export const ContentType = {
  changeCipherSpec: 20,
  alert: 21,
  handshake: 22,
  applicationData: 23,
  heartbeat: 24,
} as const;

export const HandshakeType = {
  helloRequest: 0,
  clientHello: 1,
  serverHello: 2,
  newSessionTicket: 4,
  certificate: 11,
  serverKeyExchange: 12,
  certificateRequest: 13,
  serverHelloDone: 14,
  certificateStatus: 22,
} as const;

export const ExtensionType = {
  serverName: 0x0000,
  statusRequest: 0x0005,
  supportedGroups: 0x000a,
  ecPointFormats: 0x000b,
  signatureAlgorithms: 0x000d,
  heartbeat: 0x000f,
  alpn: 0x0010,
  padding: 0x0015,
  extendedMasterSecret: 0x0017,
  sessionTicket: 0x0023,
  supportedVersions: 0x002b,
  cookie: 0x002c,
  pskKeyExchangeModes: 0x002d,
  keyShare: 0x0033,
  renegotiationInfo: 0xff01,
} as const;

export const AlertLevel = { warning: 1, fatal: 2 } as const;

export const AlertDescription = {
  closeNotify: 0,
  unexpectedMessage: 10,
  handshakeFailure: 40,
  illegalParameter: 47,
  decodeError: 50,
  protocolVersion: 70,
  insufficientSecurity: 71,
  internalError: 80,
  inappropriateFallback: 86,
} as const;

/** RFC 8446 §4.1.3: a ServerHello with this random is a HelloRetryRequest (SHA-256 of "HelloRetryRequest"). */
export const HELLO_RETRY_REQUEST_RANDOM = Buffer.from('cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c', 'hex');

/** RFC 8446 §4.1.3: last 8 random bytes of a TLS 1.3-capable server negotiating TLS 1.2 (…01) or lower (…00). */
export const DOWNGRADE_SENTINEL_TLS12 = Buffer.from('444f574e47524401', 'hex');
export const DOWNGRADE_SENTINEL_TLS11 = Buffer.from('444f574e47524400', 'hex');

/** Largest plaintext fragment; ciphertext may exceed it by 2048 bytes (TLS ≤ 1.2), which bounds any record. */
export const MAX_PLAINTEXT = 2 ** 14;
export const MAX_RECORD = MAX_PLAINTEXT + 2048;

/** SSLv2 message types (RFC 6101 Appendix E, draft-hickman-netscape-ssl-00). */
export const Sslv2MessageType = { error: 0, clientHello: 1, serverHello: 4 } as const;
export const SSLV2_VERSION = 0x0002;

/** SSLv2 ERROR message codes, reported as alerts named `sslv2_…`. */
export const SSLV2_ERROR_NAMES: Readonly<Record<number, string>> = {
  1: 'sslv2_no_cipher',
  2: 'sslv2_no_certificate',
  4: 'sslv2_bad_certificate',
  6: 'sslv2_unsupported_certificate_type',
};

/** TLS alert descriptions (IANA "TLS Alerts" registry). */
export const ALERT_NAMES: Readonly<Record<number, string>> = {
  0: 'close_notify',
  10: 'unexpected_message',
  20: 'bad_record_mac',
  21: 'decryption_failed',
  22: 'record_overflow',
  30: 'decompression_failure',
  40: 'handshake_failure',
  41: 'no_certificate',
  42: 'bad_certificate',
  43: 'unsupported_certificate',
  44: 'certificate_revoked',
  45: 'certificate_expired',
  46: 'certificate_unknown',
  47: 'illegal_parameter',
  48: 'unknown_ca',
  49: 'access_denied',
  50: 'decode_error',
  51: 'decrypt_error',
  60: 'export_restriction',
  70: 'protocol_version',
  71: 'insufficient_security',
  80: 'internal_error',
  86: 'inappropriate_fallback',
  90: 'user_canceled',
  100: 'no_renegotiation',
  109: 'missing_extension',
  110: 'unsupported_extension',
  111: 'certificate_unobtainable',
  112: 'unrecognized_name',
  113: 'bad_certificate_status_response',
  114: 'bad_certificate_hash_value',
  115: 'unknown_psk_identity',
  116: 'certificate_required',
  120: 'no_application_protocol',
};

export function alertName(description: number): string {
  return ALERT_NAMES[description] ?? `unknown_alert_${description}`;
}
