import { spawnSync } from 'node:child_process';

/** True when the openssl binary is on PATH; tests that cross-check against it skip otherwise. */
export const opensslAvailable: boolean = spawnSync('openssl', ['version'], { encoding: 'utf8' }).status === 0;

/** Run openssl (optionally feeding stdin) and return stdout; throws with stderr when it fails. */
export function openssl(args: readonly string[], input?: string | Buffer): string {
  const result = spawnSync('openssl', args, { input, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${result.stderr || result.error?.message}`);
  return result.stdout;
}

/** The prime of a DH parameter set `openssl genpkey -genparam` builds from `-pkeyopt` (e.g. group:ffdhe2048). */
export function opensslDhPrime(pkeyopt: string): bigint {
  const pem = openssl(['genpkey', '-genparam', '-algorithm', 'DH', '-pkeyopt', pkeyopt]);
  const firstInteger = /INTEGER\s*:([0-9A-F]+)/.exec(openssl(['asn1parse'], pem))?.[1];
  if (!firstInteger) throw new Error(`no prime in DH parameters for ${pkeyopt}`);
  return BigInt(`0x${firstInteger}`);
}
