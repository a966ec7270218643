/** Byte and text helpers shared by the probe parsers. Pure. */

/** Longest banner we keep, in characters after escaping. */
export const MAX_BANNER_CHARS = 512;

/**
 * Printable ASCII only: bytes 0x20-0x7e are kept, everything else (and the backslash, so the escaping is
 * unambiguous) becomes `\xNN`. Never cuts an escape in half; at most `max` characters.
 */
export function escapeBytes(bytes: Uint8Array, max = MAX_BANNER_CHARS): string {
  let out = '';
  for (const b of bytes) {
    const piece = b >= 0x20 && b <= 0x7e && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
    if (out.length + piece.length > max) break;
    out += piece;
  }
  return out;
}

/** Same as {@link escapeBytes} for a string whose characters are bytes (latin1). */
export function escapeLatin1(text: string, max = MAX_BANNER_CHARS): string {
  return escapeBytes(Buffer.from(text, 'latin1'), max);
}

/** Lines of a latin1 text, without their `\r\n` / `\n` terminators. The last element may be an unterminated line. */
export function splitLines(text: string): string[] {
  return text.split('\n').map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
}

/**
 * Human text for fields such as an HTTP title or header: control characters dropped, whitespace runs
 * collapsed, trimmed, at most `max` characters (Unicode kept).
 */
export function cleanText(text: string, max: number): string {
  // eslint-disable-next-line no-control-regex
  const cleaned = text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').replace(/\s+/g, ' ').trim();
  return [...cleaned].slice(0, max).join('');
}

/** `name/1.2.3` or `name_1.2.3` → product and version; a bare word is a product without version. */
export function splitProductVersion(token: string): { product: string; version?: string } {
  const m = /^([A-Za-z][\w.+-]*?)[/_-](v?\d[\w.+~-]*)$/.exec(token);
  if (m?.[1] !== undefined && m[2] !== undefined) return { product: m[1], version: m[2].replace(/^v(?=\d)/, '') };
  return { product: token };
}
