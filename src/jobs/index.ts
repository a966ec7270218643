export type {
  BackoffOptions,
  EnqueueOptions,
  JobContext,
  JobHandler,
  JobInfo,
  JobQueue,
  JobState,
  ProcessOptions,
  SchedulerOptions,
  Worker,
} from './queue.js';
export { DEFAULT_ATTEMPTS, DEFAULT_BACKOFF, UnrecoverableError, backoffDelay } from './queue.js';
export { DatabaseQueue, type DatabaseQueueOptions, type QueueLogger } from './db-queue.js';
// Not re-exported as a value: importing it loads BullMQ and ioredis (the runtime imports it on demand).
export type { BullmqQueue, BullmqQueueOptions } from './bullmq-queue.js';
export {
  PORT_SCAN_FINALIZE_JOB,
  PORT_SCAN_JOB,
  PORT_SCAN_SHARD_JOB,
  type PortScanJobPayload,
  type PortScanShardPayload,
  type PortScanSubmission,
  createPortScanFinalizeHandler,
  createPortScanHandler,
  createPortScanShardHandler,
  portScanJobId,
  portScanJobIds,
  shardPlan,
  submitPortScan,
} from './port-scans.js';
export { DEFAULT_TLS_PORT, parseTlsTarget } from '../tls/target.js';
export {
  TLS_SCAN_JOB,
  type TlsEngine,
  type TlsEngineOptions,
  type TlsScanJobPayload,
  type TlsScanSubmission,
  createTlsScanHandler,
  submitTlsScan,
  tlsScanJobId,
} from './tls-scans.js';
