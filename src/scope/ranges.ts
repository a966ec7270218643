/**
 * Pure arithmetic on inclusive address ranges. Nothing here ever expands a range into addresses
 * except `iterateAddresses`, which is lazy and allocates nothing per range.
 */
import { familyMax, formatIp } from './address.js';
import type { AddressRange } from './types.js';

function compareRanges(a: AddressRange, b: AddressRange): number {
  if (a.family !== b.family) return a.family - b.family;
  if (a.start !== b.start) return a.start < b.start ? -1 : 1;
  if (a.end !== b.end) return a.end < b.end ? -1 : 1;
  return 0;
}

function assertRange(r: AddressRange): void {
  if (r.family !== 4 && r.family !== 6) throw new RangeError(`unknown address family ${String(r.family)}`);
  if (r.start < 0n || r.end > familyMax(r.family) || r.start > r.end) {
    throw new RangeError(`invalid IPv${r.family} range ${r.start}-${r.end}`);
  }
}

/**
 * Sorted (IPv4 first, then by start), disjoint, with adjacent and overlapping ranges merged.
 * Returns new objects; the input is not modified.
 */
export function normalizeRanges(ranges: readonly AddressRange[]): AddressRange[] {
  for (const r of ranges) assertRange(r);
  const sorted = [...ranges].sort(compareRanges);
  const out: AddressRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && last.family === r.family && r.start <= last.end + 1n) {
      if (r.end > last.end) last.end = r.end;
    } else {
      out.push({ family: r.family, start: r.start, end: r.end });
    }
  }
  return out;
}

/** `ranges` minus every address in `exclusions`, normalised. */
export function subtractRanges(ranges: readonly AddressRange[], exclusions: readonly AddressRange[]): AddressRange[] {
  const include = normalizeRanges(ranges);
  const exclude = normalizeRanges(exclusions);
  const out: AddressRange[] = [];
  let j = 0;
  for (const r of include) {
    let start = r.start;
    // Skip exclusions that lie entirely before this range (both lists are sorted).
    while (j < exclude.length && compareEnd(exclude[j] as AddressRange, r.family, start) < 0) j++;
    let k = j;
    let done = false;
    while (k < exclude.length) {
      const x = exclude[k] as AddressRange;
      if (x.family !== r.family || x.start > r.end) break;
      if (x.start > start) out.push({ family: r.family, start, end: x.start - 1n });
      if (x.end >= r.end) {
        done = true;
        break;
      }
      start = x.end + 1n;
      k++;
    }
    if (!done) out.push({ family: r.family, start, end: r.end });
  }
  return out;
}

/** <0 when exclusion `x` ends before address `at` of `family`. */
function compareEnd(x: AddressRange, family: AddressRange['family'], at: bigint): number {
  if (x.family !== family) return x.family - family;
  return x.end < at ? -1 : 0;
}

/** Intersection of `a` and `b`, or undefined when they share no address. */
export function intersectRange(a: AddressRange, b: AddressRange): AddressRange | undefined {
  if (a.family !== b.family) return undefined;
  const start = a.start > b.start ? a.start : b.start;
  const end = a.end < b.end ? a.end : b.end;
  return start <= end ? { family: a.family, start, end } : undefined;
}

export function rangesOverlap(a: AddressRange, b: AddressRange): boolean {
  return a.family === b.family && a.start <= b.end && b.start <= a.end;
}

/** True when every address of `inner` is in `outer`. */
export function rangeContains(outer: AddressRange, inner: AddressRange): boolean {
  return outer.family === inner.family && outer.start <= inner.start && inner.end <= outer.end;
}

/** True when every address of `range` is in the union of `cover`. */
export function coveredBy(range: AddressRange, cover: readonly AddressRange[]): boolean {
  return subtractRanges([range], cover).length === 0;
}

export function rangeSize(range: AddressRange): bigint {
  return range.end - range.start + 1n;
}

/** How many distinct addresses the ranges hold (overlaps counted once). */
export function countAddresses(ranges: readonly AddressRange[]): bigint {
  let total = 0n;
  for (const r of normalizeRanges(ranges)) total += rangeSize(r);
  return total;
}

/**
 * Every address of the ranges, in the order given, as canonical IP literals. Lazy: memory stays flat
 * whatever the size of the ranges, so a caller can stop early. Normalise first for sorted, unique
 * output.
 */
export function* iterateAddresses(ranges: Iterable<AddressRange>): Generator<string, void, undefined> {
  for (const r of ranges) {
    if (r.family === 4) {
      // Plain numbers are exact up to 2^53, so IPv4 needs no BigInt per address.
      const end = Number(r.end);
      for (let n = Number(r.start); n <= end; n++) {
        yield `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
      }
    } else {
      for (let v = r.start; v <= r.end; v++) yield formatIp(6, v);
    }
  }
}
