import type { PortResult, ScanStatus } from '../shared/model.js';
import type { DatabaseHandle } from './db.js';
import { hostFromRow, portFromRow } from './port-scans.js';
import type { HostHistoryEntry, HostRepository } from './types.js';

export function createHostRepository(handle: DatabaseHandle): HostRepository {
  const { db } = handle;

  return {
    async history(ip: string, page: { limit: number; offset: number }): Promise<{ items: HostHistoryEntry[]; total: number }> {
      // scan_hosts_ip_idx (ip, scan_id) serves both the count and the join; the page's ports come
      // from port_results' primary key (scan_id, ip, …) in one query.
      const [rows, count] = await Promise.all([
        db
          .selectFrom('scan_hosts as sh')
          .innerJoin('port_scans as ps', 'ps.id', 'sh.scan_id')
          .selectAll('sh')
          .select([
            'ps.status as scan_status',
            'ps.created_at as scan_created_at',
            'ps.finished_at as scan_finished_at',
            'ps.port_set as scan_port_set',
          ])
          .where('sh.ip', '=', ip)
          .orderBy('ps.created_at', 'desc')
          .orderBy('ps.id', 'desc')
          .limit(page.limit)
          .offset(page.offset)
          .execute(),
        db
          .selectFrom('scan_hosts')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('ip', '=', ip)
          .executeTakeFirstOrThrow(),
      ]);

      const portsByScan = new Map<string, PortResult[]>();
      // One query for the whole page (chunked only for absurd page sizes, to stay under the
      // dialects' bound-parameter limits).
      const scanIds = rows.map((r) => r.scan_id);
      for (let i = 0; i < scanIds.length; i += 5_000) {
        const portRows = await db
          .selectFrom('port_results')
          .selectAll()
          .where('scan_id', 'in', scanIds.slice(i, i + 5_000))
          .where('ip', '=', ip)
          .orderBy('scan_id')
          .orderBy('protocol')
          .orderBy('port')
          .execute();
        for (const row of portRows) {
          let list = portsByScan.get(row.scan_id);
          if (!list) portsByScan.set(row.scan_id, (list = []));
          list.push(portFromRow(row));
        }
      }

      const items = rows.map(
        (row): HostHistoryEntry => ({
          scan: {
            id: row.scan_id,
            status: row.scan_status as ScanStatus,
            createdAt: row.scan_created_at,
            finishedAt: row.scan_finished_at ?? undefined,
            portSet: row.scan_port_set,
          },
          host: hostFromRow(row),
          ports: portsByScan.get(row.scan_id) ?? [],
        }),
      );
      return { items, total: Number(count.n) };
    },
  };
}
