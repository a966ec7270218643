/** Redis: `PING`, and `INFO server` for the version when PING answered `+PONG`. */
import { Conn, now, type ProbeTarget } from './conn.js';
import { missFromRead, type ProbeOutcome } from './probe.js';
import { parseRedisInfo, parseRedisPingReply, redisInfoComplete, redisLineComplete } from './redis-parse.js';

const MAX_REPLY_BYTES = 64 * 1024;
const IDLE_MS = 250;

export async function probeRedis(target: ProbeTarget, deadline: number): Promise<ProbeOutcome> {
  const conn = Conn.tcp(target, MAX_REPLY_BYTES);
  try {
    const failure = await conn.ready(deadline);
    if (failure !== undefined) return { kind: 'miss', failure };
    const connectedAt = now();
    conn.write('PING\r\n');
    const ping = await conn.read({ deadline, until: redisLineComplete, idleMs: IDLE_MS });
    const reply = parseRedisPingReply(ping.data);
    if (reply === undefined) return missFromRead(ping, connectedAt);
    if (reply.kind === 'error') return { kind: 'match', service: { name: 'redis', product: 'Redis', banner: `-${reply.message}` } };
    conn.consume();
    conn.write('INFO server\r\n');
    const info = await conn.read({ deadline, until: redisInfoComplete, idleMs: IDLE_MS });
    const parsed = parseRedisInfo(info.data);
    return { kind: 'match', service: { name: 'redis', product: 'Redis', ...parsed, banner: '+PONG' } };
  } finally {
    conn.close();
  }
}
