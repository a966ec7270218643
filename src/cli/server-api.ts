/**
 * The CLI's client of a running Portcullis server (`--server`, default http://127.0.0.1:4545):
 * one call, JSON or text in and out, problem+json answers turned into a CliExit with the server's
 * own message and code.
 */
import { CliExit, EXIT_FAILED, EXIT_USAGE } from './io.js';

export const DEFAULT_SERVER = 'http://127.0.0.1:4545';

interface Problem {
  detail?: string;
  code?: string;
  status?: number;
}

export interface ApiRequest {
  method?: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** A JSON value (sent as application/json) or a text body with its content type. */
  json?: unknown;
  text?: { body: string; contentType: string };
  /** Answer as text (CSV, HTML) instead of JSON. */
  asText?: boolean;
}

/** Calls the API; a problem+json answer becomes a CliExit with the server's own message. */
export async function api<T>(server: string, path: string, request: ApiRequest = {}): Promise<T> {
  let response: Response;
  const url = new URL(path, server.endsWith('/') ? server : `${server}/`);
  const init: RequestInit = { method: request.method ?? 'GET' };
  if (request.json !== undefined) {
    init.body = JSON.stringify(request.json);
    init.headers = { 'content-type': 'application/json' };
  } else if (request.text !== undefined) {
    init.body = request.text.body;
    init.headers = { 'content-type': request.text.contentType };
  }
  try {
    response = await fetch(url, init);
  } catch (err) {
    throw new CliExit(EXIT_FAILED, `cannot reach the Portcullis server at ${server}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`);
  }
  const text = await response.text();
  if (request.asText === true && response.ok) return text as T;
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    throw new CliExit(EXIT_FAILED, `the server at ${server} answered ${response.status} with something that is not JSON`);
  }
  if (!response.ok) {
    const p = (body ?? {}) as Problem;
    const code = p.code ? ` [${p.code}]` : '';
    throw new CliExit(response.status >= 400 && response.status < 500 && response.status !== 404 ? EXIT_USAGE : EXIT_FAILED, `${p.detail ?? `HTTP ${response.status}`}${code}`);
  }
  return body as T;
}

