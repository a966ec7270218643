import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BullmqQueue, type BullmqQueueOptions, fromBullId, toBullId } from './bullmq-queue.js';
import type { QueueLogger } from './db-queue.js';
import { queueContract } from './queue.contract.js';

/** CI starts Redis here (.ci/run); the suite fails, never skips, when it is not reachable. */
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Fast settings so the contract suite takes seconds. */
const FAST = { leaseMs: 1000, pollMs: 50 };

let admin: Redis;

beforeAll(async () => {
  admin = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2000, retryStrategy: () => null });
  admin.on('error', () => undefined); // reported by the connect below
  try {
    await admin.connect();
    await admin.ping();
  } catch (err) {
    throw new Error(`Redis is required for the BullMQ queue tests and is not reachable at ${REDIS_URL} (set REDIS_URL or start redis-server): ${(err as Error).message}`);
  }
});

afterAll(async () => {
  admin.disconnect();
});

async function deleteKeys(prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    if (keys.length > 0) await admin.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

function recordingLogger(): QueueLogger & { errors: string[] } {
  const errors: string[] = [];
  return { errors, warn: () => undefined, error: (obj, msg) => errors.push(`${msg ?? ''} ${String((obj as { err?: unknown }).err ?? JSON.stringify(obj))}`) };
}

async function openFixture(options: Partial<BullmqQueueOptions> = {}) {
  const prefix = `pctest-${randomUUID()}`;
  const logger = recordingLogger();
  const queues: BullmqQueue[] = [];
  const open = (more: Partial<BullmqQueueOptions> = {}): BullmqQueue => {
    const q = new BullmqQueue({ redisUrl: REDIS_URL, prefix, logger, ...FAST, ...options, ...more });
    queues.push(q);
    return q;
  };
  return {
    prefix,
    queue: open(),
    open,
    cleanup: async () => {
      for (const q of queues) await q.close();
      await deleteKeys(prefix);
      if (logger.errors.length > 0) throw new Error(`the queue logged errors:\n${logger.errors.join('\n')}`);
    },
  };
}

queueContract('BullmqQueue (Redis)', async () => {
  const f = await openFixture();
  return {
    queue: f.queue,
    restart: async (options) => f.open(options),
    crash: async (queue) => (queue as BullmqQueue).crash(),
    cleanup: f.cleanup,
  };
});

describe('BullmqQueue details', () => {
  it('round-trips job ids BullMQ would refuse (colons, integers, percent signs)', () => {
    for (const id of ['port-scan:42', '42', '-7', '%N42', '100%', 'a%3Ab', 'plain-uuid']) {
      expect(toBullId(id)).not.toContain(':');
      expect(`${parseInt(toBullId(id), 10)}`).not.toBe(toBullId(id));
      expect(fromBullId(toBullId(id))).toBe(id);
    }
  });

  it('fails with queue.unavailable, naming REDIS_URL, when Redis does not answer', async () => {
    // A closed port on loopback: nothing listens on port 1.
    await expect(BullmqQueue.connect({ redisUrl: 'redis://127.0.0.1:1', logger: recordingLogger() }, 1000)).rejects.toMatchObject({ code: 'queue.unavailable', message: expect.stringContaining('REDIS_URL') });
  });

  it('aborts a job running in another instance at once on cancel (pushed, not polled)', async () => {
    const f = await openFixture({ pollMs: 60_000 });
    try {
      const other = f.open();
      let aborted!: () => void;
      const abortedAt = new Promise<number>((resolve) => (aborted = () => resolve(Date.now())));
      let started!: () => void;
      const running = new Promise<void>((resolve) => (started = resolve));
      f.queue.process(
        'pushed-cancel',
        async (ctx) => {
          ctx.signal.addEventListener('abort', () => aborted(), { once: true });
          started();
          await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
        },
        { concurrency: 1 },
      );
      const job = await f.queue.enqueue('pushed-cancel', {});
      await running;
      const t0 = Date.now();
      await other.cancel(job.id);
      expect((await abortedAt) - t0).toBeLessThan(1000);
    } finally {
      await f.cleanup();
    }
  });

  it('adds a job whose id was claimed by an enqueue that died before adding it, once', async () => {
    const f = await openFixture();
    try {
      // What a process killed between claiming the id and adding the job leaves behind.
      await admin.hset(`${f.prefix}:default:portcullis:ids`, 'scan:7:shard:1', 'half');
      let runs = 0;
      f.queue.process('half', async () => void runs++, { concurrency: 1 });
      const [a, b] = await Promise.all([f.queue.enqueue('half', { n: 1 }, { jobId: 'scan:7:shard:1' }), f.queue.enqueue('half', { n: 1 }, { jobId: 'scan:7:shard:1' })]);
      expect([a.id, b.id]).toEqual(['scan:7:shard:1', 'scan:7:shard:1']);
      expect(await f.queue.waitUntilFinished('scan:7:shard:1', 5000)).toMatchObject({ state: 'completed' });
      expect(runs).toBe(1);
      await expect(f.queue.enqueue('other-kind', {}, { jobId: 'scan:7:shard:1' })).resolves.toMatchObject({ kind: 'half', state: 'completed' });
    } finally {
      await f.cleanup();
    }
  });

  it('keeps everything under its prefix, so a test can delete its keys', async () => {
    const f = await openFixture();
    f.queue.process('tidy', async () => 'ok', { concurrency: 1 });
    const job = await f.queue.enqueue('tidy', {});
    await f.queue.waitUntilFinished(job.id, 5000);
    await f.queue.close();
    const keys = await admin.keys(`${f.prefix}:*`);
    expect(keys.length).toBeGreaterThan(0);
    await f.cleanup();
    expect(await admin.keys(`${f.prefix}:*`)).toEqual([]);
  });
});
