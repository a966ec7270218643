import { describe, expect, it } from 'vitest';
import { staticResolver } from '../scope/index.js';
import { PortcullisError } from '../shared/errors.js';
import { assessment, fakeTlsEngine, tls12OnlyEndpoint, unreachableEndpoint } from '../testing/assessments.js';
import { captureIo } from '../testing/cli.js';
import { runCli } from './program.js';

// `portcullis scan tls` in-process with a fake engine: parsing, scope, output and exit codes. The
// engine itself is tested in tls/; nothing here opens a connection.

const resolver = staticResolver({ 'app.test': ['127.0.0.1'], 'metadata.test': ['169.254.169.254'] });

describe('portcullis scan tls', () => {
  it('--json prints one document with an Assessment per host, as the engine returned it', async () => {
    const fake = fakeTlsEngine({ 'app.test:443': assessment({ endpoints: [tls12OnlyEndpoint()] }) });
    const io = captureIo();
    expect(await runCli(['scan', 'tls', 'app.test', '[::1]:8443', '--json', '--sni', 'App.Test', '--timeout', '2000'], io, { resolver, tlsEngine: fake.engine })).toBe(0);
    expect(fake.calls).toEqual(['app.test:443', '[::1]:8443']);
    const doc = JSON.parse(io.out());
    expect(Object.keys(doc)).toEqual(['assessments']);
    expect(doc.assessments.map((a: any) => [a.host, a.port, a.sni])).toEqual([
      ['app.test', 443, 'app.test'],
      ['::1', 8443, 'app.test'],
    ]);
    const e = doc.assessments[0].endpoints[0];
    expect(e).toMatchObject({ ip: '127.0.0.1', grade: 'A-', gradeTrustIgnored: 'A-', caps: [{ rule: 'no-tls13' }] });
    expect(e.protocols).toContainEqual({ name: 'TLSv1.2', supported: true });
    expect(e.suites[0]).toMatchObject({ protocol: 'TLSv1.2', code: '0xC02F', iana: 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', openssl: 'ECDHE-RSA-AES128-GCM-SHA256', bits: 128 });
    expect(io.err()).toBe('');
  });

  it('prints the readable report without escape codes when stdout is not a terminal', async () => {
    const io = captureIo();
    expect(await runCli(['scan', 'tls', 'app.test'], io, { resolver, tlsEngine: fakeTlsEngine().engine })).toBe(0);
    expect(io.out()).toContain('127.0.0.1  grade A');
    expect(io.out()).toContain('Cipher suites');
    expect(io.out()).not.toMatch(/\u001b\[/);
  });

  it('exits 1 naming the host when no address of it could be assessed', async () => {
    const fake = fakeTlsEngine({ '127.0.0.1:443': assessment({ endpoints: [unreachableEndpoint('127.0.0.1')] }) });
    const io = captureIo();
    expect(await runCli(['scan', 'tls', '127.0.0.1', 'app.test'], io, { resolver, tlsEngine: fake.engine })).toBe(1);
    expect(io.out()).toContain('could not be assessed: connection refused');
    expect(io.err()).toMatch(/^portcullis: 127\.0\.0\.1:443 could not be assessed/);
  });

  it.each([
    [['app.test:70000'], 'has an invalid port'],
    [['10.0.0.0/24'], 'is a range of addresses'],
    [['app.test', 'metadata.test'], 'may not be scanned'],
    [['app.test', '--sni', '10.0.0.1'], 'is not a host name'],
    [['app.test', '--timeout', 'soon'], '--timeout must be a whole number'],
  ])('exits 2 for %j before assessing anything', async (args, message) => {
    const fake = fakeTlsEngine();
    const io = captureIo();
    expect(await runCli(['scan', 'tls', ...args], io, { resolver, tlsEngine: fake.engine })).toBe(2);
    expect(io.err()).toContain(message);
    expect(fake.calls).toEqual([]);
  });

  it('exits 2 when a --ca-file cannot be used', async () => {
    const fake = fakeTlsEngine({ 'app.test:443': new PortcullisError('tls.ca-file-invalid', 'cannot read CA file ./nope.pem: no such file') });
    const io = captureIo();
    expect(await runCli(['scan', 'tls', 'app.test', '--ca-file', './nope.pem'], io, { resolver, tlsEngine: fake.engine })).toBe(2);
    expect(io.err()).toBe('portcullis: cannot read CA file ./nope.pem: no such file\n');
  });

  it('--help documents every option, the output, the exit codes and examples', async () => {
    const io = captureIo();
    expect(await runCli(['scan', 'tls', '--help'], io)).toBe(0);
    const help = io.out();
    for (const text of ['<hosts...>', '--json', '--ca-file <pem>', '--sni <name>', '--timeout <ms>', '--fresh', 'Exit codes: 0', 'strength marks', 'Examples:']) expect(help).toContain(text);
    const scanHelp = captureIo();
    expect(await runCli(['scan', '--help'], scanHelp)).toBe(0);
    expect(scanHelp.out()).toMatch(/tls \[options\] <hosts\.\.\.>/);
  });
});
