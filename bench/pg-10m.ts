/**
 * GET /api/v1/hosts/{ip} and GET /api/v1/port-scans/{a}/compare/{b} on PostgreSQL with ~10,000,000
 * port_results rows (issue 6): p50/p99 latency through the real API (createRuntime + buildTestApp,
 * app.inject) and EXPLAIN (ANALYZE, BUFFERS) of the queries behind them.
 *
 *   npx tsx bench/pg-10m.ts [--rows 10000000] [--requests 300] [--reuse] [--drop] [--pg postgres://postgres@127.0.0.1:5432/postgres]
 *
 * A scratch database (portcullis_bench_10m) is created next to the given one, migrated with the
 * project's migrations and filled by server-side SQL (generate_series + INSERT … SELECT, one batch of
 * scans per transaction). --reuse keeps a database a previous run generated with the same --rows;
 * --drop drops it and exits. Connects only to the PostgreSQL on 127.0.0.0/8; the generated rows name
 * 10.20.0.0/16 addresses, which are data only.
 */
import { statfsSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { buildConfig } from '../src/config/index.js';
import { createRuntime } from '../src/runtime/index.js';
import { type DatabaseHandle, migrateToLatest } from '../src/store/index.js';
import type { Database } from '../src/store/schema.js';
import { buildTestApp } from '../src/testing/app.js';
import { type MachineInfo, fmt, machineInfo, machineMarkdown, mean, percentile, seededRandom, uptime, writeResults } from './lib.js';

const DB_NAME = 'portcullis_bench_10m';
/** Bumped whenever the generator changes, so --reuse never measures data of another shape. */
const GENERATOR_VERSION = 1;
const SCANS_PER_BATCH = 500;
/** Every scan covers ports 1-10000: the listed rows below are what the store keeps of them. */
const PORT_COUNT = 10_000;
/** Scan i starts at 2026-01-01T00:00:00Z + i × 10 min. */
const EPOCH_MS = Date.UTC(2026, 0, 1);
const SCAN_SPACING_MS = 600_000;
/** Ports a live host may have open (a window of 1-10 consecutive entries, picked per address). */
const COMMON_PORTS = [22, 80, 443, 25, 53, 3306, 8080, 21, 110, 143, 445, 3389, 5432, 6379, 8443, 587, 993, 995, 139, 9200];

interface Args {
  rows: number;
  requests: number;
  reuse: boolean;
  drop: boolean;
  adminUrl: string;
}

function parseArgs(argv: readonly string[]): Args {
  const value = (flag: string, fallback: string): string => {
    const i = argv.indexOf(flag);
    return i >= 0 && argv[i + 1] !== undefined ? (argv[i + 1] as string) : fallback;
  };
  const rows = Number(value('--rows', '10000000'));
  const requests = Number(value('--requests', '300'));
  if (!Number.isInteger(rows) || rows < 100_000) throw new Error('--rows must be an integer ≥ 100000');
  if (!Number.isInteger(requests) || requests < 10) throw new Error('--requests must be an integer ≥ 10');
  const adminUrl = value('--pg', process.env.PORTCULLIS_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  const host = new URL(adminUrl).hostname;
  if (!/^127\.\d+\.\d+\.\d+$/.test(host) && host !== 'localhost' && host !== '[::1]') {
    throw new Error(`--pg must name a PostgreSQL on 127.0.0.0/8 or ::1 (benchmarks connect only to loopback); got host ${host}`);
  }
  return { rows, requests, reuse: argv.includes('--reuse'), drop: argv.includes('--drop'), adminUrl };
}

function databaseUrl(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function withClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

// ------------------------------------------------------------------------------------------------
// The scratch database

/** What a finished generation leaves in the database's comment, so --reuse can trust it. */
interface Generated {
  generatorVersion: number;
  targetRows: number;
  scans: number;
  scanHosts: number;
  portRows: number;
  generationMs: number;
  vacuumAnalyzeMs: number;
  generatedAt: string;
}

async function readMarker(admin: pg.Client): Promise<Generated | 'missing' | 'incomplete'> {
  const { rows } = await admin.query<{ comment: string | null }>(
    `select shobj_description(oid, 'pg_database') as comment from pg_database where datname = $1`,
    [DB_NAME],
  );
  if (rows.length === 0) return 'missing';
  try {
    return JSON.parse(rows[0]?.comment ?? '') as Generated;
  } catch {
    return 'incomplete';
  }
}

async function dropDatabase(admin: pg.Client): Promise<void> {
  await admin.query(`drop database if exists ${DB_NAME} with (force)`);
}

/** Free space where PostgreSQL keeps its data, or where we are when the data directory is not visible. */
async function freeDiskGb(admin: pg.Client): Promise<{ path: string; gb: number }> {
  let path = '/';
  try {
    path = (await admin.query<{ data_directory: string }>('show data_directory')).rows[0]?.data_directory ?? '/';
    statfsSync(path);
  } catch {
    path = process.cwd();
  }
  const s = statfsSync(path);
  return { path, gb: (s.bavail * s.bsize) / 1e9 };
}

// ------------------------------------------------------------------------------------------------
// Generation, all in SQL

/** Deterministic draw in [0, n) from a key and a salt (no random(): reruns generate the same data). */
const draw = (key: string, salt: number | string, n: number): string => `((hashint8extended((${key})::bigint, ${salt}) & 2147483647) % ${n})::int`;
const iso = (ms: string): string => `to_char(to_timestamp((${ms}) / 1000.0) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * The scans of batch [lo, hi): scan i covers one /24 of 10.20.0.0/16, except every 1000th, a weekly
 * inventory sweep of 10.20.16.0/20. A tenth of the scans watch 10.20.0.0/24 (so its addresses have
 * long histories), a fifth 10.20.1-7.0/24, the rest a /24 drawn at random.
 */
function batchScansSql(lo: number, hi: number): string {
  const hex = `lpad(to_hex(ms), 12, '0') || '7' || substr(md5(i::text), 1, 3) || '8' || substr(md5(i::text), 4, 15)`;
  return `
    create temp table bench_scans on commit drop as
    select i, ms, first_subnet, subnets,
           substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-' || substr(h, 13, 4) || '-' || substr(h, 17, 4) || '-' || substr(h, 21, 12) as id
    from (
      select i, ms, first_subnet, subnets, ${hex} as h
      from (
        select i, (${EPOCH_MS}::bigint + i::bigint * ${SCAN_SPACING_MS}) as ms,
               case when i % 1000 = 999 then 16 when i % 10 = 0 then 0 when i % 10 in (1, 2) then 1 + ${draw('i', 1, 7)} else ${draw('i', 2, 256)} end as first_subnet,
               case when i % 1000 = 999 then 16 else 1 end as subnets
        from generate_series(${lo}, ${hi - 1}) as g(i)
      ) s
    ) t`;
}

/**
 * One row per (scan, address). 35 % of addresses are live hosts (each answering 97 % of the scans);
 * a host is a `server` (75 %: 1-6 open ports, the rest closed, a quarter with 2-15 filtered ports
 * listed), `firewalled` (20 %: 1-3 open, the rest filtered, 0-5 closed listed) or `messy` (5 %: 2-10
 * open, the rest closed, 20-80 ports rejected by ICMP admin-prohibited listed). Each open port is
 * missing from 5 % of the scans and 2 % of the scans see one extra port in 7000-7099, so consecutive
 * scans differ the way a perimeter does.
 */
function batchHostsSql(): string {
  const common = `array[${COMMON_PORTS.join(',')}]`;
  return `
    create temp table bench_hosts on commit drop as
    with addr as (
      select s.id as scan_id, s.i, s.ms, g.a, s.i::bigint * 65536 + g.a as sa, ${draw('g.a', 5, 100)} as roll
      from bench_scans s cross join lateral generate_series(s.first_subnet * 256, (s.first_subnet + s.subnets) * 256 - 1) as g(a)
    ), shaped as (
      select addr.*,
             ${draw('a', 3, 100)} < 35 and ${draw('sa', 4, 100)} < 97 as live,
             case when roll < 75 then 'server' when roll < 95 then 'firewalled' else 'messy' end as profile,
             case when roll < 75 then 1 + ${draw('a', 6, 6)} when roll < 95 then 1 + ${draw('a', 6, 3)} else 2 + ${draw('a', 6, 9)} end as k,
             case when roll < 75 then (case when ${draw('a', 7, 4)} = 0 then 2 + ${draw('a', 9, 14)} else 0 end)
                  when roll < 95 then ${draw('a', 9, 6)}
                  else 20 + ${draw('a', 9, 61)} end as listed_len,
             case when roll < 75 then 1100 + ${draw('a', 8, 400)} when roll < 95 then 2000 + ${draw('a', 8, 500)} else 4000 + ${draw('a', 8, 1000)} end as listed_start
      from addr
    )
    select shaped.*,
           '10.20.' || (a / 256) || '.' || (a % 256) as ip,
           '40a14' || lpad(to_hex(a), 4, '0') as ip_key,
           case when not live then array[]::int[]
                else array(select (${common})[1 + (${draw('a', 10, 20)} + j) % 20] from generate_series(0, k - 1) as j where ${draw('sa', '20 + j', 100)} < 95)
                     || case when ${draw('sa', 40, 100)} < 2 then array[7000 + ${draw('sa', 41, 100)}] else array[]::int[] end
           end as open_ports
    from shaped`;
}

/** scan_hosts columns of a bench_hosts row: counts consistent with the listed rows, as summarizeHost makes them. */
const HOST_COLUMNS_SQL = `
  select h.*, open_count,
         case when not live then 0 when profile = 'firewalled' then listed_len else ${PORT_COUNT} - open_count - listed_len end as closed_count,
         case when not live then ${PORT_COUNT} when profile = 'firewalled' then ${PORT_COUNT} - open_count - listed_len else listed_len end as filtered_count
  from bench_hosts h cross join lateral (select cardinality(h.open_ports) as open_count) o`;

function insertScansSql(): string {
  return `
    insert into port_scans (id, status, targets, exclude, ports_spec, port_set, port_count, options, plan, address_count, hosts_done,
                            progress_done, progress_total, created_at, started_at, finished_at, error, stats)
    select s.id, 'done',
           '["10.20.' || s.first_subnet || '.0/' || (case when s.subnets = 1 then 24 else 20 end) || '"]', '[]',
           '1-${PORT_COUNT}', '1-${PORT_COUNT}', ${PORT_COUNT}, '{"timing":4}',
           json_build_object('ranges', json_build_array(json_build_object('family', 4, 'start', (169082880 + s.first_subnet * 256)::text,
                             'end', (169082880 + (s.first_subnet + s.subnets) * 256 - 1)::text)), 'hostnames', '{}'::json, 'addressCount', s.subnets * 256)::text,
           s.subnets * 256, s.subnets * 256, s.subnets * 256 * ${PORT_COUNT}, s.subnets * 256 * ${PORT_COUNT},
           ${iso('s.ms')}, ${iso('s.ms + 5000')}, ${iso('s.ms + 5000 + s.subnets * 60000')}, null,
           json_build_object('hostsTotal', st.hosts, 'hostsUp', st.up, 'open', st.open, 'closed', st.closed, 'filtered', st.filtered,
                             'portsPerHost', ${PORT_COUNT}, 'durationMs', 5000 + s.subnets * 60000)::text
    from bench_scans s
    join (
      select scan_id, count(*) as hosts, count(*) filter (where open_count > 0 or closed_count > 0) as up,
             sum(open_count) as open, sum(closed_count) as closed, sum(filtered_count) as filtered
      from (${HOST_COLUMNS_SQL}) c group by scan_id
    ) st on st.scan_id = s.id`;
}

function insertHostsSql(): string {
  return `
    insert into scan_hosts (scan_id, ip, ip_key, hostnames, status, open_count, closed_count, filtered_count, extra_state, extra_count,
                            extra_reasons, srtt_ms, started_at, finished_at)
    select scan_id, ip, ip_key, '[]',
           case when open_count > 0 or closed_count > 0 then 'up' else 'no-response' end,
           open_count, closed_count, filtered_count,
           case when live and profile <> 'firewalled' then 'closed' else 'filtered' end,
           case when live and profile <> 'firewalled' then closed_count else filtered_count end,
           case when live and profile <> 'firewalled' then json_build_object('conn-refused', closed_count) else json_build_object('no-response', filtered_count) end::text,
           case when live then 0.3 + ${draw('sa', 31, 3000)} / 1000.0 end,
           ${iso('ms + 5000')}, ${iso('ms + 5000 + 60000')}
    from (${HOST_COLUMNS_SQL}) c
    order by scan_id, ip`;
}

/**
 * Listed rows: every open port (with the service the detector would report: banners, HTTP titles,
 * TLS facts; OpenSSH upgraded from 9.2p1 to 9.6p1 on each host at some point) and the host's listed
 * non-dominant ports.
 */
function insertPortsSql(): string {
  const sshVersion = `case when h.i < 6000 + ${draw('h.a', 11, 6000)} then '9.2p1' else '9.6p1' end`;
  return `
    insert into port_results (scan_id, ip, port, protocol, state, reason, rtt_ms, service_name, service_product, service_version,
                              service_method, banner, tls, http)
    select h.scan_id, h.ip, p.port, 'tcp', 'open', 'syn-ack', 0.2 + ${draw('h.sa + p.port', 30, 5000)} / 1000.0,
           svc.name, svc.product,
           case when p.port = 22 then ${sshVersion} else svc.version end,
           svc.method,
           case when p.port = 22 then 'SSH-2.0-OpenSSH_' || ${sshVersion} || ' Debian-2' else svc.banner end,
           case when svc.tls then json_build_object('version', 'TLSv1.3', 'cipher', 'TLS_AES_256_GCM_SHA384', 'subject', 'CN=host-' || h.a || '.bench.test',
                                                    'issuer', 'CN=Bench CA', 'notAfter', '2026-09-01T00:00:00.000Z', 'selfSigned', false)::text end,
           case when svc.http then json_build_object('status', 200, 'server', svc.product, 'title', 'Host ' || h.a)::text end
    from bench_hosts h
    cross join lateral unnest(h.open_ports) as p(port)
    left join (values
      (22, 'ssh', 'OpenSSH', null, 'probed', null, false, false),
      (80, 'http', 'nginx', '1.24.0', 'probed', null, false, true),
      (443, 'https', 'nginx', '1.24.0', 'probed', null, true, true),
      (25, 'smtp', 'Postfix', null, 'probed', '220 mail.bench.test ESMTP Postfix', false, false),
      (53, 'domain', null, null, 'table', null, false, false),
      (3306, 'mysql', 'MySQL', '8.0.36', 'probed', null, false, false),
      (8080, 'http', 'Apache Tomcat', '10.1.19', 'probed', null, false, true),
      (21, 'ftp', 'vsftpd', '3.0.5', 'probed', '220 (vsFTPd 3.0.5)', false, false),
      (110, 'pop3', 'Dovecot', null, 'probed', '+OK Dovecot ready.', false, false),
      (143, 'imap', 'Dovecot', null, 'probed', '* OK Dovecot ready.', false, false),
      (445, 'microsoft-ds', null, null, 'table', null, false, false),
      (3389, 'ms-wbt-server', null, null, 'table', null, false, false),
      (5432, 'postgresql', null, null, 'table', null, false, false),
      (6379, 'redis', 'Redis', '7.2.4', 'probed', null, false, false),
      (8443, 'https', 'nginx', '1.24.0', 'probed', null, true, true),
      (587, 'submission', 'Postfix', null, 'probed', '220 mail.bench.test ESMTP Postfix', false, false),
      (993, 'imaps', 'Dovecot', null, 'probed', null, true, false),
      (995, 'pop3s', 'Dovecot', null, 'probed', null, true, false),
      (139, 'netbios-ssn', null, null, 'table', null, false, false),
      (9200, 'http', 'Elasticsearch', '8.12.2', 'probed', null, false, true)
    ) as svc(port, name, product, version, method, banner, tls, http) on svc.port = p.port
    union all
    select h.scan_id, h.ip, p.port, 'tcp',
           case when h.profile = 'firewalled' then 'closed' else 'filtered' end,
           case h.profile when 'firewalled' then 'conn-refused' when 'server' then 'no-response' else 'admin-prohibited' end,
           case when h.profile <> 'server' then 0.2 + ${draw('h.sa + p.port', 30, 5000)} / 1000.0 end,
           null, null, null, null, null, null, null
    from bench_hosts h
    cross join lateral generate_series(h.listed_start, h.listed_start + h.listed_len - 1) as p(port)
    where h.live
    order by 1, 2, 3`;
}

async function generate(url: string, targetRows: number): Promise<Generated> {
  const started = performance.now();
  let scans = 0;
  let scanHosts = 0;
  let portRows = 0;
  await withClient(url, async (client) => {
    // JIT compiling each batch's statements costs seconds and saves nothing here. Foreign-key
    // triggers (one lookup per row) are skipped while loading and the keys checked in bulk below.
    await client.query('set jit = off');
    await client.query('set session_replication_role = replica');
    while (portRows < targetRows) {
      const batchStarted = performance.now();
      await client.query('begin');
      await client.query(batchScansSql(scans, scans + SCANS_PER_BATCH));
      await client.query(batchHostsSql());
      await client.query(insertScansSql());
      scanHosts += (await client.query(insertHostsSql())).rowCount ?? 0;
      portRows += (await client.query(insertPortsSql())).rowCount ?? 0;
      await client.query('commit');
      scans += SCANS_PER_BATCH;
      console.error(
        `[bench] generated ${scans} scans, ${scanHosts.toLocaleString('en-US')} hosts, ${portRows.toLocaleString('en-US')} port rows (batch ${fmt((performance.now() - batchStarted) / 1000, 1)} s)`,
      );
    }
    await client.query('set session_replication_role = origin');
    const { rows } = await client.query<{ orphans: number }>(`
      select (select count(*) from scan_hosts h where not exists (select 1 from port_scans s where s.id = h.scan_id))
           + (select count(*) from port_results p where not exists (select 1 from scan_hosts h where h.scan_id = p.scan_id and h.ip = p.ip)) as orphans`);
    if (Number(rows[0]?.orphans) !== 0) throw new Error(`the generator left ${rows[0]?.orphans} rows without their parent row`);
  });
  const generationMs = performance.now() - started;
  const vacuumStarted = performance.now();
  // Visibility map and statistics, as autovacuum would leave them after a while: index-only scans and
  // the planner's estimates depend on them.
  await withClient(url, (client) => client.query('vacuum (analyze) port_scans, scan_hosts, port_results'));
  return {
    generatorVersion: GENERATOR_VERSION,
    targetRows,
    scans,
    scanHosts,
    portRows,
    generationMs,
    vacuumAnalyzeMs: performance.now() - vacuumStarted,
    generatedAt: new Date().toISOString(),
  };
}

async function prepareDatabase(args: Args, url: string): Promise<{ generated: Generated; reused: boolean }> {
  return withClient(args.adminUrl, async (admin) => {
    const marker = await readMarker(admin);
    if (args.reuse && typeof marker === 'object' && marker.generatorVersion === GENERATOR_VERSION && marker.targetRows === args.rows) {
      console.error(`[bench] reusing ${DB_NAME} generated at ${marker.generatedAt} (${marker.portRows.toLocaleString('en-US')} port rows)`);
      return { generated: marker, reused: true };
    }
    if (args.reuse) console.error(`[bench] ${DB_NAME}: no complete generation for --rows ${args.rows} to reuse (${typeof marker === 'object' ? `found one for --rows ${marker.targetRows}, generator ${marker.generatorVersion}` : marker}); generating`);
    const disk = await freeDiskGb(admin);
    // ~0.55 GB per million rows (tables, indexes, WAL in flight), with room to spare.
    const neededGb = Math.ceil((args.rows / 1e6) * 1.5);
    console.error(`[bench] free disk at ${disk.path}: ${fmt(disk.gb, 1)} GB (need ≥ ${neededGb} GB)`);
    if (disk.gb < neededGb) throw new Error(`only ${fmt(disk.gb, 1)} GB free at ${disk.path}; generating ${args.rows} rows needs about ${neededGb} GB`);
    await dropDatabase(admin);
    await admin.query(`create database ${DB_NAME}`);
    const handle = benchHandle(url);
    try {
      await migrateToLatest(handle);
    } finally {
      await handle.db.destroy();
    }
    const generated = await generate(url, args.rows);
    await admin.query(`comment on database ${DB_NAME} is '${JSON.stringify(generated)}'`);
    return { generated, reused: false };
  });
}

// ------------------------------------------------------------------------------------------------
// Measuring through the API

interface CapturedQuery {
  sql: string;
  parameters: readonly unknown[];
}

/** Statements the store sends while `capture` is set, so the bench explains exactly those. */
const captured: CapturedQuery[] = [];
let capture = false;

function benchHandle(url: string): DatabaseHandle {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool }),
    log: (event) => {
      if (capture && event.level === 'query') captured.push({ sql: event.query.sql, parameters: event.query.parameters });
    },
  });
  return { db, dialect: 'postgres', location: url };
}

interface Group {
  name: string;
  /** Request paths, measured in this order. */
  urls: string[];
  /** The answer every request must get. */
  status: 200 | 404;
}

/** Consecutive scans of the same target: the comparison users ask for ("what changed since last time"). */
function consecutivePairs(scans: ReadonlyArray<{ id: string; targets: string }>): Map<string, Array<[string, string]>> {
  const last = new Map<string, string>();
  const pairs = new Map<string, Array<[string, string]>>();
  for (const scan of scans) {
    const previous = last.get(scan.targets);
    if (previous !== undefined) {
      const kind = scan.targets.endsWith('/20"]') ? '/20' : '/24';
      let list = pairs.get(kind);
      if (!list) pairs.set(kind, (list = []));
      list.push([previous, scan.id]);
    }
    last.set(scan.targets, scan.id);
  }
  return pairs;
}

async function requestGroups(handle: DatabaseHandle, requests: number): Promise<Group[]> {
  // Seeded: every run asks for the same "random" IPs and scan pairs.
  const random = seededRandom(42);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const address = (a: number): string => `10.20.${a >> 8}.${a & 255}`;
  const scans = await handle.db.selectFrom('port_scans').select(['id', 'targets']).orderBy('created_at').orderBy('id').execute();
  const pairs = consecutivePairs(scans);
  const compareUrls = (list: ReadonlyArray<[string, string]>, n: number): string[] =>
    Array.from({ length: n }, () => pick(list)).map(([a, b]) => `/api/v1/port-scans/${a}/compare/${b}`);
  const hosts = (n: number, addresses: number, query = ''): string[] =>
    Array.from({ length: n }, () => `/api/v1/hosts/${address(Math.floor(random() * addresses))}${query}`);
  // The largest page and the /20 sweeps (2 × 4,096 hosts per comparison) take longer: fewer requests.
  const fewer = Math.max(10, Math.round(requests / 5));
  return [
    // The fixed cost of a request (routing, API key, two empty index lookups), to read the others against.
    { name: 'hosts/{ip}: an address no scan covered (404)', urls: Array.from({ length: fewer }, () => '/api/v1/hosts/10.21.0.1'), status: 404 },
    { name: 'hosts/{ip}: any address of 10.20.0.0/16', urls: hosts(requests, 65536), status: 200 },
    { name: 'hosts/{ip}: 10.20.0.0/24 (long histories)', urls: hosts(requests, 256), status: 200 },
    { name: 'hosts/{ip}?limit=1000: 10.20.0.0/24', urls: hosts(fewer, 256, '?limit=1000'), status: 200 },
    { name: 'compare: consecutive scans of one /24', urls: compareUrls(pairs.get('/24') ?? [], requests), status: 200 },
    { name: 'compare: consecutive /20 sweeps', urls: compareUrls(pairs.get('/20') ?? [], fewer), status: 200 },
  ];
}

interface Latency {
  group: string;
  requests: number;
  p50: number;
  p99: number;
  mean: number;
  max: number;
  meanResponseKb: number;
  /** The request with the largest answer: the one whose queries are explained. */
  largestUrl: string;
}

const WARM_UP_REQUESTS = 10;

/**
 * Sequential requests, the groups interleaved (one request of each in turn) so that the load other
 * processes put on the machine meanwhile weighs on every group alike.
 */
async function measureGroups(app: FastifyInstance, groups: readonly Group[]): Promise<Latency[]> {
  const get = async (url: string, status: number): Promise<{ ms: number; bytes: number }> => {
    const started = performance.now();
    const res = await app.inject({ method: 'GET', url });
    const ms = performance.now() - started;
    if (res.statusCode !== status) throw new Error(`GET ${url}: ${res.statusCode} (expected ${status}) ${res.body.slice(0, 300)}`);
    return { ms, bytes: res.rawPayload.length };
  };
  // Unmeasured: code paths and the pages each kind of request touches get warm.
  for (const group of groups) for (const url of group.urls.slice(-WARM_UP_REQUESTS)) await get(url, group.status);
  const samples = groups.map(() => ({ times: [] as number[], bytes: 0, largest: { url: '', bytes: -1 } }));
  const longest = Math.max(...groups.map((g) => g.urls.length));
  for (let i = 0; i < longest; i++) {
    for (const [g, group] of groups.entries()) {
      const url = group.urls[i];
      if (url === undefined) continue;
      const { ms, bytes } = await get(url, group.status);
      const sample = samples[g] as (typeof samples)[number];
      sample.times.push(ms);
      sample.bytes += bytes;
      if (bytes > sample.largest.bytes) sample.largest = { url, bytes };
    }
    if ((i + 1) % 50 === 0) console.error(`[bench] ${i + 1} of ${longest} rounds`);
  }
  return groups.map((group, g) => {
    const { times, bytes, largest } = samples[g] as (typeof samples)[number];
    return {
      group: group.name,
      requests: times.length,
      p50: percentile(times, 50),
      p99: percentile(times, 99),
      mean: mean(times),
      max: Math.max(...times),
      meanResponseKb: bytes / times.length / 1024,
      largestUrl: largest.url,
    };
  });
}

interface Plan {
  group: string;
  sql: string;
  parameters: string;
  plan: string;
}

/**
 * EXPLAIN (ANALYZE, BUFFERS) of the statements a request sends, with the values it sent. Lookups of
 * one scan by its primary key are left out.
 */
async function explainRequest(app: FastifyInstance, group: string, url: string): Promise<Plan[]> {
  captured.length = 0;
  capture = true;
  await app.inject({ method: 'GET', url });
  capture = false;
  const statements = captured.filter((q) => /scan_hosts|port_results/.test(q.sql));
  return withClient(benchUrl, async (client) => {
    const plans: Plan[] = [];
    for (const q of statements) {
      const { rows } = await client.query<{ 'QUERY PLAN': string }>(`explain (analyze, buffers) ${q.sql}`, [...q.parameters]);
      const parameters = q.parameters.length > 4 ? `${JSON.stringify(q.parameters.slice(0, 4)).slice(0, -1)}, … ${q.parameters.length} values]` : JSON.stringify(q.parameters);
      plans.push({ group: `${group}: GET ${url}`, sql: q.sql, parameters, plan: rows.map((r) => r['QUERY PLAN']).join('\n') });
    }
    return plans;
  });
}

interface DatabaseFacts {
  server: string;
  /** Planner and memory settings the figures depend on. */
  settings: Record<string, string>;
  totalGb: number;
  relations: Array<{ name: string; kind: string; mb: number }>;
  /** port_results rows by state. */
  states: Record<string, number>;
  /** Scans per address: median, 99th percentile and maximum over the addresses with any row. */
  scansPerAddress: { p50: number; p99: number; max: number };
}

async function databaseFacts(): Promise<DatabaseFacts> {
  return withClient(benchUrl, async (client) => {
    const server = (await client.query<{ version: string }>('select version()')).rows[0]?.version ?? '';
    const settings: Record<string, string> = {};
    for (const name of ['shared_buffers', 'effective_cache_size', 'work_mem', 'random_page_cost', 'max_parallel_workers_per_gather', 'jit']) {
      settings[name] = (await client.query<Record<string, string>>(`show ${name}`)).rows[0]?.[name] ?? '';
    }
    const total = await client.query<{ bytes: string }>('select pg_database_size(current_database()) as bytes');
    const { rows } = await client.query<{ name: string; kind: string; bytes: string }>(`
      select c.relname as name, case c.relkind when 'i' then 'index' else 'table' end as kind, pg_relation_size(c.oid) as bytes
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relkind in ('r', 'i') and pg_relation_size(c.oid) > 1048576
      order by pg_relation_size(c.oid) desc`);
    const states = await client.query<{ state: string; n: string }>('select state, count(*) as n from port_results group by state order by n desc');
    const perAddress = await client.query<{ p50: number; p99: number; max: number }>(`
      select percentile_disc(0.5) within group (order by n) as p50, percentile_disc(0.99) within group (order by n) as p99, max(n) as max
      from (select count(*) as n from scan_hosts group by ip) c`);
    return {
      server,
      settings,
      totalGb: Number(total.rows[0]?.bytes) / 1e9,
      relations: rows.map((r) => ({ name: r.name, kind: r.kind, mb: Number(r.bytes) / 1048576 })),
      states: Object.fromEntries(states.rows.map((r) => [r.state, Number(r.n)])),
      scansPerAddress: { p50: Number(perAddress.rows[0]?.p50), p99: Number(perAddress.rows[0]?.p99), max: Number(perAddress.rows[0]?.max) },
    };
  });
}

let benchUrl = '';

const ms = (x: number): string => fmt(x, x < 10 ? 1 : 0);
const count = (x: number): string => x.toLocaleString('en-US');

interface Outcome {
  args: Args;
  machine: MachineInfo;
  generated: Generated;
  reused: boolean;
  applied: string[];
  facts: DatabaseFacts;
  latencies: Latency[];
  plans: Plan[];
}

function report(o: Outcome, uptimeAfter: string): string {
  const { generated: g, facts: f } = o;
  const totalRows = Object.values(f.states).reduce((a, b) => a + b, 0);
  const lines = [
    '# pg-10m: host history and scan comparison on PostgreSQL with ~10 million port rows',
    '',
    machineMarkdown(o.machine, uptimeAfter),
    `- PostgreSQL: ${f.server}; ${Object.entries(f.settings).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    '',
    '## Command',
    '',
    '```sh',
    `npx tsx bench/pg-10m.ts --rows ${o.args.rows} --requests ${o.args.requests}${o.args.reuse ? ' --reuse' : ''}`,
    '```',
    '',
    'It runs the TypeScript sources in-process (tsx), not dist/.',
    '',
    '## Data',
    '',
    `Database \`${DB_NAME}\`, migrated with the project's migrations, filled by \`INSERT … SELECT\` over \`generate_series\` in batches of ${SCANS_PER_BATCH} scans` +
      ` (foreign-key triggers off while loading, then checked in one query: 0 orphans), then \`VACUUM (ANALYZE)\`.` +
      (o.reused ? ` **Reused** from an earlier run (--reuse): generated at ${g.generatedAt}.` : '') +
      (o.applied.length > 0 ? ` Migrations applied at the start of this run: ${o.applied.join(', ')}.` : ''),
    '',
    `- ${count(g.scans)} finished port scans (ports 1-${PORT_COUNT}), one every 10 minutes from 2026-01-01: a /24 of 10.20.0.0/16 each, every 1000th a sweep of 10.20.16.0/20;` +
      ' a tenth of them watch 10.20.0.0/24, a fifth 10.20.1-7.0/24, the rest a random /24.',
    `- ${count(g.scanHosts)} \`scan_hosts\` rows (every address of every scan; 35 % of addresses are live hosts, each answering 97 % of the scans)` +
      ` and **${count(g.portRows)} \`port_results\` rows**: ${Object.entries(f.states).map(([state, n]) => `${state} ${count(n)} (${fmt((100 * n) / totalRows, 1)} %)`).join(', ')}.`,
    '- Listed rows as summarizeHost stores them: open ports with their services (banners, TLS and HTTP facts; OpenSSH upgraded from 9.2p1 to 9.6p1 at some point per host), and the non-dominant ports of' +
      ' hosts with a partial firewall; the dominant state is counted in the host row. Each open port is missing from 5 % of the scans and 2 % of the scans see an extra port, so consecutive scans differ.',
    `- Scans per address: median ${f.scansPerAddress.p50}, 99th percentile ${f.scansPerAddress.p99}, max ${count(f.scansPerAddress.max)} (10.20.0.0/24).`,
    `- Generation ${fmt(g.generationMs / 1000, 0)} s, \`VACUUM (ANALYZE)\` ${fmt(g.vacuumAnalyzeMs / 1000, 1)} s; database ${fmt(f.totalGb, 2)} GB. The machine has ${o.machine.memTotalMb} MB of RAM: the database fits in the page cache, so these are warm-cache figures.`,
    '',
    '| relation | kind | size |',
    '|---|---|---:|',
    ...f.relations.map((r) => `| \`${r.name}\` | ${r.kind} | ${fmt(r.mb, 0)} MB |`),
    '',
    '## Latency through the API',
    '',
    `\`createRuntime\` on this database and \`buildTestApp\` (an admin API key, the rate limit raised out of the way), \`app.inject\` GET, one request at a time,` +
      ` the groups interleaved; ${WARM_UP_REQUESTS} unmeasured requests per group first. IPs and scan pairs drawn with a fixed seed, so every run asks the same.` +
      ' Compared pairs are consecutive scans of the same target (what changed since the previous scan).',
    '',
    '| request | requests | p50 | p99 | mean | max | mean response |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...o.latencies.map((l) => `| ${l.group} | ${l.requests} | **${ms(l.p50)} ms** | **${ms(l.p99)} ms** | ${ms(l.mean)} ms | ${ms(l.max)} ms | ${fmt(l.meanResponseKb, 1)} KB |`),
    '',
    '## Query plans',
    '',
    'EXPLAIN (ANALYZE, BUFFERS) of the statements sent by the request with the largest answer in each group (captured from the store, run again with the same values; lookups of a scan by id left out).',
  ];
  // Long `in (…)` lists cut short here; the JSON file has them whole.
  const clip = (text: string): string => text.split('\n').map((line) => (line.length > 400 ? `${line.slice(0, 400)} …` : line)).join('\n');
  let group = '';
  for (const p of o.plans) {
    if (p.group !== group) lines.push('', `### ${p.group}`);
    group = p.group;
    lines.push('', '```sql', clip(p.sql), `-- parameters: ${p.parameters}`, '```', '', '```', clip(p.plan), '```');
  }
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  benchUrl = databaseUrl(args.adminUrl, DB_NAME);
  if (args.drop) {
    await withClient(args.adminUrl, dropDatabase);
    console.error(`[bench] dropped ${DB_NAME}`);
    return;
  }
  const machine = machineInfo();
  const { generated, reused } = await prepareDatabase(args, benchUrl);

  const handle = benchHandle(benchUrl);
  // A reused database gets the migrations added since it was generated.
  const { applied } = await migrateToLatest(handle);
  const runtime = await createRuntime(buildConfig({}, { databaseUrl: benchUrl, logLevel: 'warn', auth: { rateLimitPerMinute: 1_000_000 } }), { database: handle });
  const app = await buildTestApp(runtime);
  try {
    const groups = await requestGroups(handle, args.requests);
    const facts = await databaseFacts();
    const latencies = await measureGroups(app, groups);
    for (const l of latencies) console.error(`[bench] ${l.group}: p50 ${ms(l.p50)} ms, p99 ${ms(l.p99)} ms (${l.requests} requests)`);
    const plans: Plan[] = [];
    for (const [g, group] of groups.entries()) {
      if (group.status === 200) plans.push(...(await explainRequest(app, group.name, (latencies[g] as Latency).largestUrl)));
    }
    const outcome: Outcome = { args, machine, generated, reused, applied, facts, latencies, plans };
    const uptimeAfter = uptime();
    writeResults('pg-10m', report(outcome, uptimeAfter), { ...outcome, uptimeAfter });
  } finally {
    await app.close();
    await runtime.close();
    await handle.db.destroy();
  }
}

await main();
