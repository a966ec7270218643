import { afterEach, describe, expect, it } from 'vitest';
import { staticResolver } from '../scope/index.js';
import { assessment, endpoint, fakeTlsEngine } from '../testing/assessments.js';
import { captureIo } from '../testing/cli.js';
import { type SslLabsEmulator, startSslLabsEmulator } from '../testing/ssllabs-emulator.js';
import { runCli } from './program.js';

// `portcullis scan tls --engine` and `portcullis ssllabs` against the local SSL Labs emulator. The
// public-looking name resolves to a documentation address nothing connects to; the native engine is a fake.

const EMAIL = 'secops@corp.example';
const SITE_IP = '203.0.113.26'; // what the emulator reports for www.site.example
const resolver = staticResolver({ 'www.site.example': [SITE_IP], 'app.test': ['127.0.0.1'] });

let emulator: SslLabsEmulator | undefined;
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

async function env(): Promise<Record<string, string>> {
  emulator = await startSslLabsEmulator({ dnsMs: 5, assessmentMs: 20, coolOffMs: 0, registeredEmails: [EMAIL] });
  return { PORTCULLIS_SSLLABS_EMAIL: EMAIL, PORTCULLIS_SSLLABS_URL: emulator.url };
}

describe('portcullis scan tls --engine', () => {
  it('ssllabs: prints SSL Labs\' assessment and never runs the native engine for a public name', async () => {
    const io = captureIo({ ...(await env()) });
    const fake = fakeTlsEngine();
    expect(await runCli(['scan', 'tls', 'www.site.example', '--engine', 'ssllabs', '--json'], io, { resolver, tlsEngine: fake.engine })).toBe(0);
    const doc = JSON.parse(io.out());
    expect(doc.assessments[0]).toMatchObject({ engine: 'ssllabs', host: 'www.site.example', endpoints: [{ ip: SITE_IP, grade: 'A' }] });
    expect(fake.calls).toEqual([]);
  });

  it('both: prints both reports and a table of where they disagree', async () => {
    const io = captureIo({ ...(await env()) });
    const now = new Date().toISOString();
    const fake = fakeTlsEngine({ 'www.site.example:443': assessment({ host: 'www.site.example', startedAt: now, finishedAt: now, endpoints: [endpoint({ ip: SITE_IP, grade: 'A+' })] }) });
    expect(await runCli(['scan', 'tls', 'www.site.example', '--engine', 'both'], io, { resolver, tlsEngine: fake.engine })).toBe(0);
    expect(io.out()).toContain('(native engine');
    expect(io.out()).toContain('(ssllabs engine');
    expect(io.out()).toMatch(/where the native engine and SSL Labs disagree:[\s\S]*203\.0\.113\.26\s+grade\s+A\+\s+A/);
  });

  it('ssllabs on a loopback name falls back to the native engine and says so', async () => {
    const io = captureIo({ ...(await env()) });
    expect(await runCli(['scan', 'tls', 'app.test', '--engine', 'ssllabs'], io, { resolver, tlsEngine: fakeTlsEngine().engine })).toBe(0);
    expect(io.out()).toMatch(/not sent to SSL Labs: app\.test resolves to 127\.0\.0\.1 \(loopback\)/);
    expect(emulator?.stats.starts).toBe(0);
  });

  it('exits 2 with the way to turn SSL Labs on when no email is configured', async () => {
    const io = captureIo({});
    expect(await runCli(['scan', 'tls', 'www.site.example', '--engine', 'ssllabs'], io, { resolver, tlsEngine: fakeTlsEngine().engine })).toBe(2);
    expect(io.err()).toMatch(/PORTCULLIS_SSLLABS_EMAIL.*\[ssllabs\.disabled\]/);
  });
});

describe('portcullis ssllabs', () => {
  it('register sends the one-time registration and says what to set next', async () => {
    const io = captureIo({ ...(await env()) });
    expect(await runCli(['ssllabs', 'register', '--first-name', 'Ada', '--last-name', 'Lovelace', '--email', 'ada@corp.example', '--organization', 'Corp'], io)).toBe(0);
    expect(io.out()).toContain('PORTCULLIS_SSLLABS_EMAIL=ada@corp.example');
    const refused = captureIo({ PORTCULLIS_SSLLABS_URL: emulator?.url ?? '' });
    expect(await runCli(['ssllabs', 'register', '--first-name', 'A', '--last-name', 'B', '--email', 'a@gmail.com', '--organization', 'C'], refused)).toBe(2);
    expect(refused.err()).toMatch(/refused the registration/);
  });

  it('info prints the limits SSL Labs gives this client', async () => {
    const io = captureIo({ ...(await env()) });
    expect(await runCli(['ssllabs', 'info'], io)).toBe(0);
    expect(io.out()).toMatch(/0 running of at most 25; cool-off between new assessments 0 ms/);
  });
});
