import { readFileSync } from 'node:fs';
import Type, { type Static } from 'typebox';
import Value from 'typebox/value';
import { invalid } from './index.js';

/** The shape of the optional JSON config file (PORTCULLIS_CONFIG); unknown keys are rejected. */
const ConfigFileSchema = Type.Object(
  {
    server: Type.Optional(
      Type.Object(
        {
          host: Type.Optional(Type.String()),
          port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
          tlsCertFile: Type.Optional(Type.String()),
          tlsKeyFile: Type.Optional(Type.String()),
          corsOrigins: Type.Optional(Type.Array(Type.String())),
          trustProxy: Type.Optional(Type.Boolean()),
          bodyLimitBytes: Type.Optional(Type.Integer({ minimum: 1024, maximum: 64 * 1024 * 1024 })),
        },
        { additionalProperties: false },
      ),
    ),
    dataDir: Type.Optional(Type.String()),
    databaseUrl: Type.Optional(Type.String()),
    redisUrl: Type.Optional(Type.String()),
    redisPrefix: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.-]+$' })),
    databasePoolSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
    sqliteDriver: Type.Optional(Type.Union([Type.Literal('auto'), Type.Literal('better-sqlite3'), Type.Literal('node:sqlite')])),
    logLevel: Type.Optional(Type.Union([Type.Literal('fatal'), Type.Literal('error'), Type.Literal('warn'), Type.Literal('info'), Type.Literal('debug'), Type.Literal('trace'), Type.Literal('silent')])),
    worker: Type.Optional(
      Type.Object(
        {
          concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 64 })),
          leaseMs: Type.Optional(Type.Integer({ minimum: 1000, maximum: 3600000 })),
          maxLostRuns: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })),
          shutdownGraceMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 3600000 })),
          connections: Type.Optional(Type.Integer({ minimum: 4, maximum: 1_000_000 })),
        },
        { additionalProperties: false },
      ),
    ),
    scope: Type.Optional(
      Type.Object(
        {
          allow: Type.Optional(Type.Array(Type.String())),
          deny: Type.Optional(Type.Array(Type.String())),
          maxAddressesPerScan: Type.Optional(Type.Integer({ minimum: 1 })),
        },
        { additionalProperties: false },
      ),
    ),
    dns: Type.Optional(
      Type.Object(
        {
          servers: Type.Optional(Type.Array(Type.String())),
          hosts: Type.Optional(Type.Record(Type.String(), Type.Array(Type.String()))),
          timeoutMs: Type.Optional(Type.Integer({ minimum: 1 })),
        },
        { additionalProperties: false },
      ),
    ),
    portscan: Type.Optional(
      Type.Object(
        {
          portListFile: Type.Optional(Type.String()),
          defaultPorts: Type.Optional(Type.String()),
          maxConcurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000 })),
          maxHostConnections: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000 })),
          shardProbes: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000_000 })),
          serviceDetection: Type.Optional(Type.Boolean()),
          bannerTimeoutMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 60000 })),
          connector: Type.Optional(Type.Union([Type.Literal('auto'), Type.Literal('handle'), Type.Literal('socket')])),
        },
        { additionalProperties: false },
      ),
    ),
    tls: Type.Optional(
      Type.Object(
        {
          caFiles: Type.Optional(Type.Array(Type.String())),
          maxAgeSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 31_536_000 })),
          timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 120_000 })),
          parallelism: Type.Optional(Type.Integer({ minimum: 1, maximum: 64 })),
          concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 64 })),
        },
        { additionalProperties: false },
      ),
    ),
    monitor: Type.Optional(
      Type.Object(
        {
          defaultSchedule: Type.Optional(
            Type.Union([
              Type.Object({ everySeconds: Type.Integer({ minimum: 60, maximum: 31_536_000 }) }, { additionalProperties: false }),
              Type.Object({ cron: Type.String({ minLength: 1, maxLength: 120 }) }, { additionalProperties: false }),
            ]),
          ),
          expiryRescanDays: Type.Optional(Type.Integer({ minimum: 0, maximum: 365 })),
          rescanAfterExpiry: Type.Optional(Type.Boolean()),
          jitterSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400 })),
          tickSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 3600 })),
          scanBatchSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
        },
        { additionalProperties: false },
      ),
    ),
    auth: Type.Optional(
      Type.Object(
        {
          publicMetrics: Type.Optional(Type.Boolean()),
          rateLimitPerMinute: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
          maxConcurrentScans: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
          // Checked by parseOidcConfig, which names each problem.
          oidc: Type.Optional(Type.Unknown()),
        },
        { additionalProperties: false },
      ),
    ),
    ssllabs: Type.Optional(
      Type.Object(
        {
          email: Type.Optional(Type.String()),
          apiVersion: Type.Optional(Type.Union([Type.Literal('v3'), Type.Literal('v4')])),
          baseUrl: Type.Optional(Type.String()),
          fromCacheMaxAgeHours: Type.Optional(Type.Integer({ minimum: 1, maximum: 8760 })),
          pollDnsMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 600_000 })),
          pollMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 600_000 })),
          coolOffMarginMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 60_000 })),
          rateLimitBackoffMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 3_600_000 })),
          pauseMinMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 7_200_000 })),
          pauseMaxMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 7_200_000 })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type ConfigFile = Static<typeof ConfigFileSchema>;

export function readConfigFile(file: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw invalid(`cannot read config file ${file}: ${(err as Error).message}`, 'PORTCULLIS_CONFIG', file);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw invalid(`config file ${file} is not valid JSON: ${(err as Error).message}`, 'PORTCULLIS_CONFIG', file);
  }
  if (!Value.Check(ConfigFileSchema, parsed)) {
    const first = [...Value.Errors(ConfigFileSchema, parsed)][0];
    const where = first?.instancePath || '/';
    // TypeBox reports an unknown key as a `false` schema; say it the way a user thinks of it.
    const problem = first?.keyword === 'boolean' ? 'is not a known setting' : (first?.message ?? 'is invalid');
    throw invalid(`config file ${file}: ${where} ${problem}`, where);
  }
  return parsed;
}
