/** Why bytes could not be read or written as TLS. Parsers throw only this, whatever the input. */
export type WireErrorCode =
  /** The bytes stop before the structure does (more may still arrive on a stream). */
  | 'wire.truncated'
  /** A length is beyond what the protocol or our limits allow. */
  | 'wire.oversized'
  /** A field contradicts its container or the specification. */
  | 'wire.malformed'
  /** Well-formed, but not what may come at this point (e.g. a ClientHello from a server). */
  | 'wire.unexpected';

export class WireError extends Error {
  readonly code: WireErrorCode;

  constructor(code: WireErrorCode, message: string) {
    super(message);
    this.name = 'WireError';
    this.code = code;
  }
}
