/**
 * The native engine as callers outside the tls domain hold it: `assess` with its trust store bound.
 * Importing this module costs nothing; the engine and the roots load on the first assessment, so
 * processes and commands that never assess TLS do not pay for them.
 */
import type { Resolver, ScopePolicy } from '../scope/index.js';
import type { AssessOptions, AssessTarget } from './assess.js';
import type { Assessment } from './model.js';
import type { TlsTarget } from './target.js';

export interface TlsEngineOptions {
  resolver: Resolver;
  scopePolicy: ScopePolicy;
  sni?: string | null;
  timeoutMs?: number;
  parallelism?: number;
  signal?: AbortSignal;
}

/**
 * The TLS engine as jobs, routes and the CLI call it: tls/assess.ts's `assess` with its trust store
 * already bound (runtime and CLI do the binding), so everything above can run on a fake in tests.
 * Throws target.unresolvable / scope.denied before connecting; unreachable endpoints come back with
 * status `error`.
 */
export type TlsEngine = (target: TlsTarget, options: TlsEngineOptions) => Promise<Assessment>;

export type BoundAssess = (target: AssessTarget, options: Omit<AssessOptions, 'trustStore'>) => Promise<Assessment>;

/**
 * The engine with a trust store of the default roots plus `caFiles`. A bad CA file fails every
 * assessment with tls.ca-file-invalid until it is fixed.
 */
export function nativeTlsEngine(caFiles: readonly string[]): BoundAssess {
  let loaded: Promise<{ assess: typeof import('./assess.js').assess; trustStore: import('./cert/index.js').TrustStore }> | undefined;
  return async (target, options) => {
    loaded ??= Promise.all([import('./assess.js'), import('./cert/index.js')]).then(async ([{ assess }, { loadTrustStore }]) => ({
      assess,
      trustStore: await loadTrustStore({ caFiles: [...caFiles], includeDefaultRoots: true }),
    }));
    const { assess, trustStore } = await loaded;
    return assess(target, { ...options, trustStore });
  };
}
