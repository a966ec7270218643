import { createECDH } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildClientHello, buildSslv2ClientHello, parseClientHello, DEFAULT_SIGNATURE_ALGORITHMS, type ClientHelloOptions } from './client-hello.js';
import { ExtensionType } from './constants.js';
import { WireError } from './errors.js';

const TLS12_SUITES = [0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0x009e, 0xc013, 0x002f];
const TLS13_SUITES = [0x1301, 0x1302, 0x1303];

function wireErrorOf(fn: () => unknown): WireError {
  try {
    fn();
  } catch (err) {
    if (err instanceof WireError) return err;
    throw err;
  }
  throw new Error('expected a WireError');
}

describe('buildClientHello → parseClientHello round trip', () => {
  const cases: Array<[string, ClientHelloOptions]> = [
    [
      'a TLS 1.2 hello with every option set',
      {
        version: 'TLSv1.2',
        suites: TLS12_SUITES,
        sni: 'badssl.test',
        groups: [0x001d, 0x0017, 0x0018],
        signatureAlgorithms: [0x0403, 0x0804, 0x0401],
        alpn: ['h2', 'http/1.1'],
        compressionMethods: [1, 0],
        renegotiationInfo: true,
        emptyRenegotiationScsv: true,
        fallbackScsv: true,
        extendedMasterSecret: true,
        sessionTicket: Buffer.from('a ticket from an earlier session'),
        statusRequest: true,
        heartbeat: true,
        ecPointFormats: true,
        sessionId: Buffer.alloc(32, 7),
        recordVersion: 0x0301,
      },
    ],
    [
      'a TLS 1.0 hello with everything switched off',
      {
        version: 'TLSv1.0',
        suites: [0x002f, 0x0035],
        sni: null,
        groups: [],
        signatureAlgorithms: [],
        renegotiationInfo: false,
        emptyRenegotiationScsv: false,
        fallbackScsv: false,
        extendedMasterSecret: false,
        sessionTicket: false,
        statusRequest: false,
        heartbeat: false,
        ecPointFormats: false,
        sessionId: Buffer.alloc(0),
      },
    ],
    [
      'a TLS 1.3 hello after a HelloRetryRequest',
      {
        version: 'TLSv1.3',
        supportedVersions: ['TLSv1.3', 'TLSv1.2'],
        suites: TLS13_SUITES,
        sni: 'example.test',
        groups: [0x0018, 0x001d],
        keyShareGroups: [0x0018],
        cookie: Buffer.from('cookie from the HRR'),
        recordVersion: 0x0303,
        sessionId: Buffer.alloc(32, 9),
      },
    ],
  ];

  it.each(cases)('%s', (_name, options) => {
    const parsed = parseClientHello(buildClientHello(options));
    expect(parsed).toMatchObject({
      format: 'tls',
      version: options.version,
      suites: options.suites,
      sni: options.sni ?? null,
      sessionId: options.sessionId,
      recordVersion: options.recordVersion ?? 0x0301,
    });
    if (options.supportedVersions !== undefined) expect(parsed.supportedVersions).toEqual(options.supportedVersions);
    for (const flag of ['renegotiationInfo', 'emptyRenegotiationScsv', 'fallbackScsv', 'extendedMasterSecret', 'statusRequest', 'heartbeat', 'ecPointFormats'] as const) {
      if (options[flag] !== undefined) expect(parsed[flag], flag).toBe(options[flag]);
    }
    if (options.sessionTicket !== undefined) expect(parsed.sessionTicket).toEqual(options.sessionTicket);
    if (options.compressionMethods !== undefined) expect(parsed.compressionMethods).toEqual(options.compressionMethods);
    if (options.groups !== undefined) expect(parsed.groups ?? []).toEqual(options.groups);
    if (options.signatureAlgorithms !== undefined) expect(parsed.signatureAlgorithms ?? []).toEqual(options.signatureAlgorithms);
    if (options.alpn !== undefined) expect(parsed.alpn).toEqual(options.alpn);
    if (options.keyShareGroups !== undefined) expect(parsed.keyShares?.map((s) => s.group)).toEqual(options.keyShareGroups);
    if (options.cookie !== undefined) expect(parsed.cookie).toEqual(options.cookie);
  });
});

describe('buildClientHello defaults', () => {
  it('frames a TLS 1.2 hello in a 0x0301 record with client_version 0x0303, sigalgs, RI and no SCSV', () => {
    const hello = buildClientHello({ version: 'TLSv1.2', suites: TLS12_SUITES, sni: 'badssl.test' });
    expect([...hello.subarray(0, 3)]).toEqual([0x16, 0x03, 0x01]);
    expect(hello.readUInt16BE(3)).toBe(hello.length - 5);
    const parsed = parseClientHello(hello);
    expect(parsed.legacyVersion).toBe(0x0303);
    expect(parsed.supportedVersions).toBeUndefined();
    expect(parsed.signatureAlgorithms).toEqual(DEFAULT_SIGNATURE_ALGORITHMS);
    expect(parsed).toMatchObject({ renegotiationInfo: true, emptyRenegotiationScsv: false, extendedMasterSecret: true, sessionTicket: true, statusRequest: true, ecPointFormats: true });
    expect(parsed.sessionId.length).toBe(0);
    expect(parsed.keyShares).toBeUndefined();
  });

  it('leaves signature_algorithms out of TLS 1.0 and 1.1 hellos (RFC 5246 forbids them there)', () => {
    for (const version of ['TLSv1.0', 'TLSv1.1'] as const) {
      const parsed = parseClientHello(buildClientHello({ version, suites: [0x002f] }));
      expect(parsed.signatureAlgorithms).toBeUndefined();
      expect(parsed.legacyVersion).toBe(version === 'TLSv1.0' ? 0x0301 : 0x0302);
    }
  });

  it('sends ec_point_formats only when an EC suite is offered', () => {
    expect(parseClientHello(buildClientHello({ version: 'TLSv1.2', suites: [0x002f, 0x009c] })).ecPointFormats).toBe(false);
    expect(parseClientHello(buildClientHello({ version: 'TLSv1.2', suites: [0x002f, 0xc02f] })).ecPointFormats).toBe(true);
  });

  it('sends an SSLv3 hello in a 0x0300 record, without extensions, with the renegotiation SCSV', () => {
    const hello = buildClientHello({ version: 'SSLv3', suites: [0x000a, 0x0005] });
    expect(hello.readUInt16BE(1)).toBe(0x0300);
    const parsed = parseClientHello(hello);
    expect(parsed).toMatchObject({ legacyVersion: 0x0300, noExtensions: true, emptyRenegotiationScsv: true, renegotiationInfo: false, suites: [0x000a, 0x0005] });
    expect(parsed.extensions.size).toBe(0);
  });

  it('makes a TLS 1.3 hello: legacy 0x0303, supported_versions 1.3 down to 1.0, 32-byte session id, psk modes, real key shares', () => {
    const parsed = parseClientHello(buildClientHello({ version: 'TLSv1.3', suites: TLS13_SUITES }));
    expect(parsed.legacyVersion).toBe(0x0303);
    expect(parsed.version).toBe('TLSv1.3');
    expect(parsed.supportedVersions).toEqual(['TLSv1.3', 'TLSv1.2', 'TLSv1.1', 'TLSv1.0']);
    expect(parsed.sessionId.length).toBe(32);
    expect(parsed.extensions.get(ExtensionType.pskKeyExchangeModes)).toEqual(Buffer.from([1, 1]));
    expect(parsed.keyShares?.map((s) => s.group)).toEqual([0x001d, 0x0017]);
    const p256 = parsed.keyShares?.find((s) => s.group === 0x0017)?.keyExchange;
    // A server rejects a P-256 share that is not on the curve: prove it is a real point by using it.
    const server = createECDH('prime256v1');
    server.generateKeys();
    expect(() => server.computeSecret(p256!)).not.toThrow();
    expect(parsed.keyShares?.find((s) => s.group === 0x001d)?.keyExchange.length).toBe(32);
  });

  it('sends an empty key_share when asked, and leaves out groups it cannot make a share for', () => {
    expect(parseClientHello(buildClientHello({ version: 'TLSv1.3', suites: TLS13_SUITES, keyShareGroups: [] })).keyShares).toEqual([]);
    const shares = parseClientHello(buildClientHello({ version: 'TLSv1.3', suites: TLS13_SUITES, keyShareGroups: [0x11ec, 0x0100, 0x0018, 0x0019, 0x001e] })).keyShares;
    expect(shares?.map((s) => [s.group, s.keyExchange.length])).toEqual([
      [0x0018, 97],
      [0x0019, 133],
      [0x001e, 56],
    ]);
  });

  it('pads a hello that would be 256–511 bytes long to 512, and leaves others alone', () => {
    const suites = Array.from({ length: 60 }, (_, i) => 0xc000 + i);
    const unpadded = parseClientHello(buildClientHello({ version: 'TLSv1.2', suites }));
    expect(unpadded.handshakeLength).toBeGreaterThanOrEqual(256);
    expect(unpadded.handshakeLength).toBeLessThan(512);
    const padded = parseClientHello(buildClientHello({ version: 'TLSv1.2', suites, padding: true }));
    expect(padded.padding).toBe(true);
    expect(padded.handshakeLength).toBe(512);
    const small = parseClientHello(buildClientHello({ version: 'TLSv1.2', suites: [0x002f], padding: true, groups: [], signatureAlgorithms: [] }));
    expect(small.handshakeLength).toBeLessThan(256);
    expect(small.padding).toBe(false);
  });

  it('splits a hello larger than 2^14 bytes across records, and parses it back whole', () => {
    const ticket = Buffer.alloc(40_000, 0xab);
    const hello = buildClientHello({ version: 'TLSv1.2', suites: TLS12_SUITES, sessionTicket: ticket });
    expect(hello.readUInt16BE(3)).toBe(16_384);
    const parsed = parseClientHello(hello);
    expect(Buffer.isBuffer(parsed.sessionTicket) && parsed.sessionTicket.equals(ticket)).toBe(true); // toEqual over 40 KB is slow
    expect(parsed.bytesConsumed).toBe(hello.length);
  });

  it('refuses SSLv2, which has its own builder', () => {
    expect(wireErrorOf(() => buildClientHello({ version: 'SSLv2', suites: [] })).code).toBe('wire.unexpected');
  });
});

describe('buildSslv2ClientHello', () => {
  it('produces the research notes’ 45-byte SSLv2-format hello advertising TLS 1.0, byte for byte', () => {
    const challenge = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    const hello = buildSslv2ClientHello({ version: 0x0301, cipherKinds: [0x00c014, 0x000035, 0x00002f, 0x0700c0, 0x010080, 0x0000ff], challenge });
    expect(hello.toString('hex')).toBe('802b' + '01' + '0301' + '0012' + '0000' + '0010' + '00c014' + '000035' + '00002f' + '0700c0' + '010080' + '0000ff' + '00112233445566778899aabbccddeeff');
    expect(parseClientHello(hello)).toMatchObject({
      format: 'sslv2',
      version: 'TLSv1.0',
      suites: [0xc014, 0x0035, 0x002f],
      sslv2CipherKinds: [0x0700c0, 0x010080],
      emptyRenegotiationScsv: true,
      random: challenge,
      bytesConsumed: 45,
    });
  });

  it('defaults to a pure SSLv2 hello (version 0x0002) with a 16-byte random challenge', () => {
    const parsed = parseClientHello(buildSslv2ClientHello({ cipherKinds: [0x010080, 0x0700c0] }));
    expect(parsed).toMatchObject({ legacyVersion: 0x0002, version: 'SSLv2', sslv2CipherKinds: [0x010080, 0x0700c0], suites: [] });
    expect(parsed.random.length).toBe(16);
  });
});

describe('parseClientHello on bad or partial input', () => {
  const hello = buildClientHello({ version: 'TLSv1.2', suites: TLS12_SUITES, sni: 'a.test' });

  it('says "truncated" for every prefix of a valid hello, so a server knows to wait', () => {
    for (let n = 0; n < hello.length; n++) expect(wireErrorOf(() => parseClientHello(hello.subarray(0, n))).code).toBe('wire.truncated');
  });

  it('reports where the hello is wrong', () => {
    const badSuites = Buffer.from(hello);
    badSuites.writeUInt16BE(0xfff0, 5 + 4 + 2 + 32 + 1); // cipher_suites length beyond the message
    const err = wireErrorOf(() => parseClientHello(badSuites));
    expect(err.code).toBe('wire.malformed');
    expect(err.message).toMatch(/cipher_suites/);
  });

  it('rejects what is not a hello: another record type, a ServerHello, text', () => {
    expect(wireErrorOf(() => parseClientHello(Buffer.from('GET / HTTP/1.1\r\n\r\n'))).code).toBe('wire.malformed');
    const alert = Buffer.from([0x15, 3, 3, 0, 2, 2, 40]);
    expect(wireErrorOf(() => parseClientHello(alert)).code).toBe('wire.unexpected');
    const serverHello = Buffer.from(hello);
    serverHello[5] = 2;
    expect(wireErrorOf(() => parseClientHello(serverHello)).code).toBe('wire.unexpected');
  });

  it('refuses a record length above 2^14 + 2048 and a message length no hello can have', () => {
    expect(wireErrorOf(() => parseClientHello(Buffer.from([0x16, 3, 1, 0xff, 0xff]))).code).toBe('wire.oversized');
    expect(wireErrorOf(() => parseClientHello(Buffer.from([0x16, 3, 1, 0, 4, 1, 0xff, 0xff, 0xff]))).code).toBe('wire.oversized');
  });
});
