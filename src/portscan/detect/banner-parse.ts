/**
 * Server-speaks-first banners (nmap's NULL probe): SSH, FTP, SMTP, POP3, IMAP, MySQL/MariaDB, VNC,
 * telnet, else a generic printable first line. Pure: bytes in, service out.
 */
import { escapeBytes, escapeLatin1, splitLines, splitProductVersion } from './text.js';

/** What a banner says about the service (the detector adds `method`). */
export interface BannerMatch {
  name: string;
  product?: string;
  version?: string;
  banner?: string;
}

/** Most bytes the banner read keeps. */
export const MAX_BANNER_BYTES = 4096;

const FTP_PORTS = new Set([21, 990, 989, 2121]);
const SMTP_PORTS = new Set([24, 25, 465, 587, 2525]);

/**
 * True when `data` holds a whole greeting of a protocol we know (a terminated SSH line, the last line of
 * a multi-line `220-` reply, a whole MySQL packet, …), so the read can stop without waiting for more.
 * Unrecognised text is never "complete": the reader stops on idle, size or time instead.
 */
export function bannerLooksComplete(data: Uint8Array): boolean {
  if (data.length === 0) return false;
  const packet = mysqlPacketLength(data);
  if (packet !== undefined) return data.length >= 4 + packet;
  if (data[0] === 0xff) return true; // telnet option negotiation: nothing more will come until we answer
  const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('latin1');
  if (text.startsWith('RFB ')) return data.length >= 12;
  const lines = splitLines(text);
  const complete = lines.slice(0, -1); // the last element is an unterminated remainder
  if (complete.some((l) => l.startsWith('SSH-'))) return true;
  const first = complete[0];
  if (first === undefined) return false;
  if (/^\d{3}-/.test(first)) return complete.slice(1).some((l) => /^\d{3}(?: |$)/.test(l));
  return /^(?:\d{3}(?: |$)|\+OK|-ERR|\* (?:OK|PREAUTH|BYE)\b)/.test(first);
}

/**
 * Identifies a banner; `undefined` when it matches no protocol we know (see {@link parseBanner} for the
 * generic fallback). `port` only settles the FTP-or-SMTP question for a bare `220` greeting.
 */
export function identifyBanner(data: Uint8Array, port?: number): BannerMatch | undefined {
  if (data.length === 0) return undefined;
  const mysql = parseMysqlGreeting(data);
  if (mysql !== undefined) return mysqlService(mysql);
  if (data[0] === 0xff && data.length >= 2 && (data[1] ?? 0) >= 0xfb && (data[1] ?? 0) <= 0xfe) {
    return { name: 'telnet', banner: escapeBytes(data.subarray(0, 128)) };
  }
  const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('latin1');
  const lines = splitLines(text);
  const ssh = lines.find((l) => l.startsWith('SSH-'));
  if (ssh !== undefined) {
    const parsed = parseSshIdent(ssh);
    if (parsed !== undefined) return parsed;
  }
  const first = lines[0] ?? '';
  const rfb = /^RFB (\d{3})\.(\d{3})$/.exec(first);
  if (rfb !== null) return { name: 'vnc', product: 'VNC', banner: escapeLatin1(first) };
  if (/^\+OK\b/.test(first)) return { name: 'pop3', ...pop3Product(first), banner: escapeLatin1(first) };
  if (/^\* (?:OK|PREAUTH|BYE)\b/.test(first)) return { name: 'imap', ...imapProduct(first), banner: escapeLatin1(first) };
  const code = /^(220|421|554|120)(?:[ -]|$)/.exec(first)?.[1];
  if (code !== undefined) {
    const reply = lines.filter((l) => l.startsWith(code)).join('\n');
    return { ...ftpOrSmtp(reply, port), banner: escapeLatin1(first) };
  }
  return undefined;
}

/** {@link identifyBanner}, else `unknown` with the first printable line. `undefined` only for no data. */
export function parseBanner(data: Uint8Array, port?: number): BannerMatch | undefined {
  if (data.length === 0) return undefined;
  return identifyBanner(data, port) ?? { name: 'unknown', banner: genericBanner(data) };
}

/** The first non-empty line, escaped; for binary data, the escaped bytes. */
export function genericBanner(data: Uint8Array): string {
  const head = data.subarray(0, MAX_BANNER_BYTES);
  const text = Buffer.from(head.buffer, head.byteOffset, head.byteLength).toString('latin1');
  const line = splitLines(text).find((l) => l.trim() !== '');
  return line !== undefined ? escapeLatin1(line) : escapeBytes(head);
}

// --- SSH (RFC 4253 §4.2) ---------------------------------------------------------------------------

export function parseSshIdent(line: string): BannerMatch | undefined {
  const m = /^SSH-(\d+\.\d+)-(\S+)(?: (.*))?$/.exec(line.slice(0, 255));
  if (m === null) return undefined;
  const software = m[2] ?? '';
  const { product, version } = splitProductVersion(software);
  return {
    name: 'ssh',
    product: product.replace(/_/g, ' '),
    ...(version !== undefined ? { version } : {}),
    banner: escapeLatin1(line),
  };
}

// --- POP3 / IMAP ----------------------------------------------------------------------------------

function pop3Product(line: string): { product?: string; version?: string } {
  if (/dovecot/i.test(line)) return { product: 'Dovecot' };
  const cyrus = /Cyrus POP3(?: v?(\d[\w.-]*))?/i.exec(line);
  if (cyrus !== null) return { product: 'Cyrus', ...(cyrus[1] ? { version: cyrus[1] } : {}) };
  if (/courier/i.test(line)) return { product: 'Courier' };
  const qpopper = /Qpopper[^\d]*(\d[\w.]*)?/i.exec(line);
  if (qpopper !== null) return { product: 'Qpopper', ...(qpopper[1] ? { version: qpopper[1] } : {}) };
  if (/Microsoft Exchange/i.test(line)) return { product: 'Microsoft Exchange' };
  return {};
}

function imapProduct(line: string): { product?: string; version?: string } {
  if (/dovecot/i.test(line)) return { product: 'Dovecot' };
  const cyrus = /Cyrus IMAP(?:4|d)?(?: v?(\d[\w.-]*))?/i.exec(line);
  if (cyrus !== null) return { product: 'Cyrus', ...(cyrus[1] ? { version: cyrus[1] } : {}) };
  if (/Courier-IMAP/i.test(line)) return { product: 'Courier' };
  if (/Microsoft Exchange/i.test(line)) return { product: 'Microsoft Exchange' };
  return {};
}

// --- FTP / SMTP (both greet with 220) ---------------------------------------------------------------

function ftpOrSmtp(reply: string, port: number | undefined): Omit<BannerMatch, 'banner'> {
  const smtp = smtpProduct(reply);
  if (smtp !== undefined || /\b(?:E?SMTP|LMTP)\b/i.test(reply)) return { name: 'smtp', ...smtp };
  const ftp = ftpProduct(reply);
  if (ftp !== undefined || /FTP/i.test(reply)) return { name: 'ftp', ...ftp };
  if (port !== undefined && SMTP_PORTS.has(port)) return { name: 'smtp' };
  if (port !== undefined && FTP_PORTS.has(port)) return { name: 'ftp' };
  return { name: 'ftp' }; // nmap's NULL probe sees about twice as many FTP as SMTP greetings
}

function smtpProduct(reply: string): { product: string; version?: string } | undefined {
  if (/\bPostfix\b/i.test(reply)) return { product: 'Postfix' };
  const exim = /\bExim(?: (\d[\w.]*))?/i.exec(reply);
  if (exim !== null) return { product: 'Exim', ...(exim[1] ? { version: exim[1] } : {}) };
  const sendmail = /\bSendmail(?: (\d[\w.]*))?/i.exec(reply);
  if (sendmail !== null) return { product: 'Sendmail', ...(sendmail[1] ? { version: sendmail[1] } : {}) };
  if (/\bOpenSMTPD\b/i.test(reply)) return { product: 'OpenSMTPD' };
  const ms = /Microsoft ESMTP MAIL Service(?:, Version: (\d[\w.]*))?/i.exec(reply);
  if (ms !== null) return { product: 'Microsoft ESMTP', ...(ms[1] ? { version: ms[1] } : {}) };
  if (/\bHaraka\b/.test(reply)) return { product: 'Haraka' };
  return undefined;
}

function ftpProduct(reply: string): { product: string; version?: string } | undefined {
  const vsftpd = /\bvsFTPd(?: (\d[\w.]*))?/i.exec(reply);
  if (vsftpd !== null) return { product: 'vsftpd', ...(vsftpd[1] ? { version: vsftpd[1] } : {}) };
  const proftpd = /\bProFTPD(?: (\d[\w.]*))?/i.exec(reply);
  if (proftpd !== null) return { product: 'ProFTPD', ...(proftpd[1] ? { version: proftpd[1] } : {}) };
  if (/\bPure-FTPd\b/i.test(reply)) return { product: 'Pure-FTPd' };
  const filezilla = /\bFileZilla Server(?: version)?(?: (\d[\w.-]*))?/i.exec(reply);
  if (filezilla !== null) return { product: 'FileZilla Server', ...(filezilla[1] ? { version: filezilla[1] } : {}) };
  if (/Microsoft FTP Service/i.test(reply)) return { product: 'Microsoft ftpd' };
  const servU = /Serv-U FTP Server v?(\d[\w.]*)?/i.exec(reply);
  if (servU !== null) return { product: 'Serv-U', ...(servU[1] ? { version: servU[1] } : {}) };
  return undefined;
}

// --- MySQL / MariaDB initial handshake --------------------------------------------------------------

export type MysqlGreeting =
  | { kind: 'handshake'; protocol: number; serverVersion: string; connectionId?: number }
  | { kind: 'error'; code: number; message: string };

/** Payload length of a plausible first MySQL packet (sequence 0, handshake or error), else undefined. */
function mysqlPacketLength(data: Uint8Array): number | undefined {
  if (data.length < 5 || data[3] !== 0) return undefined;
  const len = (data[0] ?? 0) | ((data[1] ?? 0) << 8) | ((data[2] ?? 0) << 16);
  const kind = data[4];
  if (len < 2 || len > MAX_BANNER_BYTES - 4) return undefined;
  return kind === 10 || kind === 9 || kind === 0xff ? len : undefined;
}

/** Parses the first packet a MySQL-protocol server sends; tolerates truncation after the version string. */
export function parseMysqlGreeting(data: Uint8Array): MysqlGreeting | undefined {
  const len = mysqlPacketLength(data);
  if (len === undefined) return undefined;
  const payload = Buffer.from(data.buffer, data.byteOffset, data.byteLength).subarray(4, 4 + len);
  const kind = payload[0];
  if (kind === 0xff) {
    if (payload.length < 4) return undefined;
    const code = payload.readUInt16LE(1);
    let message = payload.subarray(3).toString('latin1');
    if (message.startsWith('#')) message = message.slice(6);
    if (code < 1000 || code > 4999 || !/^[\x20-\x7e]+$/.test(message)) return undefined;
    return { kind: 'error', code, message };
  }
  const nul = payload.indexOf(0, 1);
  if (nul < 2 || nul > 80) return undefined;
  const serverVersion = payload.subarray(1, nul).toString('latin1');
  if (!/^\d[\x20-\x7e]*$/.test(serverVersion)) return undefined;
  const connectionId = payload.length >= nul + 5 ? payload.readUInt32LE(nul + 1) : undefined;
  return { kind: 'handshake', protocol: kind ?? 0, serverVersion, ...(connectionId !== undefined ? { connectionId } : {}) };
}

function mysqlService(greeting: MysqlGreeting): BannerMatch {
  if (greeting.kind === 'error') return { name: 'mysql', banner: escapeLatin1(greeting.message) };
  const v = greeting.serverVersion;
  const banner = escapeLatin1(v);
  if (/mariadb/i.test(v)) {
    const version = /(\d+\.\d+\.\d+)-MariaDB/i.exec(v)?.[1] ?? /^(?:5\.5\.5-)?(\d+(?:\.\d+)*)/.exec(v)?.[1];
    return { name: 'mysql', product: 'MariaDB', ...(version !== undefined ? { version } : {}), banner };
  }
  const version = /^\d+(?:\.\d+)*/.exec(v)?.[0];
  return { name: 'mysql', product: 'MySQL', ...(version !== undefined ? { version } : {}), banner };
}
