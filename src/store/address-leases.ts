import { sql } from 'kysely';
import type { DatabaseHandle } from './db.js';
import { ipKey } from './port-scans.js';

export interface AddressLease {
  scanId: string;
  /** -1 for a scan run as one job. */
  shard: number;
  /** First and last address of the range, in address order. */
  first: string;
  last: string;
}

/**
 * Leases on address ranges, so that polite scans of the same hosts never run at once, whichever
 * workers run them. A lease expires unless renewed, so a dead worker's lease frees itself.
 */
export interface AddressLeaseRepository {
  /**
   * Takes (or renews) the lease unless a live lease of another job overlaps its range (another scan,
   * or another port block of the same host in this scan); then returns that scan's id and takes nothing.
   */
  acquire(lease: AddressLease, expiresAt: string, now: string): Promise<{ heldBy: string } | undefined>;
  /** Extends a lease held; false when it is gone (expired and taken, or released). */
  renew(lease: Pick<AddressLease, 'scanId' | 'shard'>, expiresAt: string): Promise<boolean>;
  release(lease: Pick<AddressLease, 'scanId' | 'shard'>): Promise<void>;
}

/** Serialises acquisitions on PostgreSQL (a transaction-scoped advisory lock; the number is arbitrary but fixed). */
const PG_LEASE_LOCK = 7_262_454;

export function createAddressLeaseRepository(handle: DatabaseHandle): AddressLeaseRepository {
  const { db } = handle;

  /**
   * One statement: insert unless an overlapping live lease of another scan exists. On SQLite a
   * statement holds the write lock, so it is atomic as it is; PostgreSQL runs it under an advisory
   * lock, since two READ COMMITTED inserts would not see each other.
   */
  const insertUnlessOverlapping = (executor: typeof db, lease: AddressLease, firstKey: string, lastKey: string, expiresAt: string, now: string) =>
    sql`insert into address_leases (scan_id, shard, first_key, last_key, expires_at)
        select ${lease.scanId}, cast(${lease.shard} as integer), ${firstKey}, ${lastKey}, ${expiresAt}
        where not exists (
          select 1 from address_leases
           where (scan_id <> ${lease.scanId} or shard <> ${lease.shard}) and expires_at > ${now} and first_key <= ${lastKey} and last_key >= ${firstKey})
        on conflict (scan_id, shard) do update set first_key = excluded.first_key, last_key = excluded.last_key, expires_at = excluded.expires_at`.execute(executor);

  return {
    async acquire(lease, expiresAt, now) {
      const [firstKey, lastKey] = [ipKey(lease.first), ipKey(lease.last)];
      const result =
        handle.dialect === 'postgres'
          ? await db.transaction().execute(async (trx) => {
              await sql`select pg_advisory_xact_lock(${PG_LEASE_LOCK})`.execute(trx);
              return insertUnlessOverlapping(trx, lease, firstKey, lastKey, expiresAt, now);
            })
          : await insertUnlessOverlapping(db, lease, firstKey, lastKey, expiresAt, now);
      if (Number(result.numAffectedRows ?? 0) > 0) return undefined;
      const holder = await db
        .selectFrom('address_leases')
        .select('scan_id')
        .where((eb) => eb.or([eb('scan_id', '<>', lease.scanId), eb('shard', '<>', lease.shard)]))
        .where('expires_at', '>', now)
        .where('first_key', '<=', lastKey)
        .where('last_key', '>=', firstKey)
        .executeTakeFirst();
      // Released between the insert and this read: free now, but say so on the next try.
      return { heldBy: holder?.scan_id ?? 'another scan' };
    },

    async renew(lease, expiresAt) {
      const result = await db.updateTable('address_leases').set({ expires_at: expiresAt }).where('scan_id', '=', lease.scanId).where('shard', '=', lease.shard).executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },

    async release(lease) {
      await db.deleteFrom('address_leases').where('scan_id', '=', lease.scanId).where('shard', '=', lease.shard).execute();
    },
  };
}
