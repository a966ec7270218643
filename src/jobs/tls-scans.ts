import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { Metrics } from '../metrics/index.js';
import { normalizeHostname, planTargets } from '../scope/index.js';
import type { Resolver, ScopePolicy } from '../scope/index.js';
import { PortcullisError, describeError } from '../shared/errors.js';
import { timeOrderedId } from '../shared/ids.js';
import { narrowPolicy } from '../auth/scope.js';
import type { SaveAssessmentExtras, SslLabsOpinion, Store, TlsScanOptions, TlsScanRecord, TlsTarget, TlsTargetOutcome } from '../store/index.js';
import { parseTlsTarget, targetKey } from '../tls/target.js';
import type { Assessment } from '../tls/model.js';
import type { TlsEngine, TlsEngineOptions } from '../tls/engine.js';
import { notConfigured, type SslLabsTlsEngine } from '../ssllabs/index.js';
import type { JobContext, JobHandler, JobQueue } from './queue.js';
import { UnrecoverableError } from './queue.js';

export const TLS_SCAN_JOB = 'tls-scan';

export function tlsScanJobId(scanId: string): string {
  return `${TLS_SCAN_JOB}:${scanId}`;
}

export interface TlsScanJobPayload {
  scanId: string;
}

export type { TlsEngine, TlsEngineOptions } from '../tls/engine.js';

export interface TlsPlanDeps {
  resolver: Resolver;
  policy: ScopePolicy;
  /** config.scope.maxAddressesPerScan */
  maxAddresses: number;
}

/**
 * Parses TLS targets (see parseTlsTarget), resolves every host name and checks every address against
 * the scope policy. Returns the targets de-duplicated, in request order. Problems name `hosts[i]`.
 */
export async function planTlsTargets(hosts: readonly string[], deps: TlsPlanDeps): Promise<TlsTarget[]> {
  if (hosts.length === 0) throw new PortcullisError('target.invalid', 'no hosts given: list at least one host[:port]', { field: 'hosts' });
  const parsed = hosts.map((h, i) => parseTlsTarget(h, `hosts[${i}]`));
  try {
    await planTargets(
      parsed.map((t) => t.host),
      { resolver: deps.resolver, policy: deps.policy, maxAddresses: deps.maxAddresses },
    );
  } catch (err) {
    // planTargets names its input `targets[i]`; here the same positions are `hosts[i]`.
    const field = err instanceof PortcullisError ? err.detail.field : undefined;
    const index = typeof field === 'string' ? /^targets\[(\d+)\]$/.exec(field)?.[1] : undefined;
    if (err instanceof PortcullisError && field !== undefined && index !== undefined) {
      const named = `hosts[${index}]`;
      throw new PortcullisError(err.code, err.message.replace(field, named), { ...err.detail, field: named }, err.status);
    }
    throw err;
  }
  return [...new Map(parsed.map((t) => [targetKey(t), t])).values()];
}

/** A server name for SNI in canonical form, or target.invalid naming `field`. */
export function parseSni(text: string, field: string): string {
  const sni = normalizeHostname(text);
  if (sni === undefined) throw new PortcullisError('target.invalid', `${field} "${text}" is not a host name (SNI cannot carry an IP address)`, { value: text, field });
  return sni;
}

export interface TlsScanSubmission {
  /** Chosen by the caller when it must know the id before submitting (the scheduler); otherwise generated. */
  id?: string | undefined;
  hosts: string[];
  /**
   * Targets from the inventory, already validated: each is resolved and checked against the scope
   * policy when the job assesses it (as every target is), and one that no longer resolves or is now
   * out of scope fails alone instead of refusing the whole scan.
   */
  deferChecks?: boolean | undefined;
  options?: TlsScanOptions | undefined;
  /** The port scan asking for this TLS scan (port-scan option assessTls). */
  portScanId?: string | undefined;
  /** The principal asking (its concurrent-scan quota counts this scan). */
  requestedBy?: string | undefined;
}

export interface TlsSubmitDeps {
  store: Store;
  queue: JobQueue;
  resolver: Resolver;
  policy: ScopePolicy;
  config: Config;
  metrics?: Metrics | undefined;
}

/**
 * Validates a TLS scan request, resolves every host and checks every address against the scope
 * policy, stores the scan as queued and enqueues its job. Nothing is stored when any of that fails.
 */
export async function submitTlsScan(deps: TlsSubmitDeps, request: TlsScanSubmission): Promise<TlsScanRecord> {
  try {
    const options = { ...request.options };
    if (options.sni !== undefined) options.sni = parseSni(options.sni, 'options.sni');
    // Opt-in: without a configured email nothing is ever sent to SSL Labs, and the request says why.
    if (options.engine !== undefined && options.engine !== 'native' && deps.config.ssllabs.email === undefined) throw notConfigured();
    const targets =
      request.deferChecks === true
        ? [...new Map(request.hosts.map((h, i) => parseTlsTarget(h, `hosts[${i}]`)).map((t) => [targetKey(t), t])).values()]
        : await planTlsTargets(request.hosts, { resolver: deps.resolver, policy: deps.policy, maxAddresses: deps.config.scope.maxAddressesPerScan });
    const record = await deps.store.tlsAssessments.createScan({
      id: request.id ?? timeOrderedId(),
      hosts: request.hosts,
      targets,
      options,
      portScanId: request.portScanId,
      createdAt: new Date().toISOString(),
      requestedBy: request.requestedBy,
    });
    try {
      await deps.queue.enqueue<TlsScanJobPayload>(TLS_SCAN_JOB, { scanId: record.id }, { jobId: tlsScanJobId(record.id) });
    } catch (err) {
      await deps.store.tlsAssessments.deleteScan(record.id);
      throw new PortcullisError('queue.unavailable', `the TLS scan could not be queued: ${describeError(err).message}`);
    }
    deps.metrics?.tlsScansSubmitted.inc({ outcome: 'accepted' });
    return record;
  } catch (err) {
    deps.metrics?.tlsScansSubmitted.inc({ outcome: 'rejected' });
    throw err;
  }
}

export interface TlsScanJobDeps {
  store: Store;
  engine: TlsEngine;
  /** The SSL Labs engine; undefined when it is off (a scan asking for it then fails its targets with ssllabs.disabled). */
  sslLabs?: SslLabsTlsEngine | undefined;
  resolver: Resolver;
  policy: ScopePolicy;
  config: Config;
  logger: Logger;
  metrics?: Metrics | undefined;
  /** How often the handler stores progress and looks for a cancellation, ms. */
  checkpointMs?: number;
  /** Told about every stored assessment (the monitor notes certificate expiry for expiry-driven rescans). */
  onAssessed?: ((target: TlsTarget, assessment: Assessment) => Promise<void>) | undefined;
}

/**
 * Errors about the target itself or about the configuration: retrying cannot help, so they are
 * recorded for that target. SSL Labs failing (ERROR, 500) is recorded too: the batch goes on.
 */
const TARGET_ERRORS = new Set([
  'target.invalid',
  'target.unresolvable',
  'target.too-large',
  'scope.denied',
  'ssllabs.disabled',
  'ssllabs.not-registered',
  'ssllabs.email-rejected',
  'ssllabs.assessment-failed',
  'ssllabs.internal-error',
  'ssllabs.not-eligible',
]);

/**
 * Runs one stored TLS scan: each target through the engine, a bounded number at once. Idempotent
 * under retries: targets finished by an earlier attempt are skipped and each assessment is stored
 * per scan and target, so a retry never duplicates. Unless the scan asked for fresh results, a
 * target assessed less than tls.maxAgeSeconds ago is answered with that assessment. A target that
 * cannot be resolved or is out of scope is recorded as failed and the scan goes on; an unexpected
 * engine error is retried with the job, and recorded for its target on the last attempt.
 */
export function createTlsScanHandler(deps: TlsScanJobDeps): JobHandler<TlsScanJobPayload, { status: string }> {
  return async (ctx: JobContext<TlsScanJobPayload>) => {
    const { scanId } = ctx.payload;
    const repo = deps.store.tlsAssessments;
    const scan = await repo.getScan(scanId);
    if (scan === undefined) throw new UnrecoverableError(`TLS scan ${scanId} no longer exists`);
    if (scan.status !== 'queued' && scan.status !== 'running') return { status: scan.status };

    await repo.markRunning(scanId, scan.startedAt ?? new Date().toISOString());
    const log = deps.logger.child({ tlsScanId: scanId, attempt: ctx.attempt });
    const finished = new Set((await repo.scanResults(scanId)).map(targetKey));
    const remaining = scan.targets.filter((t) => !finished.has(targetKey(t)));
    log.info({ targets: scan.targets.length, resumed: finished.size }, 'TLS scan started');

    const abort = new AbortController();
    const onJobAbort = (): void => abort.abort(ctx.signal.reason);
    ctx.signal.addEventListener('abort', onJobAbort, { once: true });
    let done = finished.size;
    const checkpoint = setInterval(() => {
      void (async () => {
        const current = await repo.getScan(scanId);
        if (current?.status === 'cancelled') abort.abort(new PortcullisError('scan.cancelled', 'scan cancelled'));
        else await ctx.updateProgress({ done, total: scan.targets.length });
      })().catch((err: unknown) => log.warn({ err }, 'could not check the TLS scan'));
    }, deps.checkpointMs ?? 500);

    const options = scan.options;
    const engineChoice = options.engine ?? 'native';
    const engineOptions: TlsEngineOptions = {
      resolver: deps.resolver,
      // A caller's own allow-list travels with its scan, so addresses resolved now are held to it too.
      scopePolicy: narrowPolicy(deps.policy, options.scopeAllow ?? []),
      ...(options.sni !== undefined ? { sni: options.sni } : {}),
      timeoutMs: options.timeoutMs ?? deps.config.tls.timeoutMs,
      parallelism: deps.config.tls.parallelism,
      signal: abort.signal,
    };
    const sslLabs = (target: TlsTarget, fallbackToNative: boolean) => {
      if (deps.sslLabs === undefined) throw notConfigured();
      return deps.sslLabs(target, { ...engineOptions, fallbackToNative });
    };
    /** Runs the engine(s) the scan asked for; the primary assessment and, for `both`, SSL Labs' opinion. */
    const runEngines = async (target: TlsTarget): Promise<{ assessment: Assessment } & SaveAssessmentExtras> => {
      if (engineChoice === 'native') return { assessment: await deps.engine(target, engineOptions) };
      if (engineChoice === 'ssllabs') return sslLabs(target, true);
      const [native, second] = await Promise.all([
        deps.engine(target, engineOptions),
        sslLabs(target, false).then(
          (r): SslLabsOpinion => ({ assessment: r.assessment, raw: r.raw }),
          (err: unknown): SslLabsOpinion => {
            if (abort.signal.aborted || !(err instanceof PortcullisError) || !TARGET_ERRORS.has(err.code)) throw err;
            return { error: describeError(err) };
          },
        ),
      ]);
      return { assessment: native, sslLabs: second };
    };
    /** A stored answer young enough to reuse, per engine asked for (`both` needs both). */
    const reusable = async (target: TlsTarget): Promise<{ outcome: TlsTargetOutcome; assessment: Assessment } | undefined> => {
      if (options.fresh === true) return undefined;
      const fresh = (engine: 'native' | 'ssllabs') => repo.latestFresh({ ...target, sni: options.sni, engine }, deps.config.tls.maxAgeSeconds);
      if (engineChoice !== 'both') {
        const cached = await fresh(engineChoice);
        return cached === undefined ? undefined : { outcome: { reusedAssessmentId: cached.id }, assessment: cached.assessment };
      }
      const [native, second] = await Promise.all([fresh('native'), fresh('ssllabs')]);
      return native !== undefined && second !== undefined
        ? { outcome: { reusedAssessmentId: native.id, reusedSslLabsAssessmentId: second.id }, assessment: native.assessment }
        : undefined;
    };
    /** Tells the monitor (certificate expiry) about the assessment answering a target, new or reused. */
    const notify = async (target: TlsTarget, assessment: Assessment): Promise<void> => {
      await deps.onAssessed?.(target, assessment).catch((err: unknown) => log.warn({ err, target: targetKey(target) }, 'could not update the monitored target'));
    };
    const assessTarget = async (target: TlsTarget): Promise<void> => {
      abort.signal.throwIfAborted();
      const at = (): string => new Date().toISOString();
      const cached = await reusable(target);
      if (cached !== undefined) {
        await repo.recordTarget(scanId, target, cached.outcome, at());
        await notify(target, cached.assessment);
        return;
      }
      const started = performance.now();
      let result: { assessment: Assessment } & SaveAssessmentExtras;
      try {
        result = await runEngines(target);
      } catch (err) {
        if (abort.signal.aborted) throw err;
        const deterministic = err instanceof PortcullisError && TARGET_ERRORS.has(err.code);
        if (!deterministic && ctx.attempt < ctx.maxAttempts) throw err;
        log.warn({ err, target: targetKey(target) }, 'TLS target could not be assessed');
        await repo.recordTarget(scanId, target, { error: describeError(err) }, at());
        return;
      }
      const { assessment, ...extras } = result;
      await repo.saveAssessment(scanId, target, assessment, at(), extras);
      await notify(target, assessment);
      deps.metrics?.tlsAssessmentDuration.observe((performance.now() - started) / 1000);
      for (const e of assessment.endpoints) deps.metrics?.tlsEndpointGrades.inc({ grade: e.grade ?? 'error' });
    };

    try {
      await forEachLimit(remaining, deps.config.tls.concurrency, async (target) => {
        await assessTarget(target);
        done++;
      });
    } catch (err) {
      if (abort.signal.aborted) {
        if ((await repo.getScan(scanId))?.status === 'cancelled') {
          log.info('TLS scan cancelled');
          return { status: 'cancelled' };
        }
        // Stopped by a worker shutdown: the queue hands the job back and a later attempt resumes it.
        throw err;
      }
      log.warn({ err }, 'TLS scan attempt failed');
      if (ctx.attempt >= ctx.maxAttempts) {
        await repo.finish(scanId, { status: 'failed', at: new Date().toISOString(), error: describeError(err) });
        deps.metrics?.tlsScansFinished.inc({ status: 'failed' });
      }
      throw err;
    } finally {
      clearInterval(checkpoint);
      ctx.signal.removeEventListener('abort', onJobAbort);
    }

    const results = await repo.scanResults(scanId);
    const failures = results.filter((r) => r.error !== undefined);
    const allFailed = results.length > 0 && failures.length === results.length;
    const first = failures[0];
    const ended = await repo.finish(
      scanId,
      allFailed && first?.error
        ? { status: 'failed', at: new Date().toISOString(), error: { code: first.error.code, message: `no target could be assessed; ${targetKey(first)}: ${first.error.message}` } }
        : { status: 'done', at: new Date().toISOString() },
    );
    const status = ended ? (allFailed ? 'failed' : 'done') : 'cancelled';
    if (ended) deps.metrics?.tlsScansFinished.inc({ status });
    log.info({ status, failed: failures.length }, 'TLS scan finished');
    return { status };
  };
}

/**
 * Runs `fn` over `items` with at most `limit` at once. After the first failure no new item starts;
 * the ones running are awaited, then that failure is thrown.
 */
async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure !== undefined) throw failure.error;
}
