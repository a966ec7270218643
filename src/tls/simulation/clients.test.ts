import { describe, expect, it } from 'vitest';
import { groupById, signatureSchemeById, suiteById } from '../wire/catalogue/index.js';
import { CLIENT_PROFILES, REFERENCE_CLIENTS } from './clients.js';

const hex = (id: number): string => `0x${id.toString(16).padStart(4, '0')}`;
const duplicates = (values: readonly unknown[]): unknown[] => values.filter((value, index) => values.indexOf(value) !== index);

describe('client simulation profiles', () => {
  it('have unique ids', () => {
    expect(duplicates(CLIENT_PROFILES.map((p) => p.client.id))).toEqual([]);
  });

  it.each(CLIENT_PROFILES.map((p) => [p.client.id, p] as const))('%s offers only known suites, groups and signature schemes', (_id, profile) => {
    expect(profile.suites.filter((id) => suiteById(id) === undefined).map(hex)).toEqual([]);
    expect(profile.groups.filter((id) => groupById(id) === undefined).map(hex)).toEqual([]);
    expect(profile.signatureAlgorithms.filter((id) => signatureSchemeById(id) === undefined).map(hex)).toEqual([]);
    expect(duplicates(profile.suites).map((id) => hex(id as number))).toEqual([]);
    expect(duplicates(profile.groups)).toEqual([]);
    expect(duplicates(profile.signatureAlgorithms)).toEqual([]);
  });

  it.each(CLIENT_PROFILES.map((p) => [p.client.id, p] as const))('%s lists versions highest first and TLS 1.3 suites only when it offers TLS 1.3', (_id, profile) => {
    const order = ['TLSv1.3', 'TLSv1.2', 'TLSv1.1', 'TLSv1.0', 'SSLv3', 'SSLv2'];
    const ranks = profile.versions.map((v) => order.indexOf(v));
    expect(ranks).toEqual([...ranks].sort((a, b) => a - b));

    const tls13 = profile.suites.filter((id) => suiteById(id)?.protocols.includes('TLSv1.3'));
    if (profile.versions.includes('TLSv1.3')) {
      expect(profile.suites.slice(0, tls13.length)).toEqual(tls13);
      expect(profile.keyShareGroups.length).toBeGreaterThan(0);
    } else {
      expect(tls13).toEqual([]);
      expect(profile.keyShareGroups).toEqual([]);
    }
    expect(profile.keyShareGroups.every((group) => profile.groups.includes(group))).toBe(true);
  });

  it('marks the current browsers and TLS stacks as reference clients', () => {
    expect(REFERENCE_CLIENTS.length).toBeGreaterThanOrEqual(6);
    expect(REFERENCE_CLIENTS.length).toBeLessThanOrEqual(8);
    expect(REFERENCE_CLIENTS.every((p) => p.client.isReference)).toBe(true);
    expect(CLIENT_PROFILES.filter((p) => !p.client.isReference).length).toBeGreaterThan(0);
  });

  it.each(REFERENCE_CLIENTS.map((p) => [p.client.id, p] as const))('reference client %s speaks TLS 1.2+ and prefers AEAD suites with forward secrecy', (_id, profile) => {
    expect(profile.versions[0] === 'TLSv1.3' || profile.versions[0] === 'TLSv1.2').toBe(true);
    const first = suiteById(profile.suites[0] ?? -1);
    expect(first?.aead && first.fs).toBe(true);
    const firstTls12 = profile.suites.map((id) => suiteById(id)).find((s) => s !== undefined && !s.protocols.includes('TLSv1.3'));
    expect(firstTls12?.aead && firstTls12.fs).toBe(true);
  });
});
