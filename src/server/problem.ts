import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type ErrorCode, PortcullisError } from '../shared/errors.js';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  code: string;
  field?: string;
  value?: string;
  errors?: Array<{ field: string; message: string }>;
  [extra: string]: unknown;
}

export function problemFor(err: PortcullisError, instance?: string): ProblemBody {
  const { field, value, ...rest } = err.detail;
  return {
    type: `urn:portcullis:problem:${err.code}`,
    title: TITLES[err.status] ?? 'Error',
    status: err.status,
    detail: err.message,
    ...(instance !== undefined ? { instance } : {}),
    code: err.code,
    ...(typeof field === 'string' ? { field } : {}),
    ...(typeof value === 'string' ? { value } : {}),
    ...rest,
  };
}

export function sendProblem(reply: FastifyReply, problem: ProblemBody): FastifyReply {
  return reply.status(problem.status).type('application/problem+json').send(problem);
}

/** `/body/targets/2` → `targets[2]`, the way users name fields. */
function fieldName(instancePath: string, location: string | undefined): string {
  const parts = instancePath.split('/').filter(Boolean);
  const named = parts.reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
  return named || location || 'body';
}

function fastifyCodeToProblem(err: FastifyError): { code: ErrorCode; status: number } | undefined {
  switch (err.code) {
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { code: 'request.invalid', status: err.statusCode ?? 400 };
    default:
      return err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? { code: 'request.invalid', status: err.statusCode } : undefined;
  }
}

const FRAMEWORK_DETAILS: Record<string, string> = {
  FST_ERR_BAD_URL: 'the URL is not valid: a percent-encoded sequence is not UTF-8 (e.g. %c0%af) or a % is not followed by two hex digits',
  FST_ERR_MAX_PARAM_LENGTH: 'a path segment is longer than any id: check the URL',
};

/**
 * Fastify's `frameworkErrors` option: what the router refuses before any route runs (a URL that is
 * not valid percent-encoded UTF-8, a path parameter over its length limit) answered as problem+json
 * like every other error, instead of Fastify's own plain JSON.
 */
export function sendFrameworkProblem(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const mapped = fastifyCodeToProblem(error);
  const status = mapped?.status ?? 500;
  if (mapped === undefined) request.log.error({ err: error }, 'unhandled framework error');
  void sendProblem(reply, {
    type: `urn:portcullis:problem:${mapped?.code ?? 'internal'}`,
    title: TITLES[status] ?? 'Error',
    status,
    detail: FRAMEWORK_DETAILS[error.code] ?? (mapped !== undefined ? error.message : 'an internal error occurred; the server log has the details'),
    instance: request.url,
    code: mapped?.code ?? 'internal',
  });
}

/**
 * Every error leaves the API as RFC 9457 problem+json: our own errors with their code, schema
 * violations naming each field, unknown routes as 404, and anything unexpected as a logged 500
 * whose body does not leak internals.
 */
export function registerProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (error instanceof PortcullisError) {
      if (error.status >= 500) request.log.error({ err: error }, error.message);
      return sendProblem(reply, problemFor(error, request.url));
    }
    if (error.validation) {
      const errors = error.validation.map((v) => ({
        field: fieldName(v.instancePath, error.validationContext),
        message: v.message ?? 'is invalid',
      }));
      const first = errors[0];
      return sendProblem(reply, {
        type: 'urn:portcullis:problem:request.invalid',
        title: 'Bad Request',
        status: 400,
        detail: first ? `${first.field} ${first.message}` : 'the request is invalid',
        instance: request.url,
        code: 'request.invalid',
        ...(first ? { field: first.field } : {}),
        errors,
      });
    }
    const mapped = fastifyCodeToProblem(error);
    if (mapped) {
      return sendProblem(reply, {
        type: `urn:portcullis:problem:${mapped.code}`,
        title: TITLES[mapped.status] ?? 'Error',
        status: mapped.status,
        detail: error.message,
        instance: request.url,
        code: mapped.code,
      });
    }
    request.log.error({ err: error }, 'unhandled error');
    return sendProblem(reply, {
      type: 'urn:portcullis:problem:internal',
      title: 'Internal Server Error',
      status: 500,
      detail: 'an internal error occurred; the server log has the details',
      instance: request.url,
      code: 'internal',
    });
  });

  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, {
      type: 'urn:portcullis:problem:not-found',
      title: 'Not Found',
      status: 404,
      detail: `no route ${request.method} ${request.url.split('?')[0]}`,
      instance: request.url,
      code: 'not-found',
    }),
  );
}
