/**
 * HTTP client for the Qualys SSL Labs API, v3 and v4. Thin: one method per call, typed answers,
 * and every HTTP problem turned into a PortcullisError with a code the governor and the jobs act on.
 * The rate headers of every response (errors included) go to `onRateHeaders`.
 */
import { type ErrorCode, PortcullisError } from '../shared/errors.js';
import type { SslLabsEndpoint, SslLabsErrorBody, SslLabsHost, SslLabsInfo, SslLabsRegisterResult } from './api-types.js';
import type { RateHeaders } from './governor.js';

export type SslLabsApiVersion = 'v3' | 'v4';

export interface SslLabsClientOptions {
  /** The API root without the version, e.g. https://api.ssllabs.com/api/ */
  baseUrl: string;
  apiVersion: SslLabsApiVersion;
  /** The registered organisation email; sent in the `email` header on v4. */
  email?: string | undefined;
  /** Per request. */
  timeoutMs?: number;
  onRateHeaders?: (headers: RateHeaders) => void;
  fetch?: typeof fetch;
}

export interface AnalyzeParams {
  host: string;
  /** Only on the first call of a fresh assessment. */
  startNew?: boolean;
  /** Accept a cached report (cannot be combined with startNew); maxAgeHours bounds its age. */
  fromCache?: boolean;
  maxAgeHours?: number | undefined;
  ignoreMismatch?: boolean;
}

export interface RegisterParams {
  firstName: string;
  lastName: string;
  email: string;
  organization: string;
}

/** HTTP statuses SSL Labs documents, as our error codes. */
const STATUS_CODES: Record<number, { code: ErrorCode; what: string }> = {
  429: { code: 'ssllabs.rate-limited', what: 'too many requests or new assessments (429)' },
  441: { code: 'ssllabs.not-registered', what: 'the email is not registered with SSL Labs (441)' },
  500: { code: 'ssllabs.internal-error', what: 'SSL Labs had an internal error (500)' },
  503: { code: 'ssllabs.unavailable', what: 'SSL Labs is unavailable, probably for maintenance (503)' },
  529: { code: 'ssllabs.overloaded', what: 'SSL Labs is overloaded (529)' },
};

export class SslLabsClient {
  private readonly options: SslLabsClientOptions;
  private readonly root: string;
  private readonly fetchImpl: typeof fetch;

  constructor(options: SslLabsClientOptions) {
    this.options = options;
    this.root = `${options.baseUrl.replace(/\/+$/, '')}/${options.apiVersion}/`;
    this.fetchImpl = options.fetch ?? fetch;
  }

  get apiVersion(): SslLabsApiVersion {
    return this.options.apiVersion;
  }

  info(): Promise<SslLabsInfo> {
    return this.get<SslLabsInfo>('info', {});
  }

  analyze(params: AnalyzeParams): Promise<SslLabsHost> {
    if (params.startNew === true && params.fromCache === true) {
      throw new PortcullisError('ssllabs.bad-request', 'startNew and fromCache cannot be combined');
    }
    const query: Record<string, string> = { host: params.host, publish: 'off', all: 'done' };
    if (params.startNew === true) query.startNew = 'on';
    if (params.fromCache === true) {
      query.fromCache = 'on';
      if (params.maxAgeHours !== undefined) query.maxAge = String(params.maxAgeHours);
    }
    if (params.ignoreMismatch === true) query.ignoreMismatch = 'on';
    return this.get<SslLabsHost>('analyze', query);
  }

  getEndpointData(host: string, ip: string): Promise<SslLabsEndpoint> {
    return this.get<SslLabsEndpoint>('getEndpointData', { host, s: ip });
  }

  /** v4's one-time registration of an organisation email. */
  async register(params: RegisterParams): Promise<SslLabsRegisterResult> {
    if (this.options.apiVersion !== 'v4') throw new PortcullisError('ssllabs.bad-request', 'registration exists on API v4 only; set ssllabs.apiVersion to v4');
    const result = await this.request<SslLabsRegisterResult>(`${this.root}register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(params),
    });
    if (result.status !== 'success') {
      throw new PortcullisError('ssllabs.registration-failed', `SSL Labs refused the registration: ${result.message ?? 'no reason given'}`);
    }
    return result;
  }

  private get<T>(call: string, query: Record<string, string>): Promise<T> {
    const url = `${this.root}${call}?${new URLSearchParams(query).toString()}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.options.apiVersion === 'v4') {
      if (this.options.email === undefined) throw notConfigured();
      headers.email = this.options.email;
    }
    return this.request<T>(url, { method: 'GET', headers });
  }

  private async request<T>(url: string, init: RequestInit): Promise<T> {
    let response: Response;
    try {
      response = await this.fetchImpl(url, { ...init, signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000) });
    } catch (err) {
      throw new PortcullisError('ssllabs.unreachable', `cannot reach SSL Labs at ${this.root}: ${(err as Error).message}`, { url: this.root });
    }
    this.options.onRateHeaders?.({
      max: headerNumber(response.headers, 'x-max-assessments'),
      current: headerNumber(response.headers, 'x-current-assessments'),
    });
    const text = await response.text();
    if (!response.ok) throw this.httpError(response.status, text);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new PortcullisError('ssllabs.bad-response', `SSL Labs answered ${response.status} with something that is not JSON: ${text.slice(0, 120)}`);
    }
  }

  private httpError(status: number, text: string): PortcullisError {
    const messages = errorMessages(text);
    const detail = { httpStatus: status, ...(messages.length > 0 ? { messages } : {}) };
    const said = messages.length > 0 ? `: ${messages.map((m) => (m.field ? `${m.field} ${m.message}` : m.message)).join('; ')}` : '';
    if (status === 400 && messages.some((m) => m.field === 'email')) {
      return new PortcullisError('ssllabs.email-rejected', `SSL Labs rejected the configured email${said}; register it with \`portcullis ssllabs register\` or fix ssllabs.email`, detail);
    }
    if (status === 441) {
      return new PortcullisError('ssllabs.not-registered', `SSL Labs does not know the email ${this.options.email ?? ''}${said}: run \`portcullis ssllabs register\` once`, detail);
    }
    const known = STATUS_CODES[status];
    if (known !== undefined) return new PortcullisError(known.code, `${known.what}${said}`, detail);
    if (status === 400) return new PortcullisError('ssllabs.bad-request', `SSL Labs refused the request (400)${said}`, detail);
    return new PortcullisError('ssllabs.bad-response', `SSL Labs answered HTTP ${status}${said}`, detail);
  }
}

/** The engine is opt-in: without an email it never calls SSL Labs. */
export function notConfigured(): PortcullisError {
  return new PortcullisError(
    'ssllabs.disabled',
    'the SSL Labs engine is off: set ssllabs.email (PORTCULLIS_SSLLABS_EMAIL) to a registered organisation email to use it, within SSL Labs\' terms',
    {},
    400,
  );
}

function headerNumber(headers: Headers, name: string): number | undefined {
  const raw = headers.get(name);
  if (raw === null || !/^\d+$/.test(raw.trim())) return undefined;
  return Number(raw.trim());
}

function errorMessages(text: string): Array<{ field?: string; message: string }> {
  try {
    const body = JSON.parse(text) as SslLabsErrorBody;
    if (!Array.isArray(body?.errors)) return [];
    return body.errors
      .filter((e) => typeof e?.message === 'string')
      .map((e) => (typeof e.field === 'string' ? { field: e.field, message: e.message } : { message: e.message }));
  } catch {
    return [];
  }
}
