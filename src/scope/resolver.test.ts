import { createSocket, type Socket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, failureOf } from '../testing/errors.js';
import { createResolver, staticResolver, withTimeout } from './resolver.js';
import type { Resolver } from './types.js';

describe('staticResolver', () => {
  const resolver = staticResolver({
    'Host.Example': ['127.0.0.1', '::1', '127.0.0.1'],
    'mapped.example.': ['::ffff:127.0.0.2', '127.0.0.2', '0:0:0:0:0:0:0:1'],
  });

  it.each([
    ['host.example', ['127.0.0.1', '::1']],
    ['HOST.EXAMPLE', ['127.0.0.1', '::1']],
    ['host.example.', ['127.0.0.1', '::1']],
    ['mapped.example', ['127.0.0.2', '::1']],
  ])('%s → %j (case-insensitive, de-duplicated, canonical)', async (name, expected) => {
    await expect(resolver.resolve(name)).resolves.toEqual(expected);
  });

  it('matches exact names only', async () => {
    const err = await failureOf(resolver.resolve('www.host.example'));
    expect(err.code).toBe('target.unresolvable');
    expect(err.message).toBe('cannot resolve "www.host.example": no such name in the static hosts map');
    expect(err.detail).toEqual({ value: 'www.host.example' });
  });

  it('returns copies', async () => {
    const first = await resolver.resolve('host.example');
    first.push('10.0.0.1');
    await expect(resolver.resolve('host.example')).resolves.toEqual(['127.0.0.1', '::1']);
  });
});

describe('createResolver configuration', () => {
  it.each<[Record<string, unknown>, string, RegExp]>([
    [{ hosts: { 'a.example': ['not-an-ip'] } }, 'dns.hosts["a.example"]', /"not-an-ip" is not an IP address literal/],
    [{ hosts: { 'a.example': ['127.1'] } }, 'dns.hosts["a.example"]', /"127.1" is not an IP address literal/],
    [{ hosts: { 'a.example': ['10.0.0.0/8'] } }, 'dns.hosts["a.example"]', /not an IP address literal/],
    [{ hosts: { 'a.example': [] } }, 'dns.hosts["a.example"]', /at least one IP address/],
    [{ hosts: { 'bad name': ['127.0.0.1'] } }, 'dns.hosts["bad name"]', /not a valid host name/],
    [{ hosts: { '10.0.0.1': ['127.0.0.1'] } }, 'dns.hosts["10.0.0.1"]', /not a valid host name/],
    [{ servers: ['not a server'] }, 'dns.servers', /dns.servers is invalid/],
    [{ servers: [''] }, 'dns.servers', /dns.servers must be/],
    [{ timeoutMs: 0 }, 'dns.timeoutMs', /whole number of milliseconds/],
    [{ timeoutMs: 1.5 }, 'dns.timeoutMs', /whole number of milliseconds/],
  ])('%j → config.invalid', (override, field, message) => {
    const err = errorOf(() => createResolver({ servers: [], hosts: {}, timeoutMs: 1000, ...override } as never));
    expect(err.code).toBe('config.invalid');
    expect(err.detail.field).toBe(field);
    expect(err.message).toMatch(message);
  });
});

describe('createResolver with a static hosts map', () => {
  it('answers from the map first, without DNS', async () => {
    // The server below does not exist; the map must answer before it is ever asked.
    const resolver = createResolver({ servers: ['127.0.0.1:9'], hosts: { 'App.Internal': ['127.0.0.9'] }, timeoutMs: 200 });
    await expect(resolver.resolve('app.internal.')).resolves.toEqual(['127.0.0.9']);
  });
});

describe('createResolver with the system resolver (getaddrinfo)', () => {
  it('resolves localhost to loopback', async () => {
    const resolver = createResolver({ servers: [], hosts: {}, timeoutMs: 5000 });
    const addresses = await resolver.resolve('localhost');
    expect(addresses).toContain('127.0.0.1');
    for (const a of addresses) expect(a === '::1' || a.startsWith('127.')).toBe(true);
  });
});

describe('withTimeout', () => {
  const never: Resolver = { resolve: () => new Promise<string[]>(() => {}) };

  it('fails a call that takes too long', async () => {
    const err = await failureOf(withTimeout(never, 20).resolve('slow.example'));
    expect(err.code).toBe('target.unresolvable');
    expect(err.message).toBe('cannot resolve "slow.example": timed out after 20 ms');
  });

  it('passes answers and errors through', async () => {
    const inner = staticResolver({ 'ok.example': ['127.0.0.1'] });
    await expect(withTimeout(inner, 1000).resolve('ok.example')).resolves.toEqual(['127.0.0.1']);
    expect((await failureOf(withTimeout(inner, 1000).resolve('nope.example'))).code).toBe('target.unresolvable');
  });
});

/**
 * A tiny authoritative DNS responder on 127.0.0.1 for the c-ares path: it answers A and AAAA from a
 * table, NXDOMAIN for unknown names, and never answers `silent.` names.
 */
const ZONE: Record<string, { a?: string[]; aaaa?: string[] }> = {
  'dual.portcullis.test': { a: ['127.0.0.1'], aaaa: ['::1'] },
  'v4only.portcullis.test': { a: ['127.0.0.2', '127.0.0.3'] },
  'v6only.portcullis.test': { aaaa: ['::1'] },
  'mapped.portcullis.test': { a: ['127.0.0.1'], aaaa: ['::ffff:7f00:1'] },
  // Parsing data only: nothing connects to it.
  'meta.portcullis.test': { a: ['169.254.169.254'] },
  'empty.portcullis.test': {},
};

function encodeAddress(type: 1 | 28, text: string): Buffer {
  if (type === 1) return Buffer.from(text.split('.').map(Number));
  const [head = '', tail = ''] = text.split('::');
  const groups = (s: string): string[] => (s === '' ? [] : s.split(':'));
  const h = groups(head);
  const t = groups(tail);
  const all = text.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** `name/qtype` of every query the responder saw. */
const seen: string[] = [];

function answer(query: Buffer): Buffer | undefined {
  if (query.length < 12) return undefined;
  let offset = 12;
  const labels: string[] = [];
  while (offset < query.length) {
    const len = query[offset] as number;
    offset++;
    if (len === 0) break;
    labels.push(query.subarray(offset, offset + len).toString('ascii'));
    offset += len;
  }
  const qtype = query.readUInt16BE(offset);
  const questionEnd = offset + 4;
  const name = labels.join('.').toLowerCase();
  seen.push(`${name}/${qtype}`);
  if (name.startsWith('silent.')) return undefined;
  const zone = ZONE[name];
  const records = zone === undefined ? [] : ((qtype === 1 ? zone.a : qtype === 28 ? zone.aaaa : undefined) ?? []);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0); // id
  const rd = query.readUInt16BE(2) & 0x0100;
  header.writeUInt16BE(0x8400 | rd | 0x0080 | (zone === undefined ? 3 : 0), 2); // QR AA RD RA rcode
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(records.length, 6);
  const answers = records.map((text) => {
    const rdata = encodeAddress(qtype as 1 | 28, text);
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0); // pointer to the question name
    rr.writeUInt16BE(qtype, 2);
    rr.writeUInt16BE(1, 4); // IN
    rr.writeUInt32BE(60, 6);
    rr.writeUInt16BE(rdata.length, 10);
    return Buffer.concat([rr, rdata]);
  });
  return Buffer.concat([header, query.subarray(12, questionEnd), ...answers]);
}

describe('createResolver with DNS servers (c-ares) against a local responder', () => {
  let server: Socket;
  let address = '';

  beforeAll(async () => {
    server = createSocket('udp4');
    server.on('message', (msg, rinfo) => {
      const reply = answer(msg);
      if (reply !== undefined) server.send(reply, rinfo.port, rinfo.address);
    });
    await new Promise<void>((resolve) => server.bind(0, '127.0.0.1', resolve));
    address = `127.0.0.1:${server.address().port}`;
  });

  afterAll(() => {
    server.close();
  });

  const resolver = (): Resolver => createResolver({ servers: [address], hosts: { 'static.portcullis.test': ['127.0.0.5'] }, timeoutMs: 600 });

  it.each([
    ['dual.portcullis.test', ['127.0.0.1', '::1']],
    ['DUAL.Portcullis.Test', ['127.0.0.1', '::1']],
    ['v4only.portcullis.test', ['127.0.0.2', '127.0.0.3']],
    ['v6only.portcullis.test', ['::1']],
    ['mapped.portcullis.test', ['127.0.0.1']],
    ['meta.portcullis.test', ['169.254.169.254']],
    ['static.portcullis.test', ['127.0.0.5']],
  ])('%s → %j', async (name, expected) => {
    await expect(resolver().resolve(name)).resolves.toEqual(expected);
  });

  it.each([
    ['missing.portcullis.test', /NXDOMAIN/],
    ['empty.portcullis.test', /no A or AAAA records/],
  ])('%s fails with target.unresolvable', async (name, reason) => {
    const err = await failureOf(resolver().resolve(name));
    expect(err.code).toBe('target.unresolvable');
    expect(err.message).toMatch(new RegExp(`^cannot resolve "${name}": `));
    expect(err.message).toMatch(reason);
    expect(err.detail.value).toBe(name);
  });

  it('gives up on a server that never answers within the budget', async () => {
    const started = Date.now();
    const err = await failureOf(resolver().resolve('silent.portcullis.test'));
    expect(err.code).toBe('target.unresolvable');
    expect(err.message).toMatch(/timed out/);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('asked the local responder for both A (1) and AAAA (28)', () => {
    expect(seen).toContain('dual.portcullis.test/1');
    expect(seen).toContain('dual.portcullis.test/28');
    expect(seen.some((q) => q.startsWith('static.'))).toBe(false);
  });
});
