import https from 'node:https';
import tls from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { TestServers } from './servers.js';
import { dhParamsPem, startTlsServer } from './tls-servers.js';

const servers = new TestServers();
afterAll(() => servers.closeAll());

/** One node:tls handshake to 127.0.0.1:port; what was negotiated. */
function handshake(port: number, options: tls.ConnectionOptions = {}): Promise<{ protocol: string | null; cipher: string; kx: tls.EphemeralKeyInfo | object | null; socket: tls.TLSSocket }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, minVersion: 'TLSv1', ciphers: 'ALL:@SECLEVEL=0', ...options });
    socket.once('secureConnect', () => {
      resolve({ protocol: socket.getProtocol(), cipher: socket.getCipher().standardName, kx: socket.getEphemeralKeyInfo(), socket });
      socket.end();
    });
    socket.once('error', reject);
  });
}

describe('startTlsServer', () => {
  it('serves the configured protocol range, cipher list and DH group', async () => {
    const port = await startTlsServer(servers, { minVersion: 'TLSv1', maxVersion: 'TLSv1.2', ciphers: 'DHE-RSA-AES128-SHA:@SECLEVEL=0', dh: 'modp2', http: false });
    const result = await handshake(port, { maxVersion: 'TLSv1' });
    expect(result.protocol).toBe('TLSv1');
    expect(result.cipher).toBe('TLS_DHE_RSA_WITH_AES_128_CBC_SHA');
    expect(result.kx).toMatchObject({ type: 'DH', size: 1024 });
  });

  it('answers HTTPS with the HSTS header it was given', async () => {
    const port = await startTlsServer(servers, { hsts: 'max-age=31536000' });
    const headers = await new Promise<Record<string, unknown>>((resolve, reject) => {
      https.get({ host: '127.0.0.1', port, rejectUnauthorized: false, agent: false }, (response) => {
        response.resume();
        resolve(response.headers);
      }).once('error', reject);
    });
    expect(headers['strict-transport-security']).toBe('max-age=31536000');
    expect(headers.server).toBe('portcullis-test');
  });

  it('resumes sessions by id only when asked to', async () => {
    const noTickets = { maxVersion: 'TLSv1.2', secureOptions: 0x4000 } as const; // SSL_OP_NO_TICKET
    for (const sessionIdResumption of [true, false]) {
      const port = await startTlsServer(servers, { sessionIdResumption, http: false });
      const first = await handshake(port, noTickets);
      const session = first.socket.getSession();
      const second = await handshake(port, { ...noTickets, ...(session !== undefined ? { session } : {}) });
      expect(second.socket.isSessionReused()).toBe(sessionIdResumption);
    }
  });

  it('writes DH parameters OpenSSL accepts', () => {
    expect(dhParamsPem('modp14')).toMatch(/^-----BEGIN DH PARAMETERS-----\n[A-Za-z0-9+/=\n]+-----END DH PARAMETERS-----\n$/);
    expect(() => tls.createSecureContext({ dhparam: dhParamsPem('modp14') })).not.toThrow();
  });
});
