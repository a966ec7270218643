/**
 * HTTPS serving: the certificate and key named by server.tlsCertFile/tlsKeyFile, reloaded in place
 * when either file changes (a renewed certificate, a Kubernetes secret update) without dropping
 * connections. A replacement that cannot be loaded is logged and the running certificate kept.
 */
import { type Stats, readFileSync, unwatchFile, watchFile } from 'node:fs';
import type { Server } from 'node:https';
import { createSecureContext } from 'node:tls';
import type { Logger } from 'pino';
import { PortcullisError } from '../shared/errors.js';

export interface CertificateFiles {
  certFile: string;
  keyFile: string;
}

/** Reads and checks the pair (a key that does not match the certificate is refused here, not at the first handshake). */
export function readCertificate(files: CertificateFiles): { cert: Buffer; key: Buffer } {
  let cert: Buffer;
  let key: Buffer;
  try {
    cert = readFileSync(files.certFile);
    key = readFileSync(files.keyFile);
  } catch (err) {
    throw new PortcullisError('config.invalid', `cannot read the HTTPS certificate or key: ${(err as Error).message}`, { field: 'server.tlsCertFile' });
  }
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new PortcullisError('config.invalid', `the HTTPS certificate ${files.certFile} and key ${files.keyFile} cannot be used together: ${(err as Error).message}`, { field: 'server.tlsCertFile' });
  }
  return { cert, key };
}

/** Reloads the server's certificate when a file changes; returns a function that stops watching. */
export function watchCertificate(server: Server, files: CertificateFiles, logger: Logger, intervalMs = 2000): () => void {
  const reload = (): void => {
    try {
      server.setSecureContext(readCertificate(files));
      logger.info({ certFile: files.certFile }, 'HTTPS certificate reloaded');
    } catch (err) {
      logger.error({ err }, 'the changed HTTPS certificate could not be loaded; still serving the previous one');
    }
  };
  const onChange = (now: Stats, before: Stats): void => {
    if (now.mtimeMs !== before.mtimeMs || now.ino !== before.ino) reload();
  };
  const watched = [files.certFile, files.keyFile];
  // Polling, not fs.watch: it sees files replaced through symlinks (Kubernetes secret volumes) too.
  for (const file of watched) watchFile(file, { interval: intervalMs }, onChange);
  return () => {
    for (const file of watched) unwatchFile(file, onChange);
  };
}
