import { Command, Option } from '@commander-js/extra-typings';
import { loadConfig } from '../../config/index.js';
import type { TlsEngine } from '../../jobs/tls-scans.js';
import { createResolver, createScopePolicy } from '../../scope/index.js';
import type { Resolver } from '../../scope/index.js';
import { PortcullisError } from '../../shared/errors.js';
import type { Assessment } from '../../tls/model.js';
import { CliExit, type CliIo, EXIT_FAILED, EXIT_USAGE, writeJson } from '../io.js';
import { parseIntOption } from '../options.js';
import { renderDisagreements, renderTlsReport } from '../tls-report.js';
import type { Disagreement } from '../../ssllabs/disagreements.js';

export interface ScanTlsDeps {
  /** Tests map names to loopback; otherwise built from the config's dns section. */
  resolver?: Resolver;
  /** Tests answer with canned assessments; otherwise the native engine with the configured and --ca-file roots. */
  tlsEngine?: TlsEngine;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** `portcullis scan tls`: runs the TLS engine in this process, no server, no store. */
export function scanTlsCommand(io: CliIo, deps: ScanTlsDeps = {}) {
  return new Command('tls')
    .description('Grade the TLS of hosts like SSL Labs, in this process (no server needed), and print the grade, what caps it, protocols, cipher suites, certificate and findings')
    .argument('<hosts...>', 'host[:port]: a host name or IP address, optionally with a port (default 443); IPv6 as [addr]:port')
    .option('--json', 'print one JSON document ({"assessments": [Assessment…]}) instead of the report')
    .option('--ca-file <pem>', 'also trust the CA certificates in this PEM file (repeatable; adds to PORTCULLIS_CA_FILES)', collect, [] as string[])
    .option('--sni <name>', 'server name to send instead of each host name')
    .option('--timeout <ms>', 'timeout of each connection the engine opens (ms)')
    .option('--fresh', 'always assess anew (the CLI never reuses stored results; accepted so API and CLI calls read alike)')
    .addOption(
      new Option('--engine <engine>', 'native: our engine; ssllabs: Qualys SSL Labs (needs PORTCULLIS_SSLLABS_EMAIL; private, IP and non-443 targets fall back to native); both: both, with their disagreements')
        .choices(['native', 'ssllabs', 'both'] as const)
        .default('native' as const),
    )
    .addHelpText(
      'after',
      `
Each address a host resolves to is assessed and graded separately (A+ … F, T = certificate not
trusted, M = certificate name mismatch), following the SSL Labs rating guide. Every address is
checked against the scope policy (PORTCULLIS_SCOPE_ALLOW / _DENY) before any connection.

Output: on a terminal a report per address: the grade, each cap with its reason and fix, the
protocols, the cipher suites per protocol with strength marks (ok, WEAK, INSECURE), the certificate
and the findings. --json prints {"assessments":[{host, port, sni, endpoints:[{ip, grade,
gradeTrustIgnored, scores, caps, protocols:[{name, supported}], suites:[{protocol, code:"0xC02F",
iana, openssl, bits, strength, …}], certificates, features, findings, …}]}]}.

With --engine ssllabs the assessment comes from the SSL Labs API (minutes per host; opt-in and
within SSL Labs' terms: PORTCULLIS_SSLLABS_EMAIL must be a registered organisation email, see
\`portcullis ssllabs register\`); --engine both prints both reports and where they disagree.

Exit codes: 0 every host assessed, 1 a host could not be assessed (no address reachable over TLS)
or the engine failed, 2 usage error (bad host or port, host out of scope, unreadable --ca-file).

Examples:
  portcullis scan tls example.internal
  portcullis scan tls 10.0.0.5:8443 --sni app.internal --ca-file ./internal-root.pem
  portcullis scan tls mail.internal:993 [2001:db8::5]:443 --json
  PORTCULLIS_SSLLABS_EMAIL=secops@example.com portcullis scan tls www.example.com --engine both`,
    )
    .action(async (hosts, opts) => {
      const config = await loadConfig(io.env);
      // Loaded when the command runs: target planning lives with the TLS jobs, which pull in the store.
      const { parseSni, planTlsTargets } = await import('../../jobs/tls-scans.js');
      const policy = createScopePolicy(config.scope);
      const resolver = deps.resolver ?? createResolver(config.dns);
      const targets = await planTlsTargets(hosts, { resolver, policy, maxAddresses: config.scope.maxAddressesPerScan });
      const sni = opts.sni !== undefined ? parseSni(opts.sni, '--sni') : undefined;
      const timeoutMs = opts.timeout !== undefined ? parseIntOption(opts.timeout, '--timeout', 100, 120000) : config.tls.timeoutMs;
      // The engine and its roots load only when a scan runs: they cost every other command nothing
      // (and not through runtime/, which would load the store, queue, logger and metrics too).
      const engine = deps.tlsEngine ?? (await import('../../tls/engine.js')).nativeTlsEngine([...config.tls.caFiles, ...opts.caFile]);
      const sslLabs = opts.engine === 'native' ? undefined : (await import('../../ssllabs/index.js')).createSslLabs(config.ssllabs, engine);
      if (opts.engine !== 'native' && sslLabs === undefined) throw (await import('../../ssllabs/index.js')).notConfigured();

      const abort = new AbortController();
      const onSignal = (): void => abort.abort(new Error('interrupted'));
      process.once('SIGINT', onSignal);
      const assessments: Assessment[] = [];
      const disagreements: Array<{ host: string; port: number } & Disagreement> = [];
      try {
        for (const target of targets) {
          if (io.stderr.isTTY && !opts.json) io.stderr.write(`assessing ${target.host}:${target.port}${opts.engine === 'native' ? '' : ` (${opts.engine})`} …\n`);
          const engineOptions = { resolver, scopePolicy: policy, ...(sni !== undefined ? { sni } : {}), timeoutMs, parallelism: config.tls.parallelism, signal: abort.signal };
          if (sslLabs === undefined) {
            assessments.push(await engine(target, engineOptions));
          } else if (opts.engine === 'ssllabs') {
            assessments.push((await sslLabs.engine(target, { ...engineOptions, fallbackToNative: true })).assessment);
          } else {
            const [native, second] = await Promise.all([engine(target, engineOptions), sslLabs.engine(target, { ...engineOptions, fallbackToNative: false })]);
            assessments.push(native, second.assessment);
            const { engineDisagreements } = await import('../../ssllabs/index.js');
            disagreements.push(...engineDisagreements(native, second.assessment).map((d) => ({ host: target.host, port: target.port, ...d })));
          }
        }
      } catch (err) {
        // A CA file the user named is a usage problem, not a failed scan.
        if (err instanceof PortcullisError && err.code === 'tls.ca-file-invalid') throw new CliExit(EXIT_USAGE, err.message);
        throw err;
      } finally {
        process.removeListener('SIGINT', onSignal);
      }

      if (opts.json) writeJson(io, opts.engine === 'both' ? { assessments, disagreements } : { assessments });
      else {
        io.stdout.write(renderTlsReport(assessments, { color: io.stdout.isTTY === true && !io.env.NO_COLOR }));
        if (opts.engine === 'both') io.stdout.write(renderDisagreements(disagreements));
      }
      const failed = assessments.filter((a) => !a.endpoints.some((e) => e.status === 'ready'));
      if (failed.length > 0) {
        throw new CliExit(EXIT_FAILED, `${failed.map((a) => `${a.host}:${a.port}`).join(', ')} could not be assessed: no address answered over TLS`);
      }
    });
}
