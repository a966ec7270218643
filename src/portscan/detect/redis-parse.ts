/** Redis (RESP) replies to `PING` and `INFO server`. Pure. */
import { escapeLatin1 } from './text.js';

export type RedisPingReply = { kind: 'pong' } | { kind: 'error'; message: string };

/** Error prefixes Redis (and Valkey, KeyDB) answer PING with when it needs auth or refuses us. */
const REDIS_ERRORS = /^-(?:ERR|NOAUTH|WRONGPASS|NOPERM|DENIED|LOADING|MASTERDOWN|BUSY|MISCONF)\b/;

/** True once a whole first RESP line arrived. */
export function redisLineComplete(data: Uint8Array): boolean {
  return data.indexOf(0x0a) !== -1;
}

export function parseRedisPingReply(data: Uint8Array): RedisPingReply | undefined {
  const text = Buffer.from(data.buffer, data.byteOffset, Math.min(data.byteLength, 1024)).toString('latin1');
  const eol = text.indexOf('\n');
  if (eol === -1) return undefined;
  const line = text.slice(0, eol).replace(/\r$/, '');
  if (line === '+PONG') return { kind: 'pong' };
  if (REDIS_ERRORS.test(line)) return { kind: 'error', message: escapeLatin1(line.slice(1), 256) };
  return undefined;
}

/** Reply to `INFO server`: a bulk string `$<len>\r\n<text>\r\n`; complete once `len` bytes or an error line arrived. */
export function redisInfoComplete(data: Uint8Array): boolean {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const eol = buf.indexOf('\r\n');
  if (eol === -1) return false;
  const header = buf.subarray(0, eol).toString('latin1');
  const len = /^\$(\d{1,9})$/.exec(header)?.[1];
  if (len === undefined) return true; // an error or something else: nothing more to wait for
  return buf.length >= eol + 2 + Number(len);
}

export interface RedisInfo {
  product: string;
  version?: string;
}

/** `redis_version:7.2.4` (and Valkey's `server_name:valkey` / `valkey_version`), from the first 64 KiB. */
export function parseRedisInfo(data: Uint8Array): RedisInfo | undefined {
  const text = Buffer.from(data.buffer, data.byteOffset, Math.min(data.byteLength, 64 * 1024)).toString('latin1');
  if (!text.startsWith('$')) return undefined;
  const field = (name: string): string | undefined => new RegExp(`(?:^|\\n)${name}:([\\x21-\\x7e]{1,64})`).exec(text)?.[1];
  const valkey = field('valkey_version');
  if (valkey !== undefined || field('server_name') === 'valkey') {
    return { product: 'Valkey', ...(valkey !== undefined ? { version: valkey } : {}) };
  }
  const version = field('redis_version');
  return version === undefined ? undefined : { product: 'Redis', version };
}
