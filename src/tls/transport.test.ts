/**
 * exchange() against servers on 127.0.0.1: a real OpenSSL (node:tls) server, and servers that send
 * garbage, cut records short, announce huge lengths, trickle, reset, close or refuse. Every one ends
 * in an outcome value, within the deadline.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { closedPort } from '../testing/listeners.js';
import { testPki } from '../testing/pki.js';
import { TestServers } from '../testing/servers.js';
import { startTlsServer } from '../testing/tls-servers.js';
import { exchange, untilServerHello, untilServerHelloDone, type ExchangeOptions } from './transport.js';
import { buildClientHello, encodeServerHello, encodeServerHelloDone, handshakeRecords, type ServerEvent } from './wire/index.js';

const servers = new TestServers();
afterEach(() => servers.closeAll());

const TIMEOUT_MS = 1000;
/** How long past the deadline a loaded CI machine may take to notice it, generously. */
const SLACK_MS = 1500;
const TLS12_HELLO = buildClientHello({ version: 'TLSv1.2', suites: [0xc030, 0xc02f, 0x009c, 0x002f], sni: 'localhost' });

const run = (port: number, overrides: Partial<ExchangeOptions> = {}) =>
  exchange({ ip: '127.0.0.1', port, hello: TLS12_HELLO, timeoutMs: TIMEOUT_MS, until: untilServerHelloDone, ...overrides });

const serverHello = (events: readonly ServerEvent[]) => events.find((e) => e.type === 'server-hello')?.hello;

describe('exchange with a real OpenSSL server (node:tls)', () => {
  it('gets the whole TLS 1.2 flight for a TLS 1.2 hello: version, the suite we preferred, the served chain', async () => {
    const port = await startTlsServer(servers, { http: false, maxVersion: 'TLSv1.2', honorCipherOrder: false });
    const counter = { connections: 0 };
    const result = await run(port, { counter });
    expect(result.outcome).toBe('complete');
    expect(result.events.map((e) => e.type)).toEqual(['server-hello', 'certificate', 'server-key-exchange', 'server-hello-done']);
    expect(serverHello(result.events)).toMatchObject({ version: 'TLSv1.2', cipherSuite: 0xc030, secureRenegotiation: true, extendedMasterSecret: true });
    const pki = await testPki();
    expect(result.events[1]).toEqual({ type: 'certificate', certificates: [pki.leaf.der, pki.intermediate.der] });
    expect(counter.connections).toBe(1);
    expect(result.bytesReceived).toBeGreaterThan(1000);
  });

  it('stops at the TLS 1.3 ServerHello: version 1.3 from supported_versions, a 1.3 suite, our key share’s group', async () => {
    const port = await startTlsServer(servers, { http: false, minVersion: 'TLSv1.3' });
    // Only secp256r1 offered: an OpenSSL that prefers a hybrid group (3.5: X25519MLKEM768) would otherwise ask again (HelloRetryRequest).
    const hello = buildClientHello({ version: 'TLSv1.3', suites: [0x1302, 0x1301], sni: 'localhost', keyShareGroups: [0x0017], groups: [0x0017] });
    const result = await run(port, { hello });
    expect(result.outcome).toBe('complete');
    expect(serverHello(result.events)).toMatchObject({ version: 'TLSv1.3', legacyVersion: 0x0303, cipherSuite: 0x1302, selectedGroup: 0x0017, isHelloRetryRequest: false });
  });

  it('gets a HelloRetryRequest naming the server’s group for an empty key_share', async () => {
    const port = await startTlsServer(servers, { http: false, minVersion: 'TLSv1.3', ecdhCurve: 'P-384' });
    const hello = buildClientHello({ version: 'TLSv1.3', suites: [0x1301], groups: [0x001d, 0x0018], keyShareGroups: [] });
    const result = await run(port, { hello, until: untilServerHello });
    expect(serverHello(result.events)).toMatchObject({ isHelloRetryRequest: true, selectedGroup: 0x0018 });
  });

  it('reports the protocol_version alert for a version the server does not speak', async () => {
    const port = await startTlsServer(servers, { http: false, minVersion: 'TLSv1.3' });
    const result = await run(port, { hello: buildClientHello({ version: 'TLSv1.1', suites: [0x002f, 0xc013] }) });
    expect(result.outcome).toBe('complete');
    expect(result.events).toEqual([{ type: 'alert', level: 2, description: 70, name: 'protocol_version' }]);
  });
});

describe('exchange with hostile or absent servers', () => {
  it('calls garbage malformed, without waiting for the deadline', async () => {
    const port = await servers.serve((socket) => socket.write('SSH-2.0-OpenSSH_9.6\r\n'));
    const result = await run(port);
    expect(result.outcome).toBe('malformed');
    expect(result.error?.code).toBe('wire.malformed');
    expect(result.error?.message).toContain(`127.0.0.1:${port}`);
    expect(result.ms).toBeLessThan(TIMEOUT_MS);
  });

  it('calls a huge length field malformed at once (oversized), without waiting for the bytes it announces', async () => {
    const port = await servers.serve((socket) => socket.write(Buffer.from([0x16, 3, 3, 0, 4, 2, 0xff, 0xff, 0xff])));
    const result = await run(port);
    expect(result).toMatchObject({ outcome: 'malformed', error: { code: 'wire.oversized' } });
    expect(result.ms).toBeLessThan(TIMEOUT_MS);
  });

  it('calls a record cut short by the server closing "closed"', async () => {
    const port = await servers.serve((socket) => socket.end(Buffer.from([0x16, 3, 3, 0, 80, 2, 0, 0, 76, 3, 3])));
    const result = await run(port);
    expect(result).toMatchObject({ outcome: 'closed', events: [], bytesReceived: 11 });
  });

  it('calls an immediate close "closed"', async () => {
    const port = await servers.serve((socket) => socket.end());
    expect(await run(port)).toMatchObject({ outcome: 'closed', events: [], bytesReceived: 0 });
  });

  it('calls a RST "reset"', async () => {
    const port = await servers.serve((socket) => socket.once('data', () => socket.resetAndDestroy()));
    expect(await run(port)).toMatchObject({ outcome: 'reset', error: { code: 'ECONNRESET' } });
  });

  it('calls a closed port "refused"', async () => {
    const counter = { connections: 0 };
    expect(await run(await closedPort(), { counter })).toMatchObject({ outcome: 'refused', error: { code: 'ECONNREFUSED' } });
    expect(counter.connections).toBe(1);
  });

  it('ends a server trickling one byte per 50 ms with "timeout" at the deadline', async () => {
    const flight = handshakeRecords([encodeServerHello({ legacyVersion: 0x0303, sessionId: Buffer.alloc(32), cipherSuite: 0xc02f, extensions: [] }), encodeServerHelloDone()], 0x0303);
    const port = await servers.serve((socket) => {
      let sent = 0;
      const timer = setInterval(() => socket.write(flight.subarray(sent, ++sent)), 50);
      socket.on('close', () => clearInterval(timer));
    });
    const result = await run(port);
    expect(result.outcome).toBe('timeout');
    expect(result.error?.message).toMatch(/no complete answer \(\d+ bytes\)/);
    expect(result.ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
    expect(result.ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);
  });

  it('ends a silent server with "timeout"', async () => {
    const port = await servers.serve(() => undefined);
    expect(await run(port, { timeoutMs: 200 })).toMatchObject({ outcome: 'timeout', error: { message: expect.stringMatching(/no answer/) } });
  });

  it('stops when aborted, and does not connect when aborted before', async () => {
    const port = await servers.serve(() => undefined);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const result = await run(port, { signal: controller.signal, timeoutMs: 5000 });
    expect(result.outcome).toBe('aborted');
    expect(result.ms).toBeLessThan(2000);
    const counter = { connections: 0 };
    expect(await run(port, { signal: controller.signal, counter })).toMatchObject({ outcome: 'aborted' });
    expect(counter.connections).toBe(0);
  });

  it('keeps the events read before the server went wrong', async () => {
    const alert = Buffer.from([0x15, 3, 3, 0, 2, 1, 112]); // a warning: not a stop by itself
    const port = await servers.serve((socket) => socket.write(Buffer.concat([alert, Buffer.from('junk')])));
    const result = await run(port);
    expect(result.outcome).toBe('malformed');
    expect(result.events).toEqual([{ type: 'alert', level: 1, description: 112, name: 'unrecognized_name' }]);
  });

  it('rejects, rather than crashing the process, when `until` itself throws', async () => {
    const port = await servers.serve((socket) => socket.write(Buffer.from([0x15, 3, 3, 0, 2, 2, 40])));
    await expect(run(port, { until: () => { throw new Error('bug in until'); } })).rejects.toThrow('bug in until');
  });
});
