/**
 * The numeric half of the rating guide (SSL Labs "SSL Server Rating Guide", 2009 series): three
 * category scores, their weighted total and the base letter. Caps come afterwards (rules.ts).
 */
import type { EndpointFacts, Grade, GradeScores, ProtocolName } from '../model.js';
import { keyStrength, leafCertificate, supportedProtocols } from './facts.js';

/** Protocol support. TLS 1.3 is not in the guide; like TLS 1.2 it scores 100 (SSL Labs, testssl). */
export const PROTOCOL_SCORES: Readonly<Record<ProtocolName, number>> = {
  SSLv2: 0,
  SSLv3: 80,
  'TLSv1.0': 90,
  'TLSv1.1': 95,
  'TLSv1.2': 100,
  'TLSv1.3': 100,
};

/** Key or DH parameter strength in RSA-equivalent bits: [below this many bits, score]; 4096 and up score 100. */
export const KEY_EXCHANGE_SCORES: readonly (readonly [belowBits: number, score: number])[] = [
  [512, 20],
  [1024, 40],
  [2048, 80],
  [4096, 90],
];
export const ANONYMOUS_KEY_EXCHANGE_SCORE = 0;
/** Export key exchange is limited to 512 bits. */
export const EXPORT_KEY_EXCHANGE_SCORE = 40;

/**
 * Cipher strength: [below this many bits, score]; 256 and up score 100. NULL or <112-bit ciphers only
 * lower this score, as the guide says; testssl grades them F outright (a known divergence).
 */
export const CIPHER_SCORES: readonly (readonly [belowBits: number, score: number])[] = [
  [1, 0],
  [128, 20],
  [256, 80],
];
/** The guide scores 3DES by its 168-bit key (80%), while suite facts carry its 112-bit strength. */
const CIPHER_SCORE_BITS: Readonly<Record<string, number>> = { '3DES-EDE-CBC': 168 };

export const CATEGORY_WEIGHTS = { protocol: 30, keyExchange: 30, cipher: 40 } as const;

/** Base letter from the total: [minimum total, grade]; below the last one it is F. */
export const GRADE_THRESHOLDS: readonly (readonly [minimum: number, grade: Grade])[] = [
  [80, 'A'],
  [65, 'B'],
  [50, 'C'],
  [35, 'D'],
  [20, 'E'],
];

function scoreFromTable(table: readonly (readonly [belowBits: number, score: number])[], bits: number): number {
  return table.find(([below]) => bits < below)?.[1] ?? 100;
}

const average = (a: number, b: number): number => Math.floor((a + b) / 2);

/** (best + worst) / 2 over the supported protocols; 0 when none is supported. */
export function protocolScore(facts: EndpointFacts): number {
  const scores = supportedProtocols(facts).map((p) => PROTOCOL_SCORES[p]);
  return scores.length === 0 ? 0 : average(Math.max(...scores), Math.min(...scores));
}

/**
 * The weakest link of key exchange: the certificate key and every DH prime or EC group the server
 * uses, in RSA-equivalent bits; anonymous suites score 0 and export suites at most 40.
 * Without any of these measured there is nothing to credit, so the score is 0.
 */
export function keyExchangeScore(facts: EndpointFacts): number {
  const leaf = leafCertificate(facts);
  const leafStrength = leaf && keyStrength(leaf);
  const strengths = [
    ...(leafStrength === undefined ? [] : [leafStrength]),
    ...facts.suites.flatMap((s) => {
      const bits = s.kxDetail?.rsaEquivalentBits ?? (s.kxDetail?.type === 'DH' ? s.kxDetail.bits : undefined);
      return bits === undefined ? [] : [bits];
    }),
    ...facts.dhParameters.map((p) => p.primeBits),
    ...facts.groups.map((g) => g.rsaEquivalentBits),
  ];
  const scores = strengths.map((bits) => scoreFromTable(KEY_EXCHANGE_SCORES, bits));
  if (facts.suites.some((s) => s.anonymous)) scores.push(ANONYMOUS_KEY_EXCHANGE_SCORE);
  if (facts.suites.some((s) => s.export)) scores.push(EXPORT_KEY_EXCHANGE_SCORE);
  return scores.length === 0 ? 0 : Math.min(...scores);
}

/** (strongest + weakest) / 2 over every accepted suite on any protocol; 0 when none is accepted. */
export function cipherScore(facts: EndpointFacts): number {
  const scores = facts.suites.map((s) => scoreFromTable(CIPHER_SCORES, CIPHER_SCORE_BITS[s.cipher] ?? s.bits));
  return scores.length === 0 ? 0 : average(Math.max(...scores), Math.min(...scores));
}

/**
 * Weighted total with each part rounded down (as testssl does; SSL Labs' rounding is unpublished).
 * "A zero in any category will push the overall score to zero."
 */
export function scoreEndpoint(facts: EndpointFacts): GradeScores {
  const protocol = protocolScore(facts);
  const keyExchange = keyExchangeScore(facts);
  const cipher = cipherScore(facts);
  const weighted = (score: number, weight: number): number => Math.floor((score * weight) / 100);
  const total =
    protocol === 0 || keyExchange === 0 || cipher === 0
      ? 0
      : weighted(protocol, CATEGORY_WEIGHTS.protocol) + weighted(keyExchange, CATEGORY_WEIGHTS.keyExchange) + weighted(cipher, CATEGORY_WEIGHTS.cipher);
  return { protocol, keyExchange, cipher, total };
}

export function baseGrade(total: number): Grade {
  return GRADE_THRESHOLDS.find(([minimum]) => total >= minimum)?.[1] ?? 'F';
}
