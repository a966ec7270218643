/**
 * From a TLS target's host to the addresses an assessment may contact: parsed, resolved through the
 * injected resolver, and every address checked against the scope policy. Shared by the native engine
 * and the SSL Labs engine (which must not send an out-of-scope name to Qualys either). No engine
 * imports, so it is cheap to load.
 */
import { canonicalIp, describeDenial, formatRange, parseTarget } from '../scope/index.js';
import type { Resolver, ScopePolicy } from '../scope/index.js';
import { PortcullisError, describeError } from '../shared/errors.js';

/** A name with more addresses than this is refused rather than assessed address by address. */
const MAX_ENDPOINTS = 16;

function denied(message: string, detail: Record<string, string>): PortcullisError {
  return new PortcullisError('scope.denied', message, detail);
}

/** The checked addresses to connect to, and the name they came from (null for an IP literal). */
export async function resolveEndpoints(host: string, resolver: Resolver, policy: ScopePolicy): Promise<{ ips: string[]; hostname: string | null }> {
  const target = parseTarget(host, 'host');
  if (target.kind === 'ip' && target.range !== undefined) {
    const denial = policy.checkRange(target.range);
    if (denial !== undefined) throw denied(`host ${host} may not be assessed: ${describeDenial(denial)}`, { value: host, rule: denial.rule, reason: denial.reason });
    // The checked address, never the text: `2130706433` or `127.0.0.1.` would send net.connect to the system resolver.
    return { ips: [formatRange(target.range)], hostname: null };
  }
  if (target.kind !== 'hostname' || target.hostname === undefined) {
    throw new PortcullisError('target.invalid', `host ${JSON.stringify(host)} must be one host name or IP address, not a ${target.kind}`, { value: host, field: 'host' });
  }
  const name = target.hostname;
  const nameDenial = policy.checkHostname(name);
  if (nameDenial !== undefined) {
    throw denied(`host ${name} may not be assessed: ${describeDenial(nameDenial)}`, { value: host, rule: nameDenial.rule, reason: nameDenial.reason });
  }
  let answers: string[];
  try {
    answers = await resolver.resolve(name);
  } catch (err) {
    if (err instanceof PortcullisError) throw err;
    throw new PortcullisError('target.unresolvable', `cannot resolve ${name}: ${describeError(err).message}`, { value: host, field: 'host' });
  }
  const ips: string[] = [];
  for (const answer of answers) {
    const ip = canonicalIp(answer);
    if (ip === undefined) throw new PortcullisError('target.unresolvable', `cannot resolve ${name}: the resolver returned ${JSON.stringify(answer)}, which is not an IP address`, { value: host });
    if (!ips.includes(ip)) ips.push(ip);
  }
  if (ips.length === 0) throw new PortcullisError('target.unresolvable', `cannot resolve ${name}: it has no addresses`, { value: host, field: 'host' });
  if (ips.length > MAX_ENDPOINTS) {
    throw new PortcullisError('target.too-large', `${name} resolves to ${ips.length} addresses, more than the ${MAX_ENDPOINTS} one assessment covers; assess the addresses one by one`, { value: host });
  }
  // Every address must pass, not just the first (DNS rebinding, mixed answers): nothing is contacted otherwise.
  for (const ip of ips) {
    const denial = policy.checkResolved(ip, name);
    if (denial !== undefined) {
      throw denied(`host ${name} resolves to ${ip}, which may not be assessed: ${describeDenial(denial)}`, { value: host, address: ip, rule: denial.rule, reason: denial.reason });
    }
  }
  return { ips, hostname: name };
}

