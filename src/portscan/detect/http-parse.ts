/**
 * Bounded, tolerant HTTP/1.x response parsing: status line, headers, a de-chunked body prefix and its
 * `<title>`. Never trusts a length from the peer; works on partial responses. Pure.
 */
import type { HttpServiceInfo } from '../../shared/model.js';
import { cleanText } from './text.js';

/** Status line plus headers we look at; past this without a blank line the response is given up on. */
export const MAX_HTTP_HEADER_BYTES = 16 * 1024;
/** Body prefix searched for `<title>`. */
export const MAX_HTTP_BODY_BYTES = 16 * 1024;
/** What a probe keeps of a response: headers, body and chunk framing. */
export const MAX_HTTP_RESPONSE_BYTES = MAX_HTTP_HEADER_BYTES + MAX_HTTP_BODY_BYTES + 4 * 1024;

const MAX_HEADER_LINE = 8 * 1024;
const MAX_HEADERS = 128;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export interface HttpResponse {
  /** e.g. `1.1` */
  version: string;
  status: number;
  reason: string;
  /** Lower-cased names, in order; huge or malformed lines are skipped. */
  headers: Array<[name: string, value: string]>;
  headersComplete: boolean;
  /** De-chunked body prefix, at most {@link MAX_HTTP_BODY_BYTES}. */
  body: Buffer;
  /** Nothing more worth reading: the body is whole, or we have all we would keep, or we gave up. */
  complete: boolean;
}

/** Parses what arrived so far; undefined when it does not start like an HTTP/1.x response. */
export function parseHttpResponse(input: Uint8Array): HttpResponse | undefined {
  const data = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const head = data.subarray(0, MAX_HTTP_HEADER_BYTES).toString('latin1');
  const statusEnd = head.indexOf('\n');
  const statusLine = (statusEnd === -1 ? head : head.slice(0, statusEnd)).replace(/\r$/, '');
  const m = /^HTTP\/(\d)\.(\d)[ \t]+(\d{3})(?=$|[ \t])(?:[ \t]+([^\r\n]*))?/.exec(statusLine.slice(0, MAX_HEADER_LINE));
  if (m === null) return undefined;
  const status = Number(m[3]);
  const response: HttpResponse = {
    version: `${m[1]}.${m[2]}`,
    status,
    reason: cleanText(m[4] ?? '', 128),
    headers: [],
    headersComplete: false,
    body: Buffer.alloc(0),
    complete: false,
  };
  if (statusEnd === -1) {
    response.complete = head.length >= MAX_HTTP_HEADER_BYTES;
    return response;
  }

  // Headers end at the first empty line (CRLF or bare LF).
  const lines = head.slice(statusEnd + 1).split('\n');
  let offset = statusEnd + 1;
  let bodyStart = -1;
  for (let i = 0; i < lines.length - 1; i++) {
    const raw = lines[i] ?? '';
    offset += raw.length + 1;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '') {
      bodyStart = offset;
      break;
    }
    if (line.length > MAX_HEADER_LINE || response.headers.length >= MAX_HEADERS) continue;
    const last = response.headers[response.headers.length - 1];
    if ((line.startsWith(' ') || line.startsWith('\t')) && last !== undefined) {
      last[1] = `${last[1]} ${line.trim()}`.slice(0, MAX_HEADER_LINE);
      continue;
    }
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon) : '';
    if (!TOKEN.test(name)) continue;
    response.headers.push([name.toLowerCase(), line.slice(colon + 1).trim()]);
  }
  if (bodyStart === -1) {
    response.complete = head.length >= MAX_HTTP_HEADER_BYTES;
    return response;
  }
  response.headersComplete = true;
  if ((status >= 100 && status < 200) || status === 204 || status === 304) {
    response.complete = true;
    return response;
  }

  const raw = data.subarray(bodyStart);
  if (/\bchunked\b/i.test(headerValue(response, 'transfer-encoding') ?? '')) {
    const { body, done } = dechunk(raw);
    response.body = body;
    response.complete = done || body.length >= MAX_HTTP_BODY_BYTES;
    return response;
  }
  const lengthHeader = headerValue(response, 'content-length');
  const length = lengthHeader !== undefined && /^\d{1,15}$/.test(lengthHeader) ? Number(lengthHeader) : undefined;
  response.body = raw.subarray(0, Math.min(length ?? Infinity, MAX_HTTP_BODY_BYTES));
  response.complete = (length !== undefined && raw.length >= length) || response.body.length >= MAX_HTTP_BODY_BYTES;
  return response;
}

/** De-chunks a body prefix, trusting no chunk size: stops at what is there, malformed framing, or the cap. */
export function dechunk(raw: Buffer): { body: Buffer; done: boolean } {
  const parts: Buffer[] = [];
  let size = 0;
  let pos = 0;
  for (;;) {
    const eol = raw.indexOf('\n', pos);
    if (eol === -1) return { body: Buffer.concat(parts), done: raw.length - pos > 1024 };
    const sizeLine = raw.subarray(pos, eol).toString('latin1').split(';')[0]?.trim() ?? '';
    if (!/^[0-9a-fA-F]{1,16}$/.test(sizeLine)) return { body: Buffer.concat(parts), done: true };
    const chunkSize = Number.parseInt(sizeLine, 16);
    if (chunkSize === 0) return { body: Buffer.concat(parts), done: true };
    const start = eol + 1;
    const available = Math.max(0, Math.min(chunkSize, raw.length - start));
    const take = Math.min(available, MAX_HTTP_BODY_BYTES - size);
    parts.push(raw.subarray(start, start + take));
    size += take;
    if (size >= MAX_HTTP_BODY_BYTES) return { body: Buffer.concat(parts), done: true };
    if (available < chunkSize) return { body: Buffer.concat(parts), done: false };
    pos = start + chunkSize;
    if (raw[pos] === 0x0d) pos++;
    if (raw[pos] === 0x0a) pos++;
    else if (pos >= raw.length) return { body: Buffer.concat(parts), done: false };
  }
}

/** First value of a header (names are compared case-insensitively). */
export function headerValue(response: HttpResponse, name: string): string | undefined {
  const lower = name.toLowerCase();
  return response.headers.find(([n]) => n === lower)?.[1];
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]{1,6}|#\d{1,7}|[a-zA-Z]{2,8});/g, (whole, entity: string) => {
    if (entity.startsWith('#')) {
      const code = entity[1] === 'x' || entity[1] === 'X' ? Number.parseInt(entity.slice(2), 16) : Number(entity.slice(1));
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[entity.toLowerCase()] ?? whole;
  });
}

/** The document `<title>` of a body prefix (UTF-8), cleaned and at most 256 characters. */
export function extractTitle(body: Uint8Array): string | undefined {
  const html = new TextDecoder('utf-8', { fatal: false }).decode(body.subarray(0, MAX_HTTP_BODY_BYTES));
  const m = /<title\b[^>]*>([^<]*)/i.exec(html);
  if (m === null) return undefined;
  const title = cleanText(decodeEntities(m[1] ?? ''), 256);
  return title === '' ? undefined : title;
}

/** `nginx/1.24.0` → nginx 1.24.0, `Apache/2.4.58 (Debian)` → Apache 2.4.58, `cloudflare` → cloudflare. */
export function productFromServerHeader(server: string): { product?: string; version?: string } {
  const m = /^([^\s/()]+)(?:\/([^\s()]+))?/.exec(server.trim());
  if (m === null || m[1] === undefined) return {};
  return { product: m[1], ...(m[2] !== undefined ? { version: m[2] } : {}) };
}

export interface HttpIdentity {
  http: HttpServiceInfo;
  product?: string;
  version?: string;
}

/** What the service record keeps of a response. */
export function describeHttpResponse(response: HttpResponse): HttpIdentity {
  const field = (name: string, max: number): string | undefined => {
    const value = headerValue(response, name);
    const cleaned = value === undefined ? '' : cleanText(value, max);
    return cleaned === '' ? undefined : cleaned;
  };
  const server = field('server', 256);
  const title = extractTitle(response.body);
  const location = field('location', 1024);
  const poweredBy = field('x-powered-by', 256);
  const http: HttpServiceInfo = {
    status: response.status,
    ...(server !== undefined ? { server } : {}),
    ...(title !== undefined ? { title } : {}),
    ...(location !== undefined ? { location } : {}),
    ...(poweredBy !== undefined ? { poweredBy } : {}),
  };
  return { http, ...(server !== undefined ? productFromServerHeader(server) : {}) };
}

/** Read predicate: the response is whole enough to stop. */
export function httpResponseLooksComplete(data: Uint8Array): boolean {
  return parseHttpResponse(data)?.complete === true;
}

/** True when these bytes cannot be the start of an HTTP/1.x response. */
export function cannotBeHttp(data: Uint8Array): boolean {
  const prefix = Buffer.from(data.buffer, data.byteOffset, Math.min(data.byteLength, 5)).toString('latin1');
  return prefix.length > 0 && !'HTTP/'.startsWith(prefix);
}
