/** The server's first messages, parsed from complete message bodies (the flight parser frames them). */
import type { ProtocolName } from '../model.js';
import { protocolFromVersion } from './catalogue/index.js';
import { ExtensionType, HELLO_RETRY_REQUEST_RANDOM, SSLV2_ERROR_NAMES } from './constants.js';
import { readExtensionBody, readExtensions } from './extensions.js';
import { ByteReader } from './reader.js';

export interface ServerHello {
  legacyVersion: number;
  /** From supported_versions when present, else from legacyVersion; undefined for a version we do not know. */
  version: ProtocolName | undefined;
  random: Buffer;
  sessionId: Buffer;
  cipherSuite: number;
  compressionMethod: number;
  extensions: Map<number, Buffer>;
  isHelloRetryRequest: boolean;
  /** The key_share group (TLS 1.3 ServerHello) or the group a HelloRetryRequest asks for. */
  selectedGroup?: number;
  alpn?: string;
  secureRenegotiation: boolean;
  extendedMasterSecret: boolean;
  sessionTicket: boolean;
  statusRequest: boolean;
  heartbeat: boolean;
  cookie?: Buffer;
}

export interface Sslv2ServerHello {
  version: number;
  cipherKinds: number[];
  /** DER of the server certificate; null when the server sent none. */
  certificate: Buffer | null;
  connectionId: Buffer;
}

export function parseServerHello(body: Buffer): ServerHello {
  const reader = new ByteReader(body, 'ServerHello');
  const legacyVersion = reader.u16('server_version');
  const random = reader.bytes(32, 'random');
  const sessionId = reader.vector(1, 'session_id', 0, 32);
  const cipherSuite = reader.u16('cipher_suite');
  const compressionMethod = reader.u8('compression_method');
  // SSLv3 and early TLS servers may end the message here.
  const extensions = reader.remaining === 0 ? new Map<number, Buffer>() : readExtensions(reader, 'ServerHello');
  reader.end();
  const isHelloRetryRequest = random.equals(HELLO_RETRY_REQUEST_RANDOM);
  const supportedVersion = extensions.get(ExtensionType.supportedVersions);
  const hello: ServerHello = {
    legacyVersion,
    version: protocolFromVersion(
      supportedVersion === undefined ? legacyVersion : readExtensionBody(supportedVersion, 'supported_versions', (r) => r.u16('selected_version')),
    ),
    random,
    sessionId,
    cipherSuite,
    compressionMethod,
    extensions,
    isHelloRetryRequest,
    secureRenegotiation: extensions.has(ExtensionType.renegotiationInfo),
    extendedMasterSecret: extensions.has(ExtensionType.extendedMasterSecret),
    sessionTicket: extensions.has(ExtensionType.sessionTicket),
    statusRequest: extensions.has(ExtensionType.statusRequest),
    heartbeat: extensions.has(ExtensionType.heartbeat),
  };
  const keyShare = extensions.get(ExtensionType.keyShare);
  if (keyShare !== undefined) {
    hello.selectedGroup = readExtensionBody(keyShare, 'key_share', (r) => {
      const group = r.u16('group');
      if (!isHelloRetryRequest) r.vector(2, 'key_exchange', 1); // a ServerHello carries the server's share
      return group;
    });
  }
  const alpn = extensions.get(ExtensionType.alpn);
  if (alpn !== undefined) {
    hello.alpn = readExtensionBody(alpn, 'application_layer_protocol_negotiation', (r) => {
      const list = new ByteReader(r.vector(2, 'protocol_name_list', 2), 'protocol_name_list');
      const name = list.vector(1, 'protocol name', 1).toString('latin1');
      list.end(); // a server selects exactly one
      return name;
    });
  }
  const cookie = extensions.get(ExtensionType.cookie);
  if (cookie !== undefined) hello.cookie = readExtensionBody(cookie, 'cookie', (r) => r.vector(2, 'cookie', 1));
  return hello;
}

/** SERVER-HELLO body after the message type byte (draft-hickman-netscape-ssl-00). */
export function parseSslv2ServerHello(reader: ByteReader): Sslv2ServerHello {
  reader.u8('session_id_hit');
  reader.u8('certificate_type');
  const version = reader.u16('server_version');
  const certificateLength = reader.u16('certificate_length');
  const specsLength = reader.u16('cipher_specs_length');
  const connectionIdLength = reader.u16('connection_id_length');
  if (specsLength % 3 !== 0) reader.fail(`cipher_specs_length ${specsLength} is not a multiple of 3`);
  const certificate = reader.bytes(certificateLength, 'certificate');
  const specs = reader.bytes(specsLength, 'cipher_specs');
  const connectionId = reader.bytes(connectionIdLength, 'connection_id');
  reader.end();
  const cipherKinds: number[] = [];
  for (let i = 0; i < specs.length; i += 3) cipherKinds.push(specs.readUIntBE(i, 3));
  return { version, cipherKinds, certificate: certificateLength === 0 ? null : certificate, connectionId };
}

export function sslv2ErrorName(code: number): string {
  return SSLV2_ERROR_NAMES[code] ?? `sslv2_error_${code}`;
}

/** Certificate (TLS ≤ 1.2): certificate_list<0..2^24-1> of ASN.1Cert<1..2^24-1>. */
export function parseCertificateList(body: Buffer): Buffer[] {
  const reader = new ByteReader(body, 'Certificate');
  const list = new ByteReader(reader.vector(3, 'certificate_list'), 'certificate_list');
  reader.end();
  const certificates: Buffer[] = [];
  while (list.remaining > 0) certificates.push(list.vector(3, 'ASN.1Cert', 1));
  return certificates;
}

/** CertificateStatus: status_type(1) = ocsp(1), OCSPResponse<1..2^24-1>. */
export function parseCertificateStatus(body: Buffer): Buffer {
  const reader = new ByteReader(body, 'CertificateStatus');
  const statusType = reader.u8('status_type');
  if (statusType !== 1) reader.fail(`status_type ${statusType} is not ocsp (1)`, 'wire.unexpected');
  const response = reader.vector(3, 'OCSPResponse', 1);
  reader.end();
  return response;
}
