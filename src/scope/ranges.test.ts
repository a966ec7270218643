import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import {
  countAddresses,
  coveredBy,
  intersectRange,
  iterateAddresses,
  normalizeRanges,
  rangeContains,
  rangesOverlap,
  subtractRanges,
} from './ranges.js';
import { formatRange, parseTarget } from './targets.js';
import type { AddressRange } from './types.js';

const r = (text: string): AddressRange => parseTarget(text).range as AddressRange;
const show = (ranges: AddressRange[]): string[] => ranges.map(formatRange);

describe('normalizeRanges', () => {
  it.each<[string[], string[]]>([
    [[], []],
    [['10.0.0.1'], ['10.0.0.1']],
    [['10.0.0.5', '10.0.0.1'], ['10.0.0.1', '10.0.0.5']],
    [['10.0.0.0-10.0.0.127', '10.0.0.128-10.0.0.255'], ['10.0.0.0/24']],
    [['10.0.0.0/24', '10.0.0.5-10.0.1.10'], ['10.0.0.0-10.0.1.10']],
    [['10.0.0.0/24', '10.0.0.0/25'], ['10.0.0.0/24']],
    [['10.0.0.1', '10.0.0.1'], ['10.0.0.1']],
    [['::1', '127.0.0.1', '2001:db8::/64', '10.0.0.0/8'], ['10.0.0.0/8', '127.0.0.1', '::1', '2001:db8::/64']],
    [['255.255.255.255', '::'], ['255.255.255.255', '::']],
    // IPv4 0.0.0.1 and IPv6 ::1 are different families, never merged.
    [['0.0.0.0', '::1'], ['0.0.0.0', '::1']],
  ])('%j → %j', (input, expected) => {
    expect(show(normalizeRanges(input.map(r)))).toEqual(expected);
  });

  it('does not modify its input', () => {
    const input = [r('10.0.0.0/24'), r('10.0.0.128/25')];
    normalizeRanges(input);
    expect(show(input)).toEqual(['10.0.0.0/24', '10.0.0.128/25']);
  });

  it('rejects malformed ranges', () => {
    expect(() => normalizeRanges([{ family: 4, start: 5n, end: 1n }])).toThrow(RangeError);
    expect(() => normalizeRanges([{ family: 4, start: 0n, end: 1n << 32n }])).toThrow(RangeError);
  });
});

describe('subtractRanges', () => {
  it.each<[string[], string[], string[]]>([
    [['10.0.0.0/24'], [], ['10.0.0.0/24']],
    [['10.0.0.0/24'], ['10.0.0.0/24'], []],
    [['10.0.0.0/24'], ['10.0.0.0/16'], []],
    [['10.0.0.0/24'], ['10.0.0.1'], ['10.0.0.0', '10.0.0.2-10.0.0.255']],
    [['10.0.0.0/24'], ['10.0.0.0'], ['10.0.0.1-10.0.0.255']],
    [['10.0.0.0/24'], ['10.0.0.255'], ['10.0.0.0-10.0.0.254']],
    [['10.0.0.0/24'], ['10.0.0.10-20', '10.0.0.100-200'], ['10.0.0.0-10.0.0.9', '10.0.0.21-10.0.0.99', '10.0.0.201-10.0.0.255']],
    [['10.0.0.0/24', '10.0.2.0/24'], ['10.0.0.128-10.0.2.127'], ['10.0.0.0/25', '10.0.2.128/25']],
    [['10.0.0.0/24'], ['11.0.0.0/8', '::/0'], ['10.0.0.0/24']],
    [['10.0.0.0/24', '2001:db8::/126'], ['2001:db8::1'], ['10.0.0.0/24', '2001:db8::', '2001:db8::2/127']],
    [['0.0.0.0/0'], ['0.0.0.0/1'], ['128.0.0.0/1']],
    [['::/0'], ['::/1'], ['8000::/1']],
  ])('%j − %j = %j', (include, exclude, expected) => {
    expect(show(subtractRanges(include.map(r), exclude.map(r)))).toEqual(expected);
  });
});

describe('count, overlap and containment', () => {
  it.each<[string[], bigint]>([
    [[], 0n],
    [['10.0.0.1'], 1n],
    [['10.0.0.0/24', '10.0.0.0/25'], 256n],
    [['0.0.0.0/0'], 1n << 32n],
    [['2001:db8::/64'], 1n << 64n],
    [['::/0'], 1n << 128n],
    [['10.0.0.0/24', '2001:db8::/120'], 512n],
  ])('countAddresses(%j) = %s', (ranges, count) => {
    expect(countAddresses(ranges.map(r))).toBe(count);
  });

  it.each<[string, string, boolean, boolean]>([
    // a, b, overlap, a contains b
    ['10.0.0.0/24', '10.0.0.5', true, true],
    ['10.0.0.0/24', '10.0.0.0/16', true, false],
    ['10.0.0.0/24', '10.0.0.255-10.0.1.5', true, false],
    ['10.0.0.0/24', '10.0.1.0/24', false, false],
    ['0.0.0.0/0', '::/0', false, false],
    ['::/0', '::1', true, true],
  ])('%s vs %s', (a, b, overlap, contains) => {
    expect(rangesOverlap(r(a), r(b))).toBe(overlap);
    expect(rangesOverlap(r(b), r(a))).toBe(overlap);
    expect(rangeContains(r(a), r(b))).toBe(contains);
  });

  it('intersects and tests coverage by a union', () => {
    expect(formatRange(intersectRange(r('10.0.0.0/24'), r('10.0.0.200-10.0.1.5')) as AddressRange)).toBe('10.0.0.200-10.0.0.255');
    expect(intersectRange(r('10.0.0.0/24'), r('10.0.1.0/24'))).toBeUndefined();
    expect(coveredBy(r('10.0.0.0/24'), [r('10.0.0.0/25'), r('10.0.0.128/25')])).toBe(true);
    expect(coveredBy(r('10.0.0.0/23'), [r('10.0.0.0/25'), r('10.0.0.128/25')])).toBe(false);
  });
});

describe('iterateAddresses', () => {
  it('yields every address in order', () => {
    expect([...iterateAddresses(normalizeRanges([r('10.0.0.254-10.0.1.1'), r('::1-::3'), r('192.0.2.7')]))]).toEqual([
      '10.0.0.254',
      '10.0.0.255',
      '10.0.1.0',
      '10.0.1.1',
      '192.0.2.7',
      '::1',
      '::2',
      '::3',
    ]);
    expect([...iterateAddresses([])]).toEqual([]);
    expect([...iterateAddresses([r('255.255.255.254/31')])]).toEqual(['255.255.255.254', '255.255.255.255']);
  });

  it('is lazy: the first addresses of ::/0 and 0.0.0.0/0 come at once', () => {
    const v6 = iterateAddresses([r('::/0')]);
    expect([v6.next().value, v6.next().value, v6.next().value]).toEqual(['::', '::1', '::2']);
    const v4 = iterateAddresses([r('0.0.0.0/0')]);
    expect(v4.next().value).toBe('0.0.0.0');
    v4.return(undefined);
  });

  it('walks 127.0.0.0/16 in order, 65,536 addresses, with flat memory', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    gc();
    const before = process.memoryUsage().heapUsed;
    let count = 0;
    let grewBy = Number.POSITIVE_INFINITY;
    for (const ip of iterateAddresses([r('127.0.0.0/16')])) {
      const expected = `127.0.${count >> 8}.${count & 255}`;
      if (ip !== expected) throw new Error(`address ${count} is ${ip}, expected ${expected}`);
      count++;
      if (count === 60_000) {
        // Mid-iteration: a generator that had built the list up front would hold ~65,536 strings here.
        gc();
        grewBy = process.memoryUsage().heapUsed - before;
      }
    }
    expect(count).toBe(65_536);
    expect(grewBy).toBeLessThan(1_000_000);
  });
});
