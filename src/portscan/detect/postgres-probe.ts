/** PostgreSQL: an SSLRequest, answered `S` or `N` by every server since 7.x. */
import { Conn, now, type ProbeTarget } from './conn.js';
import { parsePostgresSslReply, POSTGRES_SSL_REQUEST } from './postgres-parse.js';
import { missFromRead, type ProbeOutcome } from './probe.js';
import { escapeLatin1 } from './text.js';

const MAX_REPLY_BYTES = 16 * 1024;
const IDLE_MS = 250;

export async function probePostgres(target: ProbeTarget, deadline: number): Promise<ProbeOutcome> {
  const conn = Conn.tcp(target, MAX_REPLY_BYTES);
  try {
    const failure = await conn.ready(deadline);
    if (failure !== undefined) return { kind: 'miss', failure };
    const connectedAt = now();
    conn.write(POSTGRES_SSL_REQUEST);
    // The one-byte answer arrives alone; an error packet is read until the server closes or pauses.
    const read = await conn.read({
      deadline,
      idleMs: IDLE_MS,
      until: (d) => (d.length === 1 && (d[0] === 0x53 || d[0] === 0x4e)) || (d.length > 0 && d[0] !== 0x45),
    });
    const reply = parsePostgresSslReply(read.data);
    if (reply === undefined) return missFromRead(read, connectedAt);
    if (reply.kind === 'error') {
      return { kind: 'match', service: { name: 'postgresql', ...(reply.message ? { banner: escapeLatin1(reply.message) } : {}) } };
    }
    return { kind: 'match', service: { name: 'postgresql', product: 'PostgreSQL' } };
  } finally {
    conn.close();
  }
}
