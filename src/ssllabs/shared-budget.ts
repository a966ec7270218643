/**
 * The SSL Labs budget shared by every process of a scaled deployment (REDIS_URL): assessments in
 * flight across all workers, the time before which no process may start one (cool-off, 429
 * back-off), and pauses after 503/529. Each process keeps its own governor (one start at a time in
 * the process); before a start it also takes a slot here, atomically, so N workers together keep to
 * SSL Labs' limits as one client would.
 *
 * Slots are leases that expire: a worker killed mid-assessment frees its slot after `leaseMs`
 * (refreshed while the assessment is followed). A start in progress holds the start gate for at
 * most `startGateMs`, so a process dying between asking and answering cannot block the others.
 */
import type { Redis } from 'ioredis';

export interface SharedSlot {
  ok: true;
  lease: string;
}

export interface SharedWait {
  ok: false;
  /** How long until trying again is worth it (cool-off or pause left); 0: full, try again soon. */
  waitMs: number;
}

export interface SharedBudgetStatus {
  inFlight: number;
  max: number;
  nextStartAt: number;
  pausedUntil: number;
  pauseReason: string | null;
}

export interface SharedBudget {
  /** Takes a slot and the start gate when the limits allow, else says how long to wait. */
  tryStart(now: number, max: number): Promise<SharedSlot | SharedWait>;
  /** After the start's answer: the earliest next start for every process. */
  setNextStart(at: number): Promise<void>;
  /** Keeps a running assessment's slot. */
  refresh(lease: string, now: number): Promise<void>;
  release(lease: string): Promise<void>;
  /** After a 503/529: no process starts before `until`. */
  pause(until: number, reason: string): Promise<void>;
  status(now: number): Promise<SharedBudgetStatus>;
  close(): Promise<void>;
}

export interface RedisBudgetOptions {
  redis: Redis;
  /** Key prefix (config redisPrefix). */
  prefix: string;
  leaseMs?: number;
  startGateMs?: number;
}

// KEYS[1] = hash {next, paused, reason, max}, KEYS[2] = zset lease → expiry.
// ARGV: now, max, lease id, lease expiry, gate until.
const TRY_START = `
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
local now = tonumber(ARGV[1])
local paused = tonumber(redis.call('HGET', KEYS[1], 'paused') or '0')
if paused > now then return {0, paused - now} end
local nextStart = tonumber(redis.call('HGET', KEYS[1], 'next') or '0')
if nextStart > now then return {0, nextStart - now} end
redis.call('HSET', KEYS[1], 'max', ARGV[2])
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[2]) then return {0, 0} end
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
redis.call('HSET', KEYS[1], 'next', ARGV[5])
return {1, 0}
`;

// ARGV: until, reason. Pauses only ever extend.
const PAUSE = `
local paused = tonumber(redis.call('HGET', KEYS[1], 'paused') or '0')
if tonumber(ARGV[1]) > paused then redis.call('HSET', KEYS[1], 'paused', ARGV[1], 'reason', ARGV[2]) end
return 1
`;

export function redisBudget(options: RedisBudgetOptions): SharedBudget {
  const { redis } = options;
  const state = `${options.prefix}:ssllabs:state`;
  const leases = `${options.prefix}:ssllabs:leases`;
  const leaseMs = options.leaseMs ?? 120_000;
  const startGateMs = options.startGateMs ?? 60_000;
  let counter = 0;
  const leaseId = (): string => `${process.pid}:${Date.now().toString(36)}:${(counter++).toString(36)}:${Math.random().toString(36).slice(2, 8)}`;
  return {
    async tryStart(now, max) {
      const lease = leaseId();
      const [ok, waitMs] = (await redis.eval(TRY_START, 2, state, leases, now, max, lease, now + leaseMs, now + startGateMs)) as [number, number];
      return ok === 1 ? { ok: true, lease } : { ok: false, waitMs: Number(waitMs) };
    },
    async setNextStart(at) {
      await redis.hset(state, 'next', at);
    },
    async refresh(lease, now) {
      await redis.zadd(leases, 'XX', now + leaseMs, lease);
    },
    async release(lease) {
      await redis.zrem(leases, lease);
    },
    async pause(until, reason) {
      await redis.eval(PAUSE, 1, state, until, reason);
    },
    async status(now) {
      const [fields, inFlight] = await Promise.all([redis.hgetall(state), redis.zcount(leases, now, '+inf')]);
      return {
        inFlight,
        max: Number(fields.max ?? 0),
        nextStartAt: Number(fields.next ?? 0),
        pausedUntil: Number(fields.paused ?? 0),
        pauseReason: fields.reason ?? null,
      };
    },
    async close() {
      redis.disconnect();
    },
  };
}
