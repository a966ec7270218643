/** The TLS wire layer: pure byte builders and parsers, plus the suite/group/version catalogue. */
export * from './catalogue/index.js';
export {
  AlertDescription,
  AlertLevel,
  ALERT_NAMES,
  ContentType,
  ExtensionType,
  HandshakeType,
  HELLO_RETRY_REQUEST_RANDOM,
  DOWNGRADE_SENTINEL_TLS11,
  DOWNGRADE_SENTINEL_TLS12,
  alertName,
} from './constants.js';
export { WireError, type WireErrorCode } from './errors.js';
export {
  buildClientHello,
  buildSslv2ClientHello,
  parseClientHello,
  DEFAULT_GROUPS,
  DEFAULT_KEY_SHARE_GROUPS,
  DEFAULT_SIGNATURE_ALGORITHMS,
  type ClientHelloOptions,
  type KeyShareEntry,
  type ParsedClientHello,
} from './client-hello.js';
export { keyShareFor } from './key-share.js';
export type { ServerHello, Sslv2ServerHello } from './server-hello.js';
export { ServerFlightParser, DEFAULT_MAX_FLIGHT_BYTES, type ServerEvent } from './server-flight.js';
export { parseServerKeyExchange, encodeServerKeyExchange, bitLength, type ServerKeyExchange } from './server-key-exchange.js';
export {
  alertRecord,
  changeCipherSpecRecord,
  encodeCertificate,
  encodeCertificateStatus,
  encodeServerHello,
  encodeServerHelloDone,
  encodeServerKeyExchangeMessage,
  encodeSslv2ServerHello,
  handshakeRecords,
  serverKeyShareExtension,
  serverSupportedVersionExtension,
  sslv2ErrorRecord,
  type ServerHelloFields,
} from './server-messages.js';
