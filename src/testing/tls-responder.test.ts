/**
 * The scripted responder answers hellos from buildClientHello the way a real server configured like it
 * would — for what OpenSSL 3 cannot serve (SSLv2, SSLv3, EXPORT, DH-512, DEFLATE) and for servers that
 * misbehave — as read through the scanner's own transport.
 */
import { generatePrimeSync, randomBytes } from 'node:crypto';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { exchange, untilServerHelloDone } from '../tls/transport.js';
import { ServerFlightParser, buildClientHello, buildSslv2ClientHello, parseServerKeyExchange, type ClientHelloOptions, type ServerEvent } from '../tls/wire/index.js';
import { TestServers } from './servers.js';
import { startScriptedTlsServer, type ScriptedServerConfig } from './tls-responder.js';

const servers = new TestServers();
afterEach(() => servers.closeAll());

/** Stands in for a DER certificate: nobody verifies it, the parser only carries it. */
const CERT = Buffer.concat([Buffer.from([0x30, 0x82, 0x02, 0x54]), randomBytes(596)]);
const MODERN = [0xc02f, 0xc030, 0x009c, 0x002f];
const BASE: ScriptedServerConfig = { protocols: ['TLSv1.2'], suites: MODERN, certificates: [CERT] };
const TIMEOUT_MS = 2000;

async function ask(config: ScriptedServerConfig, hello: Buffer | ClientHelloOptions, timeoutMs = TIMEOUT_MS) {
  const port = await startScriptedTlsServer(servers, config);
  const bytes = Buffer.isBuffer(hello) ? hello : buildClientHello(hello);
  return exchange({ ip: '127.0.0.1', port, hello: bytes, timeoutMs, until: untilServerHelloDone });
}

const types = (events: readonly ServerEvent[]) => events.map((e) => e.type);
const serverHello = (events: readonly ServerEvent[]) => {
  const event = events.find((e) => e.type === 'server-hello');
  if (event?.type !== 'server-hello') throw new Error(`no ServerHello in ${types(events).join(', ')}`);
  return event.hello;
};
const keyExchangeBody = (events: readonly ServerEvent[]) => {
  const event = events.find((e) => e.type === 'server-key-exchange');
  if (event?.type !== 'server-key-exchange') throw new Error('no ServerKeyExchange');
  return event.body;
};
const alertOf = (events: readonly ServerEvent[]) => events.find((e) => e.type === 'alert');

describe('scripted responder: versions and suites', () => {
  it('answers a TLS 1.2 hello with its own preferred suite and a full flight: ServerHello, Certificate, ECDHE key exchange, ServerHelloDone', async () => {
    const result = await ask(BASE, { version: 'TLSv1.2', suites: [0x002f, 0xc030, 0xc02f] });
    expect(result.outcome).toBe('complete');
    expect(types(result.events)).toEqual(['server-hello', 'certificate', 'server-key-exchange', 'server-hello-done']);
    expect(serverHello(result.events)).toMatchObject({ version: 'TLSv1.2', cipherSuite: 0xc02f, secureRenegotiation: true, extendedMasterSecret: true, sessionTicket: true });
    expect(result.events[1]).toEqual({ type: 'certificate', certificates: [CERT] });
    expect(parseServerKeyExchange(keyExchangeBody(result.events), 'ECDHE', 'TLSv1.2')).toMatchObject({ type: 'ecdh', namedGroup: 0x001d });
  });

  it('follows the client’s order when configured to', async () => {
    const result = await ask({ ...BASE, preference: 'client' }, { version: 'TLSv1.2', suites: [0x002f, 0xc030, 0xc02f] });
    expect(serverHello(result.events).cipherSuite).toBe(0x002f);
  });

  it('picks its preferred EC group among the client’s', async () => {
    const result = await ask({ ...BASE, ecGroups: [0x0018, 0x0017] }, { version: 'TLSv1.2', suites: [0xc02f], groups: [0x0017, 0x0018] });
    expect(parseServerKeyExchange(keyExchangeBody(result.events), 'ECDHE', 'TLSv1.2')).toMatchObject({ namedGroup: 0x0018 });
  });

  it.each([
    ['SSLv3', 0x0300, 0x000a],
    ['TLSv1.0', 0x0301, 0x0005],
    ['TLSv1.1', 0x0302, 0x0004],
  ] as const)('speaks %s, which OpenSSL 3 cannot (3DES / RC4 suites too)', async (version, wire, suite) => {
    const result = await ask({ ...BASE, protocols: [version], suites: [suite] }, { version, suites: [0x002f, suite] });
    expect(serverHello(result.events)).toMatchObject({ version, legacyVersion: wire, cipherSuite: suite });
    expect(types(result.events)).toEqual(['server-hello', 'certificate', 'server-hello-done']);
  });

  it('answers an SSLv3 hello (no extensions, renegotiation SCSV) with renegotiation_info only', async () => {
    const result = await ask({ ...BASE, protocols: ['SSLv3'], suites: [0x000a] }, { version: 'SSLv3', suites: [0x000a] });
    expect([...serverHello(result.events).extensions.keys()]).toEqual([0xff01]);
  });

  it('falls back to its best version below the client’s, and says protocol_version when there is none', async () => {
    const down = await ask({ ...BASE, protocols: ['TLSv1.0', 'TLSv1.1'], suites: [0x002f] }, { version: 'TLSv1.2', suites: [0x002f] });
    expect(serverHello(down.events).version).toBe('TLSv1.1');
    const none = await ask(BASE, { version: 'TLSv1.1', suites: [0x002f] });
    expect(alertOf(none.events)).toMatchObject({ level: 2, name: 'protocol_version' });
  });

  it('says handshake_failure when no suite is shared, and never picks a suite the version cannot carry', async () => {
    const none = await ask(BASE, { version: 'TLSv1.2', suites: [0x0005] });
    expect(alertOf(none.events)).toMatchObject({ name: 'handshake_failure' });
    const gcmOnTls10 = await ask({ ...BASE, protocols: ['TLSv1.0', 'TLSv1.2'] }, { version: 'TLSv1.0', suites: [0xc02f, 0x002f] });
    expect(serverHello(gcmOnTls10.events)).toMatchObject({ version: 'TLSv1.0', cipherSuite: 0x002f });
  });

  it('sets the TLS 1.2 downgrade sentinel when it also speaks TLS 1.3', async () => {
    const result = await ask({ ...BASE, protocols: ['TLSv1.2', 'TLSv1.3'], suites: [...MODERN, 0x1301] }, { version: 'TLSv1.2', suites: [0xc02f] });
    expect(serverHello(result.events).random.subarray(24).toString('latin1')).toBe('DOWNGRD\x01');
  });

  it('honours TLS_FALLBACK_SCSV with inappropriate_fallback, unless configured not to', async () => {
    const config: ScriptedServerConfig = { ...BASE, protocols: ['TLSv1.0', 'TLSv1.1', 'TLSv1.2'], suites: [0x002f] };
    const hello: ClientHelloOptions = { version: 'TLSv1.1', suites: [0x002f], fallbackScsv: true };
    expect(alertOf((await ask(config, hello)).events)).toMatchObject({ name: 'inappropriate_fallback' });
    expect(serverHello((await ask({ ...config, fallbackScsv: false }, hello)).events).version).toBe('TLSv1.1');
    expect(serverHello((await ask(config, { ...hello, version: 'TLSv1.2' })).events).version).toBe('TLSv1.2');
  });

  it('accepts DEFLATE only when configured to, and leaves renegotiation_info out when told to', async () => {
    const hello: ClientHelloOptions = { version: 'TLSv1.2', suites: [0x002f], compressionMethods: [1, 0] };
    expect(serverHello((await ask({ ...BASE, compression: true }, hello)).events).compressionMethod).toBe(1);
    expect(serverHello((await ask(BASE, hello)).events).compressionMethod).toBe(0);
    expect(serverHello((await ask({ ...BASE, secureRenegotiation: false }, hello)).events).secureRenegotiation).toBe(false);
  });
});

describe('scripted responder: weak key exchange', () => {
  it('sends a 512-bit temporary RSA key for an EXPORT suite (FREAK)', async () => {
    const result = await ask({ ...BASE, protocols: ['TLSv1.0'], suites: [0x0003] }, { version: 'TLSv1.0', suites: [0x0003] });
    expect(types(result.events)).toEqual(['server-hello', 'certificate', 'server-key-exchange', 'server-hello-done']);
    expect(parseServerKeyExchange(keyExchangeBody(result.events), 'RSA-EXPORT', 'TLSv1.0')).toMatchObject({ type: 'rsa', modulusBits: 512 });
  });

  it('sends the configured 512-bit DH prime for DHE (Logjam)', async () => {
    const p = generatePrimeSync(512, { bigint: false }) as ArrayBuffer;
    const prime = Buffer.from(p);
    const result = await ask({ ...BASE, suites: [0x0033], dh: { p: prime, g: Buffer.from([2]) } }, { version: 'TLSv1.2', suites: [0x0033] });
    expect(parseServerKeyExchange(keyExchangeBody(result.events), 'DHE', 'TLSv1.2')).toMatchObject({ type: 'dh', p: prime, primeBits: 512 });
  });

  it('sends no certificate and an unsigned key exchange for an anonymous suite', async () => {
    const result = await ask({ ...BASE, suites: [0x0034] }, { version: 'TLSv1.2', suites: [0x0034] });
    expect(types(result.events)).toEqual(['server-hello', 'server-key-exchange', 'server-hello-done']);
    expect(parseServerKeyExchange(keyExchangeBody(result.events), 'DHE', 'TLSv1.2')).toMatchObject({ primeBits: 2048 });
  });
});

describe('scripted responder: SSLv2', () => {
  const config: ScriptedServerConfig = { ...BASE, protocols: ['SSLv2', 'SSLv3'], sslv2CipherKinds: [0x010080, 0x020080, 0x0700c0] };

  it('lists every shared SSLv2 cipher kind and its certificate in one SERVER-HELLO', async () => {
    const result = await ask(config, buildSslv2ClientHello({ cipherKinds: [0x0700c0, 0x060040, 0x010080] }));
    expect(result.outcome).toBe('complete');
    expect(result.events).toEqual([{ type: 'sslv2-server-hello', hello: { version: 2, cipherKinds: [0x010080, 0x0700c0], certificate: CERT, connectionId: expect.any(Buffer) } }]);
  });

  it('answers an SSLv2 error when no kind is shared, and a TLS protocol_version alert when SSLv2 is off (like OpenSSL 3)', async () => {
    expect(alertOf((await ask(config, buildSslv2ClientHello({ cipherKinds: [0x060040] }))).events)).toMatchObject({ name: 'sslv2_no_cipher' });
    expect(alertOf((await ask(BASE, buildSslv2ClientHello({ cipherKinds: [0x010080] }))).events)).toMatchObject({ name: 'protocol_version' });
  });

  it('negotiates TLS from an SSLv2-format hello that advertises TLS 1.0', async () => {
    const result = await ask({ ...BASE, protocols: ['TLSv1.0'], suites: [0x002f] }, buildSslv2ClientHello({ version: 0x0301, cipherKinds: [0x010080, 0x00002f, 0x0000ff] }));
    expect(serverHello(result.events)).toMatchObject({ version: 'TLSv1.0', cipherSuite: 0x002f, secureRenegotiation: true });
  });
});

describe('scripted responder: TLS 1.3', () => {
  const config: ScriptedServerConfig = { ...BASE, protocols: ['TLSv1.2', 'TLSv1.3'], suites: [0x1302, 0x1301, ...MODERN], tls13Groups: [0x0018, 0x001d] };

  it('answers a key share it accepts with a ServerHello, then sends only what cannot be read', async () => {
    const result = await ask(config, { version: 'TLSv1.3', suites: [0x1301, 0x1302], keyShareGroups: [0x001d] });
    expect(types(result.events)).toEqual(['server-hello', 'change-cipher-spec', 'encrypted']);
    expect(serverHello(result.events)).toMatchObject({ version: 'TLSv1.3', cipherSuite: 0x1302, selectedGroup: 0x001d, isHelloRetryRequest: false });
  });

  it('answers an empty key_share with a HelloRetryRequest naming its preferred group', async () => {
    const result = await ask(config, { version: 'TLSv1.3', suites: [0x1301], groups: [0x001d, 0x0018], keyShareGroups: [] });
    expect(serverHello(result.events)).toMatchObject({ isHelloRetryRequest: true, selectedGroup: 0x0018, cipherSuite: 0x1301 });
  });

  it('answers the second hello on the same connection after a HelloRetryRequest', async () => {
    const port = await startScriptedTlsServer(servers, config);
    const first = buildClientHello({ version: 'TLSv1.3', suites: [0x1301], groups: [0x001d, 0x0018], keyShareGroups: [], sessionId: Buffer.alloc(32, 1) });
    const second = buildClientHello({ version: 'TLSv1.3', suites: [0x1301], groups: [0x001d, 0x0018], keyShareGroups: [0x0018], sessionId: Buffer.alloc(32, 1), recordVersion: 0x0303 });
    const events = await converse(port, first, second);
    expect(events.filter((e) => e.type === 'server-hello').map((e) => e.type === 'server-hello' && [e.hello.isHelloRetryRequest, e.hello.selectedGroup])).toEqual([
      [true, 0x0018],
      [false, 0x0018],
    ]);
  });
});

/** Sends `first`, waits for the HelloRetryRequest, sends a compat ChangeCipherSpec and `second`, reads until the server closes. */
function converse(port: number, first: Buffer, second: Buffer): Promise<ServerEvent[]> {
  return new Promise((resolve, reject) => {
    const parser = new ServerFlightParser();
    const events: ServerEvent[] = [];
    const socket = net.connect({ host: '127.0.0.1', port }, () => socket.write(first));
    socket.setTimeout(TIMEOUT_MS, () => socket.destroy(new Error('timeout')));
    socket.on('data', (chunk: Buffer) => {
      const before = events.length;
      events.push(...parser.push(chunk));
      if (before === 0 && events.length > 0) socket.write(Buffer.concat([Buffer.from([0x14, 3, 3, 0, 1, 1]), second]));
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(events));
  });
}

describe('scripted responder: misbehaviour', () => {
  const hello: ClientHelloOptions = { version: 'TLSv1.2', suites: MODERN };

  it.each([
    ['garbage', 'malformed', 'wire.malformed'],
    ['huge-length', 'malformed', 'wire.oversized'],
    ['truncate', 'closed', undefined],
    ['reset', 'reset', 'ECONNRESET'],
    ['silent', 'timeout', 'timeout'],
  ] as const)('%s → %s', async (misbehave, outcome, code) => {
    const result = await ask({ ...BASE, misbehave }, hello, 500);
    expect(result.outcome).toBe(outcome);
    expect(result.error?.code).toBe(code);
  });

  it('trickles a valid flight one byte per 50 ms, so only a patient client sees it', async () => {
    const result = await ask({ ...BASE, misbehave: 'trickle' }, hello, 300);
    expect(result.outcome).toBe('timeout');
    expect(result.bytesReceived).toBeGreaterThan(0);
  });

  it('picks a suite the client did not offer', async () => {
    const result = await ask({ ...BASE, misbehave: 'pick-unoffered-suite' }, { version: 'TLSv1.2', suites: [0xc02f] });
    const suite = serverHello(result.events).cipherSuite;
    expect(suite).not.toBe(0xc02f);
    expect(MODERN).toContain(suite);
  });

  it('hangs on a hello of 256–511 bytes (long-handshake intolerance), and answers a padded one', async () => {
    const config: ScriptedServerConfig = { ...BASE, misbehave: 'long-hello-intolerant' };
    const long: ClientHelloOptions = { version: 'TLSv1.2', suites: [...MODERN, ...Array.from({ length: 60 }, (_, i) => 0xc050 + i)] };
    expect((await ask(config, long, 300)).outcome).toBe('timeout');
    expect((await ask(config, { ...long, padding: true })).outcome).toBe('complete');
    expect((await ask(config, hello)).outcome).toBe('complete');
  });

  it('answers decode_error to bytes that are not a hello', async () => {
    const result = await ask(BASE, Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    expect(alertOf(result.events)).toMatchObject({ name: 'decode_error' });
  });
});
