/** Public surface of the scope domain: targets, address ranges, resolution, the scope policy and plans. */
export type { AddressFamily, AddressRange, Denial, ParsedTarget, Resolver, SerializedPlan, TargetKind, TargetPlan } from './types.js';
export type { IpAddress } from './address.js';
export { canonicalIp, formatIp, formatRange, normalizeHostname, parseIp, parseTarget } from './targets.js';
export {
  countAddresses,
  coveredBy,
  intersectRange,
  iterateAddresses,
  normalizeRanges,
  rangeContains,
  rangeSize,
  rangesOverlap,
  subtractRanges,
} from './ranges.js';
export { createResolver, staticResolver, withTimeout, type ResolverOptions } from './resolver.js';
export {
  ALLOW_LIST_RULE,
  DENY_LIST,
  OUTSIDE_ALLOW_LIST,
  createScopePolicy,
  describeDenial,
  embeddedIpv4,
  type ScopePolicy,
  type ScopePolicyOptions,
} from './policy.js';
export { deserializePlan, planAddresses, planTargets, serializePlan, type PlanOptions } from './plan.js';
