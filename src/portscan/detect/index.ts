/**
 * Service detection on an open TCP port, like `nmap -sV --version-light` but cheaper:
 *
 * 1. read a banner (server speaks first: SSH, FTP, SMTP, POP3, IMAP, MySQL, VNC, telnet, …);
 * 2. if the port stays silent, client-first probes on fresh connections: a TLS handshake (then HTTP
 *    inside it), plain HTTP, Redis PING, PostgreSQL SSLRequest.
 *
 * Port hints reorder the probes and, on ports where servers wait for the client (80, 443, 6379, 5432,
 * …), skip the banner wait unless the hinted probe fails. The whole detection is bounded by
 * `timeoutMs`. Network trouble never throws (it yields `unknown` or `tcpwrapped`); only an abort does.
 */
import type { ServiceInfo } from '../../shared/model.js';
import type { ServiceDetector, ServiceProbeOptions } from '../types.js';
import { identifyBanner, parseBanner } from './banner-parse.js';
import { readBanner } from './banner-probe.js';
import { now, type ProbeTarget } from './conn.js';
import { parseHttpResponse } from './http-parse.js';
import { probeHttp } from './http-probe.js';
import { type ClientProbe, type DetectionPlan, planForPort, PROBE_WEIGHT } from './plan.js';
import { probePostgres } from './postgres-probe.js';
import { looksLikeTlsRecord, type ProbeOutcome, type ServiceMatch } from './probe.js';
import { probeRedis } from './redis-probe.js';
import { probeTls } from './tls-probe.js';

export { planForPort, type ClientProbe, type DetectionPlan } from './plan.js';
export { parseBanner, identifyBanner } from './banner-parse.js';
export { parseHttpResponse, describeHttpResponse } from './http-parse.js';
export { describeTlsHandshake } from './tls-parse.js';

export const detectService: ServiceDetector = (ip, port, options) => detectServiceWithPlan(ip, port, options, planForPort(port));

function runProbe(probe: ClientProbe, target: ProbeTarget, probeDeadline: number, deadline: number): Promise<ProbeOutcome> {
  switch (probe) {
    case 'tls':
      return probeTls(target, probeDeadline, deadline);
    case 'http':
      return probeHttp(target, probeDeadline);
    case 'redis':
      return probeRedis(target, probeDeadline);
    case 'postgres':
      return probePostgres(target, probeDeadline);
  }
}

/** {@link detectService} with an explicit plan (tests use it to exercise port hints on random ports). */
export async function detectServiceWithPlan(
  ip: string,
  port: number,
  options: ServiceProbeOptions,
  plan: DetectionPlan,
): Promise<ServiceInfo> {
  const { signal } = options;
  signal?.throwIfAborted();
  const deadline = now() + Math.max(0, options.timeoutMs);
  const bannerTimeoutMs = Math.max(0, options.bannerTimeoutMs);
  const target: ProbeTarget = {
    ip,
    port,
    ...(options.hostname !== undefined ? { hostname: options.hostname } : {}),
    ...(signal !== undefined ? { signal } : {}),
  };
  const queue = [...plan.order];
  let fallback: ServiceMatch | undefined;
  let portClosed = false;
  /** Evidence that the server waits for the client: no banner to wait for. */
  let clientFirst = false;
  let observedSilenceMs = 0;
  /** The last probe's connection was closed by the server without a byte. */
  let hungUpOn = false;

  const found = (match: ServiceMatch | undefined): ServiceInfo => ({ ...(match ?? fallback ?? { name: 'unknown' }), method: 'probed' });

  const attempt = async (probe: ClientProbe, probeDeadline: number): Promise<ServiceMatch | undefined> => {
    let outcome: ProbeOutcome;
    try {
      outcome = await runProbe(probe, target, probeDeadline, deadline);
    } catch {
      outcome = { kind: 'miss' }; // a probe bug or odd socket state is not worth failing the scan for
    }
    signal?.throwIfAborted();
    if (outcome.kind === 'match') return outcome.service;
    if (outcome.failure === 'refused') portClosed = true;
    fallback ??= outcome.fallback;
    // An answer in TLS or HTTP to another probe's bytes says what to try next (and that no banner will come).
    const suggested =
      outcome.tlsHint === true || looksLikeTlsRecord(outcome.reply)
        ? 'tls'
        : outcome.reply !== undefined && parseHttpResponse(outcome.reply) !== undefined
          ? 'http'
          : undefined;
    if (suggested !== undefined) {
      clientFirst = true;
      const at = queue.indexOf(suggested);
      if (at > 0) queue.unshift(...queue.splice(at, 1));
    }
    hungUpOn = outcome.peerClosed === true;
    observedSilenceMs = Math.max(observedSilenceMs, outcome.silentForMs ?? 0);
    // A server that speaks first does so on every connection, whatever we sent.
    return outcome.reply !== undefined && outcome.reply.length > 0 ? identifyBanner(outcome.reply, port) : undefined;
  };

  /** This probe's share of what is left, by weight among the probes still queued. */
  const shareDeadline = (probe: ClientProbe): number => {
    const t = now();
    const total = queue.reduce((sum, p) => sum + PROBE_WEIGHT[p], PROBE_WEIGHT[probe]);
    return t + (Math.max(0, deadline - t) * PROBE_WEIGHT[probe]) / total;
  };

  if (plan.skipBanner) {
    const first = queue.shift();
    if (first !== undefined) {
      // The hinted probe gets half of what is left once a banner wait is set aside.
      const left = Math.max(0, deadline - now());
      const probeDeadline = now() + (left - Math.min(bannerTimeoutMs, left / 2)) / 2;
      const match = await attempt(first, probeDeadline);
      if (match !== undefined || portClosed) return found(match);
      // Hung up on our bytes without a word: typical of TLS servers fed plaintext (TLS on port 8080);
      // a TLS attempt fails in a few ms otherwise, so it goes before the banner wait.
      if (hungUpOn && queue.includes('tls')) {
        queue.splice(queue.indexOf('tls'), 1);
        const tlsMatch = await attempt('tls', shareDeadline('tls'));
        if (tlsMatch !== undefined || portClosed) return found(tlsMatch);
      }
    }
  }

  let wrapped = false;
  // A server that speaks first would already have spoken on a connection that stayed silent this long.
  const bannerWait = bannerTimeoutMs - observedSilenceMs;
  if (!clientFirst && bannerWait > 0 && now() < deadline) {
    const banner = await readBanner(target, bannerWait, deadline);
    signal?.throwIfAborted();
    if (banner.kind === 'data') return found(parseBanner(banner.data, port));
    if (banner.kind === 'unreachable') return found(undefined);
    wrapped = banner.kind === 'closed';
  }

  for (let probe = queue.shift(); probe !== undefined && now() < deadline; probe = queue.shift()) {
    const match = await attempt(probe, shareDeadline(probe));
    if (match !== undefined) return found(match);
    if (portClosed) break;
  }
  if (fallback === undefined && wrapped) return { name: 'tcpwrapped', method: 'probed' };
  return found(undefined);
}
