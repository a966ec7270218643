import type { Migration, MigrationProvider } from 'kysely';
import * as m0001 from './0001_port_scans.js';
import * as m0002 from './0002_jobs.js';
import * as m0003 from './0003_tls_assessments.js';
import * as m0004 from './0004_ssllabs.js';
import * as m0005 from './0005_monitoring.js';
import * as m0006 from './0006_security.js';
import * as m0007 from './0007_scale_out.js';
import * as m0008 from './0008_address_leases.js';
import * as m0009 from './0009_host_parts.js';

/**
 * The one migration set for SQLite and PostgreSQL. Listed in code (not read from a folder) so the
 * compiled package and the test runner see the same set. Append only; never edit a shipped migration.
 */
const migrations: Record<string, Migration> = {
  '0001_port_scans': m0001,
  '0002_jobs': m0002,
  '0003_tls_assessments': m0003,
  '0004_ssllabs': m0004,
  '0005_monitoring': m0005,
  '0006_security': m0006,
  '0007_scale_out': m0007,
  '0008_address_leases': m0008,
  '0009_host_parts': m0009,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
};
