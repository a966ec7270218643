import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { buildConfig } from '../config/index.js';
import { createLogger } from './index.js';

describe('log redaction', () => {
  it('censors credentials, keys, connection strings and the SSL Labs email wherever they are logged', () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, done) => void (lines.push(String(chunk)), done()) });
    const logger = createLogger(buildConfig({}, { logLevel: 'info' }), sink);
    logger.info({ req: { headers: { authorization: 'Bearer pcl_secretkey', cookie: 'session=secretcookie', 'x-api-key': 'secretheader' } } }, 'request');
    logger.info({ databaseUrl: 'postgres://u:secretpw@db/x', redisUrl: 'redis://:secretredis@r', email: 'secops@example.com', token: 'secrettoken' }, 'config');
    logger.info({ ssllabs: { email: 'secops@example.com' }, smtp: { password: 'secretsmtp', smtpPassword: 'secretsmtp2' }, webhook: { secret: 'secretwebhook', webhookSecret: 'secretwh2' }, key: { token: 'secretkeytoken', apiKey: 'secretapikey' } }, 'nested');
    const text = lines.join('');
    for (const secret of ['pcl_secretkey', 'secretcookie', 'secretheader', 'secretpw', 'secretredis', 'secops@example.com', 'secrettoken', 'secretsmtp', 'secretwebhook', 'secretwh2', 'secretkeytoken', 'secretapikey']) {
      expect(text, secret).not.toContain(secret);
    }
    expect(text.match(/\*\*\*/g)?.length).toBeGreaterThanOrEqual(12);
  });
});
