/**
 * Handshake simulation: one raw handshake per client profile, sending that client's hello, reading what
 * the server picks (protocol, suite, group). The forward-secrecy, AEAD, RC4 and 3DES caps depend on
 * what reference clients end up with, not on what the server merely supports.
 */
import type { ProtocolName, SimulationResult } from '../model.js';
import { CLIENT_PROFILES, type ClientProfile } from '../simulation/clients.js';
import { groupById, parseServerKeyExchange, suiteById, type ClientHelloOptions } from '../wire/index.js';
import type { ProbeContext } from './context.js';
import { sendHello, type HelloAnswer } from './hello.js';

function profileHello(ctx: ProbeContext, profile: ClientProfile): ClientHelloOptions {
  const highest = profile.versions[0] ?? 'TLSv1.2';
  return {
    version: highest,
    ...(highest === 'TLSv1.3' ? { supportedVersions: profile.versions, keyShareGroups: profile.keyShareGroups } : {}),
    suites: profile.suites,
    groups: profile.groups,
    signatureAlgorithms: profile.signatureAlgorithms,
    ...(profile.alpn !== undefined ? { alpn: profile.alpn } : {}),
    sni: profile.sni ? ctx.sni : null,
    padding: true,
  };
}

/** The group of the key exchange: TLS 1.3 key_share, or the curve named in an ECDHE ServerKeyExchange. */
function negotiatedGroup(answer: Extract<HelloAnswer, { kind: 'server-hello' }>, protocol: ProtocolName): string | undefined {
  const id = answer.hello.selectedGroup ?? ecdheGroup(answer, protocol);
  return id === undefined ? undefined : (groupById(id)?.name ?? `0x${id.toString(16).padStart(4, '0')}`);
}

function ecdheGroup(answer: Extract<HelloAnswer, { kind: 'server-hello' }>, protocol: ProtocolName): number | undefined {
  const body = answer.flight.serverKeyExchange;
  if (body === null || suiteById(answer.hello.cipherSuite)?.kx !== 'ECDHE') return undefined;
  try {
    const params = parseServerKeyExchange(body, 'ECDHE', protocol);
    return params.type === 'ecdh' ? params.namedGroup : undefined;
  } catch {
    // An unreadable key exchange would make the client abort too; the suite and protocol still stand.
    return undefined;
  }
}

export function simulationResult(profile: ClientProfile, answer: HelloAnswer): SimulationResult {
  const client = profile.client;
  if (answer.kind === 'alert') return { client, ok: false, error: `the server answered ${answer.name}` };
  if (answer.kind === 'no-answer') return { client, ok: false, error: answer.message };
  if (answer.kind !== 'server-hello') return { client, ok: false, error: 'the server answered with SSLv2' };
  const { hello } = answer;
  const protocol = hello.version;
  if (protocol === undefined || !profile.versions.includes(protocol)) {
    return { client, ok: false, error: `the server chose ${protocol ?? `version 0x${hello.legacyVersion.toString(16)}`}, which the client does not offer` };
  }
  const suite = suiteById(hello.cipherSuite);
  if (suite === undefined || !profile.suites.includes(hello.cipherSuite)) {
    return { client, ok: false, protocol, error: `the server chose suite 0x${hello.cipherSuite.toString(16).padStart(4, '0')}, which the client does not offer` };
  }
  const group = negotiatedGroup(answer, protocol);
  return {
    client,
    ok: true,
    protocol,
    suite: { code: suite.code, iana: suite.iana },
    ...(group !== undefined ? { group } : {}),
    fs: suite.fs,
    aead: suite.aead,
  };
}

export async function probeSimulations(ctx: ProbeContext, profiles: readonly ClientProfile[] = CLIENT_PROFILES): Promise<SimulationResult[]> {
  return Promise.all(
    // The whole clear flight: a TLS 1.2 answer names its curve in the ServerKeyExchange (a 1.3 one stops at the ServerHello).
    profiles.map(async (profile) => simulationResult(profile, await sendHello(ctx, profileHello(ctx, profile), 'flight'))),
  );
}
