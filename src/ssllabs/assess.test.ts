import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { type SslLabsEmulator, startSslLabsEmulator } from '../testing/ssllabs-emulator.js';
import type { EmulatorOptions } from '../testing/ssllabs-emulator.js';
import type { SslLabsHost } from './api-types.js';
import { ProgressClock, nextPollDelay, runSslLabsAssessment } from './assess.js';
import { SslLabsClient } from './client.js';
import { SslLabsGovernor } from './governor.js';

const EMAIL = 'secops@corp.example';
const FAST_POLLING = { dnsMs: 10, inProgressMs: 20 };

let emulator: SslLabsEmulator | undefined;
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

async function setUp(options: EmulatorOptions = {}, apiVersion: 'v3' | 'v4' = 'v4') {
  emulator = await startSslLabsEmulator({ dnsMs: 20, assessmentMs: 60, coolOffMs: 30, registeredEmails: [EMAIL], ...options });
  const governor = new SslLabsGovernor({ coolOffMarginMs: 0, rateLimitBackoffMs: 50, pauseMinMs: 50, pauseMaxMs: 80 });
  const client = new SslLabsClient({ baseUrl: emulator.url, apiVersion, email: EMAIL, onRateHeaders: (h) => governor.observe(h) });
  const info = await client.info();
  governor.observeLimits({ maxAssessments: info.maxAssessments, currentAssessments: info.currentAssessments, coolOffMs: info.newAssessmentCoolOff });
  return { emulator, governor, client };
}

describe('SSL Labs client', () => {
  it('sends the email header on v4 and reads the rate headers of every answer', async () => {
    const { emulator: e, client, governor } = await setUp({ maxAssessments: 7 });
    expect(governor.status()).toMatchObject({ maxAssessments: 7, reportedCurrent: 0, coolOffMs: 30 });
    await client.analyze({ host: 'www.site.example', startNew: true });
    expect(governor.status().reportedCurrent).toBe(1);
    expect(e.requests.at(-1)).toMatchObject({ email: EMAIL, query: expect.objectContaining({ host: 'www.site.example', startNew: 'on', all: 'done', publish: 'off' }) });
  });

  it('turns SSL Labs errors into codes users can act on: 441, rejected email, 500, 503, 529, 429', async () => {
    const { emulator: e, client } = await setUp();
    const cases: Array<[441 | 400 | 500 | 503 | 529, string]> = [
      [441, 'ssllabs.not-registered'],
      [500, 'ssllabs.internal-error'],
      [503, 'ssllabs.unavailable'],
      [529, 'ssllabs.overloaded'],
    ];
    for (const [status, code] of cases) {
      e.failNext(status, 1, 'analyze');
      await expect(client.analyze({ host: 'a.example' })).rejects.toMatchObject({ code, detail: expect.objectContaining({ httpStatus: status }) });
    }
    const stranger = new SslLabsClient({ baseUrl: e.url, apiVersion: 'v4', email: 'not-an-email' });
    await expect(stranger.info()).rejects.toMatchObject({ code: 'ssllabs.email-rejected', message: expect.stringMatching(/portcullis ssllabs register/) });
    const unknown = new SslLabsClient({ baseUrl: e.url, apiVersion: 'v4', email: 'nobody@corp.example' });
    await expect(unknown.info()).rejects.toMatchObject({ code: 'ssllabs.not-registered' });
  });

  it('says clearly when SSL Labs cannot be reached', async () => {
    const client = new SslLabsClient({ baseUrl: 'http://127.0.0.1:9/api/', apiVersion: 'v3', timeoutMs: 2000 });
    await expect(client.info()).rejects.toMatchObject({ code: 'ssllabs.unreachable' });
  });

  it('registers an organisation email on v4', async () => {
    const { client } = await setUp();
    await expect(client.register({ firstName: 'Ada', lastName: 'Lovelace', email: 'ada@corp.example', organization: 'Corp' })).resolves.toMatchObject({ status: 'success' });
    await expect(client.register({ firstName: 'Ada', lastName: 'Lovelace', email: 'ada@gmail.com', organization: 'Corp' })).rejects.toMatchObject({ code: 'ssllabs.registration-failed' });
  });
});

describe('SSL Labs assessment flow', () => {
  it('starts with startNew once, then polls without it until READY, and returns the full host', async () => {
    const { emulator: e, client, governor } = await setUp();
    const statuses: string[] = [];
    const run = await runSslLabsAssessment('www.site.example', { client, governor, polling: FAST_POLLING, onPoll: (h) => statuses.push(h.status ?? 'none') });
    expect(run.host.status).toBe('READY');
    expect(run.host.endpoints?.[0]?.details).toBeDefined();
    expect(statuses[0]).toBe('DNS');
    expect(statuses).toContain('IN_PROGRESS');
    const analyzes = e.requests.filter((r) => r.call === 'analyze');
    expect(analyzes[0]?.query.startNew).toBe('on');
    expect(analyzes.slice(1).every((r) => r.query.startNew === undefined && r.query.fromCache === undefined)).toBe(true);
    expect(governor.status().running).toBe(0);
  });

  it('uses SSL Labs cached reports when allowed (fromCache with maxAge), starting nothing new', async () => {
    const { emulator: e, client, governor } = await setUp();
    await runSslLabsAssessment('cached.example', { client, governor, polling: FAST_POLLING });
    const startsBefore = e.stats.starts;
    const run = await runSslLabsAssessment('cached.example', { client, governor, polling: FAST_POLLING, fromCacheMaxAgeHours: 24 });
    expect(run.host.status).toBe('READY');
    expect(e.stats.starts).toBe(startsBefore);
    expect(e.requests.at(-1)?.query).toMatchObject({ fromCache: 'on', maxAge: '24' });
  });

  it('fails the host with SSL Labs\' message when the assessment ends in ERROR', async () => {
    const { client, governor } = await setUp({ errorHosts: { 'gone.example': 'Unable to resolve domain name' } });
    await expect(runSslLabsAssessment('gone.example', { client, governor, polling: FAST_POLLING })).rejects.toMatchObject({
      code: 'ssllabs.assessment-failed',
      message: expect.stringContaining('Unable to resolve domain name'),
    });
    expect(governor.status().running).toBe(0);
  });

  it('fails the host on a 500 and keeps the slot free for the rest', async () => {
    const { emulator: e, client, governor } = await setUp();
    e.failNext(500, 1, 'analyze');
    await expect(runSslLabsAssessment('flaky.example', { client, governor, polling: FAST_POLLING })).rejects.toMatchObject({ code: 'ssllabs.internal-error' });
    await expect(runSslLabsAssessment('fine.example', { client, governor, polling: FAST_POLLING })).resolves.toMatchObject({ host: { status: 'READY' } });
  });

  it('pauses new starts after a 503 and goes on afterwards', async () => {
    const { emulator: e, client, governor } = await setUp();
    e.failNext(503, 1, 'analyze');
    const run = await runSslLabsAssessment('maint.example', { client, governor, polling: FAST_POLLING });
    expect(run.host.status).toBe('READY');
    expect(governor.status()).toMatchObject({ pauses: 1, started: 1 });
  });

  it('follows an assessment someone else restarted (newer startTime) and says so', async () => {
    const answers = [
      { host: 'busy.example', status: 'DNS', startTime: 1000 },
      { host: 'busy.example', status: 'IN_PROGRESS', startTime: 1000 },
      { host: 'busy.example', status: 'IN_PROGRESS', startTime: 5000 },
      { host: 'busy.example', status: 'READY', startTime: 5000, endpoints: [{ ipAddress: '203.0.113.9', statusMessage: 'Ready', grade: 'A', details: {} }] },
    ];
    const client = { analyze: async () => answers.shift() } as unknown as SslLabsClient;
    const governor = new SslLabsGovernor({ initialMaxAssessments: 1, initialCoolOffMs: 0, coolOffMarginMs: 0 });
    const run = await runSslLabsAssessment('busy.example', { client, governor, polling: FAST_POLLING });
    expect(run.host.startTime).toBe(5000);
    expect(run.warnings).toEqual([expect.stringMatching(/restarted by someone else/)]);
  });

  it('never meets a 429 with many jobs at once: the shared governor keeps to the maximum and the cool-off', async () => {
    const { emulator: e, client, governor } = await setUp({ maxAssessments: 4, coolOffMs: 15, dnsMs: 10, assessmentMs: 40 });
    const hosts = Array.from({ length: 24 }, (_, i) => `h${i}.fleet.example`);
    const runs = await Promise.all(hosts.map((host) => runSslLabsAssessment(host, { client, governor, polling: { dnsMs: 5, inProgressMs: 10 } })));
    expect(runs.every((r) => r.host.status === 'READY')).toBe(true);
    expect(e.stats.rateLimited.total).toBe(0);
    expect(e.stats.peakConcurrent).toBeLessThanOrEqual(4);
    expect(e.stats.starts).toBe(24);
    expect(governor.status()).toMatchObject({ rateLimited: 0, running: 0, started: 24 });
  });

  it('recovers from a 429 caused by someone else sharing the email (backs off, then starts)', async () => {
    const { emulator: e, client } = await setUp({ maxAssessments: 1, coolOffMs: 0, assessmentMs: 80 });
    const intruder = new SslLabsClient({ baseUrl: e.url, apiVersion: 'v4', email: EMAIL });
    await intruder.analyze({ host: 'intruder.example', startNew: true });
    // A governor that has seen no answer since believes the slot is free, meets a 429, backs off and retries.
    const unaware = new SslLabsGovernor({ initialMaxAssessments: 1, initialCoolOffMs: 0, coolOffMarginMs: 0, rateLimitBackoffMs: 30 });
    const run = await runSslLabsAssessment('ours.example', { client, governor: unaware, polling: FAST_POLLING });
    expect(run.host.status).toBe('READY');
    expect(e.stats.rateLimited.total).toBeGreaterThanOrEqual(1);
    expect(unaware.status()).toMatchObject({ rateLimited: e.stats.rateLimited.total, started: 1 });
  });
});

describe('SSL Labs polling', () => {
  const DOCUMENTED = { dnsMs: 5000, inProgressMs: 10_000 };
  const inProgress = (progress: number, pending = 0): SslLabsHost => ({
    host: 'busy.example',
    status: 'IN_PROGRESS',
    endpoints: [{ ipAddress: '203.0.113.1', statusMessage: 'In progress', progress }, ...Array.from({ length: pending }, (_, i) => ({ ipAddress: `203.0.113.${i + 2}`, statusMessage: 'Pending', progress: -1 }))],
  });

  it('polls every 5 s before the assessment is under way and every 10 s while it runs', () => {
    expect(nextPollDelay({ host: 'busy.example', status: 'DNS' }, DOCUMENTED, undefined)).toBe(5000);
    expect(nextPollDelay(inProgress(10), DOCUMENTED, undefined)).toBe(10_000);
  });

  it('polls just after the end the progress predicts when that is sooner, but never more than once a second', () => {
    const clock = new ProgressClock();
    expect(clock.remainingMs(inProgress(40), 0)).toBeUndefined();
    // 10 points in 5 s: 2 points a second, 50 points left → 25 s.
    expect(clock.remainingMs(inProgress(50), 5000)).toBe(25_000);
    expect(clock.remainingMs(inProgress(90), 25_000)).toBe(5000);
    expect(nextPollDelay(inProgress(90), DOCUMENTED, 5000)).toBe(5250);
    expect(nextPollDelay(inProgress(99), DOCUMENTED, 200)).toBe(1000);
    expect(new ProgressClock().remainingMs(inProgress(10, 1), 0)).toBeUndefined();
    const withPending = new ProgressClock();
    withPending.remainingMs(inProgress(0, 1), 0);
    expect(withPending.remainingMs(inProgress(50, 1), 10_000)).toBe(30_000);
  });
});

describe('SSL Labs fixtures', () => {
  it('are served by the emulator as recorded (the mapping tests read the same files)', async () => {
    const fixture = JSON.parse(readFileSync(new URL('./fixtures/grade-b-legacy.json', import.meta.url), 'utf8')) as object;
    const { client, governor } = await setUp({ resultFor: () => fixture });
    const run = await runSslLabsAssessment('legacy.example', { client, governor, polling: FAST_POLLING });
    expect(run.host.endpoints?.[0]?.grade).toBe('B');
  });
});
