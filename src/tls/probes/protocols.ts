/**
 * Which protocol versions the server speaks. SSLv2: a pure SSLv2 hello (its SERVER-HELLO also lists
 * every shared cipher kind). SSLv3–TLS 1.2: a hello with that maximum version and the first suite bundle
 * of the suite enumeration (the same hellos, so sent once), then the next bundles until the server
 * answers; supported iff a ServerHello of that version comes back. TLS 1.3: supported_versions = 1.3 only.
 */
import { PROTOCOLS, type ProtocolName, type ProtocolSupport } from '../model.js';
import { SSLV2_CIPHER_KINDS } from '../wire/index.js';
import type { ProbeContext } from './context.js';
import { baseHello, sendHello, sendSslv2Hello, type HelloAnswer } from './hello.js';
import { suiteBundles } from './suites.js';

/** Alerts meaning "this version is off" rather than "none of these suites": protocol_version, internal_error (OpenSSL 3 for a version forbidden by its security level). */
const VERSION_REFUSED_ALERTS = new Set([70, 80]);

export interface ProtocolProbeResult {
  protocols: ProtocolSupport[];
  /** Every answer, to tell a dead or non-TLS endpoint from one that supports nothing we offered. */
  answers: HelloAnswer[];
  /**
   * For each supported SSLv3–TLS 1.3 version, the suite the server chose from our hello: one accepted
   * suite, which lets probes that need any (groups, features) start before the suite enumeration ends.
   */
  firstAccepted: Partial<Record<ProtocolName, number[]>>;
}

interface VersionVerdict {
  support: ProtocolSupport;
  chosenSuite?: number;
}

async function probeSslv2(ctx: ProbeContext, answers: HelloAnswer[]): Promise<VersionVerdict> {
  const answer = await sendSslv2Hello(ctx, SSLV2_CIPHER_KINDS.map((kind) => kind.id));
  answers.push(answer);
  if (answer.kind === 'sslv2-server-hello') return { support: { name: 'SSLv2', supported: answer.hello.cipherKinds.length > 0 } };
  return { support: decide('SSLv2', answer, true) ?? { name: 'SSLv2', supported: false } };
}

/** The verdict one answer gives for `protocol`, or undefined when the next bundle must be tried. */
function decide(protocol: ProtocolName, answer: HelloAnswer, last: boolean): ProtocolSupport | undefined {
  switch (answer.kind) {
    case 'server-hello':
      return { name: protocol, supported: answer.hello.version === protocol };
    case 'sslv2-server-hello':
      return { name: protocol, supported: false };
    case 'alert':
      if (VERSION_REFUSED_ALERTS.has(answer.description) || last) return { name: protocol, supported: false };
      return undefined;
    case 'no-answer':
      // Hanging up is how many stacks refuse a version; silence or garbage leaves the question open.
      if (answer.retryable) return last ? { name: protocol, supported: false } : undefined;
      return { name: protocol, supported: false, error: answer.message };
  }
}

async function probeTlsVersion(ctx: ProbeContext, protocol: Exclude<ProtocolName, 'SSLv2'>, answers: HelloAnswer[]): Promise<VersionVerdict> {
  const bundles = suiteBundles(protocol);
  for (const [i, bundle] of bundles.entries()) {
    const answer = await sendHello(ctx, baseHello(ctx, protocol, [...bundle]), 'flight');
    answers.push(answer);
    const support = decide(protocol, answer, i === bundles.length - 1);
    if (support !== undefined) return support.supported && answer.kind === 'server-hello' ? { support, chosenSuite: answer.hello.cipherSuite } : { support };
  }
  return { support: { name: protocol, supported: false } };
}

export async function probeProtocols(ctx: ProbeContext): Promise<ProtocolProbeResult> {
  const answers: HelloAnswer[] = [];
  const verdicts = await Promise.all(
    PROTOCOLS.map((protocol) => (protocol === 'SSLv2' ? probeSslv2(ctx, answers) : probeTlsVersion(ctx, protocol, answers))),
  );
  const protocols = verdicts.map((v) => v.support);
  for (const p of protocols) if (p.error !== undefined) ctx.warn(`protocols ${p.name}: ${p.error}`);
  const firstAccepted: Partial<Record<ProtocolName, number[]>> = {};
  for (const { support, chosenSuite } of verdicts) if (chosenSuite !== undefined) firstAccepted[support.name] = [chosenSuite];
  return { protocols, answers, firstAccepted };
}
