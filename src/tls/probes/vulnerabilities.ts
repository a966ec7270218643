/**
 * Active vulnerability probes. Each entry of the registry tests one weakness with its own connections;
 * none is implemented yet, so each is reported as not tested (never as "not vulnerable").
 */
import { KNOWN_VULNERABILITIES } from '../grade/index.js';
import type { VulnerabilityResult } from '../model.js';
import type { ProbeContext } from './context.js';

export interface VulnerabilityProbe {
  /** Stable id, also the finding id family: heartbleed, ccs-injection… */
  id: string;
  /** Undefined until the active check exists. */
  run?: (ctx: ProbeContext) => Promise<VulnerabilityResult>;
}

/** One entry per vulnerability the grader knows (same ids), each without its active check for now. */
export const VULNERABILITY_PROBES: readonly VulnerabilityProbe[] = KNOWN_VULNERABILITIES.map(({ id }) => ({ id }));

export async function probeVulnerabilities(ctx: ProbeContext, probes: readonly VulnerabilityProbe[] = VULNERABILITY_PROBES): Promise<VulnerabilityResult[]> {
  return Promise.all(
    probes.map(async (probe): Promise<VulnerabilityResult> => {
      if (probe.run === undefined) return { id: probe.id, status: 'not-tested' };
      try {
        return await probe.run(ctx);
      } catch (err) {
        const detail = err instanceof Error ? err.message : String(err);
        ctx.warn(`vulnerability ${probe.id}: ${detail}`);
        return { id: probe.id, status: 'error', detail };
      }
    }),
  );
}
