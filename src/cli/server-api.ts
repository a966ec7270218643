/**
 * The CLI's client of a running Portcullis server (`--server`, default http://127.0.0.1:4545, with
 * the API key from PORTCULLIS_API_KEY or `--api-key`):
 * one call, JSON or text in and out, problem+json answers turned into a CliExit with the server's
 * own message and code.
 */
import { type CliIo, CliExit, EXIT_FAILED, EXIT_USAGE } from './io.js';

export const DEFAULT_SERVER = 'http://127.0.0.1:4545';

export const SERVER_OPTION = ['--server <url>', `server base URL (env PORTCULLIS_SERVER, default ${DEFAULT_SERVER})`] as const;
export const API_KEY_OPTION = ['--api-key <key>', 'API key (env PORTCULLIS_API_KEY, which is safer: arguments show in process lists)'] as const;

/** Where the CLI sends API calls and with which key. */
export interface ServerTarget {
  url: string;
  apiKey: string | undefined;
}

export function serverTarget(io: CliIo, opts: { server?: string | undefined; apiKey?: string | undefined }): ServerTarget {
  return { url: opts.server ?? io.env.PORTCULLIS_SERVER ?? DEFAULT_SERVER, apiKey: opts.apiKey ?? (io.env.PORTCULLIS_API_KEY || undefined) };
}

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
export async function api<T>(target: ServerTarget, path: string, request: ApiRequest = {}): Promise<T> {
  let response: Response;
  const server = target.url;
  const url = new URL(path, server.endsWith('/') ? server : `${server}/`);
  const headers: Record<string, string> = target.apiKey !== undefined ? { authorization: `Bearer ${target.apiKey}` } : {};
  const init: RequestInit = { method: request.method ?? 'GET', headers };
  if (request.json !== undefined) {
    init.body = JSON.stringify(request.json);
    headers['content-type'] = 'application/json';
  } else if (request.text !== undefined) {
    init.body = request.text.body;
    headers['content-type'] = request.text.contentType;
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
    if (p.code === 'auth.required') throw new CliExit(EXIT_USAGE, `${p.detail ?? 'the server needs an API key'}; set PORTCULLIS_API_KEY (or pass --api-key)${code}`);
    throw new CliExit(response.status >= 400 && response.status < 500 && response.status !== 404 ? EXIT_USAGE : EXIT_FAILED, `${p.detail ?? `HTTP ${response.status}`}${code}`);
  }
  return body as T;
}

