import { ALLOW_LIST_RULE, type Denial, type ScopePolicy, createScopePolicy } from '../scope/index.js';

/** Denial.rule when an address is outside the calling key's own allow-list. */
export const KEY_ALLOW_LIST_RULE = 'API key allow-list';

/**
 * The server's scope policy narrowed by a caller's allow-list: an address must pass both. Empty
 * `allow` is the server's policy unchanged.
 */
export function narrowPolicy(base: ScopePolicy, allow: readonly string[]): ScopePolicy {
  if (allow.length === 0) return base;
  const own = createScopePolicy({ allow: [...allow], deny: [] });
  const relabel = (denial: Denial | undefined): Denial | undefined => (denial?.rule === ALLOW_LIST_RULE ? { ...denial, rule: KEY_ALLOW_LIST_RULE } : denial);
  return {
    checkRange: (range) => base.checkRange(range) ?? relabel(own.checkRange(range)),
    checkHostname: (name) => base.checkHostname(name) ?? own.checkHostname(name),
    checkResolved: (ip, hostname) => base.checkResolved(ip, hostname) ?? relabel(own.checkResolved(ip, hostname)),
  };
}
