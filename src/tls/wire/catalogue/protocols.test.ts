import { describe, expect, it } from 'vitest';
import { PROTOCOLS } from '../../model.js';
import { PROTOCOL_VERSIONS, protocolFromVersion } from './index.js';

describe('PROTOCOL_VERSIONS', () => {
  it('maps every protocol to its wire version and back', () => {
    expect(PROTOCOL_VERSIONS).toEqual({ SSLv2: 0x0002, SSLv3: 0x0300, 'TLSv1.0': 0x0301, 'TLSv1.1': 0x0302, 'TLSv1.2': 0x0303, 'TLSv1.3': 0x0304 });
    for (const protocol of PROTOCOLS) expect(protocolFromVersion(PROTOCOL_VERSIONS[protocol])).toBe(protocol);
  });

  it('does not name drafts, GREASE or unknown versions', () => {
    for (const version of [0x7f1c, 0x0a0a, 0x0305, 0xfeff, 0]) expect(protocolFromVersion(version)).toBeUndefined();
  });
});
