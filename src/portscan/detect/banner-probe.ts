/** nmap's NULL probe: connect, send nothing, keep what the server says first. */
import { bannerLooksComplete, MAX_BANNER_BYTES } from './banner-parse.js';
import { type ConnectFailure, Conn, now, type ProbeTarget } from './conn.js';

/** Once a greeting started, how long a pause ends it (for greetings we cannot tell are complete). */
export const BANNER_IDLE_MS = 100;

export type BannerRead =
  | { kind: 'data'; data: Buffer }
  /** Connected, the server said nothing within the wait. */
  | { kind: 'silent' }
  /** Connected, the server closed or reset without a byte (nmap's "tcpwrapped"). */
  | { kind: 'closed' }
  | { kind: 'unreachable'; failure: ConnectFailure };

/** `waitMs` starts once connected; nothing outlives `deadline`. */
export async function readBanner(target: ProbeTarget, waitMs: number, deadline: number): Promise<BannerRead> {
  const conn = Conn.tcp(target, MAX_BANNER_BYTES);
  try {
    const failure = await conn.ready(deadline);
    // A reset or close racing the connect event still means the server accepted, then hung up.
    if (failure === 'reset' || failure === 'closed') return { kind: 'closed' };
    if (failure !== undefined) return { kind: 'unreachable', failure };
    const result = await conn.read({
      deadline: Math.min(deadline, now() + waitMs),
      until: bannerLooksComplete,
      idleMs: BANNER_IDLE_MS,
    });
    if (result.data.length > 0) return { kind: 'data', data: Buffer.from(result.data) };
    if (result.end === 'timeout') return { kind: 'silent' };
    if (result.end === 'aborted') return { kind: 'unreachable', failure: 'aborted' };
    return { kind: 'closed' };
  } finally {
    conn.close();
  }
}
