import type { PortResult } from '../shared/model.js';
import { type ScanPortsRequest, scanPorts } from './scanner.js';
import type { HostScanResult, PortLists, ServiceDetector } from './types.js';
import { serviceForPort } from './port-lists.js';

export interface ServiceDetectionSettings {
  detect: ServiceDetector;
  bannerTimeoutMs: number;
  /** Whole budget for one port's detection. */
  timeoutMs: number;
  /** Ports being probed for their service at once, across hosts. */
  concurrency: number;
  /** Names each address was resolved from (SNI and HTTP Host). */
  hostnamesOf?: (ip: string) => readonly string[];
}

export interface HostScanRun extends ScanPortsRequest {
  /** When absent, open ports get a service name from the port ranking only (`method: table`). */
  services?: ServiceDetectionSettings;
  portLists: PortLists;
}

/** Ports probed for their service at once, across hosts. */
const DETECTION_CONCURRENCY = 32;

/**
 * Service-detection settings from the banner wait: the whole per-port budget is the banner wait plus
 * time for the client-first probes (TLS, HTTP, Redis, PostgreSQL) on a silent port.
 */
export function serviceDetection(detect: ServiceDetector, bannerTimeoutMs: number, hostnamesOf?: (ip: string) => readonly string[]): ServiceDetectionSettings {
  return {
    detect,
    bannerTimeoutMs,
    timeoutMs: bannerTimeoutMs + 3000,
    concurrency: DETECTION_CONCURRENCY,
    ...(hostnamesOf ? { hostnamesOf } : {}),
  };
}

/** Hosts whose service probes may run while the connect scan moves on to further hosts. */
const MAX_HOSTS_IN_DETECTION = 64;

/**
 * The port-scan engine as the CLI and the job handler use it: the adaptive connect scan, then
 * service detection on each host's open ports, pipelined so the connect scan never waits for slow
 * banners. Yields each host as soon as it is complete. Touches no store.
 */
export async function* scanHosts(run: HostScanRun): AsyncGenerator<HostScanResult> {
  const { services } = run;
  const ready: HostScanResult[] = [];
  const inDetection = new Set<Promise<void>>();
  const limit = createLimiter(services?.concurrency ?? 1);

  const labelFromTable = (r: PortResult): void => {
    const name = serviceForPort(run.portLists, r.port);
    r.service = { name: name ?? 'unknown', method: 'table' };
  };

  const detectHost = async (host: HostScanResult, open: PortResult[], settings: ServiceDetectionSettings): Promise<void> => {
    const hostname = settings.hostnamesOf?.(host.ip)[0];
    await Promise.all(
      open.map((r) =>
        limit(async () => {
          run.signal?.throwIfAborted();
          const found = await settings.detect(host.ip, r.port, {
            bannerTimeoutMs: settings.bannerTimeoutMs,
            timeoutMs: settings.timeoutMs,
            ...(hostname !== undefined ? { hostname } : {}),
            ...(run.signal !== undefined ? { signal: run.signal } : {}),
          });
          // Probed but not recognised: the port's usual service is still the best guess, marked as a
          // guess (`method: table`), as nmap prints `mqtt?`. Anything the probe saw (a banner) is kept.
          const guess = found.name === 'unknown' ? serviceForPort(run.portLists, r.port) : undefined;
          r.service = guess === undefined ? found : { ...found, name: guess, method: 'table' };
        }),
      ),
    );
    ready.push(host);
  };

  let failure: unknown;
  const track = (p: Promise<void>): void => {
    const tracked = p.catch((err: unknown) => {
      failure ??= err;
    });
    inDetection.add(tracked);
    void tracked.finally(() => inDetection.delete(tracked));
  };

  for await (const host of scanPorts(run)) {
    const open = host.results.filter((r) => r.state === 'open');
    if (services === undefined || open.length === 0) {
      open.forEach(labelFromTable);
      ready.push(host);
    } else {
      track(detectHost(host, open, services));
    }
    while (inDetection.size >= MAX_HOSTS_IN_DETECTION) await Promise.race(inDetection);
    if (failure !== undefined) throw failure;
    yield* ready.splice(0);
  }
  while (inDetection.size > 0) {
    await Promise.race(inDetection);
    if (failure !== undefined) throw failure;
    yield* ready.splice(0);
  }
  if (failure !== undefined) throw failure;
  yield* ready.splice(0);
}

/** Runs at most `n` of the given tasks at once. */
function createLimiter(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await task();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}
