/**
 * SSL Labs as a TLS engine: the same target in, the same Assessment out, so API, diff, reports and
 * alerts treat both engines alike. Targets SSL Labs may not assess (IP addresses, ports other than
 * 443, names resolving to private or loopback addresses, names that do not resolve) never reach
 * Qualys: they fall back to the native engine and the assessment says so, or — when the caller
 * already runs the native engine beside this one — fail with ssllabs.not-eligible.
 */
import { PortcullisError } from '../shared/errors.js';
import type { TlsEngine, TlsEngineOptions } from '../tls/engine.js';
import type { Assessment } from '../tls/model.js';
import { resolveEndpoints } from '../tls/resolve-endpoints.js';
import type { TlsTarget } from '../tls/target.js';
import type { SslLabsHost } from './api-types.js';
import { runSslLabsAssessment, type SslLabsPolling } from './assess.js';
import type { SslLabsClient } from './client.js';
import { sslLabsIneligibility } from './eligibility.js';
import type { SslLabsGovernor } from './governor.js';
import { mapSslLabsHost } from './map.js';

export interface SslLabsEngineDeps {
  client: SslLabsClient;
  governor: SslLabsGovernor;
  /** Assesses what SSL Labs may not. */
  native: TlsEngine;
  polling?: SslLabsPolling | undefined;
  /** Accept SSL Labs' cached reports up to this many hours old. */
  fromCacheMaxAgeHours?: number | undefined;
}

export interface SslLabsEngineResult {
  assessment: Assessment;
  /** SSL Labs' JSON, kept verbatim; undefined when the native engine stood in. */
  raw: SslLabsHost | undefined;
}

export type SslLabsTlsEngine = (target: TlsTarget, options: TlsEngineOptions & { fallbackToNative: boolean }) => Promise<SslLabsEngineResult>;

export function sslLabsEngine(deps: SslLabsEngineDeps): SslLabsTlsEngine {
  return async (target, options) => {
    const reason = await whyNotSslLabs(target, options);
    if (reason !== undefined) {
      if (!options.fallbackToNative) throw new PortcullisError('ssllabs.not-eligible', `not sent to SSL Labs: ${reason}`, { value: target.host });
      const assessment = await deps.native(target, options);
      return { assessment: { ...assessment, fallback: { requested: 'ssllabs', reason } }, raw: undefined };
    }
    const run = await runSslLabsAssessment(target.host, {
      client: deps.client,
      governor: deps.governor,
      polling: deps.polling,
      fromCacheMaxAgeHours: deps.fromCacheMaxAgeHours,
      signal: options.signal,
    });
    const assessment = mapSslLabsHost(run.host);
    return {
      // Stored under the target as the user wrote it, whatever SSL Labs echoes back.
      assessment: { ...assessment, host: target.host, port: target.port, ...(run.warnings.length > 0 ? { notes: run.warnings } : {}) },
      raw: run.host,
    };
  };
}

/**
 * Checks the target against the scope policy like the native engine (scope.denied is thrown: an
 * out-of-scope name is not assessed by anyone), then says why SSL Labs may not assess it, if so.
 */
async function whyNotSslLabs(target: TlsTarget, options: TlsEngineOptions): Promise<string | undefined> {
  let addresses: string[] | undefined;
  try {
    addresses = (await resolveEndpoints(target.host, options.resolver, options.scopePolicy)).ips;
  } catch (err) {
    if (!(err instanceof PortcullisError) || err.code !== 'target.unresolvable') throw err;
  }
  return sslLabsIneligibility(target, addresses);
}
