import type { Kysely } from 'kysely';
import { PortcullisError } from '../shared/errors.js';
import type { DatabaseHandle } from './db.js';
import type { Database } from './schema.js';

/** A batch: a file of targets scanned once, as the TLS and port scans it submitted. */
export interface BatchRecord {
  id: string;
  createdAt: string;
  /** How the file was read: format, lines, accepted, rejected with reasons. */
  source: BatchSource;
  options: BatchOptions;
  scans: Array<{ kind: 'tls' | 'ports'; id: string }>;
}

export interface BatchSource {
  format: string;
  filename?: string | undefined;
  lines: number;
  accepted: number;
  rejected: Array<{ line: number; reason: string }>;
}

export interface BatchOptions {
  /** Assess every host anew instead of reusing assessments younger than tls.maxAgeSeconds. */
  fresh?: boolean | undefined;
}

export interface BatchRepository {
  create(batch: BatchRecord): Promise<BatchRecord>;
  get(id: string): Promise<BatchRecord | undefined>;
}

function parse<T>(raw: string, what: string): T {
  try {
    return JSON.parse(raw) as T;
  } catch (err) {
    throw new PortcullisError('internal', `stored ${what} is not valid JSON: ${(err as Error).message}`);
  }
}

export function createBatchRepository(handle: DatabaseHandle): BatchRepository {
  const db: Kysely<Database> = handle.db;
  return {
    async create(batch) {
      await db
        .insertInto('batches')
        .values({ id: batch.id, created_at: batch.createdAt, source: JSON.stringify(batch.source), options: JSON.stringify(batch.options), scans: JSON.stringify(batch.scans) })
        .execute();
      return batch;
    },
    async get(id) {
      const row = await db.selectFrom('batches').selectAll().where('id', '=', id).executeTakeFirst();
      if (row === undefined) return undefined;
      return {
        id: row.id,
        createdAt: row.created_at,
        source: parse<BatchSource>(row.source, `source of batch ${id}`),
        options: parse<BatchOptions>(row.options, `options of batch ${id}`),
        scans: parse<BatchRecord['scans']>(row.scans, `scans of batch ${id}`),
      };
    },
  };
}
