/**
 * One host through SSL Labs, the documented way: the first `analyze` (startNew, or fromCache when a
 * cached report is acceptable) goes through the governor; then polls without those flags, every
 * 5 s until the assessment is under way and every 10 s until READY or ERROR — except that when the
 * endpoints' progress says the assessment will end sooner, the next poll comes just after that
 * (never more than one a second): a finished assessment holds one of the client's few slots until
 * a poll sees it, and with 10 s polls that costs about 10% of a typical 50 s assessment. A newer `startTime`
 * means someone restarted the assessment: we follow the new one. Endpoints that came back without
 * details are fetched with getEndpointData.
 */
import { PortcullisError } from '../shared/errors.js';
import type { SslLabsHost } from './api-types.js';
import type { SslLabsClient } from './client.js';
import { type SslLabsGovernor, sleep } from './governor.js';

export interface SslLabsPolling {
  /** While the status is DNS (not yet under way). */
  dnsMs: number;
  /** While IN_PROGRESS. */
  inProgressMs: number;
}

export const DOCUMENTED_POLLING: SslLabsPolling = { dnsMs: 5000, inProgressMs: 10_000 };

export interface SslLabsRunOptions {
  client: SslLabsClient;
  governor: SslLabsGovernor;
  polling?: SslLabsPolling;
  /** Accept SSL Labs' cached report up to this many hours old instead of starting a new assessment. */
  fromCacheMaxAgeHours?: number | undefined;
  ignoreMismatch?: boolean;
  signal?: AbortSignal | undefined;
  /** Each poll's answer, for progress reporting. */
  onPoll?: (host: SslLabsHost) => void;
}

export interface SslLabsRun {
  host: SslLabsHost;
  /** Things worth telling the user that did not stop the assessment (restarts, retried polls). */
  warnings: string[];
}

/** Poll failures tolerated in a row (network blips) before the host fails. */
const MAX_POLL_FAILURES = 3;

/**
 * Runs (or reads from SSL Labs' cache) the assessment of `hostname` and returns the READY host.
 * Throws ssllabs.assessment-failed when SSL Labs ends in ERROR, and the client's errors for
 * configuration problems (441, rejected email) and for a 500.
 */
export async function runSslLabsAssessment(hostname: string, options: SslLabsRunOptions): Promise<SslLabsRun> {
  const { client, governor, signal } = options;
  const polling = options.polling ?? DOCUMENTED_POLLING;
  const useCache = options.fromCacheMaxAgeHours !== undefined;
  const warnings: string[] = [];
  const { result: first, lease } = await governor.start(
    () =>
      client.analyze({
        host: hostname,
        ...(useCache ? { fromCache: true, maxAgeHours: options.fromCacheMaxAgeHours } : { startNew: true }),
        ...(options.ignoreMismatch === true ? { ignoreMismatch: true } : {}),
      }),
    signal,
  );
  try {
    let host = first;
    let startTime = first.startTime;
    let failures = 0;
    options.onPoll?.(host);
    const progress = new ProgressClock();
    while (host.status !== 'READY' && host.status !== 'ERROR') {
      await sleep(nextPollDelay(host, polling, progress.remainingMs(host, Date.now())), signal);
      const resumeAt = governor.resumeAt();
      if (resumeAt > Date.now()) await sleep(resumeAt - Date.now(), signal);
      try {
        host = await client.analyze({ host: hostname, ...(options.ignoreMismatch === true ? { ignoreMismatch: true } : {}) });
        failures = 0;
      } catch (err) {
        if (!(err instanceof PortcullisError)) throw err;
        if (err.code === 'ssllabs.unavailable' || err.code === 'ssllabs.overloaded') {
          governor.pause(`SSL Labs answered ${String(err.detail.httpStatus)} while polling ${hostname}`);
          continue;
        }
        if ((err.code === 'ssllabs.unreachable' || err.code === 'ssllabs.rate-limited' || err.code === 'ssllabs.bad-response') && ++failures < MAX_POLL_FAILURES) {
          warnings.push(`poll of ${hostname} failed and was retried: ${err.message}`);
          continue;
        }
        throw err;
      }
      if (startTime !== undefined && host.startTime !== undefined && host.startTime > startTime) {
        warnings.push(`the SSL Labs assessment of ${hostname} was restarted by someone else at ${new Date(host.startTime).toISOString()}; following the new one`);
      }
      startTime = host.startTime ?? startTime;
      options.onPoll?.(host);
    }
    if (host.status === 'ERROR') {
      throw new PortcullisError('ssllabs.assessment-failed', `SSL Labs could not assess ${hostname}: ${host.statusMessage ?? 'no reason given'}`, { value: hostname });
    }
    return { host: await withEndpointDetails(host, client), warnings };
  } finally {
    lease.release();
  }
}

/** How long to wait before the next poll: the documented interval, or less when the end is nearer. */
export function nextPollDelay(host: SslLabsHost, polling: SslLabsPolling, remainingMs: number | undefined): number {
  if (host.status !== 'IN_PROGRESS') return polling.dnsMs;
  if (remainingMs === undefined) return polling.inProgressMs;
  // Just after the expected end (5% late beats one poll too early), at most one poll a second (of the documented 5).
  return Math.round(Math.min(polling.inProgressMs, Math.max(polling.dnsMs / 5, remainingMs * 1.05)));
}

/**
 * Estimates when an assessment ends from how fast the endpoint under test advanced between polls
 * (SSL Labs tests the endpoints of a host one after the other; those still pending take as long).
 */
export class ProgressClock {
  private readonly firstSeen = new Map<string, { at: number; progress: number }>();

  remainingMs(host: SslLabsHost, now: number): number | undefined {
    const endpoints = host.endpoints ?? [];
    const current = endpoints.find((e) => e.statusMessage === 'In progress' && typeof e.progress === 'number' && e.progress >= 0);
    if (current?.ipAddress === undefined || current.progress === undefined) return undefined;
    const first = this.firstSeen.get(current.ipAddress);
    if (first === undefined) {
      this.firstSeen.set(current.ipAddress, { at: now, progress: current.progress });
      return undefined;
    }
    const rate = (current.progress - first.progress) / (now - first.at);
    if (!(rate > 0)) return undefined;
    const pending = endpoints.filter((e) => e.statusMessage === 'Pending').length;
    return (100 - current.progress) / rate + (pending * 100) / rate;
  }
}

/** `all=done` normally brings every endpoint's details; fetch the ones that are missing. */
async function withEndpointDetails(host: SslLabsHost, client: SslLabsClient): Promise<SslLabsHost> {
  const endpoints = host.endpoints ?? [];
  if (endpoints.every((e) => e.details !== undefined || e.statusMessage !== 'Ready')) return host;
  const complete = await Promise.all(
    endpoints.map(async (e) => (e.details !== undefined || e.statusMessage !== 'Ready' || e.ipAddress === undefined ? e : client.getEndpointData(host.host ?? '', e.ipAddress))),
  );
  return { ...host, endpoints: complete };
}
