import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { portScanJobIds, type PortScanSubmission, submitPortScan } from '../../jobs/index.js';
import { comparePortScans, type ScanSide } from '../../portscan/index.js';
import { canonicalIp as canonicalAddress } from '../../scope/index.js';
import { scanningAs } from '../auth.js';
import type { Runtime } from '../../runtime/index.js';
import { PortcullisError } from '../../shared/errors.js';
import type { HostSummary, PortResult } from '../../shared/model.js';
import type { PortScanRecord, PortScanRepository } from '../../store/index.js';
import { cancelOrDelete } from '../scan-lifecycle.js';
import {
  Comparison,
  CreatePortScanBody,
  FiniteInteger,
  IdParam,
  PageOffset,
  PortScanAccepted,
  PortScanCancelled,
  PortScanDetail,
  PortScanList,
  SearchText,
  problemResponse,
} from '../schemas.js';

const BASE = '/api/v1/port-scans';

export function scanLinks(id: string): Record<string, string> {
  return { self: `${BASE}/${id}`, cancel: `${BASE}/${id}`, tlsScans: `/api/v1/tls-scans?portScanId=${id}` };
}

export function toScanSummary(scan: PortScanRecord) {
  const { done, total } = scan.progress;
  const durationMs =
    scan.startedAt !== undefined ? (scan.finishedAt !== undefined ? Date.parse(scan.finishedAt) : Date.now()) - Date.parse(scan.startedAt) : undefined;
  return {
    id: scan.id,
    status: scan.status,
    targets: scan.targets,
    exclude: scan.exclude,
    ports: scan.ports,
    portSet: scan.portSet,
    portCount: scan.portCount,
    options: scan.options,
    addressCount: scan.addressCount,
    hostsDone: scan.hostsDone,
    progress: { done, total, percent: total === 0 ? 100 : Math.round((1000 * done) / total) / 10 },
    createdAt: scan.createdAt,
    ...(scan.startedAt !== undefined ? { startedAt: scan.startedAt } : {}),
    ...(scan.finishedAt !== undefined ? { finishedAt: scan.finishedAt } : {}),
    ...(durationMs !== undefined ? { durationMs } : {}),
    ...(scan.error !== undefined ? { error: scan.error } : {}),
    ...(scan.stats !== undefined ? { stats: scan.stats } : {}),
    ...(scan.shards !== undefined ? { shards: scan.shards } : {}),
    links: scanLinks(scan.id),
  };
}

function hostWithPorts(host: HostSummary, ports: PortResult[], allPorts: boolean) {
  return { ...host, ports: allPorts ? ports : ports.filter((p) => p.state === 'open') };
}

const problems = {
  400: problemResponse('The request is invalid: a malformed target or port spec, too many addresses, or a schema violation.'),
  403: problemResponse('A target is outside the scope policy.'),
  404: problemResponse('No such scan.'),
  503: problemResponse('The database or the queue is unavailable.'),
};

const notFound = (id: string): PortcullisError => new PortcullisError('not-found', `no port scan with id ${id}`, { value: id, field: 'id' });

export async function portScanRoutes(fastify: FastifyInstance, opts: { runtime: Runtime }): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { runtime } = opts;
  const repo = runtime.store.portScans;

  app.post(
    BASE,
    {
      schema: {
        tags: ['port scans'],
        summary: 'Start a port scan',
        description:
          'Parses the targets and ports, resolves hostnames and checks every address against the scope policy, stores the scan and queues it. ' +
          'Nothing is stored when the request is rejected. Poll the returned link for progress and results.',
        body: CreatePortScanBody,
        response: { 202: PortScanAccepted, ...problems },
      },
    },
    async (request, reply) => {
      // The schema bounds timing to 0-5, which is what TimingTemplate names.
      const caller = await scanningAs(runtime, request);
      const scan = await submitPortScan({ ...runtime, policy: caller.policy }, { ...(request.body as PortScanSubmission), requestedBy: caller.requestedBy });
      return reply
        .status(202)
        .header('location', `${BASE}/${scan.id}`)
        .send({ id: scan.id, status: scan.status, addressCount: scan.addressCount, portCount: scan.portCount, links: scanLinks(scan.id) });
    },
  );

  app.get(
    BASE,
    {
      schema: {
        tags: ['port scans'],
        summary: 'List port scans, newest first',
        querystring: Type.Object(
          {
            status: Type.Optional(Type.Union([Type.Literal('queued'), Type.Literal('running'), Type.Literal('done'), Type.Literal('failed'), Type.Literal('cancelled')])),
            target: Type.Optional(SearchText({ maxLength: 255, description: 'Scans whose targets contain this text.' })),
            ip: Type.Optional(Type.String({ maxLength: 64, description: 'Scans that stored a result for this address.' })),
            createdAfter: Type.Optional(Type.String({ format: 'date-time' })),
            createdBefore: Type.Optional(Type.String({ format: 'date-time' })),
            limit: FiniteInteger({ minimum: 1, maximum: 500, default: 50 }),
            offset: PageOffset,
          },
          { additionalProperties: false },
        ),
        response: { 200: PortScanList, 400: problemResponse('Invalid filter.') },
      },
    },
    async (request) => {
      const q = request.query;
      const ip = q.ip === undefined ? undefined : canonicalIp(q.ip, 'ip');
      const { items, total } = await repo.list({ ...q, ip, limit: q.limit, offset: q.offset });
      const page = (offset: number): string => {
        const params = new URLSearchParams();
        for (const [k, v] of Object.entries({ ...q, offset })) if (v !== undefined) params.set(k, String(v));
        return `${BASE}?${params.toString()}`;
      };
      const links: Record<string, string> = { self: page(q.offset) };
      if (q.offset + items.length < total) links.next = page(q.offset + q.limit);
      if (q.offset > 0) links.prev = page(Math.max(0, q.offset - q.limit));
      return { items: items.map(toScanSummary), total, limit: q.limit, offset: q.offset, links };
    },
  );

  app.get(
    `${BASE}/:id`,
    {
      schema: {
        tags: ['port scans'],
        summary: 'Status, progress and results of one port scan',
        description: 'Hosts in address order with their open ports and services, and counts of closed and filtered ports. Results appear host by host while the scan runs.',
        params: IdParam,
        querystring: Type.Object(
          {
            hosts: Type.Union([Type.Literal('up'), Type.Literal('all')], { default: 'up', description: '`up`: only hosts that answered.' }),
            ports: Type.Union([Type.Literal('open'), Type.Literal('all')], { default: 'open', description: '`all`: also list closed/filtered ports that are not summarised.' }),
            limit: FiniteInteger({ minimum: 1, maximum: 1000, default: 100, description: 'Hosts per page.' }),
            offset: PageOffset,
          },
          { additionalProperties: false },
        ),
        response: { 200: PortScanDetail, ...problems },
      },
    },
    async (request) => {
      const { id } = request.params;
      const q = request.query;
      const scan = await repo.get(id);
      if (scan === undefined) throw notFound(id);
      const hosts = await repo.hosts(id, { limit: q.limit, offset: q.offset, onlyUp: q.hosts === 'up' });
      const ports = await repo.ports(
        id,
        hosts.items.map((h) => h.ip),
      );
      const byIp = groupBy(ports, (p) => p.ip);
      return {
        ...toScanSummary(scan),
        hosts: {
          items: hosts.items.map((h) => hostWithPorts(h, byIp.get(h.ip) ?? [], q.ports === 'all')),
          total: hosts.total,
          limit: q.limit,
          offset: q.offset,
        },
      };
    },
  );

  app.delete(
    `${BASE}/:id`,
    {
      schema: {
        tags: ['port scans'],
        summary: 'Cancel a queued or running scan, or delete a finished one',
        description: 'A queued or running scan is cancelled (202; hosts finished so far stay stored). A finished, failed or cancelled scan is deleted with its results (204).',
        params: IdParam,
        response: { 202: PortScanCancelled, 204: Type.Null(), ...problems },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const scan = await repo.get(id);
      if (scan === undefined) throw notFound(id);
      const lifecycle = { get: repo.get, finish: repo.finish, delete: repo.delete, jobIds: async (scanId: string) => portScanJobIds({ id: scanId, shards: (await repo.get(scanId))?.shards }), finished: runtime.metrics.portScansFinished, links: scanLinks };
      return cancelOrDelete(runtime.queue, lifecycle, id, scan.status, reply);
    },
  );

  app.get(
    `${BASE}/:a/compare/:b`,
    {
      schema: {
        tags: ['port scans'],
        summary: 'Compare two port scans',
        description:
          'Per host: newly open and newly closed ports, other state changes, service and banner changes, hosts that appeared or disappeared. ' +
          'Ports that one scan did not cover are reported under `notScanned`, never as closed.',
        params: Type.Object({ a: IdParam.properties.id, b: IdParam.properties.id }),
        response: { 200: Comparison, ...problems },
      },
    },
    async (request) => {
      const { a, b } = request.params;
      const [scanA, scanB] = await Promise.all([repo.get(a), repo.get(b)]);
      if (scanA === undefined) throw notFound(a);
      if (scanB === undefined) throw notFound(b);
      const comparison = comparePortScans(await comparisonSide(repo, scanA), await comparisonSide(repo, scanB));
      const brief = (s: PortScanRecord) => ({ id: s.id, createdAt: s.createdAt, status: s.status, portSet: s.portSet });
      return {
        ...comparison,
        a: brief(scanA),
        b: brief(scanB),
        complete: scanA.status === 'done' && scanB.status === 'done',
      };
    },
  );
}

/** A stored scan as one side of comparePortScans: its hosts and every listed port row. */
export async function comparisonSide(repo: PortScanRepository, scan: PortScanRecord): Promise<ScanSide> {
  return {
    id: scan.id,
    createdAt: scan.createdAt,
    portSet: scan.portSet,
    hosts: (await repo.hosts(scan.id, { limit: Number.MAX_SAFE_INTEGER, offset: 0 })).items,
    ports: await repo.ports(scan.id),
  };
}

/** The canonical form of an address in a request, or a 400 naming it. */
export function canonicalIp(text: string, field: string): string {
  const ip = canonicalAddress(text);
  if (ip === undefined) throw new PortcullisError('target.invalid', `"${text}" is not an IP address`, { value: text, field });
  return ip;
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const map = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = map.get(k);
    if (list) list.push(item);
    else map.set(k, [item]);
  }
  return map;
}
