/**
 * Incremental reader of what a server sends after our ClientHello. TCP cuts the stream anywhere, a record
 * may hold several handshake messages and a message may span many records (a 200 KB certificate chain),
 * so bytes are queued until a whole record, then a whole message, is there. Every length is checked
 * against a limit before we wait for (or keep) the bytes it announces.
 */
import { ContentType, HandshakeType, MAX_RECORD, Sslv2MessageType, alertName } from './constants.js';
import { WireError } from './errors.js';
import { ByteReader } from './reader.js';
import {
  parseCertificateList,
  parseCertificateStatus,
  parseServerHello,
  parseSslv2ServerHello,
  sslv2ErrorName,
  type ServerHello,
  type Sslv2ServerHello,
} from './server-hello.js';

export type ServerEvent =
  | { type: 'server-hello'; hello: ServerHello }
  | { type: 'sslv2-server-hello'; hello: Sslv2ServerHello }
  /** DER, as served (TLS ≤ 1.2). */
  | { type: 'certificate'; certificates: Buffer[] }
  | { type: 'certificate-status'; ocspResponse: Buffer }
  | { type: 'server-key-exchange'; body: Buffer }
  | { type: 'certificate-request' }
  | { type: 'server-hello-done' }
  /** SSLv2 ERROR messages come as alerts too, level 2, named `sslv2_…`. */
  | { type: 'alert'; level: number; description: number; name: string }
  | { type: 'change-cipher-spec' }
  /** A record we cannot read: TLS 1.3 after ServerHello, anything after ChangeCipherSpec, SSLv2 after SERVER-HELLO. */
  | { type: 'encrypted' };

export const DEFAULT_MAX_FLIGHT_BYTES = 512 * 1024;

/** Bytes waiting to be framed, kept as chunks so a trickling peer does not cost a copy per byte. */
class ByteQueue {
  #chunks: Buffer[] = [];
  #length = 0;

  get length(): number {
    return this.#length;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#length += chunk.length;
  }

  /** The first `n` bytes (n ≤ length), without consuming them. */
  peek(n: number): Buffer {
    if (this.#chunks[0] !== undefined && this.#chunks[0].length >= n) return this.#chunks[0].subarray(0, n);
    const joined = Buffer.concat(this.#chunks);
    this.#chunks = [joined];
    return joined.subarray(0, n);
  }

  take(n: number): Buffer {
    const out = this.peek(n);
    const first = this.#chunks[0]!;
    if (first.length === n) this.#chunks.shift();
    else this.#chunks[0] = first.subarray(n);
    this.#length -= n;
    return out;
  }
}

export class ServerFlightParser {
  readonly #maxBytes: number;
  readonly #records = new ByteQueue();
  readonly #handshake = new ByteQueue();
  #format: 'unknown' | 'tls' | 'sslv2' = 'unknown';
  /** Once keys are in use, records carry ciphertext we report but do not read. */
  #encrypted = false;
  /** After a HelloRetryRequest the compatibility ChangeCipherSpec does not start encryption. */
  #afterRetryRequest = false;
  #bytesSeen = 0;
  #error: WireError | undefined;

  constructor(options: { maxBytes?: number } = {}) {
    this.#maxBytes = options.maxBytes ?? DEFAULT_MAX_FLIGHT_BYTES;
  }

  get bytesSeen(): number {
    return this.#bytesSeen;
  }

  /** The error the stream hit, if any: once set, every push throws it. */
  get error(): WireError | undefined {
    return this.#error;
  }

  /**
   * Feeds the next bytes; returns the events they complete. Bad bytes throw WireError — unless events
   * were completed before them in this chunk: those are returned, and the error is thrown by the next
   * push (and readable from `error` at once).
   */
  push(chunk: Buffer): ServerEvent[] {
    if (this.#error !== undefined) throw this.#error;
    const events: ServerEvent[] = [];
    try {
      this.#bytesSeen += chunk.length;
      if (this.#bytesSeen > this.#maxBytes) throw new WireError('wire.oversized', `server sent more than ${this.#maxBytes} bytes without ending its flight`);
      this.#records.push(chunk);
      let framed = true;
      while (framed) framed = this.#format === 'sslv2' ? this.#sslv2Record(events) : this.#tlsRecord(events);
    } catch (err) {
      if (!(err instanceof WireError)) throw err;
      this.#error = err;
      if (events.length === 0) throw err;
    }
    return events;
  }

  /** Frames one TLS record, if complete; false when more bytes are needed. */
  #tlsRecord(events: ServerEvent[]): boolean {
    if (this.#records.length === 0) return false;
    if (this.#format === 'unknown') {
      // An SSLv2 record header has its high bit set; TLS content types are 20–24.
      this.#format = (this.#records.peek(1)[0]! & 0x80) !== 0 ? 'sslv2' : 'tls';
      if (this.#format === 'sslv2') return true;
    }
    // Judge the header bytes as they arrive: garbage is reported without waiting for five of them.
    const header = this.#records.peek(Math.min(5, this.#records.length));
    const at = `record at byte ${this.#bytesSeen - this.#records.length}`;
    const type = header[0]!;
    if (type < ContentType.changeCipherSpec || type > ContentType.heartbeat) throw new WireError('wire.malformed', `${at}: content type ${type} is not a TLS record type — not TLS, or out of step`);
    if (header.length >= 2 && header[1] !== 3) throw new WireError('wire.malformed', `${at}: record version major byte ${header[1]} is not 3`);
    if (header.length < 5) return false;
    const length = header.readUInt16BE(3);
    if (length > MAX_RECORD) throw new WireError('wire.oversized', `${at}: record length ${length} exceeds ${MAX_RECORD}`);
    if (this.#records.length < 5 + length) return false;
    const fragment = this.#records.take(5 + length).subarray(5);
    this.#record(type, fragment, at, events);
    return true;
  }

  #record(type: number, fragment: Buffer, at: string, events: ServerEvent[]): void {
    // Alerts are two bytes in clear; an AEAD-sealed one is longer. Everything else after the keys change is sealed.
    if (type === ContentType.alert && (!this.#encrypted || fragment.length === 2)) {
      if (fragment.length === 0 || fragment.length % 2 !== 0) throw new WireError('wire.malformed', `${at}: alert record of ${fragment.length} bytes (alerts are 2 bytes)`);
      for (let i = 0; i < fragment.length; i += 2) {
        const description = fragment[i + 1]!;
        events.push({ type: 'alert', level: fragment[i]!, description, name: alertName(description) });
      }
      return;
    }
    if (type === ContentType.changeCipherSpec) {
      if (fragment.length !== 1 || fragment[0] !== 1) throw new WireError('wire.malformed', `${at}: ChangeCipherSpec must be the single byte 01`);
      events.push({ type: 'change-cipher-spec' });
      if (!this.#afterRetryRequest) this.#encrypted = true;
      return;
    }
    if (this.#encrypted && type !== ContentType.heartbeat) {
      events.push({ type: 'encrypted' });
      return;
    }
    if (type === ContentType.handshake) {
      if (fragment.length === 0) throw new WireError('wire.malformed', `${at}: empty handshake record`);
      this.#handshake.push(fragment);
      let framed = true;
      while (framed) framed = this.#handshakeMessage(events);
      return;
    }
    const name = type === ContentType.heartbeat ? 'heartbeat' : 'application data';
    throw new WireError('wire.unexpected', `${at}: ${name} record (type ${type}) before the handshake has keys`);
  }

  /** Frames one handshake message from the reassembled handshake bytes, if complete. */
  #handshakeMessage(events: ServerEvent[]): boolean {
    if (this.#handshake.length < 4) return false;
    const header = this.#handshake.peek(4);
    const type = header[0]!;
    const length = header.readUIntBE(1, 3);
    if (length > this.#maxBytes) throw new WireError('wire.oversized', `handshake message type ${type} announces ${length} bytes, more than the ${this.#maxBytes} allowed`);
    if (this.#handshake.length < 4 + length) return false;
    const body = this.#handshake.take(4 + length).subarray(4);
    switch (type) {
      case HandshakeType.serverHello: {
        const hello = parseServerHello(body);
        events.push({ type: 'server-hello', hello });
        this.#afterRetryRequest = hello.isHelloRetryRequest;
        // From a TLS 1.3 ServerHello on, the server encrypts everything.
        if (hello.version === 'TLSv1.3' && !hello.isHelloRetryRequest) this.#encrypted = true;
        break;
      }
      case HandshakeType.certificate:
        events.push({ type: 'certificate', certificates: parseCertificateList(body) });
        break;
      case HandshakeType.certificateStatus:
        events.push({ type: 'certificate-status', ocspResponse: parseCertificateStatus(body) });
        break;
      case HandshakeType.serverKeyExchange:
        events.push({ type: 'server-key-exchange', body: Buffer.from(body) });
        break;
      case HandshakeType.certificateRequest:
        events.push({ type: 'certificate-request' });
        break;
      case HandshakeType.serverHelloDone:
        if (length !== 0) throw new WireError('wire.malformed', `ServerHelloDone carries ${length} bytes (it is empty)`);
        events.push({ type: 'server-hello-done' });
        break;
      case HandshakeType.helloRequest:
      case HandshakeType.newSessionTicket:
        // Allowed here (RFC 5246 §7.4.1.1, RFC 5077 §3.3) and nothing an assessment reads.
        break;
      default:
        throw new WireError('wire.unexpected', `handshake message type ${type} is not one a server sends in its first flight`);
    }
    return true;
  }

  /** Frames one SSLv2 record (2-byte header, high bit set), if complete. */
  #sslv2Record(events: ServerEvent[]): boolean {
    if (this.#records.length < 2) return false;
    const header = this.#records.peek(2);
    const at = `SSLv2 record at byte ${this.#bytesSeen - this.#records.length}`;
    if ((header[0]! & 0x80) === 0) throw new WireError('wire.malformed', `${at}: 3-byte (padded) headers never carry SERVER-HELLO`);
    const length = ((header[0]! & 0x7f) << 8) | header[1]!;
    if (length === 0) throw new WireError('wire.malformed', `${at}: empty record`);
    if (this.#records.length < 2 + length) return false;
    const record = this.#records.take(2 + length).subarray(2);
    if (this.#encrypted) {
      events.push({ type: 'encrypted' });
      return true;
    }
    const reader = new ByteReader(record, at);
    const type = reader.u8('msg_type');
    if (type === Sslv2MessageType.serverHello) {
      events.push({ type: 'sslv2-server-hello', hello: parseSslv2ServerHello(reader) });
      this.#encrypted = true;
    } else if (type === Sslv2MessageType.error) {
      const code = reader.u16('error_code');
      reader.end();
      events.push({ type: 'alert', level: 2, description: code, name: sslv2ErrorName(code) });
    } else {
      reader.fail(`message type ${type} is neither SERVER-HELLO (4) nor ERROR (0)`, 'wire.unexpected');
    }
    return true;
  }
}
