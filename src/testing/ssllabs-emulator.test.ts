import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { main, startSslLabsEmulator, type EmulatorOptions, type InjectableStatus, type SslLabsEmulator } from './ssllabs-emulator.js';

// JSON answers are inspected field by field.
type Body = Record<string, any>;
interface Answer {
  status: number;
  body: Body;
  maxAssessments: string | null;
  currentAssessments: string | null;
}

const ORG_EMAIL = 'secops@example.com';
const running: SslLabsEmulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((emulator) => emulator.close()));
});

/** A clock the test moves by hand, so phases are reached exactly and nothing sleeps. */
function manualClock(): { now: () => number; advance: (ms: number) => void } {
  let time = 1_700_000_000_000;
  return { now: () => time, advance: (ms) => void (time += ms) };
}

async function start(options: EmulatorOptions = {}): Promise<SslLabsEmulator> {
  const emulator = await startSslLabsEmulator({ dnsMs: 100, assessmentMs: 1000, coolOffMs: 0, registeredEmails: [ORG_EMAIL], ...options });
  running.push(emulator);
  return emulator;
}

/** `path` is relative to the base URL, e.g. `v3/analyze?host=a.test`. */
async function call(emulator: SslLabsEmulator, path: string, init: { email?: string; method?: string; body?: unknown } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (init.email !== undefined) headers.email = init.email;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${emulator.url}${path}`, {
    method: init.method ?? 'GET',
    headers,
    ...(init.body !== undefined ? { body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body) } : {}),
  });
  return {
    status: response.status,
    body: (await response.json()) as Body,
    maxAssessments: response.headers.get('x-max-assessments'),
    currentAssessments: response.headers.get('x-current-assessments'),
  };
}

const analyze = (emulator: SslLabsEmulator, query: string, email?: string): Promise<Answer> =>
  call(emulator, email === undefined ? `v3/analyze?${query}` : `v4/analyze?${query}`, email === undefined ? {} : { email });

function twoEndpointHost(host: string): object {
  const endpoint = (ipAddress: string, grade: string): object => ({ ipAddress, grade, statusMessage: 'Ready', details: { protocols: [{ id: 772, name: 'TLS', version: '1.3' }] } });
  return { host, startTime: 1, testTime: 2, engineVersion: '2.1.10', criteriaVersion: '2009p', status: 'READY', endpoints: [endpoint('198.51.100.7', 'A+'), endpoint('198.51.100.8', 'B')], certs: [{ id: 'abc' }] };
}

describe('analyze: the life of an assessment', () => {
  it('goes DNS, then IN_PROGRESS with rising progress through TESTING_* stages, then READY with a graded endpoint', async () => {
    const clock = manualClock();
    const emulator = await start({ now: clock.now, dnsMs: 100, assessmentMs: 1000 });
    const first = await analyze(emulator, 'host=shop.example.com&startNew=on&all=done');
    expect(first.body).toMatchObject({ host: 'shop.example.com', status: 'DNS', statusMessage: 'Resolving domain names', startTime: clock.now(), engineVersion: '2.2.0', criteriaVersion: '2009q' });
    expect(first.body.endpoints).toBeUndefined();

    const startTime = clock.now();
    clock.advance(100);
    const progress: number[] = [];
    const stages = new Set<string>();
    for (let step = 0; step < 10; step += 1) {
      const { body } = await analyze(emulator, 'host=shop.example.com&all=done');
      expect(body.status).toBe('IN_PROGRESS');
      expect(body.startTime).toBe(startTime);
      expect(body.endpoints[0]).toMatchObject({ statusMessage: 'In progress' });
      expect(body.endpoints[0].details).toBeUndefined();
      progress.push(body.endpoints[0].progress as number);
      stages.add(body.endpoints[0].statusDetails as string);
      clock.advance(100);
    }
    expect(progress[0]).toBe(0);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(progress.at(-1)).toBeGreaterThanOrEqual(90);
    expect(stages.size).toBeGreaterThanOrEqual(5);
    expect([...stages].some((code) => code.startsWith('TESTING_'))).toBe(true);

    const ready = await analyze(emulator, 'host=shop.example.com&all=done');
    expect(ready.body).toMatchObject({ status: 'READY', startTime, testTime: startTime + 1100 });
    expect(ready.body.endpoints[0]).toMatchObject({ statusMessage: 'Ready', grade: 'A', progress: 100, duration: 1000 });
  });

  it('advances on the real clock when no clock is given', async () => {
    const emulator = await start({ dnsMs: 10, assessmentMs: 60 });
    const seen: string[] = [];
    let answer = await analyze(emulator, 'host=live.example.com&startNew=on');
    seen.push(answer.body.status as string);
    while (answer.body.status !== 'READY') {
      await sleep(3);
      answer = await analyze(emulator, 'host=live.example.com');
      if (seen.at(-1) !== answer.body.status) seen.push(answer.body.status as string);
    }
    expect(seen).toEqual(['DNS', 'IN_PROGRESS', 'READY']);
  });

  it('tests several endpoints one after the other: the later ones are Pending meanwhile', async () => {
    const clock = manualClock();
    const emulator = await start({ now: clock.now, dnsMs: 0, assessmentMs: 1000, resultFor: twoEndpointHost });
    await analyze(emulator, 'host=multi.example.com&startNew=on');
    clock.advance(250);
    const firstHalf = (await analyze(emulator, 'host=multi.example.com&all=on')).body;
    expect(firstHalf.endpoints[0]).toMatchObject({ ipAddress: '198.51.100.7', statusMessage: 'In progress', progress: 50 });
    expect(firstHalf.endpoints[1]).toMatchObject({ ipAddress: '198.51.100.8', statusMessage: 'Pending', progress: -1 });
    clock.advance(500);
    const secondHalf = (await analyze(emulator, 'host=multi.example.com&all=on')).body;
    expect(secondHalf.endpoints[0]).toMatchObject({ statusMessage: 'Ready', grade: 'A+', progress: 100, duration: 500 });
    expect(secondHalf.endpoints[0].details.protocols).toHaveLength(1);
    expect(secondHalf.endpoints[1]).toMatchObject({ statusMessage: 'In progress', progress: 50 });
    const doneOnly = (await analyze(emulator, 'host=multi.example.com&all=done')).body;
    expect(doneOnly.endpoints[0]).toMatchObject({ statusMessage: 'Ready', grade: 'A+' });
    expect(doneOnly.endpoints[0].details).toBeUndefined();
  });

  it('fills a supplied result with its own host, timing, status and versions', async () => {
    const clock = manualClock();
    const emulator = await start({ now: clock.now, resultFor: twoEndpointHost });
    await analyze(emulator, 'host=Fixture.Example.com&startNew=on');
    clock.advance(1100);
    const { body } = await analyze(emulator, 'host=fixture.example.com&all=done');
    expect(body).toMatchObject({ host: 'fixture.example.com', status: 'READY', startTime: clock.now() - 1100, testTime: clock.now(), engineVersion: '2.2.0', criteriaVersion: '2009q', certs: [{ id: 'abc' }] });
    expect(body.endpoints.map((e: Body) => e.details.hostStartTime)).toEqual([body.startTime, body.startTime]);
  });

  it('answers 500 naming resultFor when it returns a host without endpoints', async () => {
    const emulator = await start({ resultFor: () => ({ host: 'x' }) });
    const answer = await analyze(emulator, 'host=broken.example.com');
    expect(answer.status).toBe(500);
    expect(answer.body.errors[0].message).toMatch(/resultFor\("broken.example.com"\).*endpoints/);
  });

  it('starts an assessment when a never-seen host is polled, and startNew restarts only a finished one', async () => {
    const clock = manualClock();
    const emulator = await start({ now: clock.now });
    const polled = await analyze(emulator, 'host=new.example.com');
    expect(polled.body.status).toBe('DNS');
    clock.advance(500);
    const restartWhileRunning = await analyze(emulator, 'host=new.example.com&startNew=on');
    expect(restartWhileRunning.body).toMatchObject({ status: 'IN_PROGRESS', startTime: polled.body.startTime });
    clock.advance(1000);
    expect((await analyze(emulator, 'host=new.example.com')).body.status).toBe('READY');
    const restarted = await analyze(emulator, 'host=new.example.com&startNew=on');
    expect(restarted.body).toMatchObject({ status: 'DNS', startTime: clock.now() });
    expect(emulator.stats.starts).toBe(2);
    expect(emulator.stats.byHost['new.example.com']).toEqual({ starts: 2, polls: 2, cacheHits: 0, rateLimited: 0 });
  });

  it('rejects a missing or malformed host and bad maxAge with 400 naming the field', async () => {
    const emulator = await start();
    expect((await analyze(emulator, 'all=done')).body.errors).toEqual([{ field: 'host', message: 'qp.mandatory' }]);
    expect((await analyze(emulator, 'host=bad%20host')).body.errors[0].field).toBe('host');
    const badAge = await analyze(emulator, 'host=a.example.com&fromCache=on&maxAge=soon');
    expect(badAge.status).toBe(400);
    expect(badAge.body.errors[0].field).toBe('maxAge');
  });
});

describe('analyze: summaries and full details', () => {
  it('gives endpoint details only when READY with all=done, always-available ones with all=on, and summaries without all', async () => {
    const clock = manualClock();
    const emulator = await start({ now: clock.now });
    await analyze(emulator, 'host=detail.example.com&startNew=on');
    clock.advance(1100);
    const summary = (await analyze(emulator, 'host=detail.example.com')).body;
    expect(summary.status).toBe('READY');
    expect(summary.endpoints[0].grade).toBe('A');
    expect(summary.endpoints[0].details).toBeUndefined();
    const full = (await analyze(emulator, 'host=detail.example.com&all=done')).body;
    expect(full.endpoints[0].details).toMatchObject({ hostStartTime: full.startTime, protocols: [{ version: '1.2' }, { version: '1.3' }] });
    expect((await analyze(emulator, 'host=detail.example.com&all=on')).body.endpoints[0].details).toBeDefined();
  });

  it('generates a consistent default result: an address in 203.0.113.0/24 stable per host, chains that reference listed certs', async () => {
    const clock = manualClock();
    const emulator = await start({ now: clock.now, dnsMs: 0, assessmentMs: 0 });
    const first = (await analyze(emulator, 'host=stable.example.com&all=done')).body;
    const again = (await analyze(emulator, 'host=stable.example.com&startNew=on&all=done')).body;
    const other = (await analyze(emulator, 'host=other.example.com&all=done')).body;
    const endpoint = first.endpoints[0];
    expect(endpoint.ipAddress).toMatch(/^203\.0\.113\.(\d+)$/);
    expect(again.endpoints[0].ipAddress).toBe(endpoint.ipAddress);
    expect(other.endpoints[0].ipAddress).not.toBe(endpoint.ipAddress);
    const certIds = new Set(first.certs.map((cert: Body) => cert.id));
    const chain = endpoint.details.certChains[0];
    for (const id of [...chain.certIds, ...chain.trustPaths[0].certIds]) expect(certIds.has(id)).toBe(true);
    expect(first.certs[0]).toMatchObject({ subject: 'CN=stable.example.com', altNames: ['stable.example.com', 'www.stable.example.com'], issues: 0 });
    expect(first.certs[0].notAfter).toBeGreaterThan(clock.now());
    expect(endpoint.details).toMatchObject({ hstsPolicy: { status: 'absent' }, sims: { results: expect.any(Array) }, suites: [{ protocol: 771 }, { protocol: 772 }] });
  });
});

describe('analyze: cache', () => {
  it('fromCache starts an assessment on a miss and returns the READY report on a hit without starting one', async () => {
    const clock = manualClock();
    const emulator = await start({ now: clock.now });
    const miss = await analyze(emulator, 'host=cache.example.com&fromCache=on&all=done');
    expect(miss.body.status).toBe('DNS');
    clock.advance(1100);
    const hit = await analyze(emulator, 'host=cache.example.com&fromCache=on&maxAge=1&all=done');
    expect(hit.body).toMatchObject({ status: 'READY', startTime: miss.body.startTime });
    expect(emulator.stats).toMatchObject({ starts: 1, cacheHits: 1 });
  });

  it('fromCache with maxAge starts afresh when the cached report is older', async () => {
    const clock = manualClock();
    const emulator = await start({ now: clock.now });
    await analyze(emulator, 'host=stale.example.com&startNew=on');
    clock.advance(1100 + 2 * 3_600_000);
    const answer = await analyze(emulator, 'host=stale.example.com&fromCache=on&maxAge=1');
    expect(answer.body).toMatchObject({ status: 'DNS', startTime: clock.now() });
    expect(emulator.stats).toMatchObject({ starts: 2, cacheHits: 0 });
  });

  it('refuses startNew together with fromCache with 400', async () => {
    const emulator = await start();
    const answer = await analyze(emulator, 'host=both.example.com&startNew=on&fromCache=on');
    expect(answer.status).toBe(400);
    expect(answer.body.errors[0].message).toMatch(/startNew and fromCache/);
    expect(emulator.stats.starts).toBe(0);
  });
});

describe('rate limits', () => {
  it('answers 429 to a new assessment beyond maxAssessments, never to polls or cache reads, and admits one when a slot frees', async () => {
    const clock = manualClock();
    const emulator = await start({ now: clock.now, maxAssessments: 2 });
    await analyze(emulator, 'host=cached.example.com&startNew=on');
    clock.advance(1100);
    expect((await analyze(emulator, 'host=a.example.com&startNew=on')).currentAssessments).toBe('1');
    clock.advance(600);
    const second = await analyze(emulator, 'host=b.example.com&startNew=on');
    expect(second).toMatchObject({ status: 200, maxAssessments: '2', currentAssessments: '2' });
    const third = await analyze(emulator, 'host=c.example.com&startNew=on');
    expect(third).toMatchObject({ status: 429, maxAssessments: '2', currentAssessments: '2' });
    expect(third.body.errors[0].message).toMatch(/concurrent assessment limit/);
    expect((await analyze(emulator, 'host=a.example.com')).status).toBe(200);
    expect((await analyze(emulator, 'host=cached.example.com&fromCache=on')).status).toBe(200);
    clock.advance(500);
    expect(await analyze(emulator, 'host=c.example.com&startNew=on')).toMatchObject({ status: 200, currentAssessments: '2' });
    expect(emulator.stats).toMatchObject({ starts: 4, peakConcurrent: 2, rateLimited: { total: 1, concurrency: 1, coolOff: 0 } });
    expect(emulator.stats.byHost['c.example.com']?.rateLimited).toBe(1);
  });

  it('answers 429 to a new assessment inside the cool-off after the previous start, counting only real starts', async () => {
    const clock = manualClock();
    const emulator = await start({ now: clock.now, coolOffMs: 1000 });
    expect((await analyze(emulator, 'host=a.example.com&startNew=on')).status).toBe(200);
    clock.advance(999);
    const tooSoon = await analyze(emulator, 'host=b.example.com&startNew=on');
    expect(tooSoon).toMatchObject({ status: 429, currentAssessments: '1' });
    expect(tooSoon.body.errors[0].message).toMatch(/wait 1 ms more/);
    expect((await analyze(emulator, 'host=a.example.com')).status).toBe(200);
    clock.advance(1);
    expect((await analyze(emulator, 'host=b.example.com&startNew=on')).status).toBe(200);
    clock.advance(500);
    expect((await analyze(emulator, 'host=c.example.com')).status).toBe(429);
    expect(emulator.stats).toMatchObject({ starts: 2, rateLimited: { total: 2, concurrency: 0, coolOff: 2 } });
  });

  it('keeps limits per v4 email while all v3 callers share one', async () => {
    const clock = manualClock();
    const other = 'noc@example.org';
    const emulator = await start({ now: clock.now, maxAssessments: 1, registeredEmails: [ORG_EMAIL, other] });
    expect((await analyze(emulator, 'host=a.example.com', ORG_EMAIL)).currentAssessments).toBe('1');
    expect((await analyze(emulator, 'host=b.example.com', ORG_EMAIL)).status).toBe(429);
    expect(await analyze(emulator, 'host=b.example.com', other)).toMatchObject({ status: 200, currentAssessments: '1' });
    expect((await call(emulator, 'v4/info', { email: ORG_EMAIL })).body.currentAssessments).toBe(1);
    expect((await analyze(emulator, 'host=c.example.com')).status).toBe(200);
    expect((await analyze(emulator, 'host=d.example.com')).status).toBe(429);
  });

  it('setLimits changes what is enforced and what Info reports', async () => {
    const emulator = await start({ maxAssessments: 1 });
    await analyze(emulator, 'host=a.example.com');
    expect((await analyze(emulator, 'host=b.example.com')).status).toBe(429);
    emulator.setLimits({ maxAssessments: 5 });
    expect((await analyze(emulator, 'host=b.example.com')).status).toBe(200);
    emulator.setLimits({ coolOffMs: 250 });
    expect((await analyze(emulator, 'host=c.example.com')).status).toBe(429);
    const info = await call(emulator, 'v3/info');
    expect(info.body).toMatchObject({ maxAssessments: 5, currentAssessments: 2, newAssessmentCoolOff: 250 });
    expect(info.maxAssessments).toBe('5');
    expect(() => emulator.setLimits({ coolOffMs: -1 })).toThrow(/coolOffMs must be a number ≥ 0/);
  });

  it('puts X-Max-Assessments and X-Current-Assessments on every response, errors included', async () => {
    const emulator = await start({ maxAssessments: 3 });
    await analyze(emulator, 'host=a.example.com');
    emulator.failNext(503, 1, 'getStatusCodes');
    const answers = [
      await call(emulator, 'v3/info'),
      await call(emulator, 'v3/getStatusCodes'),
      await analyze(emulator, 'host=a.example.com&startNew=on&fromCache=on'),
      await call(emulator, 'v3/nothing'),
      await call(emulator, 'v3/analyze?host=a.example.com', { method: 'POST' }),
      await call(emulator, 'v4/info'),
    ];
    expect(answers.map((a) => a.status)).toEqual([200, 503, 400, 404, 405, 441]);
    for (const answer of answers) expect(answer.maxAssessments).toBe('3');
    expect(answers.filter((a) => a.status !== 441).map((a) => a.currentAssessments)).toEqual(['1', '1', '1', '1', '1']);
    expect(answers.find((a) => a.status === 441)?.currentAssessments).toBe('0');
  });
});

describe('errorHosts', () => {
  it('ends the assessment in ERROR with the configured statusMessage after the DNS phase, freeing its slot', async () => {
    const clock = manualClock();
    const emulator = await start({ now: clock.now, errorHosts: { 'Down.Example.com': 'Unable to connect to the server' } });
    expect((await analyze(emulator, 'host=down.example.com&startNew=on&all=done')).body.status).toBe('DNS');
    clock.advance(100);
    const answer = await analyze(emulator, 'host=down.example.com&all=done');
    expect(answer.body).toMatchObject({ status: 'ERROR', statusMessage: 'Unable to connect to the server', testTime: clock.now() });
    expect(answer.body.endpoints).toBeUndefined();
    expect(answer.currentAssessments).toBe('0');
    const fromCache = await analyze(emulator, 'host=down.example.com&fromCache=on');
    expect(fromCache.body.status).toBe('DNS');
  });
});

describe('getEndpointData and getStatusCodes', () => {
  it('returns the endpoint with details once READY and 400 before, for an unknown address or without s', async () => {
    const clock = manualClock();
    const emulator = await start({ now: clock.now });
    const started = await analyze(emulator, 'host=ep.example.com');
    expect((await call(emulator, 'v3/getEndpointData?host=ep.example.com&s=203.0.113.1')).status).toBe(400);
    clock.advance(1100);
    const ip = ((await analyze(emulator, 'host=ep.example.com')).body.endpoints[0] as Body).ipAddress as string;
    const endpoint = await call(emulator, `v3/getEndpointData?host=ep.example.com&s=${ip}`);
    expect(endpoint.status).toBe(200);
    expect(endpoint.body).toMatchObject({ ipAddress: ip, grade: 'A', statusMessage: 'Ready', details: { hostStartTime: started.body.startTime } });
    const unknown = await call(emulator, 'v3/getEndpointData?host=ep.example.com&s=192.0.2.1');
    expect(unknown).toMatchObject({ status: 400, body: { errors: [{ field: 's' }] } });
    expect((await call(emulator, 'v3/getEndpointData?host=ep.example.com')).body.errors[0].field).toBe('s');
    expect((await call(emulator, 'v3/getEndpointData?host=never.example.com&s=192.0.2.1')).status).toBe(400);
    expect(emulator.stats.starts).toBe(1);
  });

  it('lists status codes, including the ones analyze reports while testing', async () => {
    const clock = manualClock();
    const emulator = await start({ now: clock.now });
    const codes = (await call(emulator, 'v3/getStatusCodes')).body.statusDetails as Record<string, string>;
    await analyze(emulator, 'host=codes.example.com');
    clock.advance(500);
    const detail = (await analyze(emulator, 'host=codes.example.com')).body.endpoints[0].statusDetails as string;
    expect(codes[detail]).toEqual(expect.any(String));
    expect(codes.TESTING_HEARTBLEED).toBe('Testing Heartbleed');
  });

  it('reports the Info fields', async () => {
    const emulator = await start({ maxAssessments: 7, coolOffMs: 1000, messages: ['hello'] });
    expect((await call(emulator, 'v3/info')).body).toEqual({ engineVersion: '2.2.0', criteriaVersion: '2009q', maxAssessments: 7, currentAssessments: 0, newAssessmentCoolOff: 1000, messages: ['hello'] });
  });
});

describe('v4: registration and the email header', () => {
  it('answers 441 without an email or with an unregistered one, and 400 on field email for a malformed one', async () => {
    const emulator = await start();
    const missing = await call(emulator, 'v4/analyze?host=a.example.com');
    expect(missing.status).toBe(441);
    expect(missing.body.errors[0].message).toMatch(/not register/);
    expect((await call(emulator, 'v4/info', { email: 'stranger@example.net' })).status).toBe(441);
    const malformed = await call(emulator, 'v4/info', { email: 'not-an-email' });
    expect(malformed).toMatchObject({ status: 400, body: { errors: [{ field: 'email' }] } });
    expect((await call(emulator, 'v4/info', { email: ORG_EMAIL.toUpperCase() })).status).toBe(200);
    expect(emulator.stats.starts).toBe(0);
  });

  it('registers an organisation email, refuses free-mail domains and names every missing field', async () => {
    const emulator = await start({ registeredEmails: [] });
    const person = { firstName: 'Ada', lastName: 'Lovelace', organization: 'Example Ltd' };
    const incomplete = await call(emulator, 'v4/register', { method: 'POST', body: { firstName: 'Ada', email: 'ada@example.com' } });
    expect(incomplete).toMatchObject({ status: 400, body: { errors: [{ field: 'lastName', message: 'qp.mandatory' }, { field: 'organization', message: 'qp.mandatory' }] } });
    expect((await call(emulator, 'v4/register', { method: 'POST', body: '{not json' })).status).toBe(400);
    expect((await call(emulator, 'v4/register', { method: 'POST', body: { ...person, email: 'ada' } })).body.errors[0].field).toBe('email');

    const freeMail = await call(emulator, 'v4/register', { method: 'POST', body: { ...person, email: 'ada@gmail.com' } });
    expect(freeMail).toMatchObject({ status: 200, body: { status: 'failure' } });
    expect((await call(emulator, 'v4/info', { email: 'ada@gmail.com' })).status).toBe(441);

    const registered = await call(emulator, 'v4/register', { method: 'POST', body: { ...person, email: 'ada@example.com' } });
    expect(registered).toMatchObject({ status: 200, body: { status: 'success' } });
    expect((await call(emulator, 'v4/analyze?host=a.example.com', { email: 'ada@example.com' })).status).toBe(200);
  });

  it('serves register on v4 only and with POST only', async () => {
    const emulator = await start();
    expect((await call(emulator, 'v3/register', { method: 'POST', body: {} })).status).toBe(404);
    expect((await call(emulator, 'v4/register')).status).toBe(405);
  });
});

describe('failNext', () => {
  it.each<InjectableStatus>([500, 503, 529, 441, 400])('answers the next calls with %i and an error body, then serves normally', async (status) => {
    const emulator = await start();
    emulator.failNext(status, 2);
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const failed = await analyze(emulator, 'host=a.example.com&startNew=on');
      expect(failed).toMatchObject({ status, maxAssessments: '25', currentAssessments: '0' });
      expect(failed.body.errors[0].message).toEqual(expect.any(String));
    }
    expect((await analyze(emulator, 'host=a.example.com&startNew=on')).status).toBe(200);
    expect(emulator.stats).toMatchObject({ starts: 1, injectedFaults: 2 });
  });

  it('affects only the matching call', async () => {
    const emulator = await start();
    emulator.failNext(529, 1, 'analyze');
    expect((await call(emulator, 'v3/info')).status).toBe(200);
    expect((await analyze(emulator, 'host=a.example.com')).status).toBe(529);
    expect((await analyze(emulator, 'host=a.example.com')).status).toBe(200);
  });

  it('refuses a count below one', async () => {
    const emulator = await start();
    expect(() => emulator.failNext(500, 0)).toThrow(/whole number ≥ 1/);
  });
});

describe('introspection and the standalone entry', () => {
  it('logs every request with its path, query, email, status and time', async () => {
    const clock = manualClock();
    const emulator = await start({ now: clock.now, maxAssessments: 0 });
    await call(emulator, 'v4/analyze?host=a.example.com&all=done', { email: ORG_EMAIL });
    expect(emulator.requests).toEqual([
      { method: 'GET', path: '/api/v4/analyze', version: 'v4', call: 'analyze', query: { host: 'a.example.com', all: 'done' }, email: ORG_EMAIL, status: 429, at: clock.now() },
    ]);
    expect(emulator.stats.requests).toBe(1);
    expect(emulator.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/$/);
  });

  it('main starts an emulator from command-line flags and prints its URL', async () => {
    const printed: string[] = [];
    const emulator = await main(['--max-assessments', '3', '--cool-off-ms', '0', '--email', ORG_EMAIL], (line) => printed.push(line));
    running.push(emulator);
    expect(printed).toEqual([emulator.url]);
    const info = await call(emulator, 'v4/info', { email: ORG_EMAIL });
    expect(info.body).toMatchObject({ maxAssessments: 3, newAssessmentCoolOff: 0 });
    await expect(main(['--dns-ms', 'soon'])).rejects.toThrow(/--dns-ms takes a whole number/);
  });
});
