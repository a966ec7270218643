/**
 * Port hints: which client-first probe to try first, and whether to skip the banner wait because servers
 * on that port are known to wait for the client. Hints only reorder: every probe still runs on any port.
 */
export type ClientProbe = 'tls' | 'http' | 'redis' | 'postgres';

export interface DetectionPlan {
  /** Start with `order[0]`, and read a banner only if it fails. */
  skipBanner: boolean;
  order: ClientProbe[];
}

/** Order without a hint: TLS first (it fails in a few ms on anything else), then HTTP, then the databases. */
export const DEFAULT_ORDER: readonly ClientProbe[] = ['tls', 'http', 'redis', 'postgres'];

/** Relative share of the remaining budget a probe may wait for its answer. */
export const PROBE_WEIGHT: Readonly<Record<ClientProbe, number>> = { tls: 2, http: 2, redis: 1, postgres: 1 };

const TLS_PORTS = [443, 465, 636, 853, 989, 990, 992, 993, 995, 2376, 3269, 4443, 5986, 6443, 8443, 9443, 10250, 10443];
const HTTP_PORTS = [
  80, 81, 591, 2375, 3000, 3001, 4000, 5000, 5001, 5601, 5984, 7001, 8000, 8008, 8080, 8081, 8086, 8088, 8888, 9000, 9090,
  9200, 15672,
];
const REDIS_PORTS = [6379, 6380, 16379, 26379];
const POSTGRES_PORTS = [5432, 5433, 6432];

const HINTS = new Map<number, ClientProbe>([
  ...TLS_PORTS.map((p) => [p, 'tls'] as const),
  ...HTTP_PORTS.map((p) => [p, 'http'] as const),
  ...REDIS_PORTS.map((p) => [p, 'redis'] as const),
  ...POSTGRES_PORTS.map((p) => [p, 'postgres'] as const),
]);

export function planForPort(port: number): DetectionPlan {
  const first = HINTS.get(port);
  if (first === undefined) return { skipBanner: false, order: [...DEFAULT_ORDER] };
  return { skipBanner: true, order: [first, ...DEFAULT_ORDER.filter((p) => p !== first)] };
}
