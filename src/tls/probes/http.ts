/**
 * HTTP over TLS: one `GET /` (no redirects followed, body discarded) for the status, the Server header
 * and the HSTS policy.
 */
import https from 'node:https';
import type { HttpInfo } from '../model.js';
import { describeSocketError, permissiveTlsOptions, type ProbeContext } from './context.js';
import { parseHsts } from './hsts.js';

/** HTTP gets at most this long whatever the probe deadline, so a TLS server that is not HTTP costs little. */
const HTTP_DEADLINE_MS = 5000;

function failed(error: string): HttpInfo {
  return { status: null, server: null, hsts: { status: 'unknown', header: null, maxAge: null, includeSubDomains: false, preload: false }, error };
}

/** The Host header: the SNI name (or the IP), with the port when it is not 443. */
function hostHeader(ctx: ProbeContext): string {
  const host = ctx.sni ?? (ctx.ip.includes(':') ? `[${ctx.ip}]` : ctx.ip);
  return ctx.port === 443 ? host : `${host}:${ctx.port}`;
}

export function probeHttp(ctx: ProbeContext): Promise<HttpInfo> {
  const deadlineMs = Math.min(ctx.timeoutMs, HTTP_DEADLINE_MS);
  return ctx.limit(
    () =>
      new Promise<HttpInfo>((resolve) => {
        if (ctx.signal.aborted) {
          resolve(failed('aborted'));
          return;
        }
        ctx.counter.connections++;
        const request = https.request({
          ...permissiveTlsOptions(ctx),
          method: 'GET',
          path: '/',
          agent: false,
          headers: { host: hostHeader(ctx), 'user-agent': 'portcullis', accept: '*/*', connection: 'close' },
        });
        let settled = false;
        const finish = (info: HttpInfo): void => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          ctx.signal.removeEventListener('abort', onAbort);
          request.destroy();
          resolve(info);
        };
        const onAbort = (): void => finish(failed('aborted'));
        const timer = setTimeout(() => finish(failed(`no HTTP response within ${deadlineMs} ms`)), deadlineMs);
        ctx.signal.addEventListener('abort', onAbort, { once: true });
        request.on('error', (err) => finish(failed(describeSocketError(err))));
        request.on('response', (response) => {
          response.resume();
          const server = response.headers.server;
          finish({
            status: response.statusCode ?? null,
            server: typeof server === 'string' ? server : null,
            hsts: parseHsts(response.headersDistinct['strict-transport-security'] ?? []),
          });
        });
        request.end();
      }),
  );
}
