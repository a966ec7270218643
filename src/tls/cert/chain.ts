import { createHash, X509Certificate } from 'node:crypto';
import { PortcullisError } from '../../shared/errors.js';
import type { CertificateChainResult, CertificateInfo, ChainIssues } from '../model.js';
import { describeParsed, isIssuedBy, isSelfSigned, parseCertificate } from './describe.js';
import { matchesHostname } from './hostname.js';
import type { DerElement } from './der.js';
import { indexTrustStore, sameName, type StoreEntry, type StoreIndex } from './store-index.js';
import type { TrustStore } from './trust-store.js';

/**
 * Trust for a served chain: build a path from the leaf through served certificates and trust-store
 * entries to a trust anchor (a self-signed trust-store entry), every link's signature verified with the
 * issuer's key, then check validity dates and signature hashes along it and describe what went wrong in
 * words a user can act on.
 */

export interface AnalyzeChainOptions {
  /** The name the user asked for (hostname or IP). */
  host: string | null;
  /** The SNI sent, null without SNI; hostname matching uses it in preference to `host`. */
  sni: string | null;
  trustStore: TrustStore;
  now: Date;
}

const DAY_MS = 86_400_000;
/** Longest path tried: real chains are 2–4 certificates, cross-signs add one or two. */
const MAX_PATH_LENGTH = 8;
const WEAK_SIGNATURE = /^(MD2|MD5|SHA1)with/;

interface Candidate {
  der: Buffer;
  x509: X509Certificate;
  sha256: string;
  anchor: boolean;
  /** Read once: X509Certificate getters call into OpenSSL on every access. */
  subject: string;
  issuer: string;
  isCa: boolean;
  /** The Names as DER, to look issuers up without parsing every store entry. */
  subjectName: DerElement;
  issuerName: DerElement;
}

const storeIndexes = new WeakMap<TrustStore, StoreIndex>();
/** Store entries parsed so far, by their DER buffer (stable for a store's lifetime). */
const storeCandidates = new WeakMap<Buffer, Candidate>();

function indexStore(store: TrustStore): StoreIndex {
  let index = storeIndexes.get(store);
  if (!index) {
    index = indexTrustStore(store.roots);
    storeIndexes.set(store, index);
  }
  return index;
}

/** A store entry parsed, and its self-signature checked, only once a chain reaches it. */
function storeCandidate(entry: StoreEntry): Candidate {
  let parsed = storeCandidates.get(entry.der);
  if (parsed === undefined) {
    const x509 = new X509Certificate(entry.der);
    // Self-signed entries are trust anchors; others only complete chains (see TrustStore).
    parsed = candidate(entry.der, x509, sha256(entry.der), isSelfSigned(x509), entry.subject, entry.issuer);
    storeCandidates.set(entry.der, parsed);
  }
  return parsed;
}

/** Who may have issued `cert`, by name: store anchors first, then what the server sent, then store intermediates. */
type IssuerLookup = (cert: Candidate) => Candidate[];

function issuerLookup(index: StoreIndex, served: readonly Candidate[]): IssuerLookup {
  return (cert) => {
    const fromStore = index.withSubject(cert.issuerName).map(storeCandidate);
    const named = served.filter((other) => sameName(other.subjectName, cert.issuerName));
    // Anchors first so a served copy of a root resolves to the trusted one; using a store intermediate
    // makes the served chain incomplete, so it comes last.
    return uniqueBySha([...fromStore.filter((c) => c.anchor), ...named, ...fromStore.filter((c) => !c.anchor)]);
  };
}

/** Does the store hold this served certificate as a trust anchor? */
function isStoreAnchor(index: StoreIndex, served: Candidate): boolean {
  return index.withSubject(served.subjectName).some((entry) => entry.der.equals(served.der) && storeCandidate(entry).anchor);
}

/**
 * `served` is the Certificate message as received, leaf first. `trustPath` is the path to a trust anchor
 * when one exists (its root may come from the store), otherwise the longest path that could be built;
 * `earliestExpiry` is taken along the trusted path, or over the served chain when there is none.
 * Not checked (yet): revocation, name constraints, path-length limits, extended key usage.
 */
export async function analyzeChain(served: Buffer[], options: AnalyzeChainOptions): Promise<CertificateChainResult> {
  const { now } = options;
  const parsed = served.map(parseCertificate);
  const servedInfo = parsed.map((certificate) => describeParsed(certificate, now));
  const leafInfo = servedInfo[0];
  if (!leafInfo) throw new PortcullisError('scan.failed', 'the server sent an empty certificate chain');

  const store = indexStore(options.trustStore);
  const servedCandidates = parsed.map(({ der, x509, fields }) => {
    const served = candidate(der, x509, sha256(der), false, fields.subject, fields.issuer);
    return { ...served, anchor: isStoreAnchor(store, served) };
  });
  const [leaf, ...others] = servedCandidates as [Candidate, ...Candidate[]];
  const issuersOf = issuerLookup(store, others);
  const { path, anchored } = buildPath(leaf, issuersOf);

  const servedShas = servedInfo.map((info) => info.sha256);
  const infoBySha = new Map(servedInfo.map((info) => [info.sha256, info]));
  const pathInfo = path.map((node) => infoBySha.get(node.sha256) ?? describeParsed(parseCertificate(node.der), now));
  const trustError = anchored ? pathProblem(pathInfo, now) : noPathReason(pathInfo, hasUnverifiedNamesake(path, issuersOf), servedInfo.length);
  const name = options.sni ?? options.host;

  return {
    served: servedInfo,
    trustPath: pathInfo.map((info) => info.sha256),
    trusted: trustError === null,
    trustError,
    hostnameMatch: name !== null && matchesHostname(leafInfo, name),
    issues: chainIssues(servedInfo, path, servedShas, anchored),
    leafExpiry: leafInfo.notAfter,
    earliestExpiry: earliest((anchored ? pathInfo : servedInfo).map((info) => info.notAfter)),
    sni: options.sni,
  };
}

/**
 * Depth-first search from the leaf to an anchor. Without one, returns the longest path found, whose
 * last certificate tells why trust failed (self-signed, untrusted root, missing issuer).
 */
function buildPath(leaf: Candidate, issuersOf: IssuerLookup): { path: Candidate[]; anchored: boolean } {
  let longest = [leaf];
  const extend = (path: Candidate[]): Candidate[] | null => {
    const current = path[path.length - 1] as Candidate;
    if (current.anchor) return path;
    if (path.length > longest.length) longest = path;
    if (path.length >= MAX_PATH_LENGTH) return null;
    for (const issuer of issuersOf(current)) {
      if (issuer.subject !== current.issuer || !issuer.isCa || path.some((node) => node.sha256 === issuer.sha256)) continue;
      if (!isIssuedBy(current.x509, issuer.x509)) continue;
      const found = extend([...path, issuer]);
      if (found) return found;
    }
    return null;
  };
  const anchoredPath = extend([leaf]);
  return anchoredPath ? { path: anchoredPath, anchored: true } : { path: longest, anchored: false };
}

/** Why a path that reaches an anchor is still not trusted: validity dates first, then weak signatures. */
function pathProblem(path: CertificateInfo[], now: Date): string | null {
  for (const [index, info] of path.entries()) {
    const role = roleOf(info, index, path.length);
    const notAfter = new Date(info.notAfter);
    const notBefore = new Date(info.notBefore);
    if (now > notAfter) return `${role} expired on ${day(notAfter)} (${daysAgo(now.getTime() - notAfter.getTime())})`;
    if (now < notBefore) return `${role} is not valid before ${day(notBefore)} (${daysAhead(notBefore.getTime() - now.getTime())})`;
  }
  // The anchor's own signature does not matter: it is trusted by being in the store.
  for (const [index, info] of path.slice(0, -1).entries()) {
    const weak = WEAK_SIGNATURE.exec(info.sigAlg);
    if (weak) return `${roleOf(info, index, path.length)} is signed with ${weak[1] === 'SHA1' ? 'SHA-1' : weak[1]} (${info.sigAlg}), which browsers no longer trust`;
  }
  return null;
}

/** Does a certificate carry the name of the path end's issuer without having verified it (wrong key, bad signature)? */
function hasUnverifiedNamesake(path: Candidate[], issuersOf: IssuerLookup): boolean {
  const last = path[path.length - 1] as Candidate;
  return issuersOf(last).some((candidate) => candidate.subject === last.issuer && candidate.sha256 !== last.sha256);
}

function noPathReason(path: CertificateInfo[], issuerNamesake: boolean, servedCount: number): string {
  const last = path[path.length - 1] as CertificateInfo;
  if (last.selfSigned) {
    return path.length === 1
      ? 'self-signed certificate: it is not in the trust store (add it with a CA file if you trust it)'
      : `root certificate '${last.subject}' is not trusted: it is not in the trust store`;
  }
  if (issuerNamesake) {
    return `issuer '${last.issuer}' found, but its key does not verify the signature of '${last.subject}' (a different certificate of that name, or a corrupted signature)`;
  }
  if (path.length > 1) return `issuer '${last.issuer}' not found: no trusted root CA issued '${last.subject}'`;
  return servedCount > 1
    ? `issuer '${last.issuer}' not found: none of the ${servedCount - 1} other certificates the server sends issued the leaf`
    : `issuer '${last.issuer}' not found: the server does not send the intermediate certificate`;
}

function roleOf(info: CertificateInfo, index: number, pathLength: number): string {
  if (index === 0) return 'certificate';
  return index === pathLength - 1 ? `root certificate '${info.subject}'` : `intermediate certificate '${info.subject}'`;
}

function chainIssues(served: CertificateInfo[], path: Candidate[], servedShas: string[], anchored: boolean): ChainIssues {
  const servedSet = new Set(servedShas);
  const pathSet = new Set(path.map((node) => node.sha256));
  // Where each served certificate on the path was sent; leaf → root order means rising positions.
  const positions = path.map((node) => servedShas.indexOf(node.sha256)).filter((position) => position >= 0);
  return {
    incomplete: anchored && path.some((node) => !node.anchor && !servedSet.has(node.sha256)),
    extraCerts: servedSet.size < servedShas.length || servedShas.some((sha) => !pathSet.has(sha)),
    wrongOrder: positions.some((position, i) => i > 0 && position < (positions[i - 1] ?? 0)),
    rootIncluded: served.slice(1).some((info) => info.selfSigned),
    cannotValidate: !anchored,
  };
}

function candidate(der: Buffer, x509: X509Certificate, sha: string, anchor: boolean, subjectName: DerElement, issuerName: DerElement): Candidate {
  return { der, x509, sha256: sha, anchor, subject: x509.subject, issuer: x509.issuer, isCa: x509.ca, subjectName, issuerName };
}

function uniqueBySha(candidates: Candidate[]): Candidate[] {
  const seen = new Set<string>();
  return candidates.filter((candidate) => !seen.has(candidate.sha256) && seen.add(candidate.sha256));
}

function sha256(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex');
}

function earliest(isoDates: string[]): string {
  return isoDates.reduce((min, date) => (date < min ? date : min));
}

function day(date: Date): string {
  return date.toISOString().slice(0, 10);
}

function daysAgo(ms: number): string {
  const days = Math.floor(ms / DAY_MS);
  return days === 0 ? 'less than a day ago' : `${days} day${days === 1 ? '' : 's'} ago`;
}

function daysAhead(ms: number): string {
  const days = Math.ceil(ms / DAY_MS);
  return `in ${days} day${days === 1 ? '' : 's'}`;
}
