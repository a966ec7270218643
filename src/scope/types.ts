/** Public shapes of the scope domain: targets, address ranges, resolution and the scope policy. */

export type AddressFamily = 4 | 6;

/** An inclusive range of addresses of one family, as integers. A single IP has start === end. */
export interface AddressRange {
  family: AddressFamily;
  start: bigint;
  end: bigint;
}

export type TargetKind = 'ip' | 'cidr' | 'range' | 'hostname';

export interface ParsedTarget {
  /** The text as the user gave it. */
  input: string;
  kind: TargetKind;
  /** For ip, cidr and range. */
  range?: AddressRange;
  /** For hostname: lower-case, without a trailing dot. */
  hostname?: string;
}

/** Looks names up. All name resolution in Portcullis goes through one of these. */
export interface Resolver {
  /** Every A and AAAA address of the name, as canonical IP literals. Throws target.unresolvable. */
  resolve(hostname: string): Promise<string[]>;
}

export interface Denial {
  /** What was refused: an address, a range or a hostname. */
  value: string;
  /** The policy entry that matched, e.g. `169.254.0.0/16`. */
  rule: string;
  /** Why, in words: `link-local`, `cloud metadata`, `deny-list`, `outside allow-list`… */
  reason: string;
}

/**
 * A scan's targets after parsing, resolution and policy checks: exactly the addresses that will be
 * connected to. Serialisable, so the job connects to the addresses that were checked (no second
 * resolution between check and connect).
 */
export interface TargetPlan {
  /** Disjoint, sorted ranges (IPv4 first), exclusions already removed. */
  ranges: AddressRange[];
  /** Hostnames that resolved to each address (canonical IP literal → names). */
  hostnames: Record<string, string[]>;
  addressCount: number;
}

export interface SerializedPlan {
  ranges: Array<{ family: AddressFamily; start: string; end: string }>;
  hostnames: Record<string, string[]>;
  addressCount: number;
}
