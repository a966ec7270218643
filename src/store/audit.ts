import type { Kysely } from 'kysely';
import { timeOrderedId } from '../shared/ids.js';
import type { DatabaseHandle } from './db.js';
import type { AuditLogTable, Database } from './schema.js';

/** One line of the audit log: who did what to which resource, and how it ended. */
export interface AuditEntry {
  id: string;
  at: string;
  actor: { kind: 'api-key' | 'oidc' | 'cli'; id: string; name: string };
  /** e.g. `port-scan.create`, `tls-scan.cancel`, `key.revoke`. */
  action: string;
  resource: string | undefined;
  /** HTTP status of the request; 0 for command-line actions. */
  status: number;
  sourceIp: string | undefined;
  detail: Record<string, unknown>;
}

export type NewAuditEntry = Omit<AuditEntry, 'id' | 'at'> & { at?: string };

export interface AuditFilter {
  actor?: string | undefined;
  /** Exact action, or a prefix ending in `.` (e.g. `key.`). */
  action?: string | undefined;
  since?: string | undefined;
  /** Entries older than this entry id (the next page). */
  before?: string | undefined;
  limit: number;
}

export interface AuditRepository {
  record(entry: NewAuditEntry): Promise<AuditEntry>;
  /** Newest first. */
  list(filter: AuditFilter): Promise<AuditEntry[]>;
}

function entryFromRow(row: AuditLogTable): AuditEntry {
  let detail: Record<string, unknown> = {};
  try {
    detail = JSON.parse(row.detail) as Record<string, unknown>;
  } catch {
    detail = { unreadable: row.detail };
  }
  return {
    id: row.id,
    at: row.at,
    actor: { kind: row.actor_kind as AuditEntry['actor']['kind'], id: row.actor_id, name: row.actor_name },
    action: row.action,
    resource: row.resource ?? undefined,
    status: row.status,
    sourceIp: row.source_ip ?? undefined,
    detail,
  };
}

export function createAuditRepository(handle: DatabaseHandle): AuditRepository {
  const db: Kysely<Database> = handle.db;
  return {
    async record(entry) {
      const at = entry.at ?? new Date().toISOString();
      const row: AuditLogTable = {
        id: timeOrderedId(Date.parse(at)),
        at,
        actor_kind: entry.actor.kind,
        actor_id: entry.actor.id,
        actor_name: entry.actor.name,
        action: entry.action,
        resource: entry.resource ?? null,
        status: entry.status,
        source_ip: entry.sourceIp ?? null,
        detail: JSON.stringify(entry.detail),
      };
      await db.insertInto('audit_log').values(row).execute();
      return entryFromRow(row);
    },
    async list(filter) {
      let query = db.selectFrom('audit_log').selectAll().orderBy('id', 'desc').limit(filter.limit);
      if (filter.actor !== undefined) query = query.where('actor_id', '=', filter.actor);
      if (filter.action !== undefined) {
        query = filter.action.endsWith('.') ? query.where('action', 'like', `${filter.action.replace(/[%_\\]/g, '\\$&')}%`) : query.where('action', '=', filter.action);
      }
      if (filter.since !== undefined) query = query.where('at', '>=', filter.since);
      if (filter.before !== undefined) query = query.where('id', '<', filter.before);
      return (await query.execute()).map(entryFromRow);
    },
  };
}
