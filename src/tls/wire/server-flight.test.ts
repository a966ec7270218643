import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ExtensionType } from './constants.js';
import { WireError } from './errors.js';
import { ServerFlightParser, type ServerEvent } from './server-flight.js';
import { encodeServerKeyExchange } from './server-key-exchange.js';
import {
  alertRecord,
  changeCipherSpecRecord,
  encodeCertificate,
  encodeCertificateStatus,
  encodeServerHello,
  encodeServerHelloDone,
  encodeServerKeyExchangeMessage,
  encodeSslv2ServerHello,
  handshakeRecords,
  sslv2ErrorRecord,
} from './server-messages.js';
import { records } from './writer.js';

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');

/** nginx 1.22 / OpenSSL 3.0 answering a TLS 1.2 hello (research notes §4.6), framed as a record. */
const LAB_SERVER_HELLO = hex(`16 03 03 00 45
  02 00 00 41 03 03
  93 b3 fa f6 6b 26 29 ec bf ec 6c ee 7e 70 0e fd 1a e3 1e 84 19 75 60 ff 44 4f 57 4e 47 52 44 01
  00 c0 2f 00
  00 19 ff 01 00 01 00 00 00 00 00 00 0b 00 04 03 00 01 02 00 23 00 00 00 17 00 00`);

/** The same server's complete answer to a TLS 1.3 hello with an empty key_share (§4.4). */
const LAB_HELLO_RETRY = hex(`16 03 03 00 58 02 00 00 54 03 03
  cf 21 ad 74 e5 9a 61 11 be 1d 8c 02 1e 65 b8 91 c2 a2 11 16 7a bb 8c 5e 07 9e 09 e2 c8 a8 33 9c
  20 e0 e1 e2 e3 e4 e5 e6 e7 e8 e9 ea eb ec ed ee ef f0 f1 f2 f3 f4 f5 f6 f7 f8 f9 fa fb fc fd fe ff
  13 01 00 00 0c 00 2b 00 02 03 04 00 33 00 02 00 1d
  14 03 03 00 01 01`);

function parseAll(bytes: Buffer, chunkSize = bytes.length, maxBytes?: number): ServerEvent[] {
  const parser = new ServerFlightParser(maxBytes === undefined ? {} : { maxBytes });
  const events: ServerEvent[] = [];
  for (let i = 0; i < bytes.length; i += chunkSize) events.push(...parser.push(bytes.subarray(i, i + chunkSize)));
  return events;
}

function wireErrorOf(fn: () => unknown): WireError {
  try {
    fn();
  } catch (err) {
    if (err instanceof WireError) return err;
    throw err;
  }
  throw new Error('expected a WireError');
}

const LEAF = randomBytes(900);
const INTERMEDIATE = randomBytes(1100);

function tls12Flight(certificates: Buffer[] = [LEAF, INTERMEDIATE]): Buffer {
  const ske = encodeServerKeyExchange({ type: 'ecdh', namedGroup: 0x001d, publicKey: randomBytes(32) }, 'TLSv1.2', randomBytes(256));
  return handshakeRecords(
    [
      encodeServerHello({ legacyVersion: 0x0303, sessionId: randomBytes(32), cipherSuite: 0xc02f, extensions: [[ExtensionType.renegotiationInfo, Buffer.from([0])]] }),
      encodeCertificate(certificates),
      encodeCertificateStatus(Buffer.from('ocsp response')),
      encodeServerKeyExchangeMessage(ske),
      encodeServerHelloDone(),
    ],
    0x0303,
  );
}

describe('ServerFlightParser on real server answers', () => {
  it('reads the nginx TLS 1.2 ServerHello: suite, version, the extensions that are findings', () => {
    const [event] = parseAll(LAB_SERVER_HELLO);
    if (event?.type !== 'server-hello') throw new Error('expected a ServerHello');
    expect(event.hello).toMatchObject({
      legacyVersion: 0x0303,
      version: 'TLSv1.2',
      cipherSuite: 0xc02f,
      compressionMethod: 0,
      isHelloRetryRequest: false,
      secureRenegotiation: true,
      sessionTicket: true,
      extendedMasterSecret: true,
      statusRequest: false,
      heartbeat: false,
    });
    expect(event.hello.random.subarray(24).toString('latin1')).toBe('DOWNGRD\x01');
    expect([...event.hello.extensions.keys()]).toEqual([0xff01, 0x0000, 0x000b, 0x0023, 0x0017]);
  });

  it('reads the HelloRetryRequest: TLS 1.3, suite and the group the server wants; its ChangeCipherSpec starts no encryption', () => {
    const events = parseAll(LAB_HELLO_RETRY);
    expect(events.map((e) => e.type)).toEqual(['server-hello', 'change-cipher-spec']);
    const hello = events[0]?.type === 'server-hello' ? events[0].hello : undefined;
    expect(hello).toMatchObject({ version: 'TLSv1.3', isHelloRetryRequest: true, cipherSuite: 0x1301, selectedGroup: 0x001d });
    // The server's answer to our second hello is plaintext again.
    const parser = new ServerFlightParser();
    parser.push(LAB_HELLO_RETRY);
    expect(parser.push(LAB_SERVER_HELLO).map((e) => e.type)).toEqual(['server-hello']);
  });
});

describe('ServerFlightParser framing', () => {
  it('yields the same events however TCP cuts the stream: whole, per byte, in odd chunks', () => {
    const flight = tls12Flight();
    const whole = parseAll(flight);
    expect(whole.map((e) => e.type)).toEqual(['server-hello', 'certificate', 'certificate-status', 'server-key-exchange', 'server-hello-done']);
    expect(whole[1]).toEqual({ type: 'certificate', certificates: [LEAF, INTERMEDIATE] });
    expect(whole[2]).toEqual({ type: 'certificate-status', ocspResponse: Buffer.from('ocsp response') });
    for (const size of [1, 2, 3, 5, 7, 100, 4099]) expect(parseAll(flight, size)).toEqual(whole);
  });

  it('reassembles a certificate message spanning many records (a 200 KB chain)', () => {
    const huge = randomBytes(200_000);
    const flight = tls12Flight([huge, LEAF]);
    expect(flight.readUInt16BE(3)).toBe(16_384);
    const certificate = parseAll(flight, 1000).find((e) => e.type === 'certificate');
    // Buffer.equals: a deep toEqual over 200 KB takes seconds.
    const served = certificate?.type === 'certificate' ? certificate.certificates : [];
    expect(served.map((der, i) => der.equals([huge, LEAF][i]!))).toEqual([true, true]);
  });

  it('reads each message when records hold one message each', () => {
    const messages = [encodeServerHello({ legacyVersion: 0x0301, sessionId: Buffer.alloc(0), cipherSuite: 0x002f, extensions: null }), encodeCertificate([LEAF]), encodeServerHelloDone()];
    const flight = Buffer.concat(messages.map((m) => handshakeRecords([m], 0x0301)));
    const events = parseAll(flight);
    expect(events.map((e) => e.type)).toEqual(['server-hello', 'certificate', 'server-hello-done']);
    expect(events[0]?.type === 'server-hello' && events[0].hello).toMatchObject({ version: 'TLSv1.0', extensions: new Map() });
  });

  it('reports alerts with their names, including several in one record', () => {
    expect(parseAll(alertRecord(70, 0x0301))).toEqual([{ type: 'alert', level: 2, description: 70, name: 'protocol_version' }]);
    const two = records(21, 0x0303, Buffer.from([1, 112, 2, 40]));
    expect(parseAll(two).map((e) => e.type === 'alert' && e.name)).toEqual(['unrecognized_name', 'handshake_failure']);
  });

  it('reports what follows a TLS 1.3 ServerHello as encrypted, but a clear 2-byte alert as an alert', () => {
    const hello = encodeServerHello({
      legacyVersion: 0x0303,
      sessionId: randomBytes(32),
      cipherSuite: 0x1302,
      extensions: [
        [ExtensionType.supportedVersions, Buffer.from([3, 4])],
        [ExtensionType.keyShare, Buffer.concat([Buffer.from([0, 0x17, 0, 65]), randomBytes(65)])],
      ],
    });
    const stream = Buffer.concat([handshakeRecords([hello], 0x0303), changeCipherSpecRecord(0x0303), records(23, 0x0303, randomBytes(1900)), records(22, 0x0303, randomBytes(60)), alertRecord(80, 0x0303)]);
    const events = parseAll(stream, 11);
    expect(events.map((e) => e.type)).toEqual(['server-hello', 'change-cipher-spec', 'encrypted', 'encrypted', 'alert']);
    expect(events[0]?.type === 'server-hello' && events[0].hello).toMatchObject({ version: 'TLSv1.3', selectedGroup: 0x0017, isHelloRetryRequest: false });
  });

  it('reports the Finished after a resumed TLS 1.2 session’s ChangeCipherSpec as encrypted, and skips NewSessionTicket', () => {
    const hello = encodeServerHello({ legacyVersion: 0x0303, sessionId: randomBytes(32), cipherSuite: 0xc02f, extensions: [] });
    const ticket = Buffer.concat([Buffer.from([4, 0, 0, 6]), randomBytes(6)]);
    const stream = Buffer.concat([handshakeRecords([hello, ticket], 0x0303), changeCipherSpecRecord(0x0303), records(22, 0x0303, randomBytes(40))]);
    expect(parseAll(stream).map((e) => e.type)).toEqual(['server-hello', 'change-cipher-spec', 'encrypted']);
  });

  it('reads an SSLv2 SERVER-HELLO (every shared kind, the certificate) and SSLv2 errors', () => {
    const hello = encodeSslv2ServerHello({ cipherKinds: [0x010080, 0x0700c0], certificate: LEAF, connectionId: Buffer.alloc(16, 1) });
    for (const size of [1, 3, hello.length]) {
      expect(parseAll(hello, size)).toEqual([{ type: 'sslv2-server-hello', hello: { version: 2, cipherKinds: [0x010080, 0x0700c0], certificate: LEAF, connectionId: Buffer.alloc(16, 1) } }]);
    }
    expect(parseAll(sslv2ErrorRecord(1))).toEqual([{ type: 'alert', level: 2, description: 1, name: 'sslv2_no_cipher' }]);
  });

  it('counts the bytes it has seen', () => {
    const parser = new ServerFlightParser();
    parser.push(LAB_SERVER_HELLO.subarray(0, 10));
    parser.push(LAB_SERVER_HELLO.subarray(10));
    expect(parser.bytesSeen).toBe(LAB_SERVER_HELLO.length);
  });
});

describe('ServerFlightParser on bad input', () => {
  it('rejects bytes that are not TLS at once, saying where', () => {
    const err = wireErrorOf(() => parseAll(Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n')));
    expect(err.code).toBe('wire.malformed');
    expect(err.message).toMatch(/byte 0/);
  });

  it('rejects a record length over 2^14 + 2048 from the header alone, without waiting for the body', () => {
    expect(wireErrorOf(() => new ServerFlightParser().push(Buffer.from([22, 3, 3, 0xff, 0xff]))).code).toBe('wire.oversized');
  });

  it('rejects a handshake length over maxBytes from the header alone', () => {
    const parser = new ServerFlightParser({ maxBytes: 100_000 });
    expect(wireErrorOf(() => parser.push(Buffer.from([22, 3, 3, 0, 4, 2, 0xff, 0xff, 0xff]))).code).toBe('wire.oversized');
  });

  it('stops once the server has sent more than maxBytes', () => {
    expect(wireErrorOf(() => parseAll(tls12Flight([randomBytes(50_000)]), 4096, 20_000)).code).toBe('wire.oversized');
  });

  it('returns the events before bad bytes, then reports the error (at once through `error`, and on the next push)', () => {
    const parser = new ServerFlightParser();
    const events = parser.push(Buffer.concat([LAB_SERVER_HELLO, Buffer.from('garbage!')]));
    expect(events.map((e) => e.type)).toEqual(['server-hello']);
    expect(parser.error?.code).toBe('wire.malformed');
    expect(wireErrorOf(() => parser.push(Buffer.alloc(1))).code).toBe('wire.malformed');
  });

  it('rejects a ServerHello whose session id claims more bytes than the message has', () => {
    const bad = Buffer.from(LAB_SERVER_HELLO);
    bad[5 + 4 + 2 + 32] = 0x40;
    const err = wireErrorOf(() => parseAll(bad));
    expect(err.code).toBe('wire.malformed');
    expect(err.message).toMatch(/ServerHello: session_id/);
  });

  it('rejects messages a server does not send, and application data before any keys', () => {
    const clientHello = handshakeRecords([Buffer.from([1, 0, 0, 0])], 0x0301);
    expect(wireErrorOf(() => parseAll(clientHello)).code).toBe('wire.unexpected');
    expect(wireErrorOf(() => parseAll(records(23, 0x0303, Buffer.alloc(10)))).code).toBe('wire.unexpected');
  });
});
