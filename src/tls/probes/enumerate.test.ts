import { describe, expect, it } from 'vitest';
import { detectPreference, enumerateAccepted, splitIntoBundles, type HelloVerdict, type TryHello } from './enumerate.js';

interface FakeServer {
  /** What the server supports, in its own order. */
  supported: number[];
  preference: 'server' | 'client';
  /** Hellos offering more than this many items are hung up on. */
  maxItems?: number;
  /** Always answers with this item, offered or not. */
  stuckOn?: number;
}

/** A server model: picks by its own or the client's order, refuses when nothing is shared; counts hellos. */
function fakeServer(server: FakeServer): { tryHello: TryHello<number>; hellos: number[][] } {
  const hellos: number[][] = [];
  const tryHello = async (items: readonly number[]): Promise<HelloVerdict<number>> => {
    hellos.push([...items]);
    if (server.maxItems !== undefined && items.length > server.maxItems) return { kind: 'error', message: 'closed', retryable: true };
    if (server.stuckOn !== undefined) return { kind: 'chosen', choice: server.stuckOn };
    const shared = server.preference === 'server' ? server.supported.filter((s) => items.includes(s)) : items.filter((s) => server.supported.includes(s));
    const choice = shared[0];
    return choice === undefined ? { kind: 'rejected' } : { kind: 'chosen', choice };
  };
  return { tryHello, hellos };
}

const range = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i);

describe('splitIntoBundles', () => {
  it('splits into near-equal bundles of at most the given size, keeping order', () => {
    const bundles = splitIntoBundles(range(0, 300), 128);
    expect(bundles.map((b) => b.length)).toEqual([100, 100, 100]);
    expect(bundles.flat()).toEqual(range(0, 300));
    expect(splitIntoBundles([], 128)).toEqual([]);
  });
});

describe('enumerateAccepted', () => {
  it('finds every supported item with accepted + bundles hellos', async () => {
    const server = fakeServer({ supported: [250, 3, 140, 7], preference: 'server' });
    const result = await enumerateAccepted(splitIntoBundles(range(0, 300), 128), server.tryHello);
    expect([...result.accepted].sort((a, b) => a - b)).toEqual([3, 7, 140, 250]);
    expect(result.errors).toEqual([]);
    expect(server.hellos.length).toBe(4 + 3);
    expect(server.hellos.every((h) => h.length <= 128)).toBe(true);
  });

  it('yields the server order within one bundle', async () => {
    const server = fakeServer({ supported: [9, 2, 5], preference: 'server' });
    const result = await enumerateAccepted([range(0, 20)], server.tryHello);
    expect(result.accepted).toEqual([9, 2, 5]);
    expect(result.bundlesWithAccepted).toBe(1);
  });

  it('retries with shorter hellos when the server hangs up on long ones', async () => {
    const server = fakeServer({ supported: [1, 100], preference: 'server', maxItems: 40 });
    const result = await enumerateAccepted([range(0, 128)], server.tryHello, { minBundleSize: 32 });
    expect([...result.accepted].sort((a, b) => a - b)).toEqual([1, 100]);
    expect(result.errors).toEqual([]);
  });

  it('reports an error when even the shortest hello is hung up on', async () => {
    const server = fakeServer({ supported: [1], preference: 'server', maxItems: 10 });
    const result = await enumerateAccepted([range(0, 64)], server.tryHello, { minBundleSize: 32 });
    expect(result.accepted).toEqual([]);
    expect(result.errors).toEqual(['closed', 'closed']);
  });

  it('records a suite the server chose without being offered, and stops that bundle', async () => {
    const server = fakeServer({ supported: [], preference: 'server', stuckOn: 999 });
    const result = await enumerateAccepted([range(0, 10)], server.tryHello);
    expect(result.unoffered).toEqual([999]);
    expect(result.accepted).toEqual([]);
    expect(server.hellos.length).toBe(1);
  });

  it('stops, without looping, when the server keeps choosing an item already removed', async () => {
    const server = fakeServer({ supported: [], preference: 'server', stuckOn: 4 });
    const result = await enumerateAccepted([range(0, 10)], server.tryHello);
    expect(result.accepted).toEqual([4]);
    expect(result.unoffered).toEqual([4]);
    expect(server.hellos.length).toBe(2);
  });

  it('treats a hang-up after some acceptances as "none of the rest"', async () => {
    let calls = 0;
    const tryHello: TryHello<number> = async (items) =>
      ++calls === 1 ? { kind: 'chosen', choice: items[0] as number } : { kind: 'error', message: 'closed', retryable: true };
    const result = await enumerateAccepted([[1, 2, 3]], tryHello);
    expect(result).toMatchObject({ accepted: [1], errors: [] });
  });
});

describe('detectPreference', () => {
  it('detects server preference and finds the full order across bundles', async () => {
    const server = fakeServer({ supported: [30, 10, 20, 40], preference: 'server' });
    const result = await detectPreference([10, 20, 30, 40], server.tryHello, false);
    expect(result).toEqual({ preference: 'server', order: [30, 10, 20, 40], errors: [] });
    // forward + reversed, then [10, 20, 40] and [20, 40]
    expect(server.hellos.length).toBe(4);
  });

  it('costs two hellos when the order is already known from one removal loop', async () => {
    const server = fakeServer({ supported: [30, 10, 20], preference: 'server' });
    const result = await detectPreference([30, 10, 20], server.tryHello, true);
    expect(result).toEqual({ preference: 'server', order: [30, 10, 20], errors: [] });
    expect(server.hellos.length).toBe(2);
  });

  it('detects client preference', async () => {
    const server = fakeServer({ supported: [30, 10, 20], preference: 'client' });
    const result = await detectPreference([10, 20, 30], server.tryHello, false);
    expect(result.preference).toBe('client');
    expect(result.order).toEqual([10, 20, 30]);
  });

  it('cannot tell with a single item, and spends no hello', async () => {
    const server = fakeServer({ supported: [1], preference: 'server' });
    expect(await detectPreference([1], server.tryHello, true)).toEqual({ preference: null, order: [1], errors: [] });
    expect(server.hellos.length).toBe(0);
  });

  it('reports why when the re-offer fails', async () => {
    const tryHello: TryHello<number> = async () => ({ kind: 'error', message: 'timeout after 5000 ms', retryable: false });
    const result = await detectPreference([1, 2], tryHello, true);
    expect(result.preference).toBeNull();
    expect(result.errors).toEqual(['timeout after 5000 ms', 'timeout after 5000 ms']);
  });
});
