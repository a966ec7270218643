/** PostgreSQL's answer to an SSLRequest. Pure. */

/** SSLRequest: length 8, code 80877103 (0x04d2162f). */
export const POSTGRES_SSL_REQUEST = Buffer.from([0x00, 0x00, 0x00, 0x08, 0x04, 0xd2, 0x16, 0x2f]);

export type PostgresSslReply = { kind: 'ssl'; supported: boolean } | { kind: 'error'; message?: string };

/**
 * A server answers one byte, `S` (will do TLS) or `N` (will not); very old or refusing servers send an
 * ErrorResponse (`E`, length, fields such as `SFATAL`). Anything else is not PostgreSQL.
 */
export function parsePostgresSslReply(data: Uint8Array): PostgresSslReply | undefined {
  if (data.length === 1 && (data[0] === 0x53 || data[0] === 0x4e)) return { kind: 'ssl', supported: data[0] === 0x53 };
  if (data.length >= 8 && data[0] === 0x45) {
    const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const len = buf.readUInt32BE(1);
    if (len < 8 || len > 16 * 1024) return undefined;
    const fields = buf.subarray(5, Math.min(buf.length, 1 + len)).toString('latin1').split('\0');
    if (!fields.some((f) => /^[SV](?:FATAL|ERROR|PANIC)$/.test(f))) return undefined;
    const message = fields.find((f) => f.startsWith('M'))?.slice(1);
    return { kind: 'error', ...(message !== undefined ? { message } : {}) };
  }
  return undefined;
}
