/**
 * The enumeration algorithms, pure over an injected `tryHello`: offer a list, learn which item the server
 * chose, remove it and offer the rest again (testssl/sslscan/nmap "remove the chosen one" loop). Used for
 * cipher suites, named groups and ALPN protocols alike; no sockets here, so every branch is unit-tested.
 */

/** What one hello offering `items` taught us. */
export type HelloVerdict<T> =
  /** The server picked `choice` (which may be an item that was not offered: a server bug). */
  | { kind: 'chosen'; choice: T }
  /** The server refused all of them (handshake_failure, insufficient_security…). */
  | { kind: 'rejected' }
  /** No usable answer. `retryable`: closed or reset, which a shorter hello may cure. */
  | { kind: 'error'; message: string; retryable: boolean };

export type TryHello<T> = (items: readonly T[]) => Promise<HelloVerdict<T>>;

export interface EnumerationOptions {
  /** A bundle whose first hello fails with a retryable error is split in halves down to this size. Default 32. */
  minBundleSize?: number;
  /** Bundles are enumerated concurrently (each loop is sequential by nature). Default true. */
  concurrentBundles?: boolean;
}

export interface EnumerationResult<T> {
  /** Accepted items, in the order the server chose them within each bundle, bundles in order. */
  accepted: T[];
  /** How many bundles produced at least one accepted item (1 means `accepted` is in the server's choice order). */
  bundlesWithAccepted: number;
  /** Items the server chose although they were not offered. */
  unoffered: T[];
  /** Why some hellos gave no usable answer; the enumeration may be incomplete when non-empty. */
  errors: string[];
}

const DEFAULT_MIN_BUNDLE_SIZE = 32;

/** Splits `items` into ceil(n/size) bundles of near-equal size, keeping the order. */
export function splitIntoBundles<T>(items: readonly T[], size: number): T[][] {
  if (items.length === 0) return [];
  const count = Math.ceil(items.length / Math.max(1, size));
  const base = Math.floor(items.length / count);
  const extra = items.length % count;
  const bundles: T[][] = [];
  let start = 0;
  for (let i = 0; i < count; i++) {
    const length = base + (i < extra ? 1 : 0);
    bundles.push(items.slice(start, start + length));
    start += length;
  }
  return bundles;
}

interface BundleOutcome<T> {
  accepted: T[];
  unoffered: T[];
  errors: string[];
}

async function enumerateBundle<T>(bundle: readonly T[], tryHello: TryHello<T>, minBundleSize: number): Promise<BundleOutcome<T>> {
  const outcome: BundleOutcome<T> = { accepted: [], unoffered: [], errors: [] };
  const remaining = [...bundle];
  while (remaining.length > 0) {
    const verdict = await tryHello(remaining);
    if (verdict.kind === 'rejected') break;
    if (verdict.kind === 'error') {
      const untouched = remaining.length === bundle.length;
      if (untouched && verdict.retryable && remaining.length > minBundleSize) {
        // Servers that dislike long hellos hang up on them: try again with shorter ones.
        const halves = splitIntoBundles(remaining, Math.ceil(remaining.length / 2));
        for (const half of halves) {
          const sub = await enumerateBundle(half, tryHello, minBundleSize);
          outcome.accepted.push(...sub.accepted);
          outcome.unoffered.push(...sub.unoffered);
          outcome.errors.push(...sub.errors);
        }
      } else if (untouched || !verdict.retryable) {
        outcome.errors.push(verdict.message);
      }
      // A hang-up after some acceptances is how many servers say "none of the rest": not an error.
      break;
    }
    const index = remaining.indexOf(verdict.choice);
    if (index < 0) {
      // Choosing what was not offered is a protocol violation; continuing could loop forever.
      outcome.unoffered.push(verdict.choice);
      break;
    }
    outcome.accepted.push(verdict.choice);
    remaining.splice(index, 1);
  }
  return outcome;
}

/**
 * Finds every candidate the server accepts, one removal loop per bundle (each bundle is what one hello
 * offers first; see splitIntoBundles): about (accepted + bundles) hellos.
 */
export async function enumerateAccepted<T>(
  bundles: readonly (readonly T[])[],
  tryHello: TryHello<T>,
  options: EnumerationOptions = {},
): Promise<EnumerationResult<T>> {
  const minBundleSize = options.minBundleSize ?? DEFAULT_MIN_BUNDLE_SIZE;
  const outcomes: BundleOutcome<T>[] = [];
  if (options.concurrentBundles ?? true) {
    outcomes.push(...(await Promise.all(bundles.map((bundle) => enumerateBundle(bundle, tryHello, minBundleSize)))));
  } else {
    for (const bundle of bundles) outcomes.push(await enumerateBundle(bundle, tryHello, minBundleSize));
  }
  return {
    accepted: outcomes.flatMap((o) => o.accepted),
    bundlesWithAccepted: outcomes.filter((o) => o.accepted.length > 0).length,
    unoffered: outcomes.flatMap((o) => o.unoffered),
    errors: outcomes.flatMap((o) => o.errors),
  };
}

export interface PreferenceResult<T> {
  /** server: it enforces its own order; client: it follows ours; null: one item, or no clear answer. */
  preference: 'server' | 'client' | null;
  /** The server's order when it has one, else the items as given. */
  order: T[];
  errors: string[];
}

/**
 * Tells server from client preference by offering `accepted` as found and reversed: the same choice
 * both times means the server decides. Then, unless `accepted` is already in the server's choice order
 * (`orderKnown`: it came from one removal loop), finds the full order by offering what remains.
 */
export async function detectPreference<T>(accepted: readonly T[], tryHello: TryHello<T>, orderKnown: boolean): Promise<PreferenceResult<T>> {
  const items = [...accepted];
  if (items.length < 2) return { preference: null, order: items, errors: [] };
  const [forward, reversed] = await Promise.all([tryHello(items), tryHello([...items].reverse())]);
  const errors = [forward, reversed].flatMap((v) => (v.kind === 'error' ? [v.message] : []));
  if (forward.kind !== 'chosen' || reversed.kind !== 'chosen') {
    return { preference: null, order: items, errors: errors.length > 0 ? errors : ['the server refused suites it accepted before'] };
  }
  if (forward.choice !== reversed.choice) return { preference: 'client', order: items, errors };
  if (orderKnown) return { preference: 'server', order: moveToFront(items, forward.choice), errors };

  const order = [forward.choice];
  const remaining = items.filter((item) => item !== forward.choice);
  while (remaining.length > 1) {
    const verdict = await tryHello(remaining);
    const index = verdict.kind === 'chosen' ? remaining.indexOf(verdict.choice) : -1;
    if (verdict.kind !== 'chosen' || index < 0) {
      errors.push(verdict.kind === 'error' ? verdict.message : 'the server order could not be completed');
      return { preference: 'server', order: [...order, ...remaining], errors };
    }
    order.push(...remaining.splice(index, 1));
  }
  return { preference: 'server', order: [...order, ...remaining], errors };
}

function moveToFront<T>(items: T[], first: T): T[] {
  return [first, ...items.filter((item) => item !== first)];
}
