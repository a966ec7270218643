/**
 * Public surface of the SSL Labs domain: the optional second engine. `createSslLabs` builds the one
 * client and governor a process shares; it is undefined unless an email is configured (opt-in).
 */
import type { Config } from '../config/index.js';
import type { TlsEngine } from '../tls/engine.js';
import { SslLabsClient, type SslLabsClientOptions } from './client.js';
import { type SslLabsTlsEngine, sslLabsEngine } from './engine.js';
import { type GovernorStatus, SslLabsGovernor } from './governor.js';
import type { SharedBudget } from './shared-budget.js';

export { SslLabsClient, notConfigured, type RegisterParams, type SslLabsApiVersion } from './client.js';
export type { SslLabsEngineResult, SslLabsTlsEngine } from './engine.js';
export type { GovernorStatus } from './governor.js';
export { mapSslLabsHost } from './map.js';

export interface SslLabs {
  client: SslLabsClient;
  governor: SslLabsGovernor;
  engine: SslLabsTlsEngine;
  /** The governor's state plus where it talks to, for /api/v1/ssllabs/status and the gauges. */
  status(): Promise<SslLabsStatus>;
  /** Releases the shared budget's connection, if any. */
  close(): Promise<void>;
}

export interface SslLabsStatus extends GovernorStatus {
  enabled: true;
  apiVersion: Config['ssllabs']['apiVersion'];
  baseUrl: string;
  /** With REDIS_URL: assessments in flight across every process, and their common pause. */
  shared: { inFlight: number; pausedUntil: string | null; pauseReason: string | null } | null;
}

/** The client the CLI uses for one-off calls (register, info): no governor, no engine. */
export function sslLabsClient(config: Config['ssllabs'], onRateHeaders?: SslLabsClientOptions['onRateHeaders']): SslLabsClient {
  return new SslLabsClient({ baseUrl: config.baseUrl, apiVersion: config.apiVersion, email: config.email, ...(onRateHeaders ? { onRateHeaders } : {}) });
}

export function createSslLabs(config: Config['ssllabs'], native: TlsEngine, shared?: SharedBudget): SslLabs | undefined {
  if (config.email === undefined) return undefined;
  const governor = new SslLabsGovernor({
    shared,
    coolOffMarginMs: config.coolOffMarginMs,
    rateLimitBackoffMs: config.rateLimitBackoffMs,
    pauseMinMs: config.pauseMinMs,
    pauseMaxMs: config.pauseMaxMs,
  });
  const client = sslLabsClient(config, (headers) => governor.observe(headers));
  let infoLoaded: Promise<void> | undefined;
  // `info` first, as documented: it carries the cool-off and the limits. Retried on the next start if it failed.
  const loadInfo = (): Promise<void> =>
    (infoLoaded ??= client.info().then(
      (info) => governor.observeLimits({ maxAssessments: info.maxAssessments, currentAssessments: info.currentAssessments, coolOffMs: info.newAssessmentCoolOff }),
      (err: unknown) => {
        infoLoaded = undefined;
        throw err;
      },
    ));
  const engine = sslLabsEngine({ client, governor, native, polling: { dnsMs: config.pollDnsMs, inProgressMs: config.pollMs }, fromCacheMaxAgeHours: config.fromCacheMaxAgeHours });
  return {
    client,
    governor,
    engine: async (target, options) => {
      await loadInfo();
      return engine(target, options);
    },
    status: async () => ({ enabled: true, apiVersion: config.apiVersion, baseUrl: config.baseUrl, ...governor.status(), shared: (await governor.sharedStatus()) ?? null }),
    close: async () => shared?.close(),
  };
}
export { engineDisagreements, type Disagreement } from './disagreements.js';
