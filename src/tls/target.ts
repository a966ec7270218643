import { formatRange, parseTarget } from '../scope/index.js';
import { PortcullisError } from '../shared/errors.js';

/** A TLS endpoint as users name it. A leaf module (no engine imports) so jobs, routes and the CLI can use it cheaply. */
export interface TlsTarget {
  host: string;
  port: number;
}

/** `host:port`, with IPv6 literals in brackets: the key that identifies a target in scans and history. */
export function targetKey(t: TlsTarget): string {
  return t.host.includes(':') ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`;
}

export const DEFAULT_TLS_PORT = 443;

/**
 * Parses one TLS target as users write it: `name`, `name:port`, an IPv4 address with an optional
 * port, a bare IPv6 address, or `[v6]:port`. The port defaults to 443. Throws target.invalid naming
 * `field`. Ranges and CIDR blocks are refused: a TLS assessment is of one service.
 */
export function parseTlsTarget(text: string, field: string): TlsTarget {
  const input = text.trim();
  const fail = (problem: string): never => {
    throw new PortcullisError('target.invalid', `${field} "${text}" ${problem}`, { value: text, field });
  };
  let hostText = input;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(input);
  if (bracketed) {
    hostText = bracketed[1] ?? '';
    portText = bracketed[2];
  } else if (input.split(':').length === 2) {
    [hostText, portText] = input.split(':') as [string, string];
  }
  // More than one colon without brackets: a bare IPv6 address, whose port cannot be told apart.
  if (hostText === '') fail('has no host: give a host name or an IP address, optionally with :port');
  let port = DEFAULT_TLS_PORT;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) fail(`has an invalid port "${portText}": use 1-65535`);
    port = Number(portText);
  }
  let parsed;
  try {
    parsed = parseTarget(hostText, field);
  } catch (err) {
    if (err instanceof PortcullisError) throw new PortcullisError(err.code, err.message, { ...err.detail, value: text, field });
    throw err;
  }
  if (parsed.kind === 'hostname') return { host: parsed.hostname as string, port };
  if (parsed.kind === 'ip' && parsed.range !== undefined) return { host: formatRange(parsed.range), port };
  return fail('is a range of addresses: a TLS assessment is of one host; list each address');
}
