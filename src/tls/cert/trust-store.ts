import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import tls from 'node:tls';
import { PortcullisError } from '../../shared/errors.js';
import { readCertificateFields } from './x509-fields.js';

/**
 * The certificates trust is decided against. Self-signed entries are trust anchors; any other entry (an
 * intermediate from a CA file) only helps to complete a chain the server sent incompletely.
 */
export interface TrustStore {
  /** DER, without duplicates. */
  readonly roots: readonly Buffer[];
  /** Where the roots came from, for reports: "Node bundled roots (144) + 1 CA file (2 certificates)". */
  readonly source: string;
}

export interface TrustStoreOptions {
  /** PEM files holding one or more certificates each. */
  caFiles?: string[];
  /** Node's own CA set; default true. */
  includeDefaultRoots?: boolean;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g;

export async function loadTrustStore(options: TrustStoreOptions = {}): Promise<TrustStore> {
  const found: Buffer[] = [];
  const labels: string[] = [];
  if (options.includeDefaultRoots ?? true) {
    const { name, pems } = defaultRoots();
    const ders = pems.map(pemToDer);
    found.push(...ders);
    // Node 22.19+ may list a root twice (bundled and system store): count each certificate once.
    labels.push(`${name} (${new Set(ders.map((der) => der.toString('base64'))).size})`);
  }
  const caFiles = options.caFiles ?? [];
  if (caFiles.length > 0) {
    const fromFiles = (await Promise.all(caFiles.map(readCaFile))).flat();
    found.push(...fromFiles);
    labels.push(`${plural(caFiles.length, 'CA file')} (${plural(fromFiles.length, 'certificate')})`);
  }
  const unique = new Map(found.map((der) => [der.toString('base64'), der]));
  return { roots: [...unique.values()], source: labels.join(' + ') || 'empty trust store' };
}

/** Node ≥ 22.15 reports the set it verifies with (bundled + NODE_EXTRA_CA_CERTS + system when enabled); older Node only its bundled roots. */
function defaultRoots(): { name: string; pems: readonly string[] } {
  const withGetter = tls as typeof tls & { getCACertificates?: (type?: 'default') => string[] };
  if (typeof withGetter.getCACertificates === 'function') return { name: 'Node default CA certificates', pems: withGetter.getCACertificates('default') };
  return { name: 'Node bundled roots', pems: tls.rootCertificates };
}

async function readCaFile(file: string): Promise<Buffer[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'the file does not exist' : `it cannot be read (${(err as Error).message})`;
    throw caFileError(file, reason);
  }
  if (text.trim() === '') throw caFileError(file, 'the file is empty');
  const blocks = [...text.matchAll(PEM_CERTIFICATE)].map((match) => match[0]);
  if (blocks.length === 0) {
    throw caFileError(file, 'it holds no PEM certificate ("-----BEGIN CERTIFICATE-----" block); convert a DER file with `openssl x509 -inform der -in FILE -out FILE.pem`');
  }
  return blocks.map((pem, index) => {
    const der = pemToDer(pem);
    try {
      new X509Certificate(der);
      // What chain building reads from every entry (its names), so a bad entry fails here and not mid-scan.
      readCertificateFields(der);
    } catch (err) {
      throw caFileError(file, `certificate ${index + 1} of ${blocks.length} is not valid X.509 (${(err as Error).message})`);
    }
    return der;
  });
}

function pemToDer(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s+/g, ''), 'base64');
}

function caFileError(file: string, reason: string): PortcullisError {
  return new PortcullisError('tls.ca-file-invalid', `CA file ${file} cannot be used: ${reason}`, { value: file });
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
