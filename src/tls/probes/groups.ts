/**
 * Named groups the server supports and whether it has its own order. TLS 1.3: offer groups with an
 * empty key_share and one suite the server accepts; the HelloRetryRequest names the server's pick, no
 * key exchange needed, and this starts as soon as the protocol probe is done. Otherwise TLS ≤ 1.2 with
 * the accepted ECDHE suites: the ServerKeyExchange names the curve. Either way the removal loop
 * (enumerate.ts) runs over the catalogue, and a reversed re-offer tells the order.
 */
import type { NamedGroupResult, ProtocolName, ProtocolSupport } from '../model.js';
import { groupById, NAMED_GROUPS, parseServerKeyExchange, suiteById } from '../wire/index.js';
import type { ProbeContext } from './context.js';
import { detectPreference, enumerateAccepted, type HelloVerdict, type TryHello } from './enumerate.js';
import { baseHello, LEGACY_DOWNWARDS, sendHello, type LegacyProtocol } from './hello.js';

export interface GroupProbeResult {
  groups: NamedGroupResult[];
  /** true: the server enforces its group order; null: could not tell. */
  groupPreference: boolean | null;
}


function tls13GroupHello(ctx: ProbeContext, suites: number[]): TryHello<number> {
  return async (groups) => {
    const answer = await sendHello(ctx, { ...baseHello(ctx, 'TLSv1.3', suites), groups: [...groups] }, 'server-hello', true);
    if (answer.kind === 'no-answer') return { kind: 'error', message: answer.message, retryable: answer.retryable };
    if (answer.kind !== 'server-hello' || answer.hello.version !== 'TLSv1.3' || answer.hello.selectedGroup === undefined) return { kind: 'rejected' };
    return { kind: 'chosen', choice: answer.hello.selectedGroup };
  };
}

function ecdheGroupHello(ctx: ProbeContext, protocol: LegacyProtocol, suites: number[]): TryHello<number> {
  return async (groups): Promise<HelloVerdict<number>> => {
    const answer = await sendHello(ctx, { ...baseHello(ctx, protocol, suites), groups: [...groups] }, 'flight', true);
    if (answer.kind === 'no-answer') return { kind: 'error', message: answer.message, retryable: answer.retryable };
    if (answer.kind !== 'server-hello' || answer.flight.serverKeyExchange === null) return { kind: 'rejected' };
    try {
      const params = parseServerKeyExchange(answer.flight.serverKeyExchange, 'ECDHE', protocol);
      return params.type === 'ecdh' ? { kind: 'chosen', choice: params.namedGroup } : { kind: 'rejected' };
    } catch (err) {
      return { kind: 'error', message: `unreadable ServerKeyExchange (${err instanceof Error ? err.message : String(err)})`, retryable: false };
    }
  };
}

function groupResult(id: number): NamedGroupResult {
  const group = groupById(id);
  if (group === undefined) return { id, name: `0x${id.toString(16).padStart(4, '0')}`, bits: 0, type: 'ec', rsaEquivalentBits: 0 };
  return { id: group.id, name: group.name, bits: group.bits, type: group.type, rsaEquivalentBits: group.rsaEquivalentBits };
}

/**
 * The hellos offer only accepted suites, so the server's answer depends on the groups alone.
 * `firstAccepted`: one accepted suite per protocol (from the protocol probe), all TLS 1.3 needs;
 * `enumerated`: every accepted suite per protocol (the suite probe), for the ECDHE suites of TLS ≤ 1.2.
 */
export async function probeGroups(
  ctx: ProbeContext,
  protocols: readonly ProtocolSupport[],
  firstAccepted: Partial<Record<ProtocolName, number[]>>,
  enumerated: Promise<Partial<Record<ProtocolName, number[]>>>,
): Promise<GroupProbeResult> {
  const supports = (name: ProtocolName): boolean => protocols.some((p) => p.name === name && p.supported);
  let tryHello: TryHello<number> | undefined;
  let candidates: number[] = [];
  const tls13Suites = firstAccepted['TLSv1.3'] ?? [];
  if (supports('TLSv1.3') && tls13Suites.length > 0) {
    tryHello = tls13GroupHello(ctx, tls13Suites);
    candidates = NAMED_GROUPS.filter((g) => g.tls13).map((g) => g.id);
  } else {
    const accepted = await enumerated;
    const protocol = LEGACY_DOWNWARDS.find((p) => (accepted[p] ?? []).some((id) => suiteById(id)?.kx === 'ECDHE'));
    if (protocol === undefined) return { groups: [], groupPreference: null };
    const ecdhe = (accepted[protocol] ?? []).filter((id) => suiteById(id)?.kx === 'ECDHE');
    tryHello = ecdheGroupHello(ctx, protocol, ecdhe);
    candidates = NAMED_GROUPS.filter((g) => g.type === 'ec').map((g) => g.id);
  }
  const found = await enumerateAccepted([candidates], tryHello);
  for (const message of found.errors) ctx.warn(`groups: ${message}`);
  for (const id of found.unoffered) ctx.warn(`groups: the server chose ${groupResult(id).name}, which was not offered`);
  const order = await detectPreference(found.accepted, tryHello, true);
  for (const message of order.errors) ctx.warn(`group preference: ${message}`);
  return {
    groups: order.order.map(groupResult),
    groupPreference: order.preference === null ? null : order.preference === 'server',
  };
}
