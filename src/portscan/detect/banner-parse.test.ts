import { describe, expect, it } from 'vitest';
import { bannerLooksComplete, genericBanner, identifyBanner, parseBanner, parseMysqlGreeting } from './banner-parse.js';

const bytes = (text: string): Buffer => Buffer.from(text, 'latin1');

/** A MySQL protocol-10 initial handshake packet, as servers send it on connect. */
function mysqlHandshake(version: string, connectionId = 42): Buffer {
  const payload = Buffer.concat([
    Buffer.from([10]),
    Buffer.from(`${version}\0`, 'latin1'),
    Buffer.from([connectionId, 0, 0, 0]),
    Buffer.from('abcdefgh', 'latin1'),
    Buffer.from([0, 0xff, 0xf7, 0x2d, 0x02, 0x00, 0xff, 0xc1, 0x15]),
    Buffer.alloc(10),
    Buffer.from('ijklmnopqrst\0mysql_native_password\0', 'latin1'),
  ]);
  const header = Buffer.from([payload.length & 0xff, (payload.length >> 8) & 0xff, 0, 0]);
  return Buffer.concat([header, payload]);
}

function mysqlError(code: number, message: string): Buffer {
  const payload = Buffer.concat([Buffer.from([0xff, code & 0xff, code >> 8]), Buffer.from(message, 'latin1')]);
  return Buffer.concat([Buffer.from([payload.length, 0, 0, 0]), payload]);
}

describe('banner identification', () => {
  it.each([
    ['SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n', { name: 'ssh', product: 'OpenSSH', version: '9.2p1', banner: 'SSH-2.0-OpenSSH_9.2p1 Debian-2' }],
    ['SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.1\r\n', { name: 'ssh', product: 'OpenSSH', version: '8.9p1' }],
    ['SSH-2.0-dropbear_2022.83\r\n', { name: 'ssh', product: 'dropbear', version: '2022.83' }],
    ['SSH-2.0-OpenSSH_for_Windows_8.1\r\n', { name: 'ssh', product: 'OpenSSH for Windows', version: '8.1' }],
    ['SSH-1.99-Cisco-1.25\r\n', { name: 'ssh', product: 'Cisco', version: '1.25' }],
    ['SSH-2.0-ROSSSH\r\n', { name: 'ssh', product: 'ROSSSH' }],
    ['Welcome to the host\r\nSSH-2.0-OpenSSH_9.6\r\n', { name: 'ssh', product: 'OpenSSH', version: '9.6', banner: 'SSH-2.0-OpenSSH_9.6' }],
    ['220 (vsFTPd 3.0.3)\r\n', { name: 'ftp', product: 'vsftpd', version: '3.0.3', banner: '220 (vsFTPd 3.0.3)' }],
    ['220 ProFTPD 1.3.8 Server (Debian) [::ffff:10.0.0.1]\r\n', { name: 'ftp', product: 'ProFTPD', version: '1.3.8' }],
    [
      '220---------- Welcome to Pure-FTPd [privsep] [TLS] ----------\r\n220-You are user number 1 of 50.\r\n220 You will be disconnected after 15 minutes.\r\n',
      { name: 'ftp', product: 'Pure-FTPd' },
    ],
    ['220-FileZilla Server 1.8.0\r\n220 Please visit https://filezilla-project.org/\r\n', { name: 'ftp', product: 'FileZilla Server', version: '1.8.0' }],
    ['220 Microsoft FTP Service\r\n', { name: 'ftp', product: 'Microsoft ftpd' }],
    ['220 mail.example.test ESMTP Postfix\r\n', { name: 'smtp', product: 'Postfix', banner: '220 mail.example.test ESMTP Postfix' }],
    ['220 mail.example.test ESMTP Postfix (Debian/GNU)\r\n', { name: 'smtp', product: 'Postfix' }],
    ['220 mx.example.test ESMTP Exim 4.96 Mon, 01 Jan 2024 00:00:00 +0000\r\n', { name: 'smtp', product: 'Exim', version: '4.96' }],
    ['220 host.example.test ESMTP Sendmail 8.15.2/8.15.2; Mon, 1 Jan 2024\r\n', { name: 'smtp', product: 'Sendmail', version: '8.15.2' }],
    ['220 mx.example.test ESMTP OpenSMTPD\r\n', { name: 'smtp', product: 'OpenSMTPD' }],
    ['220 mx.example.test ESMTP ready\r\n', { name: 'smtp' }],
    ['554 5.7.1 No SMTP service here\r\n', { name: 'smtp' }],
    ['+OK Dovecot ready.\r\n', { name: 'pop3', product: 'Dovecot', banner: '+OK Dovecot ready.' }],
    ['+OK Dovecot (Ubuntu) ready.\r\n', { name: 'pop3', product: 'Dovecot' }],
    ['+OK mail.example.test Cyrus POP3 v2.4.17 server ready <1@x>\r\n', { name: 'pop3', product: 'Cyrus', version: '2.4.17' }],
    ['+OK POP3 server ready\r\n', { name: 'pop3' }],
    [
      '* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] Dovecot ready.\r\n',
      { name: 'imap', product: 'Dovecot' },
    ],
    ['* OK mail.example.test Cyrus IMAP v3.6.1 server ready\r\n', { name: 'imap', product: 'Cyrus', version: '3.6.1' }],
    ['* OK Courier-IMAP ready.\r\n', { name: 'imap', product: 'Courier' }],
    ['* PREAUTH IMAP4rev1 server logged in as user\r\n', { name: 'imap' }],
    ['RFB 003.008\n', { name: 'vnc', product: 'VNC', banner: 'RFB 003.008' }],
  ])('%j', (text, expected) => {
    expect(identifyBanner(bytes(text))).toMatchObject(expected);
  });

  it('settles a bare 220 greeting by the port: SMTP on 25, FTP on 21 and by default', () => {
    expect(identifyBanner(bytes('220 ready\r\n'), 25)?.name).toBe('smtp');
    expect(identifyBanner(bytes('220 ready\r\n'), 587)?.name).toBe('smtp');
    expect(identifyBanner(bytes('220 ready\r\n'), 21)?.name).toBe('ftp');
    expect(identifyBanner(bytes('220 ready\r\n'))?.name).toBe('ftp');
  });

  it('recognises telnet option negotiation', () => {
    expect(identifyBanner(Buffer.from([0xff, 0xfd, 0x18, 0xff, 0xfd, 0x20]))).toEqual({ name: 'telnet', banner: '\\xff\\xfd\\x18\\xff\\xfd ' });
  });

  it('reads product and version from a MySQL handshake packet', () => {
    expect(identifyBanner(mysqlHandshake('8.0.36'))).toEqual({ name: 'mysql', product: 'MySQL', version: '8.0.36', banner: '8.0.36' });
    expect(identifyBanner(mysqlHandshake('8.0.36-0ubuntu0.22.04.1'))).toMatchObject({ product: 'MySQL', version: '8.0.36' });
    expect(identifyBanner(mysqlHandshake('5.5.5-10.11.6-MariaDB-0+deb12u1'))).toEqual({
      name: 'mysql',
      product: 'MariaDB',
      version: '10.11.6',
      banner: '5.5.5-10.11.6-MariaDB-0+deb12u1',
    });
    expect(identifyBanner(mysqlHandshake('11.4.2-MariaDB'))).toMatchObject({ product: 'MariaDB', version: '11.4.2' });
    expect(parseMysqlGreeting(mysqlHandshake('8.0.36', 7))).toEqual({ kind: 'handshake', protocol: 10, serverVersion: '8.0.36', connectionId: 7 });
  });

  it('recognises a MySQL error greeting (host not allowed)', () => {
    const packet = mysqlError(1130, "Host '10.0.0.9' is not allowed to connect to this MySQL server");
    expect(identifyBanner(packet)).toEqual({ name: 'mysql', banner: "Host '10.0.0.9' is not allowed to connect to this MySQL server" });
  });

  it('tolerates a MySQL handshake cut after the version string', () => {
    const packet = mysqlHandshake('8.0.36');
    expect(identifyBanner(packet.subarray(0, 12))).toMatchObject({ name: 'mysql', version: '8.0.36' });
    expect(identifyBanner(packet.subarray(0, 8))).toBeUndefined();
  });

  it('rejects binary that only resembles a MySQL packet', () => {
    expect(parseMysqlGreeting(Buffer.from([0x10, 0, 0, 0, 10, 0x41, 0x42, 0x43]))).toBeUndefined(); // version not NUL-terminated nor numeric
    expect(parseMysqlGreeting(Buffer.from([0xff, 0xff, 0xff, 0, 10, 0x38, 0]))).toBeUndefined(); // absurd length
    expect(parseMysqlGreeting(Buffer.from([0x05, 0, 0, 1, 10, 0x38, 0, 0, 0]))).toBeUndefined(); // sequence 1
  });

  it('falls back to the first printable line for unknown text', () => {
    expect(identifyBanner(bytes('hello there\r\nsecond\r\n'))).toBeUndefined();
    expect(parseBanner(bytes('\r\nhello there\r\nsecond\r\n'))).toEqual({ name: 'unknown', banner: 'hello there' });
  });

  it('escapes non-printable bytes and bounds the banner to 512 characters', () => {
    expect(parseBanner(Buffer.from([0x00, 0x01, 0x41, 0x7f, 0x5c, 0xe9]))).toEqual({ name: 'unknown', banner: '\\x00\\x01A\\x7f\\x5c\\xe9' });
    const long = parseBanner(Buffer.alloc(4096, 0x80))?.banner ?? '';
    expect(long.length).toBeLessThanOrEqual(512);
    expect(long).toMatch(/^(\\x80)+$/);
    const longText = parseBanner(bytes(`${'A'.repeat(3000)}\r\n`))?.banner ?? '';
    expect(longText).toBe('A'.repeat(512));
    expect(genericBanner(bytes('SSH-2.0-\x1b[31mred\r\n'))).toBe('SSH-2.0-\\x1b[31mred');
  });

  it('copes with random binary garbage without throwing', () => {
    for (let seed = 1; seed < 200; seed++) {
      const garbage = Buffer.alloc(1 + ((seed * 37) % 600));
      let x = seed;
      for (let i = 0; i < garbage.length; i++) garbage[i] = x = (x * 1103515245 + 12345) & 0xff;
      const parsed = parseBanner(garbage);
      expect(parsed?.banner?.length ?? 0).toBeLessThanOrEqual(512);
      bannerLooksComplete(garbage);
    }
    expect(parseBanner(Buffer.alloc(0))).toBeUndefined();
  });
});

describe('banner completeness (when the banner read may stop early)', () => {
  it.each([
    ['SSH-2.0-OpenSSH_9.2p1\r\n', true],
    ['SSH-2.0-OpenSSH_9.2p1', false],
    ['220 (vsFTPd 3.0.3)\r\n', true],
    ['220-first\r\n', false],
    ['220-first\r\n220-second\r\n', false],
    ['220-first\r\n220 last\r\n', true],
    ['+OK ready\r\n', true],
    ['* OK ready\r\n', true],
    ['RFB 003.0', false],
    ['RFB 003.008\n', true],
    ['some unknown greeting\r\n', false],
  ])('%j → %s', (text, complete) => {
    expect(bannerLooksComplete(bytes(text))).toBe(complete);
  });

  it('waits for a whole MySQL packet', () => {
    const packet = mysqlHandshake('8.0.36');
    expect(bannerLooksComplete(packet.subarray(0, 20))).toBe(false);
    expect(bannerLooksComplete(packet)).toBe(true);
  });
});
