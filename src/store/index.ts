import { type DatabaseHandle, type DatabaseOptions, migrateToLatest, openDatabase } from './db.js';
import { type AddressLeaseRepository, createAddressLeaseRepository } from './address-leases.js';
import { type ApiKeyRepository, createApiKeyRepository } from './api-keys.js';
import { type AuditRepository, createAuditRepository } from './audit.js';
import { type BatchRepository, createBatchRepository } from './batches.js';
import { createHostRepository } from './hosts.js';
import { createPortScanRepository } from './port-scans.js';
import { type ReportRepository, createReportRepository } from './reports.js';
import { type TargetRepository, createTargetRepository } from './targets.js';
import { type TlsAssessmentRepository, createTlsAssessmentRepository } from './tls-assessments.js';
import type { HostRepository, PortScanRepository } from './types.js';

export type * from './types.js';
export { type DatabaseHandle, type DatabaseOptions, type Dialect, type MigrationOutcome, maskUrl, migrateToLatest, openDatabase, pendingMigrations } from './db.js';
export type { ApiKeyRecord, ApiKeyRepository, NewApiKey } from './api-keys.js';
export type { AuditEntry, AuditFilter, AuditRepository, NewAuditEntry } from './audit.js';
export type { AddressLease, AddressLeaseRepository } from './address-leases.js';
export type { BatchOptions, BatchRecord, BatchRepository, BatchSource } from './batches.js';
export { createHostRepository } from './hosts.js';
export { createPortScanRepository } from './port-scans.js';
export { type TargetFilter, type TargetPatch, type TargetRepository, type TargetUpsert, type UpsertOutcome, type UpsertResult, createTargetRepository } from './targets.js';
export {
  type EndpointGrade,
  type NewTlsScan,
  type SaveAssessmentExtras,
  type SslLabsOpinion,
  type TlsEngineChoice,
  type TlsAssessmentRecord,
  type TlsAssessmentRepository,
  type TlsAssessmentSummary,
  type TlsScanFilter,
  type TlsScanOptions,
  type TlsScanRecord,
  type TlsTables,
  type TlsTarget,
  type TlsTargetOutcome,
  type TlsTargetResult,
  createTlsAssessmentRepository,
} from './tls-assessments.js';

export interface Store {
  handle: DatabaseHandle;
  portScans: PortScanRepository;
  hosts: HostRepository;
  tlsAssessments: TlsAssessmentRepository;
  targets: TargetRepository;
  batches: BatchRepository;
  reports: ReportRepository;
  apiKeys: ApiKeyRepository;
  audit: AuditRepository;
  addressLeases: AddressLeaseRepository;
  /** Closes the database (the pool on PostgreSQL). Safe to call more than once. */
  close(): Promise<void>;
}

/** Repositories over an already-open handle. `close()` destroys that handle. */
export function createStore(handle: DatabaseHandle): Store {
  let closing: Promise<void> | undefined;
  return {
    handle,
    portScans: createPortScanRepository(handle),
    hosts: createHostRepository(handle),
    tlsAssessments: createTlsAssessmentRepository(handle),
    targets: createTargetRepository(handle),
    batches: createBatchRepository(handle),
    reports: createReportRepository(handle),
    apiKeys: createApiKeyRepository(handle),
    audit: createAuditRepository(handle),
    addressLeases: createAddressLeaseRepository(handle),
    close: () => (closing ??= handle.db.destroy()),
  };
}

/** Opens the database, brings its schema up to date (unless `migrate: false`) and returns the store. */
export async function openStore(options: DatabaseOptions & { migrate?: boolean }): Promise<Store> {
  const { migrate = true, ...dbOptions } = options;
  const handle = openDatabase(dbOptions);
  if (migrate) {
    try {
      await migrateToLatest(handle);
    } catch (err) {
      await handle.db.destroy().catch(() => {});
      throw err;
    }
  }
  return createStore(handle);
}
export { type SqliteDriver, type SqliteDriverChoice, openSqlite, resolveSqliteDriver } from './sqlite.js';
export type { JobsTable } from './schema.js';
