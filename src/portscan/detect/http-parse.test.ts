import { describe, expect, it } from 'vitest';
import {
  cannotBeHttp,
  dechunk,
  describeHttpResponse,
  extractTitle,
  headerValue,
  httpResponseLooksComplete,
  MAX_HTTP_BODY_BYTES,
  parseHttpResponse,
  productFromServerHeader,
} from './http-parse.js';

const bytes = (text: string): Buffer => Buffer.from(text, 'latin1');
const describeText = (text: string) => {
  const response = parseHttpResponse(bytes(text));
  return response === undefined ? undefined : describeHttpResponse(response);
};

describe('HTTP response parsing', () => {
  it('reads status, Server, X-Powered-By, Location and the title', () => {
    const text =
      'HTTP/1.1 301 Moved Permanently\r\nServer: nginx/1.24.0\r\nX-Powered-By: PHP/8.2.7\r\nLocation: https://example.test/\r\n' +
      'Content-Type: text/html\r\nContent-Length: 52\r\n\r\n<html><head><title>Moved</title></head></html>\r\n\r\n\r\n';
    expect(describeText(text)).toEqual({
      http: { status: 301, server: 'nginx/1.24.0', title: 'Moved', location: 'https://example.test/', poweredBy: 'PHP/8.2.7' },
      product: 'nginx',
      version: '1.24.0',
    });
    expect(parseHttpResponse(bytes(text))?.complete).toBe(true);
  });

  it.each([
    ['nginx/1.24.0', { product: 'nginx', version: '1.24.0' }],
    ['Apache/2.4.58 (Debian)', { product: 'Apache', version: '2.4.58' }],
    ['Microsoft-IIS/10.0', { product: 'Microsoft-IIS', version: '10.0' }],
    ['cloudflare', { product: 'cloudflare' }],
    ['Jetty(9.4.53.v20231009)', { product: 'Jetty' }],
    ['  ', {}],
  ])('product from Server %j', (server, expected) => {
    expect(productFromServerHeader(server)).toEqual(expected);
  });

  it('de-chunks the body to find the title', () => {
    const text = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\n<title>\r\n5;ext=1\r\nHello\r\n8\r\n</title>\r\n0\r\n\r\n';
    const response = parseHttpResponse(bytes(text));
    expect(response?.body.toString()).toBe('<title>Hello</title>');
    expect(response?.complete).toBe(true);
    expect(describeText(text)?.http.title).toBe('Hello');
  });

  it('never trusts a chunk size or Content-Length bigger than what arrived', () => {
    expect(dechunk(bytes('ffffffffffff\r\n<title>Huge</title>'))).toEqual({ body: bytes('<title>Huge</title>'), done: false });
    const response = parseHttpResponse(bytes('HTTP/1.1 200 OK\r\nContent-Length: 999999999999\r\n\r\n<title>Partial</title>'));
    expect(response?.complete).toBe(false);
    expect(describeHttpResponse(response!).http.title).toBe('Partial');
    expect(parseHttpResponse(bytes('HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\nabc'))?.body.toString()).toBe('abc');
  });

  it('stops on malformed chunk framing', () => {
    expect(dechunk(bytes('zz\r\nabc'))).toEqual({ body: Buffer.alloc(0), done: true });
    expect(dechunk(bytes('3\r\nabc\r\nnot-hex\r\n'))).toEqual({ body: bytes('abc'), done: true });
  });

  it('keeps at most 16 KiB of body and calls that complete', () => {
    const response = parseHttpResponse(bytes(`HTTP/1.0 200 OK\r\n\r\n${'x'.repeat(40_000)}`));
    expect(response?.body.length).toBe(MAX_HTTP_BODY_BYTES);
    expect(response?.complete).toBe(true);
  });

  it('parses partial responses: status line only, headers without the blank line', () => {
    expect(parseHttpResponse(bytes('HTTP/1.1 404'))).toMatchObject({ status: 404, headersComplete: false, complete: false });
    const partial = parseHttpResponse(bytes('HTTP/1.1 200 OK\r\nServer: Caddy\r\nX-Cut'));
    expect(partial).toMatchObject({ status: 200, headersComplete: false });
    expect(partial && headerValue(partial, 'server')).toBe('Caddy');
    expect(describeText('HTTP/1.1 200 OK\r\nServer: Caddy\r\n')).toEqual({ http: { status: 200, server: 'Caddy' }, product: 'Caddy' });
  });

  it('accepts bare LF line endings, folded headers and odd spacing', () => {
    const response = parseHttpResponse(bytes('HTTP/1.0 200\nServer: a\n  b\nX-Powered-By:Express\n\n<TITLE>\n  Hi   there \n</TITLE>'));
    expect(response?.status).toBe(200);
    expect(describeHttpResponse(response!)).toMatchObject({ http: { server: 'a b', poweredBy: 'Express', title: 'Hi there' } });
  });

  it('treats 204, 304 and 1xx as complete at the end of the headers', () => {
    expect(parseHttpResponse(bytes('HTTP/1.1 204 No Content\r\n\r\n'))?.complete).toBe(true);
    expect(parseHttpResponse(bytes('HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\n'))?.complete).toBe(true);
  });

  it('skips huge header lines and gives up on endless headers', () => {
    const huge = `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(9000)}\r\nServer: after-big\r\n\r\n`;
    expect(describeText(huge)?.http.server).toBe('after-big');
    const endless = parseHttpResponse(bytes(`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(100_000)}`));
    expect(endless).toMatchObject({ status: 200, headersComplete: false, complete: true });
    const many = `HTTP/1.1 200 OK\r\n${'X-A: 1\r\n'.repeat(1000)}\r\n`;
    expect(parseHttpResponse(bytes(many))).toMatchObject({ headersComplete: true, complete: false });
    expect(parseHttpResponse(bytes(many))?.headers.length).toBe(128);
  });

  it('drops control characters from header values and bounds them', () => {
    const response = parseHttpResponse(bytes(`HTTP/1.1 200 OK\r\nServer: evil\x1b[2J\x00name\r\nLocation: /${'p'.repeat(5000)}\r\n\r\n`));
    const { http } = describeHttpResponse(response!);
    expect(http.server).toBe('evil [2J name');
    expect(http.location?.length).toBe(1024);
  });

  it.each([
    [''],
    ['SSH-2.0-OpenSSH_9.6\r\n'],
    ['HTTP/x.y 200 OK\r\n\r\n'],
    ['HTTP/1.1 2000 OK\r\n\r\n'],
    ['http/1.1 200 OK\r\n\r\n'],
    ['\x16\x03\x01\x00\x02\x02\x28'],
  ])('rejects what is not HTTP: %j', (text) => {
    expect(parseHttpResponse(bytes(text))).toBeUndefined();
  });

  it('survives binary garbage', () => {
    for (let seed = 1; seed < 100; seed++) {
      let x = seed;
      const garbage = Buffer.alloc(50 + seed * 97);
      for (let i = 0; i < garbage.length; i++) garbage[i] = x = (x * 1103515245 + 12345) & 0xff;
      const prefixed = Buffer.concat([bytes('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n'), garbage]);
      expect(() => parseHttpResponse(garbage)).not.toThrow();
      const response = parseHttpResponse(prefixed);
      expect(response?.status).toBe(200);
      expect(() => describeHttpResponse(response!)).not.toThrow();
    }
  });

  it('knows early when bytes cannot be HTTP, and when a response is complete', () => {
    expect(cannotBeHttp(bytes('HTT'))).toBe(false);
    expect(cannotBeHttp(bytes('HTTP/1.1'))).toBe(false);
    expect(cannotBeHttp(bytes('-ERR'))).toBe(true);
    expect(httpResponseLooksComplete(bytes('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'))).toBe(true);
    expect(httpResponseLooksComplete(bytes('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok'))).toBe(false);
    expect(httpResponseLooksComplete(bytes('HTTP/1.1 200 OK\r\n\r\nclose-delimited'))).toBe(false);
  });
});

describe('title extraction', () => {
  it.each([
    ['<html><head><title>Welcome to nginx!</title></head>', 'Welcome to nginx!'],
    ['<title lang="en">A &amp; B &#8212; &#x43;&lt;&gt;</title>', 'A & B — C<>'],
    ['<title>Грaфана</title>', 'Грaфана'],
    ['<title></title>', undefined],
    ['<title>unterminated because the body was cut', 'unterminated because the body was cut'],
    ['<svg><titlex>no</titlex></svg>', undefined],
    ['no title here', undefined],
  ])('%j', (html, expected) => {
    expect(extractTitle(Buffer.from(html, 'utf8'))).toBe(expected);
  });

  it('bounds the title to 256 characters', () => {
    expect(extractTitle(Buffer.from(`<title>${'t'.repeat(1000)}</title>`))?.length).toBe(256);
  });
});
