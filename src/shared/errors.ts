/**
 * One error family for the whole product. Codes are stable strings users and scripts can match on;
 * the server maps an error to RFC 9457 problem+json, the CLI to a message and an exit code.
 */
export type ErrorCode =
  | 'target.invalid'
  | 'target.unresolvable'
  | 'target.too-large'
  | 'scope.denied'
  | 'ports.invalid'
  | 'ports.list-unknown'
  | 'ports.list-file-invalid'
  | 'request.invalid'
  | 'config.invalid'
  | 'not-found'
  | 'conflict'
  | 'scan.failed'
  | 'scan.cancelled'
  | 'store.unavailable'
  | 'queue.unavailable'
  | 'tls.ca-file-invalid'
  | 'ssllabs.disabled'
  | 'ssllabs.not-registered'
  | 'ssllabs.email-rejected'
  | 'ssllabs.registration-failed'
  | 'ssllabs.rate-limited'
  | 'ssllabs.unavailable'
  | 'ssllabs.overloaded'
  | 'ssllabs.internal-error'
  | 'ssllabs.unreachable'
  | 'ssllabs.bad-request'
  | 'ssllabs.bad-response'
  | 'ssllabs.assessment-failed'
  | 'ssllabs.not-eligible'
  | 'auth.required'
  | 'auth.invalid'
  | 'auth.forbidden'
  | 'rate-limited'
  | 'quota.exceeded'
  | 'internal';

const DEFAULT_STATUS: Record<ErrorCode, number> = {
  'target.invalid': 400,
  'target.unresolvable': 400,
  'target.too-large': 400,
  'scope.denied': 403,
  'ports.invalid': 400,
  'ports.list-unknown': 400,
  'ports.list-file-invalid': 500,
  'request.invalid': 400,
  'config.invalid': 500,
  'not-found': 404,
  conflict: 409,
  'scan.failed': 500,
  'scan.cancelled': 409,
  'store.unavailable': 503,
  'queue.unavailable': 503,
  // A CA file named by the operator (config tls.caFiles, CLI --ca-file) that cannot be read or parsed.
  'tls.ca-file-invalid': 500,
  // The SSL Labs engine: off (opt-in), misconfigured (email), or SSL Labs itself failing (a gateway's 502/503).
  'ssllabs.disabled': 400,
  'ssllabs.not-registered': 500,
  'ssllabs.email-rejected': 500,
  'ssllabs.registration-failed': 400,
  'ssllabs.rate-limited': 503,
  'ssllabs.unavailable': 503,
  'ssllabs.overloaded': 503,
  'ssllabs.internal-error': 502,
  'ssllabs.unreachable': 502,
  'ssllabs.bad-request': 400,
  'ssllabs.bad-response': 502,
  'ssllabs.assessment-failed': 502,
  // A target SSL Labs may not assess (private address, not port 443…) where no fallback applies.
  'ssllabs.not-eligible': 400,
  // No credentials; credentials that are unknown, expired, revoked or malformed; a valid key without the scope.
  'auth.required': 401,
  'auth.invalid': 401,
  'auth.forbidden': 403,
  // Too many requests for one key (or address) per minute; too many scans of one key at once.
  'rate-limited': 429,
  'quota.exceeded': 429,
  internal: 500,
};

export interface ErrorDetail {
  /** The offending input value, echoed back so the user can find it. */
  value?: string;
  /** Where the value came from, e.g. `targets[3]` or `ports`. */
  field?: string;
  [key: string]: unknown;
}

export class PortcullisError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: ErrorDetail;

  constructor(code: ErrorCode, message: string, detail: ErrorDetail = {}, status?: number) {
    super(message);
    this.name = 'PortcullisError';
    this.code = code;
    this.detail = detail;
    this.status = status ?? DEFAULT_STATUS[code];
  }

  toJSON(): { code: ErrorCode; message: string; detail: ErrorDetail } {
    return { code: this.code, message: this.message, detail: this.detail };
  }
}

export function isPortcullisError(err: unknown): err is PortcullisError {
  return err instanceof PortcullisError;
}

/** Turns anything thrown into a message fit for a log line or a stored `error` column. */
export function describeError(err: unknown): { code: string; message: string } {
  if (err instanceof PortcullisError) return { code: err.code, message: err.message };
  if (err instanceof Error) return { code: 'internal', message: err.message };
  return { code: 'internal', message: String(err) };
}
