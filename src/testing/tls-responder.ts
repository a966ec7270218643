/**
 * A scripted TLS server for tests: it parses each ClientHello with the scanner's own parser and answers
 * the way a real server configured like `config` would — up to ServerHelloDone (or the TLS 1.3
 * ServerHello / HelloRetryRequest), then closes. No key exchange is ever finished, so it needs no crypto
 * and can play what OpenSSL 3 refuses to serve: SSLv2, SSLv3, RC4, 3DES, EXPORT, DH < 1024, DEFLATE, and
 * servers that misbehave. Listens on 127.0.0.1 only, through TestServers.
 */
import { getDiffieHellman, randomBytes } from 'node:crypto';
import type net from 'node:net';
import type { ProtocolName } from '../tls/model.js';
import {
  AlertDescription,
  ContentType,
  DOWNGRADE_SENTINEL_TLS11,
  DOWNGRADE_SENTINEL_TLS12,
  ExtensionType,
  HELLO_RETRY_REQUEST_RANDOM,
  PROTOCOL_VERSIONS,
  WireError,
  alertRecord,
  bitLength,
  changeCipherSpecRecord,
  encodeCertificate,
  encodeServerHello,
  encodeServerHelloDone,
  encodeServerKeyExchange,
  encodeServerKeyExchangeMessage,
  encodeSslv2ServerHello,
  serverKeyShareExtension,
  serverSupportedVersionExtension,
  handshakeRecords,
  keyShareFor,
  parseClientHello,
  sslv2ErrorRecord,
  suiteById,
  type ParsedClientHello,
  type ServerKeyExchange,
} from '../tls/wire/index.js';
import type { TestServers } from './servers.js';

export interface ScriptedServerConfig {
  /** Accepted versions (SSLv2 answered with an SSLv2 SERVER-HELLO listing `sslv2CipherKinds`). */
  protocols: ProtocolName[];
  /** Accepted suites, in server preference order. */
  suites: number[];
  /** Default 'server'. */
  preference?: 'server' | 'client';
  /** DER chain to send, leaf first. */
  certificates: Buffer[];
  sslv2CipherKinds?: number[];
  /** For DHE suites; default the 2048-bit RFC 3526 group 14 prime with g = 2. */
  dh?: { p: Buffer; g: Buffer };
  /** Accepted groups for ECDHE, in preference order; default x25519, secp256r1, secp384r1. */
  ecGroups?: number[];
  /** Modulus size of the EXPORT suites' temporary RSA key; default 512. */
  rsaExportModulusBits?: number;
  /** Accept DEFLATE when offered. */
  compression?: boolean;
  /** Echo renegotiation_info; default true. */
  secureRenegotiation?: boolean;
  /** Answer inappropriate_fallback to SCSV + a version below our best; default true. */
  fallbackScsv?: boolean;
  /** TLS 1.3 groups in preference order; default x25519, secp256r1, secp384r1. */
  tls13Groups?: number[];
  misbehave?: 'garbage' | 'truncate' | 'huge-length' | 'trickle' | 'reset' | 'pick-unoffered-suite' | 'long-hello-intolerant' | 'silent';
}

const DEFAULT_GROUPS = [0x001d, 0x0017, 0x0018];
const TRICKLE_EVERY_MS = 50;
const EXPORT_SIGNATURE_BYTES = 256;
/** A TLS 1.3 record the client cannot read, standing in for EncryptedExtensions…Finished. */
const SEALED_RECORD = Buffer.from([ContentType.applicationData, 3, 3, 0, 32, ...randomBytes(32)]);

type Then = 'close' | 'read-again' | 'hold';
interface Reply {
  bytes: Buffer;
  then: Then;
}

let rfc3526Group14: Buffer | undefined;
function defaultDh(): { p: Buffer; g: Buffer } {
  rfc3526Group14 ??= getDiffieHellman('modp14').getPrime();
  return { p: rfc3526Group14, g: Buffer.from([2]) };
}

const versionOf = (p: ProtocolName): number => PROTOCOL_VERSIONS[p];
const byVersionDescending = (a: ProtocolName, b: ProtocolName): number => versionOf(b) - versionOf(a);

function alert(description: number, recordVersion = 0x0301): Reply {
  return { bytes: alertRecord(description, recordVersion), then: 'close' };
}

/** The version a server configured with `protocols` picks for this hello, or undefined. */
function negotiateVersion(hello: ParsedClientHello, protocols: readonly ProtocolName[]): ProtocolName | undefined {
  const ours = protocols.filter((p) => p !== 'SSLv2').sort(byVersionDescending);
  // RFC 8446 §4.2.1: with supported_versions, legacy_version is not used for negotiation.
  if (hello.supportedVersions !== undefined) return ours.find((p) => hello.supportedVersions!.includes(p));
  return ours.find((p) => p !== 'TLSv1.3' && versionOf(p) <= hello.legacyVersion);
}

function usableOn(id: number, version: ProtocolName): boolean {
  const suite = suiteById(id);
  return suite === undefined ? version !== 'TLSv1.3' : suite.protocols.includes(version);
}

function inPreferenceOrder(config: ScriptedServerConfig, offered: readonly number[]): number[] {
  return (config.preference ?? 'server') === 'server' ? config.suites.filter((s) => offered.includes(s)) : offered.filter((s) => config.suites.includes(s));
}

function mutualGroup(ours: readonly number[], theirs: readonly number[] | undefined): number | undefined {
  // RFC 4492 §4: a client without supported_groups accepts any curve.
  return theirs === undefined ? ours[0] : ours.find((g) => theirs.includes(g));
}

function serverRandom(config: ScriptedServerConfig, version: ProtocolName): Buffer {
  const random = randomBytes(32);
  if (config.protocols.includes('TLSv1.3') && version !== 'TLSv1.3') {
    (version === 'TLSv1.2' ? DOWNGRADE_SENTINEL_TLS12 : DOWNGRADE_SENTINEL_TLS11).copy(random, 24);
  }
  return random;
}

function unofferedSuite(config: ScriptedServerConfig, hello: ParsedClientHello): number {
  const ours = config.suites.find((s) => !hello.suites.includes(s));
  if (ours !== undefined) return ours;
  let id = 1;
  while (hello.suites.includes(id)) id++;
  return id;
}

function replyTls13(hello: ParsedClientHello, config: ScriptedServerConfig, retried: boolean): Reply {
  const suite = config.misbehave === 'pick-unoffered-suite' ? unofferedSuite(config, hello) : inPreferenceOrder(config, hello.suites).find((s) => usableOn(s, 'TLSv1.3'));
  if (suite === undefined) return alert(AlertDescription.handshakeFailure, 0x0303);
  const groups = (config.tls13Groups ?? DEFAULT_GROUPS).filter((g) => hello.groups?.includes(g));
  if (groups.length === 0) return alert(AlertDescription.handshakeFailure, 0x0303);
  const shared = groups.find((g) => hello.keyShares?.some((share) => share.group === g));
  const supportedVersions = serverSupportedVersionExtension(PROTOCOL_VERSIONS['TLSv1.3']);
  if (shared !== undefined) {
    const keyShare = serverKeyShareExtension(shared, keyShareFor(shared) ?? randomBytes(32));
    const serverHello = encodeServerHello({ legacyVersion: 0x0303, sessionId: hello.sessionId, cipherSuite: suite, extensions: [supportedVersions, keyShare] });
    return { bytes: Buffer.concat([handshakeRecords([serverHello], 0x0303), changeCipherSpecRecord(0x0303), SEALED_RECORD]), then: 'close' };
  }
  // RFC 8446 §4.1.4: a second hello that still lacks an acceptable share is fatal.
  if (retried) return alert(AlertDescription.illegalParameter, 0x0303);
  const retry = encodeServerHello({
    legacyVersion: 0x0303,
    random: HELLO_RETRY_REQUEST_RANDOM,
    sessionId: hello.sessionId,
    cipherSuite: suite,
    extensions: [supportedVersions, serverKeyShareExtension(groups[0]!)],
  });
  return { bytes: Buffer.concat([handshakeRecords([retry], 0x0303), changeCipherSpecRecord(0x0303)]), then: 'read-again' };
}

/** Which ServerKeyExchange a suite calls for (anonymous DH/ECDH are ephemeral too). */
function ephemeralKind(suite: number): 'dh' | 'ecdh' | 'rsa-export' | undefined {
  const info = suiteById(suite);
  if (info === undefined) return undefined;
  if (info.kx === 'DHE' || (info.kx === 'DH' && info.anonymous)) return 'dh';
  if (info.kx === 'ECDHE' || (info.kx === 'ECDH' && info.anonymous)) return 'ecdh';
  return info.kx === 'RSA' && info.export ? 'rsa-export' : undefined;
}

function keyExchangeFor(suite: number, config: ScriptedServerConfig, group: number | undefined): ServerKeyExchange | undefined {
  const kind = ephemeralKind(suite);
  if (kind === 'ecdh' && group !== undefined) return { type: 'ecdh', namedGroup: group, publicKey: keyShareFor(group) ?? randomBytes(32) };
  if (kind === 'dh') {
    const { p, g } = config.dh ?? defaultDh();
    const ys = randomBytes(p.length);
    ys[0] = ys[0]! % Math.max(1, p[0]!); // keep Ys below p
    return { type: 'dh', p, g, ys, primeBits: bitLength(p) };
  }
  if (kind === 'rsa-export') {
    const modulus = randomBytes((config.rsaExportModulusBits ?? 512) / 8);
    modulus[0]! |= 0x80;
    return { type: 'rsa', modulus, exponent: Buffer.from([1, 0, 1]), modulusBits: modulus.length * 8 };
  }
  return undefined;
}

function replyLegacy(hello: ParsedClientHello, config: ScriptedServerConfig, version: ProtocolName): Reply {
  const recordVersion = versionOf(version);
  const ecGroup = mutualGroup(config.ecGroups ?? DEFAULT_GROUPS, hello.groups);
  const suite =
    config.misbehave === 'pick-unoffered-suite'
      ? unofferedSuite(config, hello)
      : inPreferenceOrder(config, hello.suites).find((s) => usableOn(s, version) && (ephemeralKind(s) !== 'ecdh' || ecGroup !== undefined));
  if (suite === undefined) return alert(AlertDescription.handshakeFailure, recordVersion);
  const extensions: Array<[number, Buffer]> = [];
  if ((config.secureRenegotiation ?? true) && (hello.renegotiationInfo || hello.emptyRenegotiationScsv)) extensions.push([ExtensionType.renegotiationInfo, Buffer.from([0])]);
  if (hello.extendedMasterSecret) extensions.push([ExtensionType.extendedMasterSecret, Buffer.alloc(0)]);
  if (hello.sessionTicket !== false) extensions.push([ExtensionType.sessionTicket, Buffer.alloc(0)]);
  if (ephemeralKind(suite) === 'ecdh' && hello.ecPointFormats) extensions.push([ExtensionType.ecPointFormats, Buffer.from([1, 0])]);
  const messages = [
    encodeServerHello({
      legacyVersion: recordVersion,
      random: serverRandom(config, version),
      sessionId: randomBytes(32),
      cipherSuite: suite,
      compressionMethod: config.compression === true && hello.compressionMethods.includes(1) ? 1 : 0,
      extensions: hello.noExtensions && extensions.length === 0 ? null : extensions,
    }),
  ];
  const anonymous = suiteById(suite)?.anonymous ?? false;
  if (!anonymous) messages.push(encodeCertificate(config.certificates));
  const keyExchange = keyExchangeFor(suite, config, ecGroup);
  if (keyExchange !== undefined) {
    const signature = anonymous ? null : randomBytes(EXPORT_SIGNATURE_BYTES);
    messages.push(encodeServerKeyExchangeMessage(encodeServerKeyExchange(keyExchange, version, signature)));
  }
  messages.push(encodeServerHelloDone());
  return { bytes: handshakeRecords(messages, recordVersion), then: 'close' };
}

function replySslv2(hello: ParsedClientHello, config: ScriptedServerConfig): Reply {
  // OpenSSL 3 answers a pure SSLv2 hello with a TLS protocol_version alert.
  if (!config.protocols.includes('SSLv2')) return alert(AlertDescription.protocolVersion, 0x0303);
  const kinds = (config.sslv2CipherKinds ?? []).filter((k) => hello.sslv2CipherKinds.includes(k));
  if (kinds.length === 0) return { bytes: sslv2ErrorRecord(1), then: 'close' };
  return { bytes: encodeSslv2ServerHello({ cipherKinds: kinds, certificate: config.certificates[0] ?? null }), then: 'close' };
}

/** What a server configured by `config` answers to `hello`; `retried` after it sent a HelloRetryRequest. */
function reply(hello: ParsedClientHello, config: ScriptedServerConfig, retried: boolean): Reply {
  if (config.misbehave === 'long-hello-intolerant' && hello.handshakeLength >= 256 && hello.handshakeLength <= 511) return { bytes: Buffer.alloc(0), then: 'hold' };
  if (hello.format === 'sslv2' && hello.legacyVersion < 0x0300) return replySslv2(hello, config);
  const version = negotiateVersion(hello, config.protocols);
  if (version === undefined) return alert(AlertDescription.protocolVersion);
  const best = config.protocols.filter((p) => p !== 'SSLv2').sort(byVersionDescending)[0]!;
  if ((config.fallbackScsv ?? true) && hello.fallbackScsv && versionOf(best) > versionOf(version)) return alert(AlertDescription.inappropriateFallback, versionOf(version));
  return version === 'TLSv1.3' ? replyTls13(hello, config, retried) : replyLegacy(hello, config, version);
}

/** Drops ChangeCipherSpec records a TLS 1.3 client sends before its second hello (middlebox compatibility). */
function skipChangeCipherSpec(pending: Buffer): Buffer {
  let rest = pending;
  while (rest.length >= 6 && rest[0] === ContentType.changeCipherSpec) rest = rest.subarray(5 + rest.readUInt16BE(3));
  return rest;
}

function trickle(socket: net.Socket, bytes: Buffer): void {
  let sent = 0;
  const timer = setInterval(() => {
    if (socket.destroyed) return clearInterval(timer);
    socket.write(bytes.subarray(sent, sent + 1));
    sent += 1;
    if (sent >= bytes.length) {
      clearInterval(timer);
      socket.end();
    }
  }, TRICKLE_EVERY_MS);
  socket.on('close', () => clearInterval(timer));
}

function deliver(socket: net.Socket, answer: Reply, misbehave: ScriptedServerConfig['misbehave']): void {
  if (answer.then === 'hold') return;
  if (answer.then === 'read-again') {
    socket.write(answer.bytes);
    return;
  }
  if (misbehave === 'trickle') trickle(socket, answer.bytes);
  else if (misbehave === 'truncate') socket.end(answer.bytes.subarray(0, Math.floor(answer.bytes.length / 2)));
  else socket.end(answer.bytes);
}

function serveConnection(socket: net.Socket, config: ScriptedServerConfig): void {
  if (config.misbehave === 'silent') return;
  let pending: Buffer = Buffer.alloc(0);
  let retried = false;
  let answered = false;
  socket.on('data', (chunk: Buffer) => {
    if (answered) return;
    pending = skipChangeCipherSpec(Buffer.concat([pending, chunk]));
    if (pending.length === 0) return;
    // Misbehaviours that do not care what was asked.
    if (config.misbehave === 'reset') return void socket.resetAndDestroy();
    if (config.misbehave === 'garbage') return void socket.end('HTTP/1.1 400 Bad Request\r\n\r\nthis is not TLS');
    if (config.misbehave === 'huge-length') {
      // A well-formed record holding a ServerHello header that announces 16 MiB.
      answered = true;
      return void socket.write(Buffer.from([ContentType.handshake, 3, 3, 0, 4, 2, 0xff, 0xff, 0xff]));
    }
    let hello: ParsedClientHello;
    try {
      hello = parseClientHello(pending);
    } catch (err) {
      if (err instanceof WireError && err.code === 'wire.truncated') return;
      answered = true;
      return void socket.end(alertRecord(AlertDescription.decodeError, 0x0301));
    }
    pending = pending.subarray(hello.bytesConsumed);
    const answer = reply(hello, config, retried);
    retried = answer.then === 'read-again';
    answered = !retried;
    deliver(socket, answer, config.misbehave);
  });
}

/** Starts a scripted server on 127.0.0.1 (closed by `servers.closeAll()`); resolves to its port. */
export function startScriptedTlsServer(servers: TestServers, config: ScriptedServerConfig): Promise<number> {
  return servers.serve((socket) => serveConnection(socket, config));
}
