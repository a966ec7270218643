import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { buildHostView } from '../../portscan/index.js';
import type { Runtime } from '../../runtime/index.js';
import { PortcullisError } from '../../shared/errors.js';
import { FiniteInteger, HostView, problemResponse } from '../schemas.js';
import { canonicalIp } from './port-scans.js';

export async function hostRoutes(fastify: FastifyInstance, opts: { runtime: Runtime }): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { store } = opts.runtime;

  app.get(
    '/api/v1/hosts/:ip',
    {
      schema: {
        tags: ['hosts'],
        summary: 'Everything known about one IP address',
        description:
          'The latest state of each port any scan listed for this address, when it was first and last seen open, its state changes across scans, ' +
          'and the scans that covered the address, newest first. IPv4-mapped IPv6 addresses are answered as the IPv4 address.',
        params: Type.Object({ ip: Type.String({ minLength: 2, maxLength: 64, description: 'IPv4 or IPv6 address.' }) }),
        querystring: Type.Object(
          { limit: FiniteInteger({ minimum: 1, maximum: 1000, default: 100, description: 'How many of the newest scans to consider.' }) },
          { additionalProperties: false },
        ),
        response: { 200: HostView, 400: problemResponse('Not an IP address.'), 404: problemResponse('No scan has results for this address.') },
      },
    },
    async (request) => {
      const ip = canonicalIp(request.params.ip, 'ip');
      const { items, total } = await store.hosts.history(ip, { limit: request.query.limit, offset: 0 });
      if (total === 0) throw new PortcullisError('not-found', `no scan has stored results for ${ip}`, { value: ip, field: 'ip' });
      const view = buildHostView(items);
      return {
        ip,
        hostnames: view.hostnames,
        scans: total,
        ports: view.ports,
        history: items.map((e) => ({
          scanId: e.scan.id,
          status: e.scan.status,
          createdAt: e.scan.createdAt,
          ...(e.scan.finishedAt !== undefined ? { finishedAt: e.scan.finishedAt } : {}),
          portSet: e.scan.portSet,
          hostStatus: e.host.status,
          counts: e.host.counts,
          openPorts: e.ports.filter((p) => p.state === 'open').map((p) => p.port),
        })),
        links: { self: `/api/v1/hosts/${ip}`, scans: `/api/v1/port-scans?ip=${encodeURIComponent(ip)}` },
      };
    },
  );
}
