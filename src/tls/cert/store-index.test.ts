import { describe, expect, it } from 'vitest';
import { testPki } from '../../testing/pki.js';
import { readSingle } from './der.js';
import { indexTrustStore, sameName } from './store-index.js';
import { readNames } from './x509-fields.js';
import { commonNameDer } from './testing/names.js';

describe('indexTrustStore', () => {
  it('finds the entries whose subject is a name, and none for a name no entry has', async () => {
    const { root, intermediate, leaf } = await testPki();
    const index = indexTrustStore([intermediate.der, root.der]);
    expect(index.withSubject(readNames(leaf.der).issuer).map((entry) => entry.der)).toEqual([intermediate.der]);
    expect(index.withSubject(readNames(intermediate.der).issuer).map((entry) => entry.der)).toEqual([root.der]);
    expect(index.withSubject(readNames(leaf.der).subject)).toEqual([]);
  });

  it('finds an entry whose subject is encoded in another string type', async () => {
    const { root } = await testPki();
    const index = indexTrustStore([root.der]);
    // The test root's name is a UTF8String; an issuer field may carry the same name as PrintableString.
    const reencoded = readSingle(commonNameDer('Portcullis Test Root CA', 0x13), 'name');
    expect(reencoded.bytes.equals(readNames(root.der).subject.bytes)).toBe(false);
    expect(index.withSubject(reencoded).map((entry) => entry.der)).toEqual([root.der]);
    expect(sameName(reencoded, readNames(root.der).subject)).toBe(true);
  });
});
