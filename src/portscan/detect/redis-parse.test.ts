import { describe, expect, it } from 'vitest';
import { parseRedisInfo, parseRedisPingReply, redisInfoComplete, redisLineComplete } from './redis-parse.js';

const bytes = (text: string): Buffer => Buffer.from(text, 'latin1');
const bulk = (text: string): Buffer => bytes(`$${text.length}\r\n${text}\r\n`);

describe('Redis replies', () => {
  it.each([
    ['+PONG\r\n', { kind: 'pong' }],
    ['-NOAUTH Authentication required.\r\n', { kind: 'error', message: 'NOAUTH Authentication required.' }],
    ["-ERR unknown command 'PING'\r\n", { kind: 'error', message: "ERR unknown command 'PING'" }],
    ['-DENIED Redis is running in protected mode\r\n', { kind: 'error', message: 'DENIED Redis is running in protected mode' }],
    ['+PONG', undefined],
    ['+OK\r\n', undefined],
    ['-SOMETHING else\r\n', undefined],
    ['HTTP/1.1 400 Bad Request\r\n', undefined],
    ['ERROR\r\n', undefined],
  ])('PING reply %j', (text, expected) => {
    expect(parseRedisPingReply(bytes(text))).toEqual(expected);
  });

  it('reads redis_version from INFO server', () => {
    const info = '# Server\r\nredis_version:7.2.4\r\nredis_git_sha1:00000000\r\nredis_mode:standalone\r\nos:Linux\r\n';
    expect(parseRedisInfo(bulk(info))).toEqual({ product: 'Redis', version: '7.2.4' });
    expect(parseRedisInfo(bulk('# Server\r\nredis_version:7.2.4\r\nserver_name:valkey\r\nvalkey_version:8.0.1\r\n'))).toEqual({
      product: 'Valkey',
      version: '8.0.1',
    });
    expect(parseRedisInfo(bulk('# Server\r\nno_version_here:1\r\n'))).toBeUndefined();
    expect(parseRedisInfo(bytes('-NOAUTH Authentication required.\r\n'))).toBeUndefined();
    expect(parseRedisInfo(bytes(`$10\r\nxredis_version:1\r\n`))).toBeUndefined(); // must be a field of its own
  });

  it('knows when a reply is whole', () => {
    expect(redisLineComplete(bytes('+PON'))).toBe(false);
    expect(redisLineComplete(bytes('+PONG\r\n'))).toBe(true);
    const info = bulk('# Server\r\nredis_version:7.2.4\r\n');
    expect(redisInfoComplete(info.subarray(0, 10))).toBe(false);
    expect(redisInfoComplete(info)).toBe(true);
    expect(redisInfoComplete(bytes('-ERR no\r\n'))).toBe(true);
    expect(redisInfoComplete(bytes('$999999999\r\nshort'))).toBe(false);
  });
});
