/**
 * Reading an uploaded target file from a request: a text/plain or text/csv body, a JSON array (or
 * `{"content": "...", "format": "csv"}`), or multipart/form-data with one file field. Shared by the
 * target import and the batches routes: each registers the parsers in its own (encapsulated) plugin.
 */
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { IMPORT_LIMITS, type ImportFormat } from '../monitor/target-import.js';
import { PortcullisError } from '../shared/errors.js';

export interface UploadedText {
  text: string;
  /** The media type of the file (of the file part for multipart; `text/csv` for `{"format": "csv"}`), without parameters. */
  contentType: string;
  filename?: string;
}

/** Route bodyLimit for uploads: the file limit plus room for JSON escaping and multipart framing. */
export const UPLOAD_BODY_LIMIT = IMPORT_LIMITS.maxBytes * 2;

const FORMAT_TYPES: Record<ImportFormat, string> = { text: 'text/plain', csv: 'text/csv', json: 'application/json' };
const JSON_FORMATS = new Set(['auto', ...Object.keys(FORMAT_TYPES)]);

/** Lets the plugin accept text/plain and text/csv bodies and multipart uploads; call once per plugin that reads uploads. */
export async function registerUploadParsers(app: FastifyInstance): Promise<void> {
  // Raw bytes decoded here: Fastify's own text parser would turn invalid UTF-8 (a binary file) into U+FFFD silently.
  app.removeContentTypeParser('text/plain');
  for (const type of ['text/plain', 'text/csv']) {
    app.addContentTypeParser(type, { parseAs: 'buffer' }, (_request, body, done) => {
      try {
        done(null, decodeText(body as Buffer));
      } catch (err) {
        done(err as Error, undefined);
      }
    });
  }
  await app.register(multipart, { limits: { fileSize: IMPORT_LIMITS.maxBytes, files: 1, fields: 10, parts: 20 } });
}

const invalid = (message: string, status?: number): PortcullisError => new PortcullisError('request.invalid', message, { field: 'file' }, status);

function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/** The text of an uploaded file; NUL bytes mean a binary file, never a list of targets. */
function checkText(text: string): string {
  if (text.includes('\u0000')) throw invalid('the file holds NUL bytes: it is a binary file, not a list of targets');
  return text;
}

function decodeText(bytes: Buffer): string {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw invalid('the file is not UTF-8 text: save it as UTF-8');
  }
  return checkText(text);
}

/** The uploaded file as text, whichever way it was sent. Throws request.invalid (413 when too large, 415 for other media types). */
export async function readUploadedText(request: FastifyRequest): Promise<UploadedText> {
  if (request.isMultipart()) return readMultipart(request);
  const contentType = mediaType(request.headers['content-type']);
  const body: unknown = request.body;
  if (contentType === 'text/plain' || contentType === 'text/csv') {
    if (typeof body !== 'string') throw invalid('the request has no file content');
    return { text: body, contentType };
  }
  if (contentType === 'application/json') {
    if (Array.isArray(body)) return { text: jsonText(body), contentType };
    if (typeof body === 'object' && body !== null && typeof (body as { content?: unknown }).content === 'string') {
      const { content, format = 'auto', ...rest } = body as { content: string; format?: unknown };
      if (Object.keys(rest).length > 0) throw invalid(`unknown field(s) ${Object.keys(rest).join(', ')}: send {"content": "...", "format": "auto|text|csv|json"}`);
      if (typeof format !== 'string' || !JSON_FORMATS.has(format)) throw new PortcullisError('request.invalid', `format must be auto, text, csv or json, got ${JSON.stringify(format)}`, { field: 'format' });
      return { text: checkText(content), contentType: format === 'auto' ? 'text/plain' : FORMAT_TYPES[format as ImportFormat] };
    }
    throw invalid('a JSON body is the target file itself (an array) or {"content": "...", "format": "csv"}');
  }
  throw invalid(`unsupported content type "${contentType || '(none)'}": send text/plain, text/csv, application/json or multipart/form-data with one file`, 415);
}

/** A parsed JSON array back as the file's text; nesting too deep to write back is no target file. */
function jsonText(items: unknown[]): string {
  try {
    return JSON.stringify(items);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    throw invalid('the JSON is nested too deeply: a target file is an array of strings or {"target": …} objects');
  }
}

/** The one file of a multipart form; other fields are ignored, a second file is refused. */
async function readMultipart(request: FastifyRequest): Promise<UploadedText> {
  const oneFile = 'the multipart form has more than one file: send one file per request';
  let upload: UploadedText | undefined;
  try {
    for await (const part of request.parts()) {
      if (part.type !== 'file') continue;
      if (upload !== undefined) throw invalid(oneFile);
      upload = { text: decodeText(await part.toBuffer()), contentType: mediaType(part.mimetype), ...(part.filename ? { filename: part.filename } : {}) };
    }
  } catch (err) {
    if (err instanceof PortcullisError) throw err;
    const code = (err as { code?: string }).code;
    if (code === 'FST_REQ_FILE_TOO_LARGE') throw invalid(`the file is larger than ${IMPORT_LIMITS.maxBytes} bytes (10 MB); split it`, 413);
    if (code === 'FST_FILES_LIMIT') throw invalid(oneFile);
    throw invalid(`the multipart upload cannot be read: ${(err as Error).message}`);
  }
  if (upload === undefined) throw invalid('the multipart form has no file: add one file field, e.g. curl -F file=@targets.csv');
  return upload;
}

/** The file format an upload declares: by media type, then file name extension; `auto` to sniff. */
export function uploadFormat(upload: UploadedText): ImportFormat | 'auto' {
  if (upload.contentType === 'text/csv') return 'csv';
  if (upload.contentType === 'application/json') return 'json';
  const extension = /\.([a-z]+)$/i.exec(upload.filename ?? '')?.[1]?.toLowerCase();
  if (extension === 'csv') return 'csv';
  if (extension === 'json') return 'json';
  return 'auto';
}
