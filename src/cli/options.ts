import { CliExit, EXIT_USAGE } from './io.js';

/** A whole number option within bounds, or a usage error naming the option. */
export function parseIntOption(value: string, name: string, min: number, max: number): number {
  if (!/^\d+$/.test(value.trim())) throw new CliExit(EXIT_USAGE, `${name} must be a whole number, got "${value}"`);
  const n = Number(value);
  if (n < min || n > max) throw new CliExit(EXIT_USAGE, `${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}
