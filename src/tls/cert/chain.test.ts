import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failureOf } from '../../testing/errors.js';
import { createCertificate, testPki, type TestCert, type TestPki } from '../../testing/pki.js';
import type { ChainIssues } from '../model.js';
import { analyzeChain, type AnalyzeChainOptions } from './chain.js';
import { loadTrustStore, type TrustStore } from './trust-store.js';

const DAY_MS = 86_400_000;
const NO_ISSUES: ChainIssues = { incomplete: false, extraCerts: false, wrongOrder: false, rootIncluded: false, cannotValidate: false };

let dir: string;
let pki: TestPki;
/** Node's roots plus the test root, given as a CA file. */
let store: TrustStore;
const now = new Date();

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'portcullis-chain-'));
  pki = await testPki();
  store = await trustStoreWith(pki.root);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function trustStoreWith(...certs: TestCert[]): Promise<TrustStore> {
  const file = path.join(dir, `${certs.map((c) => sha256(c)).join('-').slice(0, 40)}.pem`);
  await writeFile(file, certs.map((c) => c.pem).join(''));
  return loadTrustStore({ caFiles: [file] });
}

function sha256(cert: TestCert): string {
  return createHash('sha256').update(cert.der).digest('hex');
}

function analyze(served: TestCert[], options: Partial<AnalyzeChainOptions> = {}): ReturnType<typeof analyzeChain> {
  return analyzeChain(
    served.map((c) => c.der),
    { host: 'localhost', sni: 'localhost', trustStore: store, now, ...options },
  );
}

function daysFromNow(days: number): Date {
  return new Date(now.getTime() + days * DAY_MS);
}

describe('analyzeChain', () => {
  it('trusts leaf + intermediate up to a root given as CA file', async () => {
    const { leaf, intermediate, root } = pki;
    const result = await analyze([leaf, intermediate]);
    expect(result).toMatchObject({ trusted: true, trustError: null, hostnameMatch: true, issues: NO_ISSUES, sni: 'localhost' });
    expect(result.trustPath).toEqual([sha256(leaf), sha256(intermediate), sha256(root)]);
    expect(result.served.map((info) => info.subject)).toEqual(['CN=localhost', 'CN=Portcullis Test Intermediate CA']);
    expect(result.leafExpiry).toBe(result.served[0]?.notAfter);
    // The leaf expires first on this path.
    expect(result.earliestExpiry).toBe(result.leafExpiry);
  });

  it('does not trust the test root without the CA file', async () => {
    const result = await analyze([pki.leaf, pki.intermediate], { trustStore: await loadTrustStore() });
    expect(result.trusted).toBe(false);
    expect(result.trustError).toBe("issuer 'CN=Portcullis Test Root CA' not found: no trusted root CA issued 'CN=Portcullis Test Intermediate CA'");
    expect(result.issues).toEqual({ ...NO_ISSUES, cannotValidate: true });
  });

  it('explains an expired leaf with its date and age', async () => {
    const expired = await pki.leafFor({ notBefore: daysFromNow(-100), notAfter: daysFromNow(-12) });
    const result = await analyze([expired, pki.intermediate]);
    const date = daysFromNow(-12).toISOString().slice(0, 10);
    expect(result).toMatchObject({ trusted: false, trustError: `certificate expired on ${date} (12 days ago)`, issues: NO_ISSUES });
    expect(result.served[0]?.daysToExpiry).toBe(-13);
  });

  it('explains a leaf that is not valid yet', async () => {
    const future = await pki.leafFor({ notBefore: daysFromNow(5), notAfter: daysFromNow(95) });
    const result = await analyze([future, pki.intermediate]);
    const date = daysFromNow(5).toISOString().slice(0, 10);
    expect(result).toMatchObject({ trusted: false, trustError: `certificate is not valid before ${date} (in 5 days)` });
  });

  it('names an expired intermediate and takes the earliest expiry from it', async () => {
    const stale = await createCertificate({ commonName: 'Stale Intermediate CA', isCa: true, issuer: pki.root, key: { alg: 'EC', curve: 'P-256' }, notBefore: daysFromNow(-400), notAfter: daysFromNow(-3) });
    const leaf = await pki.leafFor({ issuer: stale });
    const result = await analyze([leaf, stale]);
    expect(result.trustError).toMatch(/^intermediate certificate 'CN=Stale Intermediate CA' expired on \d{4}-\d\d-\d\d \(3 days ago\)$/);
    expect(result.earliestExpiry).toBe(result.served[1]?.notAfter);
  });

  it('calls a lone self-signed certificate self-signed, and trusts it once it is a CA file', async () => {
    const self = await createCertificate({ commonName: 'localhost', altNames: ['DNS:localhost'] });
    const untrusted = await analyze([self]);
    expect(untrusted.trusted).toBe(false);
    expect(untrusted.trustError).toMatch(/^self-signed certificate: it is not in the trust store/);
    expect(untrusted.issues).toEqual({ ...NO_ISSUES, cannotValidate: true });
    expect(untrusted.trustPath).toEqual([sha256(self)]);

    const trusted = await analyze([self], { trustStore: await trustStoreWith(self) });
    expect(trusted).toMatchObject({ trusted: true, trustError: null, trustPath: [sha256(self)], issues: NO_ISSUES });
  });

  it('names an untrusted root sent by the server', async () => {
    const otherRoot = await createCertificate({ commonName: 'Untrusted Root CA', isCa: true, key: { alg: 'EC', curve: 'P-256' } });
    const otherIntermediate = await createCertificate({ commonName: 'Untrusted Intermediate CA', isCa: true, issuer: otherRoot, key: { alg: 'EC', curve: 'P-256' } });
    const leaf = await pki.leafFor({ issuer: otherIntermediate });
    const result = await analyze([leaf, otherIntermediate, otherRoot]);
    expect(result.trustError).toBe("root certificate 'CN=Untrusted Root CA' is not trusted: it is not in the trust store");
    expect(result.issues).toEqual({ ...NO_ISSUES, rootIncluded: true, cannotValidate: true });
    expect(result.trustPath).toEqual([sha256(leaf), sha256(otherIntermediate), sha256(otherRoot)]);
  });

  it('rejects a chain whose issuer only has the right name, not the right key', async () => {
    const impostor = await createCertificate({ commonName: 'Portcullis Test Intermediate CA', isCa: true, issuer: pki.root, key: { alg: 'EC', curve: 'P-384' } });
    const forged = await pki.leafFor({ issuer: impostor });
    const result = await analyze([forged, pki.intermediate]);
    expect(result.trusted).toBe(false);
    expect(result.trustError).toBe(
      "issuer 'CN=Portcullis Test Intermediate CA' found, but its key does not verify the signature of 'CN=localhost' (a different certificate of that name, or a corrupted signature)",
    );
    expect(result.issues).toMatchObject({ cannotValidate: true, extraCerts: true });
  });

  it('verifies signatures: a leaf with a corrupted signature is not trusted', async () => {
    const corrupted = Buffer.from(pki.leaf.der);
    const last = corrupted.length - 1; // the last byte belongs to the signature
    corrupted.writeUInt8(corrupted.readUInt8(last) ^ 0xff, last);
    const result = await analyzeChain([corrupted, pki.intermediate.der], { host: 'localhost', sni: 'localhost', trustStore: store, now });
    expect(result.trusted).toBe(false);
    expect(result.trustError).toMatch(/^issuer 'CN=Portcullis Test Intermediate CA' found, but its key does not verify the signature of 'CN=localhost'/);
    expect(result.issues.cannotValidate).toBe(true);
  });

  it('reports a missing intermediate, and an incomplete chain when the trust store can complete it', async () => {
    const missing = await analyze([pki.leaf]);
    expect(missing.trustError).toBe("issuer 'CN=Portcullis Test Intermediate CA' not found: the server does not send the intermediate certificate");
    expect(missing.issues).toEqual({ ...NO_ISSUES, cannotValidate: true });
    expect(missing.earliestExpiry).toBe(missing.leafExpiry);

    const completed = await analyze([pki.leaf], { trustStore: await trustStoreWith(pki.root, pki.intermediate) });
    expect(completed).toMatchObject({ trusted: true, trustError: null, issues: { ...NO_ISSUES, incomplete: true } });
    expect(completed.trustPath).toEqual([sha256(pki.leaf), sha256(pki.intermediate), sha256(pki.root)]);
  });

  it('flags intermediates sent in the wrong order', async () => {
    const second = await createCertificate({ commonName: 'Second Level CA', isCa: true, issuer: pki.intermediate, key: { alg: 'EC', curve: 'P-256' } });
    const leaf = await pki.leafFor({ issuer: second });
    const inOrder = await analyze([leaf, second, pki.intermediate]);
    expect(inOrder).toMatchObject({ trusted: true, issues: NO_ISSUES });
    const reversed = await analyze([leaf, pki.intermediate, second]);
    expect(reversed).toMatchObject({ trusted: true, issues: { ...NO_ISSUES, wrongOrder: true } });
    expect(reversed.trustPath).toEqual(inOrder.trustPath);
  });

  it('flags unrelated and duplicate certificates as extra', async () => {
    const unrelated = await pki.leafFor({ commonName: 'unrelated.test', altNames: ['DNS:unrelated.test'] });
    const withUnrelated = await analyze([pki.leaf, pki.intermediate, unrelated]);
    expect(withUnrelated).toMatchObject({ trusted: true, issues: { ...NO_ISSUES, extraCerts: true } });
    const withDuplicate = await analyze([pki.leaf, pki.intermediate, pki.intermediate]);
    expect(withDuplicate).toMatchObject({ trusted: true, issues: { ...NO_ISSUES, extraCerts: true } });
  });

  it('flags a served root, which is still trusted as the store copy', async () => {
    const result = await analyze([pki.leaf, pki.intermediate, pki.root]);
    expect(result).toMatchObject({ trusted: true, issues: { ...NO_ISSUES, rootIncluded: true } });
    expect(result.trustPath).toEqual([sha256(pki.leaf), sha256(pki.intermediate), sha256(pki.root)]);
  });

  it('does not trust a SHA-1 signed leaf', async () => {
    const sha1 = await pki.leafFor({ signatureHash: 'SHA-1' });
    const result = await analyze([sha1, pki.intermediate]);
    expect(result).toMatchObject({ trusted: false, trustError: 'certificate is signed with SHA-1 (SHA1withRSA), which browsers no longer trust', issues: NO_ISSUES });
  });

  it('matches the host name with SNI first, then the host, including wildcards and IP SANs', async () => {
    const wildcard = await pki.leafFor({ commonName: '*.example.test', altNames: ['DNS:*.example.test', 'DNS:example.test'] });
    const served = [wildcard, pki.intermediate];
    expect((await analyze(served, { host: 'www.example.test', sni: 'www.example.test' })).hostnameMatch).toBe(true);
    expect((await analyze(served, { host: 'a.b.example.test', sni: 'a.b.example.test' })).hostnameMatch).toBe(false);
    expect((await analyze(served, { host: '127.0.0.1', sni: 'example.test' })).hostnameMatch).toBe(true);
    expect((await analyze([pki.leaf, pki.intermediate], { host: '127.0.0.1', sni: null })).hostnameMatch).toBe(true);
    expect((await analyze([pki.leaf, pki.intermediate], { host: 'mail.example.test', sni: 'mail.example.test' })).hostnameMatch).toBe(false);
    expect((await analyze([pki.leaf, pki.intermediate], { host: null, sni: null })).hostnameMatch).toBe(false);
    // A name mismatch is not a trust failure (SSL Labs grades it M, not T).
    expect((await analyze([pki.leaf, pki.intermediate], { host: 'mail.example.test', sni: 'mail.example.test' })).trusted).toBe(true);
  });

  it('refuses an empty chain', async () => {
    const error = await failureOf(analyzeChain([], { host: 'localhost', sni: null, trustStore: store, now }));
    expect(error.code).toBe('scan.failed');
    expect(error.message).toBe('the server sent an empty certificate chain');
  });
});
