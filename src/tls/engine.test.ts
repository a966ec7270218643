import { describe, expect, it } from 'vitest';
import { createScopePolicy, staticResolver } from '../scope/index.js';
import { failureOf } from '../testing/errors.js';
import { nativeTlsEngine } from './engine.js';

const options = { resolver: staticResolver({}), scopePolicy: createScopePolicy({ allow: [], deny: [] }) };

describe('nativeTlsEngine', () => {
  it('fails every assessment with tls.ca-file-invalid while a CA file cannot be read, before any connection', async () => {
    const engine = nativeTlsEngine(['/nonexistent/portcullis-ca.pem']);
    for (let attempt = 0; attempt < 2; attempt++) {
      const error = await failureOf(engine({ host: '127.0.0.1', port: 9 }, options));
      expect(error.code).toBe('tls.ca-file-invalid');
      expect(error.message).toContain('/nonexistent/portcullis-ca.pem');
    }
  });
});
