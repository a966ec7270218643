import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failureOf } from '../../testing/errors.js';
import { testPki } from '../../testing/pki.js';
import { loadTrustStore } from './trust-store.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'portcullis-ca-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function caFile(name: string, content: string | Buffer): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, content);
  return file;
}

describe('loadTrustStore', () => {
  it("uses Node's own roots by default", async () => {
    const store = await loadTrustStore();
    expect(store.roots.length).toBeGreaterThan(100);
    expect(store.source).toMatch(/^Node (bundled roots|default CA certificates) \(\d+\)$/);
    expect(store.source).toContain(`(${store.roots.length})`);
  });

  it('adds every certificate of a PEM CA file to the default roots', async () => {
    const { root, intermediate } = await testPki();
    const file = await caFile('bundle.pem', `# test bundle\n${root.pem}\n${intermediate.pem}`);
    const defaults = await loadTrustStore();
    const store = await loadTrustStore({ caFiles: [file] });
    expect(store.roots).toHaveLength(defaults.roots.length + 2);
    expect(store.roots).toContainEqual(root.der);
    expect(store.roots).toContainEqual(intermediate.der);
    expect(store.source).toBe(`${defaults.source} + 1 CA file (2 certificates)`);
  });

  it('holds only the CA files without default roots, each certificate once', async () => {
    const { root } = await testPki();
    const a = await caFile('a.pem', root.pem);
    const b = await caFile('b.pem', root.pem);
    const store = await loadTrustStore({ caFiles: [a, b], includeDefaultRoots: false });
    expect(store.roots).toEqual([root.der]);
    expect(store.source).toBe('2 CA files (2 certificates)');
  });

  it('is empty with neither default roots nor CA files', async () => {
    expect(await loadTrustStore({ includeDefaultRoots: false })).toEqual({ roots: [], source: 'empty trust store' });
  });

  it('names a missing CA file', async () => {
    const missing = path.join(dir, 'missing.pem');
    const error = await failureOf(loadTrustStore({ caFiles: [missing] }));
    expect(error.code).toBe('tls.ca-file-invalid');
    expect(error.message).toBe(`CA file ${missing} cannot be used: the file does not exist`);
    expect(error.detail.value).toBe(missing);
  });

  it('rejects a file without PEM certificates, suggesting how to convert DER', async () => {
    const { root } = await testPki();
    const file = await caFile('root.der', root.der);
    const error = await failureOf(loadTrustStore({ caFiles: [file] }));
    expect(error.code).toBe('tls.ca-file-invalid');
    expect(error.message).toContain(`CA file ${file} cannot be used: it holds no PEM certificate`);
    expect(error.message).toContain('openssl x509 -inform der');
  });

  it('rejects an empty file', async () => {
    const file = await caFile('empty.pem', '\n');
    const error = await failureOf(loadTrustStore({ caFiles: [file] }));
    expect(error.message).toBe(`CA file ${file} cannot be used: the file is empty`);
  });

  it('names the PEM block that is not a certificate', async () => {
    const { root } = await testPki();
    const file = await caFile('corrupt.pem', `${root.pem}-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n`);
    const error = await failureOf(loadTrustStore({ caFiles: [file] }));
    expect(error.code).toBe('tls.ca-file-invalid');
    expect(error.message).toContain('certificate 2 of 2 is not valid X.509');
  });
});
