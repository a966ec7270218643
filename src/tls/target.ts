/** A TLS endpoint as users name it. A leaf module (no engine imports) so jobs and routes can use it cheaply. */
export interface TlsTarget {
  host: string;
  port: number;
}

/** `host:port`, with IPv6 literals in brackets: the key that identifies a target in scans and history. */
export function targetKey(t: TlsTarget): string {
  return t.host.includes(':') ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`;
}
