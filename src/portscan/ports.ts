/**
 * Port specifications (what a user types after `--ports`) and compact port sets (what a scan stores).
 * Pure: no I/O. Port lists and the ranking come in through `PortLists`.
 */
import { PortcullisError } from '../shared/errors.js';
import type { PortLists } from './types.js';

export const MIN_PORT = 1;
export const MAX_PORT = 65535;

const NUMBER = /^\d+$/;
const RANGE = /^(\d*)-(\d*)$/;
const TOP = /^top-(\d+)$/i;
const LIST_NAME = /^@?([a-z][a-z0-9_-]*)$/i;
const PROTOCOL_PREFIX = /^([a-z]):(.*)$/i;

/**
 * Parses a port spec into sorted, unique TCP port numbers.
 *
 * Grammar: comma-separated items, whitespace around items tolerated.
 *   `N`         one port (1-65535)
 *   `N-M`       inclusive range, N <= M
 *   `-`         every port, 1-65535 (nmap's `-p-`)
 *   `N-`, `-M`  N..65535, 1..M
 *   `top-N`     the first N ports of our ranking (1 <= N <= ranking length)
 *   `name`, `@name`  a named list from the port-list file
 * An item may carry nmap's `T:` prefix (TCP); `U:` and `S:` are refused: only TCP is scanned.
 *
 * @throws PortcullisError `ports.invalid` naming the offending item and `field`,
 *         or `ports.list-unknown` with the available list names.
 */
export function parsePortSpec(spec: string, lists: PortLists, field = 'ports'): number[] {
  if (spec.trim() === '') throw invalid(field, spec, 'no ports given');
  const selected = new Uint8Array(MAX_PORT + 1);
  for (const raw of spec.split(',')) {
    const item = raw.trim().replace(/\s*([-:])\s*/g, '$1');
    if (item === '') throw invalid(field, spec, `empty item in "${spec}"`);
    addItem(item, lists, field, selected);
  }
  const ports: number[] = [];
  for (let p = MIN_PORT; p <= MAX_PORT; p++) if (selected[p] === 1) ports.push(p);
  return ports;
}

function addItem(item: string, lists: PortLists, field: string, selected: Uint8Array): void {
  let body = item;
  const prefixed = PROTOCOL_PREFIX.exec(item);
  if (prefixed !== null) {
    const proto = (prefixed[1] ?? '').toUpperCase();
    if (proto === 'U' || proto === 'S') {
      throw invalid(field, item, `"${item}": UDP and SCTP scanning are not supported; only TCP ports can be scanned`);
    }
    if (proto !== 'T') throw invalid(field, item, `"${item}": unknown protocol prefix "${prefixed[1]}:" (only T: is accepted)`);
    body = (prefixed[2] ?? '').trim();
    if (body === '') throw invalid(field, item, `"${item}": no port after the protocol prefix`);
  }

  if (NUMBER.test(body)) {
    const port = toPort(body, item, field);
    selected[port] = 1;
    return;
  }
  const range = RANGE.exec(body);
  if (range !== null) {
    const from = range[1] === '' || range[1] === undefined ? MIN_PORT : toPort(range[1], item, field);
    const to = range[2] === '' || range[2] === undefined ? MAX_PORT : toPort(range[2], item, field);
    if (from > to) throw invalid(field, item, `"${item}": range start ${from} is greater than its end ${to}`);
    selected.fill(1, from, to + 1);
    return;
  }
  const top = TOP.exec(body);
  if (top !== null) {
    const n = Number(top[1]);
    const max = lists.ranking.length;
    if (!Number.isSafeInteger(n) || n < 1 || n > max) {
      throw invalid(field, item, `"${item}": top-N needs N from 1 to ${max} (the length of the port ranking)`);
    }
    for (let i = 0; i < n; i++) {
      const entry = lists.ranking[i];
      if (entry !== undefined) selected[entry.port] = 1;
    }
    return;
  }
  const named = LIST_NAME.exec(body);
  if (named !== null) {
    const name = (named[1] ?? '').toLowerCase();
    const ports = lists.named.get(name);
    if (ports === undefined) {
      const available = [...lists.named.keys()].sort();
      throw new PortcullisError(
        'ports.list-unknown',
        `${field}: unknown port list "${name}"; available lists: ${available.length > 0 ? available.join(', ') : '(none)'}`,
        { field, value: item, available },
      );
    }
    for (const p of ports) selected[p] = 1;
    return;
  }
  throw invalid(field, item, `"${item}" is not a port, a range (N-M), top-N or a list name`);
}

function toPort(digits: string, item: string, field: string): number {
  // Digits only: leading zeros are harmless (nmap accepts them); past five digits it cannot be a port.
  const significant = digits.replace(/^0+(?=\d)/, '');
  const n = significant.length > 5 ? Number.POSITIVE_INFINITY : Number(significant);
  if (n < MIN_PORT || n > MAX_PORT) {
    throw invalid(field, item, `"${item}": port ${digits} is out of range (ports are 1-65535)`);
  }
  return n;
}

function invalid(field: string, value: string, reason: string): PortcullisError {
  return new PortcullisError('ports.invalid', `${field}: ${reason}`, { field, value });
}

/**
 * An immutable set of ports held as sorted, disjoint, non-adjacent inclusive ranges, so `1-65535`
 * costs two numbers. Its canonical text form (`1-1024,3306`) is what scans store as `portSet`.
 */
export class PortSet implements Iterable<number> {
  /** Range starts and ends (inclusive), same length, ascending. */
  readonly #starts: Uint32Array;
  readonly #ends: Uint32Array;
  readonly size: number;

  private constructor(starts: Uint32Array, ends: Uint32Array) {
    this.#starts = starts;
    this.#ends = ends;
    let size = 0;
    for (let i = 0; i < starts.length; i++) size += (ends[i] ?? 0) - (starts[i] ?? 0) + 1;
    this.size = size;
  }

  static readonly EMPTY = new PortSet(new Uint32Array(0), new Uint32Array(0));

  /** Any ports, in any order, duplicates allowed. @throws PortcullisError `ports.invalid` for a non-port. */
  static fromPorts(ports: Iterable<number>): PortSet {
    const sorted = Array.from(ports);
    for (const p of sorted) {
      if (!Number.isInteger(p) || p < MIN_PORT || p > MAX_PORT) {
        throw new PortcullisError('ports.invalid', `portSet: ${p} is not a port (1-65535)`, { field: 'portSet', value: String(p) });
      }
    }
    sorted.sort((a, b) => a - b);
    const starts: number[] = [];
    const ends: number[] = [];
    for (const p of sorted) {
      const last = ends.length - 1;
      const end = ends[last];
      if (end !== undefined && p <= end + 1) {
        if (p > end) ends[last] = p;
      } else {
        starts.push(p);
        ends.push(p);
      }
    }
    return new PortSet(Uint32Array.from(starts), Uint32Array.from(ends));
  }

  /**
   * Parses the canonical form strictly: ascending items `N` or `N-M` (N < M) without spaces, leading
   * zeros, overlaps or touching neighbours. The empty string is the empty set.
   * @throws PortcullisError `ports.invalid`
   */
  static parse(canonical: string): PortSet {
    if (canonical === '') return PortSet.EMPTY;
    const starts: number[] = [];
    const ends: number[] = [];
    const bad = (why: string): PortcullisError =>
      new PortcullisError('ports.invalid', `portSet: "${canonical}" is not a canonical port set: ${why}`, { field: 'portSet', value: canonical });
    for (const item of canonical.split(',')) {
      const m = /^([1-9]\d{0,4})(?:-([1-9]\d{0,4}))?$/.exec(item);
      if (m === null) throw bad(`bad item "${item}"`);
      const from = Number(m[1]);
      const to = m[2] === undefined ? from : Number(m[2]);
      if (from > MAX_PORT || to > MAX_PORT) throw bad(`"${item}" is out of range`);
      if (m[2] !== undefined && to <= from) throw bad(`"${item}" is not an ascending range`);
      const prevEnd = ends[ends.length - 1];
      if (prevEnd !== undefined && from <= prevEnd + 1) throw bad(`"${item}" overlaps or touches the item before it`);
      starts.push(from);
      ends.push(to);
    }
    return new PortSet(Uint32Array.from(starts), Uint32Array.from(ends));
  }

  /** Canonical text: `1-1024,3306`. */
  toString(): string {
    const parts: string[] = [];
    for (let i = 0; i < this.#starts.length; i++) {
      const s = this.#starts[i] ?? 0;
      const e = this.#ends[i] ?? 0;
      parts.push(s === e ? String(s) : `${s}-${e}`);
    }
    return parts.join(',');
  }

  toJSON(): string {
    return this.toString();
  }

  /** Binary search over the ranges: O(log ranges). */
  has(port: number): boolean {
    let lo = 0;
    let hi = this.#starts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (port < (this.#starts[mid] ?? 0)) hi = mid - 1;
      else if (port > (this.#ends[mid] ?? 0)) lo = mid + 1;
      else return true;
    }
    return false;
  }

  /** The inclusive ranges, ascending. */
  ranges(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (let i = 0; i < this.#starts.length; i++) out.push([this.#starts[i] ?? 0, this.#ends[i] ?? 0]);
    return out;
  }

  *[Symbol.iterator](): Iterator<number> {
    for (let i = 0; i < this.#starts.length; i++) {
      const end = this.#ends[i] ?? 0;
      for (let p = this.#starts[i] ?? 0; p <= end; p++) yield p;
    }
  }

  /** Every port, ascending. */
  ports(): number[] {
    const out = new Array<number>(this.size);
    let k = 0;
    for (let i = 0; i < this.#starts.length; i++) {
      const end = this.#ends[i] ?? 0;
      for (let p = this.#starts[i] ?? 0; p <= end; p++) out[k++] = p;
    }
    return out;
  }

  /** Ports in both sets, by a merge over the ranges. */
  intersect(other: PortSet): PortSet {
    const a = this.ranges();
    const b = other.ranges();
    const starts: number[] = [];
    const ends: number[] = [];
    let i = 0;
    let j = 0;
    while (i < a.length && j < b.length) {
      const [as, ae] = a[i] as [number, number];
      const [bs, be] = b[j] as [number, number];
      const s = Math.max(as, bs);
      const e = Math.min(ae, be);
      if (s <= e) {
        starts.push(s);
        ends.push(e);
      }
      if (ae < be) i++;
      else j++;
    }
    return new PortSet(Uint32Array.from(starts), Uint32Array.from(ends));
  }

  /** Ports of this set that are not in `other`, by a merge over the ranges. */
  difference(other: PortSet): PortSet {
    const b = other.ranges();
    const starts: number[] = [];
    const ends: number[] = [];
    let j = 0;
    for (const [s0, e] of this.ranges()) {
      let s = s0;
      while (j < b.length && (b[j] as [number, number])[1] < s) j++;
      let k = j;
      while (s <= e) {
        const r = b[k];
        if (r === undefined || r[0] > e) {
          starts.push(s);
          ends.push(e);
          break;
        }
        if (r[0] > s) {
          starts.push(s);
          ends.push(r[0] - 1);
        }
        s = r[1] + 1;
        k++;
      }
    }
    return new PortSet(Uint32Array.from(starts), Uint32Array.from(ends));
  }

  equals(other: PortSet): boolean {
    return this.toString() === other.toString();
  }
}

/** Canonical form of any ports (sorted or not, duplicates allowed): `1-1024,3306`. */
export function formatPortSet(ports: readonly number[]): string {
  return PortSet.fromPorts(ports).toString();
}
