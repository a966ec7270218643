/** Server-speaks-first services on 127.0.0.1 (and ::1): identified from the banner, without sitting out the banner wait. */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { TestServers, timer } from '../../testing/servers.js';
import { detectService } from './index.js';

/**
 * Deliberately long, so that sitting out the banner wait is unmistakable on any machine: a test that must
 * not wait for it asserts that it took less than half of it (no test here waits for it when all is well).
 */
const BANNER_MS = 10_000;
const OPTIONS = { bannerTimeoutMs: BANNER_MS, timeoutMs: 3 * BANNER_MS };
const servers = new TestServers();
const timings: string[] = [];
const timed = timer(timings);

/** A TCP server that greets every connection with `greeting` and then waits (like a real server). */
function greetingServer(greeting: Buffer | string, host = '127.0.0.1'): Promise<number> {
  return servers.serve((socket) => socket.write(greeting), host);
}

function mysqlHandshake(version: string): Buffer {
  const payload = Buffer.concat([
    Buffer.from([10]),
    Buffer.from(`${version}\0`, 'latin1'),
    Buffer.from([1, 0, 0, 0]),
    Buffer.from('abcdefgh\0', 'latin1'),
    Buffer.from([0xff, 0xf7, 0x2d, 0x02, 0x00, 0xff, 0xc1, 0x15]),
    Buffer.alloc(10),
    Buffer.from('ijklmnopqrst\0caching_sha2_password\0', 'latin1'),
  ]);
  return Buffer.concat([Buffer.from([payload.length, 0, 0, 0]), payload]);
}

afterEach(() => servers.closeAll());
afterAll(() => {
  console.log(`banner detection times on loopback (bannerTimeoutMs ${BANNER_MS}):\n  ${timings.join('\n  ')}`);
});

describe('banner services', () => {
  it.each([
    ['ssh', 'SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n', { name: 'ssh', product: 'OpenSSH', version: '9.2p1', banner: 'SSH-2.0-OpenSSH_9.2p1 Debian-2' }],
    ['ftp', '220 (vsFTPd 3.0.3)\r\n', { name: 'ftp', product: 'vsftpd', version: '3.0.3', banner: '220 (vsFTPd 3.0.3)' }],
    ['smtp', '220 mail.example.test ESMTP Postfix\r\n', { name: 'smtp', product: 'Postfix', banner: '220 mail.example.test ESMTP Postfix' }],
    ['smtp multi-line', '220-mail.example.test ESMTP Exim 4.96\r\n220 No UCE\r\n', { name: 'smtp', product: 'Exim', version: '4.96' }],
    ['pop3', '+OK Dovecot ready.\r\n', { name: 'pop3', product: 'Dovecot', banner: '+OK Dovecot ready.' }],
    ['imap', '* OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR LOGIN-REFERRALS ID ENABLE IDLE STARTTLS AUTH=PLAIN] Dovecot ready.\r\n', { name: 'imap', product: 'Dovecot' }],
    ['mysql', mysqlHandshake('8.0.36'), { name: 'mysql', product: 'MySQL', version: '8.0.36' }],
    ['mariadb', mysqlHandshake('5.5.5-10.11.6-MariaDB-0+deb12u1'), { name: 'mysql', product: 'MariaDB', version: '10.11.6' }],
    ['vnc', 'RFB 003.008\n', { name: 'vnc', banner: 'RFB 003.008' }],
  ])('identifies %s from its greeting without waiting out the banner timeout', async (label, greeting, expected) => {
    const port = await greetingServer(greeting);
    const { result, ms } = await timed(label, () => detectService('127.0.0.1', port, OPTIONS));
    expect(result).toMatchObject({ ...expected, method: 'probed' });
    expect(ms).toBeLessThan(BANNER_MS / 2); // no banner wait
  });

  it('reports an unknown greeting as unknown with its printable first line', async () => {
    const port = await greetingServer('Welcome to \x1b[1mBBS\x1b[0m\r\nlogin: ');
    const { result, ms } = await timed('unknown text greeting', () => detectService('127.0.0.1', port, OPTIONS));
    expect(result).toEqual({ name: 'unknown', banner: 'Welcome to \\x1b[1mBBS\\x1b[0m', method: 'probed' });
    expect(ms).toBeLessThan(BANNER_MS / 2); // ended by the pause after it, not by the banner timeout
  });

  it('keeps reading a greeting sent in pieces until it is whole', async () => {
    const port = await servers.serve((socket) => {
      socket.write('220-mail.example.test ESMTP\r\n');
      setTimeout(() => socket.write('220-more\r\n'), 20).unref();
      setTimeout(() => socket.write('220 Postfix\r\n'), 40).unref();
    });
    const { result } = await timed('smtp in pieces', () => detectService('127.0.0.1', port, OPTIONS));
    expect(result).toMatchObject({ name: 'smtp', product: 'Postfix' });
  });

  it('works over IPv6 loopback', async (ctx) => {
    let port: number;
    try {
      port = await greetingServer('SSH-2.0-OpenSSH_9.6\r\n', '::1');
    } catch {
      ctx.skip();
      return;
    }
    const { result } = await timed('ssh over ::1', () => detectService('::1', port, OPTIONS));
    expect(result).toMatchObject({ name: 'ssh', product: 'OpenSSH', version: '9.6' });
  });
});
