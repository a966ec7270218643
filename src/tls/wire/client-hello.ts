/**
 * ClientHello builders (TLS 1.0–1.3, SSLv3, SSLv2) and the matching parser the test responder uses.
 * Layouts: RFC 5246 §7.4.1.2, RFC 8446 §4.1.2, RFC 6101 Appendix E; extension choices follow the
 * research notes §4.3–4.5 (what real servers need, and what intolerant ones choke on).
 */
import { randomBytes } from 'node:crypto';
import type { ProtocolName } from '../model.js';
import { PROTOCOL_VERSIONS, SCSV, protocolFromVersion, suiteById } from './catalogue/index.js';
import { ContentType, ExtensionType, HandshakeType, MAX_RECORD, SSLV2_VERSION, Sslv2MessageType } from './constants.js';
import { WireError } from './errors.js';
import { readExtensionBody, readExtensions } from './extensions.js';
import { keyShareFor } from './key-share.js';
import { ByteReader } from './reader.js';
import { handshakeMessage, items, records, u16, u8, vector } from './writer.js';

export interface ClientHelloOptions {
  /** Highest version offered; 'TLSv1.3' → legacy_version 0x0303 + supported_versions. */
  version: ProtocolName;
  /** Explicit supported_versions list; default [version, …down to TLSv1.0] for a TLS 1.3 hello, none otherwise. */
  supportedVersions?: ProtocolName[];
  /** In order; SCSVs are added through the flags below. */
  suites: number[];
  /** Host name for server_name; null/absent/'' sends none (never put an IP literal here, RFC 6066 §3). */
  sni?: string | null;
  /** supported_groups; default {@link DEFAULT_GROUPS}; [] leaves the extension out. */
  groups?: number[];
  /** Groups to send key_share entries for (TLS 1.3); [] sends an empty key_share. Groups we cannot make a share for are left out. */
  keyShareGroups?: number[];
  /** Default {@link DEFAULT_SIGNATURE_ALGORITHMS} when TLS 1.2 or 1.3 is offered; never sent by default below TLS 1.2. */
  signatureAlgorithms?: number[];
  alpn?: string[];
  /** Default [0]; [1, 0] offers DEFLATE. */
  compressionMethods?: number[];
  /** RFC 5746 extension; default true, false for SSLv3. */
  renegotiationInfo?: boolean;
  /** Default: sent exactly when the renegotiation_info extension is not (RFC 5746 §3.3 asks for one of the two). */
  emptyRenegotiationScsv?: boolean;
  /** Append TLS_FALLBACK_SCSV 0x5600. */
  fallbackScsv?: boolean;
  /** Default true. */
  extendedMasterSecret?: boolean;
  /** true: empty extension ("I support tickets"); a Buffer: that ticket. Default true. */
  sessionTicket?: boolean | Buffer;
  /** OCSP stapling request; default true. */
  statusRequest?: boolean;
  heartbeat?: boolean;
  /** Default true when an EC suite is offered or TLS 1.3 is. */
  ecPointFormats?: boolean;
  /** Default 32 random bytes when TLS 1.3 is offered (middlebox compatibility), empty otherwise. */
  sessionId?: Buffer;
  /** Echoed after a HelloRetryRequest. */
  cookie?: Buffer;
  /** RFC 7685 padding so the hello never lands in the 256–511 byte range (F5 hang). */
  padding?: boolean;
  /** Default 0x0301 (0x0300 for an SSLv3 hello). */
  recordVersion?: number;
  /** No extensions block at all; default true for SSLv3, false otherwise. */
  noExtensions?: boolean;
}

export interface KeyShareEntry {
  group: number;
  keyExchange: Buffer;
}

/** What a ClientHello asked for, in the vocabulary of {@link ClientHelloOptions}. */
export interface ParsedClientHello {
  /** 'sslv2': the SSLv2-compatible format (no extensions), pure SSLv2 or advertising a TLS version. */
  format: 'tls' | 'sslv2';
  /** null for the SSLv2 format, which has no record layer version. */
  recordVersion: number | null;
  legacyVersion: number;
  /** Highest version offered: from supported_versions when present, else legacy_version (SSLv2 for 0x0002). */
  version: ProtocolName | undefined;
  /** From supported_versions (unknown values such as GREASE left out); undefined when absent. */
  supportedVersions: ProtocolName[] | undefined;
  /** The client random (SSLv2: the challenge). */
  random: Buffer;
  sessionId: Buffer;
  /** TLS cipher suites, SCSVs taken out (see the flags). */
  suites: number[];
  /** SSLv2 format only: the 3-byte SSLv2 cipher kinds (those not of the form 0x00HHLL). */
  sslv2CipherKinds: number[];
  emptyRenegotiationScsv: boolean;
  fallbackScsv: boolean;
  compressionMethods: number[];
  noExtensions: boolean;
  extensions: Map<number, Buffer>;
  sni: string | null;
  groups: number[] | undefined;
  keyShares: KeyShareEntry[] | undefined;
  signatureAlgorithms: number[] | undefined;
  alpn: string[] | undefined;
  renegotiationInfo: boolean;
  extendedMasterSecret: boolean;
  sessionTicket: boolean | Buffer;
  statusRequest: boolean;
  heartbeat: boolean;
  ecPointFormats: boolean;
  cookie: Buffer | undefined;
  padding: boolean;
  /** Size of the handshake message with its 4-byte header (SSLv2: the message), for long-hello checks. */
  handshakeLength: number;
  /** Bytes of the input the hello occupied, records included. */
  bytesConsumed: number;
}

/** A broad modern list, most preferred first: what browsers offer plus the older curves a scanner must see. */
export const DEFAULT_GROUPS: readonly number[] = [
  0x001d, 0x0017, 0x0018, 0x0019, 0x001e, 0x11ec, 0x001a, 0x001b, 0x001c, 0x0016, 0x0015, 0x0100, 0x0101, 0x0102, 0x0103, 0x0104,
];

/** Modern schemes first, then the SHA-224 / SHA-1 / DSA ones legacy servers may only have. */
export const DEFAULT_SIGNATURE_ALGORITHMS: readonly number[] = [
  0x0403, 0x0503, 0x0603, 0x0807, 0x0808, 0x081a, 0x081b, 0x081c, 0x0804, 0x0805, 0x0806, 0x0809, 0x080a, 0x080b, 0x0401, 0x0501,
  0x0601, 0x0303, 0x0301, 0x0302, 0x0402, 0x0502, 0x0602, 0x0203, 0x0201, 0x0202,
];

export const DEFAULT_KEY_SHARE_GROUPS: readonly number[] = [0x001d, 0x0017];

const TLS13_DOWNWARDS: readonly ProtocolName[] = ['TLSv1.3', 'TLSv1.2', 'TLSv1.1', 'TLSv1.0'];
/** Any ClientHello body is smaller: its vectors cannot add up to more (2^16 suites + 2^16 extensions + change). */
const MAX_CLIENT_HELLO_BODY = 140_000;
const PADDED_HELLO_LENGTH = 512;

function isEcSuite(id: number): boolean {
  const suite = suiteById(id);
  return suite !== undefined && (suite.kx.includes('ECDH') || suite.auth === 'ECDSA');
}

function extension(type: number, data: Buffer): Buffer {
  return Buffer.concat([u16(type), vector(2, data, `extension 0x${type.toString(16)}`)]);
}

function serverNameExtension(host: string): Buffer {
  const name = Buffer.concat([u8(0), vector(2, Buffer.from(host, 'latin1'), 'server name')]);
  return vector(2, name, 'server_name list');
}

function keyShareExtension(groups: readonly number[]): Buffer {
  const entries: Buffer[] = [];
  for (const group of groups) {
    const share = keyShareFor(group);
    if (share !== undefined) entries.push(u16(group), vector(2, share, 'key_exchange'));
  }
  return vector(2, Buffer.concat(entries), 'client_shares');
}

/** Decisions buildClientHello takes once and the extensions follow. */
interface HelloPlan {
  supportedVersions: readonly ProtocolName[] | undefined;
  offersTls13: boolean;
  legacyVersion: number;
  renegotiationInfo: boolean;
}

/** The extensions, in an order that keeps a non-empty one last (some servers fail on an empty last extension). */
function clientExtensions(options: ClientHelloOptions, { supportedVersions, offersTls13, legacyVersion, renegotiationInfo }: HelloPlan): Buffer[] {
  const out: Buffer[] = [];
  const add = (type: number, data: Buffer): void => {
    out.push(extension(type, data));
  };
  if (options.sni !== undefined && options.sni !== null && options.sni !== '') add(ExtensionType.serverName, serverNameExtension(options.sni));
  if (options.extendedMasterSecret ?? true) add(ExtensionType.extendedMasterSecret, Buffer.alloc(0));
  if (renegotiationInfo) add(ExtensionType.renegotiationInfo, u8(0));
  const ticket = options.sessionTicket ?? true;
  if (ticket !== false) add(ExtensionType.sessionTicket, ticket === true ? Buffer.alloc(0) : ticket);
  if (options.statusRequest ?? true) add(ExtensionType.statusRequest, Buffer.from([1, 0, 0, 0, 0]));
  const groups = options.groups ?? DEFAULT_GROUPS;
  if (groups.length > 0) add(ExtensionType.supportedGroups, vector(2, items(groups, 2), 'named_group_list'));
  if (options.ecPointFormats ?? (offersTls13 || options.suites.some(isEcSuite))) add(ExtensionType.ecPointFormats, Buffer.from([1, 0]));
  if (options.alpn !== undefined && options.alpn.length > 0) {
    const names = options.alpn.map((name) => vector(1, Buffer.from(name, 'latin1'), 'ALPN protocol name'));
    add(ExtensionType.alpn, vector(2, Buffer.concat(names), 'ALPN protocol_name_list'));
  }
  if (supportedVersions !== undefined) add(ExtensionType.supportedVersions, vector(1, items(supportedVersions.map(versionNumber), 2), 'supported_versions'));
  if (offersTls13) add(ExtensionType.pskKeyExchangeModes, Buffer.from([1, 1])); // psk_dhe_ke: some servers fail without it
  if (options.cookie !== undefined) add(ExtensionType.cookie, vector(2, options.cookie, 'cookie'));
  if (offersTls13) add(ExtensionType.keyShare, keyShareExtension(options.keyShareGroups ?? DEFAULT_KEY_SHARE_GROUPS.filter((g) => groups.includes(g))));
  const signatureAlgorithms = options.signatureAlgorithms ?? (legacyVersion >= 0x0303 ? DEFAULT_SIGNATURE_ALGORITHMS : []);
  if (signatureAlgorithms.length > 0) add(ExtensionType.signatureAlgorithms, vector(2, items(signatureAlgorithms, 2), 'supported_signature_algorithms'));
  if (options.heartbeat === true) add(ExtensionType.heartbeat, u8(1)); // peer_allowed_to_send
  return out;
}

function versionNumber(version: ProtocolName): number {
  return PROTOCOL_VERSIONS[version];
}

/** A complete ClientHello, framed as one or more handshake records (split when over 2^14 bytes). */
export function buildClientHello(options: ClientHelloOptions): Buffer {
  if (options.version === 'SSLv2') throw new WireError('wire.unexpected', 'buildClientHello: SSLv2 hellos have their own format, use buildSslv2ClientHello');
  const supportedVersions = options.supportedVersions ?? (options.version === 'TLSv1.3' ? TLS13_DOWNWARDS : undefined);
  const offersTls13 = supportedVersions?.includes('TLSv1.3') ?? false;
  const legacyVersion = Math.min(versionNumber(options.version), 0x0303);
  const withExtensions = !(options.noExtensions ?? options.version === 'SSLv3');
  const renegotiationInfo = withExtensions && (options.renegotiationInfo ?? options.version !== 'SSLv3');
  const suites = [...options.suites];
  if (options.emptyRenegotiationScsv ?? !renegotiationInfo) suites.push(SCSV.emptyRenegotiationInfo);
  if (options.fallbackScsv === true) suites.push(SCSV.fallback);
  const sessionId = options.sessionId ?? (offersTls13 ? randomBytes(32) : Buffer.alloc(0));
  const head = Buffer.concat([
    u16(legacyVersion),
    randomBytes(32),
    vector(1, sessionId, 'session_id'),
    vector(2, items(suites, 2), 'cipher_suites'),
    vector(1, items(options.compressionMethods ?? [0], 1), 'compression_methods'),
  ]);
  let body = head;
  if (withExtensions) {
    const extensions = clientExtensions(options, { supportedVersions, offersTls13, legacyVersion, renegotiationInfo });
    body = Buffer.concat([head, vector(2, Buffer.concat(extensions), 'extensions')]);
    const messageLength = 4 + body.length;
    if (options.padding === true && messageLength >= 256 && messageLength < PADDED_HELLO_LENGTH) {
      // As BoringSSL does: grow the message to 512 bytes; the padding extension's own header takes 4.
      const padding = extension(ExtensionType.padding, Buffer.alloc(Math.max(1, PADDED_HELLO_LENGTH - messageLength - 4)));
      body = Buffer.concat([head, vector(2, Buffer.concat([...extensions, padding]), 'extensions')]);
    }
  }
  const recordVersion = options.recordVersion ?? (options.version === 'SSLv3' ? 0x0300 : 0x0301);
  return records(ContentType.handshake, recordVersion, handshakeMessage(HandshakeType.clientHello, body));
}

/**
 * An SSLv2-format CLIENT-HELLO: 3-byte cipher kinds (a TLS suite is written 0x00HHLL), no session id,
 * a 16-byte random challenge by default. `version` 0x0002 (default) is pure SSLv2; 0x0301 advertises TLS 1.0.
 */
export function buildSslv2ClientHello(options: { cipherKinds: number[]; version?: number; challenge?: Buffer }): Buffer {
  const challenge = options.challenge ?? randomBytes(16);
  if (challenge.length < 16 || challenge.length > 32) throw new WireError('wire.malformed', `SSLv2 challenge must be 16–32 bytes, got ${challenge.length}`);
  const specs = items(options.cipherKinds, 3);
  const message = Buffer.concat([
    u8(Sslv2MessageType.clientHello),
    u16(options.version ?? SSLV2_VERSION),
    u16(specs.length),
    u16(0),
    u16(challenge.length),
    specs,
    challenge,
  ]);
  if (message.length > 0x7fff) throw new WireError('wire.oversized', `SSLv2 hello of ${message.length} bytes does not fit a 2-byte record header`);
  return Buffer.concat([u16(0x8000 | message.length), message]);
}

function readServerName(reader: ByteReader): string | null {
  const list = new ByteReader(reader.vector(2, 'server_name_list', 1), 'server_name_list');
  while (list.remaining > 0) {
    const type = list.u8('name_type');
    const name = list.vector(2, 'host_name', 1);
    if (type === 0) return name.toString('latin1');
  }
  return null;
}

function readAlpn(reader: ByteReader): string[] {
  const list = new ByteReader(reader.vector(2, 'protocol_name_list', 2), 'protocol_name_list');
  const names: string[] = [];
  while (list.remaining > 0) names.push(list.vector(1, 'protocol name', 1).toString('latin1'));
  return names;
}

function readKeyShares(reader: ByteReader): KeyShareEntry[] {
  const list = new ByteReader(reader.vector(2, 'client_shares'), 'client_shares');
  const shares: KeyShareEntry[] = [];
  while (list.remaining > 0) shares.push({ group: list.u16('group'), keyExchange: list.vector(2, 'key_exchange', 1) });
  return shares;
}

function knownProtocols(versions: number[]): ProtocolName[] {
  return versions.map(protocolFromVersion).filter((p): p is ProtocolName => p !== undefined);
}

function highest(protocols: readonly ProtocolName[]): ProtocolName | undefined {
  return [...protocols].sort((a, b) => PROTOCOL_VERSIONS[b] - PROTOCOL_VERSIONS[a])[0];
}

/** Splits SCSVs out of a suite list. */
function splitSuites(all: number[]): Pick<ParsedClientHello, 'suites' | 'emptyRenegotiationScsv' | 'fallbackScsv'> {
  return {
    suites: all.filter((s) => s !== SCSV.emptyRenegotiationInfo && s !== SCSV.fallback),
    emptyRenegotiationScsv: all.includes(SCSV.emptyRenegotiationInfo),
    fallbackScsv: all.includes(SCSV.fallback),
  };
}

/** The TLS hello body (after the 4-byte handshake header) → the parsed fields. */
function parseTlsHelloBody(body: Buffer): Omit<ParsedClientHello, 'format' | 'recordVersion' | 'handshakeLength' | 'bytesConsumed'> {
  const reader = new ByteReader(body, 'ClientHello');
  const legacyVersion = reader.u16('client_version');
  const random = reader.bytes(32, 'random');
  const sessionId = reader.vector(1, 'session_id', 0, 32);
  const suites = splitSuites(reader.list(2, 2, 'cipher_suites', 2));
  const compressionMethods = reader.list(1, 1, 'compression_methods', 1);
  const noExtensions = reader.remaining === 0;
  const extensions = noExtensions ? new Map<number, Buffer>() : readExtensions(reader, 'ClientHello');
  reader.end();
  const ext = <T>(type: number, name: string, read: (r: ByteReader) => T): T | undefined => {
    const data = extensions.get(type);
    return data === undefined ? undefined : readExtensionBody(data, name, read);
  };
  const supportedVersionNumbers = ext(ExtensionType.supportedVersions, 'supported_versions', (r) => r.list(1, 2, 'versions', 2));
  const supportedVersions = supportedVersionNumbers === undefined ? undefined : knownProtocols(supportedVersionNumbers);
  const ticket = extensions.get(ExtensionType.sessionTicket);
  return {
    legacyVersion,
    version: supportedVersions === undefined ? protocolFromVersion(legacyVersion) : highest(supportedVersions),
    supportedVersions,
    random,
    sessionId,
    ...suites,
    sslv2CipherKinds: [],
    compressionMethods,
    noExtensions,
    extensions,
    sni: ext(ExtensionType.serverName, 'server_name', readServerName) ?? null,
    groups: ext(ExtensionType.supportedGroups, 'supported_groups', (r) => r.list(2, 2, 'named_group_list')),
    keyShares: ext(ExtensionType.keyShare, 'key_share', readKeyShares),
    signatureAlgorithms: ext(ExtensionType.signatureAlgorithms, 'signature_algorithms', (r) => r.list(2, 2, 'supported_signature_algorithms')),
    alpn: ext(ExtensionType.alpn, 'application_layer_protocol_negotiation', readAlpn),
    renegotiationInfo: extensions.has(ExtensionType.renegotiationInfo),
    extendedMasterSecret: extensions.has(ExtensionType.extendedMasterSecret),
    sessionTicket: ticket === undefined ? false : ticket.length === 0 ? true : Buffer.from(ticket),
    statusRequest: extensions.has(ExtensionType.statusRequest),
    heartbeat: extensions.has(ExtensionType.heartbeat),
    ecPointFormats: extensions.has(ExtensionType.ecPointFormats),
    cookie: ext(ExtensionType.cookie, 'cookie', (r) => r.vector(2, 'cookie', 1)),
    padding: extensions.has(ExtensionType.padding),
  };
}

function parseSslv2Hello(input: Buffer): ParsedClientHello {
  if (input.length < 2) throw new WireError('wire.truncated', 'SSLv2 ClientHello: the 2-byte header is incomplete');
  const length = ((input[0]! & 0x7f) << 8) | input[1]!;
  if (input.length < 2 + length) throw new WireError('wire.truncated', `SSLv2 ClientHello: header announces ${length} bytes, ${input.length - 2} present`);
  const reader = new ByteReader(input.subarray(2, 2 + length), 'SSLv2 ClientHello');
  const type = reader.u8('msg_type');
  if (type !== Sslv2MessageType.clientHello) reader.fail(`message type ${type} is not CLIENT-HELLO (1)`, 'wire.unexpected');
  const legacyVersion = reader.u16('version');
  const specsLength = reader.u16('cipher_spec_length');
  const sessionIdLength = reader.u16('session_id_length');
  const challengeLength = reader.u16('challenge_length');
  if (specsLength === 0 || specsLength % 3 !== 0) reader.fail(`cipher_spec_length ${specsLength} is not a positive multiple of 3`);
  if (sessionIdLength !== 0 && sessionIdLength !== 16) reader.fail(`session_id_length ${sessionIdLength} is neither 0 nor 16`);
  if (challengeLength < 16 || challengeLength > 32) reader.fail(`challenge_length ${challengeLength} is outside 16..32`);
  const specs = reader.bytes(specsLength, 'cipher_specs');
  const sessionId = reader.bytes(sessionIdLength, 'session_id');
  const challenge = reader.bytes(challengeLength, 'challenge');
  reader.end();
  const kinds: number[] = [];
  for (let i = 0; i < specs.length; i += 3) kinds.push(specs.readUIntBE(i, 3));
  return {
    format: 'sslv2',
    recordVersion: null,
    legacyVersion,
    version: protocolFromVersion(legacyVersion),
    supportedVersions: undefined,
    random: challenge,
    sessionId,
    ...splitSuites(kinds.filter((k) => k <= 0xffff)),
    sslv2CipherKinds: kinds.filter((k) => k > 0xffff),
    compressionMethods: [0],
    noExtensions: true,
    extensions: new Map(),
    sni: null,
    groups: undefined,
    keyShares: undefined,
    signatureAlgorithms: undefined,
    alpn: undefined,
    renegotiationInfo: false,
    extendedMasterSecret: false,
    sessionTicket: false,
    statusRequest: false,
    heartbeat: false,
    ecPointFormats: false,
    cookie: undefined,
    padding: false,
    handshakeLength: length,
    bytesConsumed: 2 + length,
  };
}

/**
 * Parses the ClientHello at the start of `input` (TLS records, possibly several, or the SSLv2 format).
 * Throws WireError 'wire.truncated' when more bytes are needed, so a server can call it on what it has
 * received so far; `bytesConsumed` tells where the next message starts.
 */
export function parseClientHello(input: Buffer): ParsedClientHello {
  if (input.length === 0) throw new WireError('wire.truncated', 'ClientHello: no bytes yet');
  if ((input[0]! & 0x80) !== 0) return parseSslv2Hello(input);
  if (input[0]! < ContentType.changeCipherSpec || input[0]! > ContentType.heartbeat) {
    throw new WireError('wire.malformed', `ClientHello: first byte 0x${input[0]!.toString(16)} starts neither a TLS record nor an SSLv2 hello`);
  }
  const fragments: Buffer[] = [];
  let collected = 0;
  let offset = 0;
  let messageLength: number | undefined;
  let recordVersion = 0;
  while (messageLength === undefined || collected < 4 + messageLength) {
    if (input.length < offset + 5) throw new WireError('wire.truncated', `ClientHello: record header at byte ${offset} is incomplete`);
    const type = input[offset]!;
    const version = input.readUInt16BE(offset + 1);
    const length = input.readUInt16BE(offset + 3);
    if (type !== ContentType.handshake) throw new WireError('wire.unexpected', `ClientHello: record at byte ${offset} has content type ${type}, not handshake (22)`);
    if (version >> 8 !== 3) throw new WireError('wire.malformed', `ClientHello: record at byte ${offset} has version 0x${version.toString(16)}, not 0x03xx`);
    if (length === 0 || length > MAX_RECORD) throw new WireError(length === 0 ? 'wire.malformed' : 'wire.oversized', `ClientHello: record at byte ${offset} has length ${length} (allowed 1..${MAX_RECORD})`);
    if (input.length < offset + 5 + length) throw new WireError('wire.truncated', `ClientHello: record at byte ${offset} announces ${length} bytes, ${input.length - offset - 5} present`);
    if (offset === 0) recordVersion = version;
    fragments.push(input.subarray(offset + 5, offset + 5 + length));
    collected += length;
    offset += 5 + length;
    if (messageLength === undefined && collected >= 4) {
      const header = Buffer.concat(fragments).subarray(0, 4);
      if (header[0] !== HandshakeType.clientHello) throw new WireError('wire.unexpected', `ClientHello: handshake message type ${header[0]} is not ClientHello (1)`);
      messageLength = header.readUIntBE(1, 3);
      if (messageLength > MAX_CLIENT_HELLO_BODY) throw new WireError('wire.oversized', `ClientHello: message length ${messageLength} exceeds ${MAX_CLIENT_HELLO_BODY}`);
    }
  }
  if (collected !== 4 + messageLength) throw new WireError('wire.malformed', `ClientHello: ${collected - 4 - messageLength} bytes follow the message inside its last record`);
  const message = Buffer.concat(fragments);
  return {
    format: 'tls',
    recordVersion,
    ...parseTlsHelloBody(message.subarray(4)),
    handshakeLength: message.length,
    bytesConsumed: offset,
  };
}
