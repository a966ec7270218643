import { afterAll, describe, expect, it } from 'vitest';
import { createApiKeys } from '../auth/service.js';
import { openStore } from '../store/index.js';
import { captureIo, cleanupCli, tempDir } from '../testing/cli.js';
import { runCli } from './program.js';

describe('portcullis keys create|list|revoke', () => {
  const dataDir = tempDir();
  afterAll(cleanupCli);

  const cli = async (...args: string[]) => {
    const io = captureIo({ PORTCULLIS_DATA_DIR: dataDir });
    const code = await runCli(['keys', ...args], io);
    return { code, out: io.out(), err: io.err() };
  };

  it('creates a key, prints it once on stdout, lists it without the secret, and revokes it; the CLI actions are audited', async () => {
    const created = await cli('create', '--name', 'ci', '--scopes', 'scan,read', '--allow', '127.0.0.0/8', '--expires', '30d');
    expect(created.code, created.err).toBe(0);
    const token = created.out.trim();
    expect(token).toMatch(/^pcl_[a-z2-7]{16}_[A-Za-z0-9_-]{43}$/);
    expect(created.err).toMatch(/created key_[a-z2-7]{16} \(ci, scopes read,scan\)\. The key is shown only now/);
    const id = `key_${token.split('_')[1]}`;

    const listed = await cli('list');
    expect(listed.out).toMatch(new RegExp(`${id}\\s+ci\\s+read,scan\\s+127\\.0\\.0\\.0/8\\s+expires 20`));
    expect(listed.out).not.toContain(token.slice(22));

    const store = await openStore({ dataDir });
    try {
      await expect(createApiKeys(store).authenticate(token)).resolves.toMatchObject({ id, scopes: ['read', 'scan'], allow: ['127.0.0.0/8'] });
      expect((await cli('revoke', id)).out).toMatch(new RegExp(`^revoked ${id} \\(ci\\) at `));
      await expect(createApiKeys(store).authenticate(token)).rejects.toMatchObject({ code: 'auth.invalid' });
      expect((await cli('list')).out).not.toContain(id);
      expect((await cli('list', '--all')).out).toMatch(new RegExp(`${id}.*revoked`));
      const audit = await store.audit.list({ limit: 10 });
      expect(audit.map((e) => [e.action, e.resource, e.actor.kind])).toEqual([
        ['keys.revoke', id, 'cli'],
        ['keys.create', id, 'cli'],
      ]);
    } finally {
      await store.close();
    }
  });

  it('refuses unknown scopes, bad expiries and unknown ids with usage errors, creating nothing', async () => {
    const before = (await cli('list', '--all', '--json')).out;
    const scope = await cli('create', '--name', 'x', '--scopes', 'read,root');
    expect(scope.code).toBe(2);
    expect(scope.err).toMatch(/--scopes: unknown scope "root"; use read, scan, admin/);
    const expiry = await cli('create', '--name', 'x', '--scopes', 'read', '--expires', 'yesterday');
    expect(expiry.code).toBe(2);
    expect(expiry.err).toMatch(/--expires must be like 30d/);
    const past = await cli('create', '--name', 'x', '--scopes', 'read', '--expires', '2001-01-01');
    expect(past.err).toMatch(/is not in the future/);
    const allow = await cli('create', '--name', 'x', '--scopes', 'scan', '--allow', '10.0.0.0/33');
    expect(allow.code).toBe(2);
    expect((await cli('revoke', 'key_aaaaaaaaaaaaaaaa')).err).toMatch(/no API key key_aaaaaaaaaaaaaaaa \[not-found\]/);
    expect((await cli('list', '--all', '--json')).out).toBe(before);
  });
});
