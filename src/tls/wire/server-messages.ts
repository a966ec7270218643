/** Builders for what a server sends: used by the scripted test responder and by the parsers' tests. */
import { randomBytes } from 'node:crypto';
import { AlertLevel, ContentType, ExtensionType, HandshakeType, SSLV2_VERSION, Sslv2MessageType } from './constants.js';
import { WireError } from './errors.js';
import { handshakeMessage, items, records, u16, u8, vector } from './writer.js';

export interface ServerHelloFields {
  legacyVersion: number;
  /** Default 32 random bytes. */
  random?: Buffer;
  sessionId: Buffer;
  cipherSuite: number;
  compressionMethod?: number;
  /** In order; null leaves the extensions block out (SSLv3 style). */
  extensions: ReadonlyArray<readonly [type: number, data: Buffer]> | null;
}

export function encodeServerHello(fields: ServerHelloFields): Buffer {
  const parts = [
    u16(fields.legacyVersion),
    fields.random ?? randomBytes(32),
    vector(1, fields.sessionId, 'session_id'),
    u16(fields.cipherSuite),
    u8(fields.compressionMethod ?? 0),
  ];
  if (fields.extensions !== null) {
    const block = fields.extensions.map(([type, data]) => Buffer.concat([u16(type), vector(2, data, `extension 0x${type.toString(16)}`)]));
    parts.push(vector(2, Buffer.concat(block), 'extensions'));
  }
  return handshakeMessage(HandshakeType.serverHello, Buffer.concat(parts));
}

/** key_share in a ServerHello (group + the server's share) or, without `keyExchange`, in a HelloRetryRequest (group only). */
export function serverKeyShareExtension(group: number, keyExchange?: Buffer): readonly [number, Buffer] {
  const body = keyExchange === undefined ? u16(group) : Buffer.concat([u16(group), vector(2, keyExchange, 'key_exchange')]);
  return [ExtensionType.keyShare, body];
}

/** supported_versions in a ServerHello / HelloRetryRequest: the one selected version. */
export function serverSupportedVersionExtension(version: number): readonly [number, Buffer] {
  return [ExtensionType.supportedVersions, u16(version)];
}

export function encodeCertificate(certificates: readonly Buffer[]): Buffer {
  const list = Buffer.concat(certificates.map((der) => vector(3, der, 'ASN.1Cert')));
  return handshakeMessage(HandshakeType.certificate, vector(3, list, 'certificate_list'));
}

export function encodeCertificateStatus(ocspResponse: Buffer): Buffer {
  return handshakeMessage(HandshakeType.certificateStatus, Buffer.concat([u8(1), vector(3, ocspResponse, 'OCSPResponse')]));
}

/** `body` from {@link encodeServerKeyExchange}. */
export function encodeServerKeyExchangeMessage(body: Buffer): Buffer {
  return handshakeMessage(HandshakeType.serverKeyExchange, body);
}

export function encodeServerHelloDone(): Buffer {
  return handshakeMessage(HandshakeType.serverHelloDone, Buffer.alloc(0));
}

/** Handshake messages packed into as few records as fit (several per record, one across records when large). */
export function handshakeRecords(messages: readonly Buffer[], recordVersion: number): Buffer {
  return records(ContentType.handshake, recordVersion, Buffer.concat(messages));
}

export function alertRecord(description: number, recordVersion: number, level: number = AlertLevel.fatal): Buffer {
  return records(ContentType.alert, recordVersion, Buffer.from([level, description]));
}

export function changeCipherSpecRecord(recordVersion: number): Buffer {
  return records(ContentType.changeCipherSpec, recordVersion, u8(1));
}

function sslv2Record(message: Buffer): Buffer {
  if (message.length > 0x7fff) throw new WireError('wire.oversized', `SSLv2 message of ${message.length} bytes does not fit a 2-byte record header`);
  return Buffer.concat([u16(0x8000 | message.length), message]);
}

export function encodeSslv2ServerHello(hello: { cipherKinds: readonly number[]; certificate: Buffer | null; connectionId?: Buffer; version?: number }): Buffer {
  const certificate = hello.certificate ?? Buffer.alloc(0);
  const specs = items(hello.cipherKinds, 3);
  const connectionId = hello.connectionId ?? randomBytes(16);
  return sslv2Record(
    Buffer.concat([
      u8(Sslv2MessageType.serverHello),
      u8(0), // session_id_hit: a fresh session
      u8(1), // certificate_type: X.509
      u16(hello.version ?? SSLV2_VERSION),
      u16(certificate.length),
      u16(specs.length),
      u16(connectionId.length),
      certificate,
      specs,
      connectionId,
    ]),
  );
}

export function sslv2ErrorRecord(code: number): Buffer {
  return sslv2Record(Buffer.concat([u8(Sslv2MessageType.error), u16(code)]));
}
