import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { parseTlsTarget } from '../../jobs/index.js';
import type { Runtime } from '../../runtime/index.js';
import { PortcullisError } from '../../shared/errors.js';
import { FiniteInteger, PageOffset, problemResponse } from '../schemas.js';
import { TlsAssessmentSummarySchema, summaryJson } from './tls-scans.js';

const DomainHistory = Type.Object({
  host: Type.String(),
  port: Type.Optional(Type.Integer()),
  items: Type.Array(TlsAssessmentSummarySchema, { description: 'Assessments, newest first.' }),
  total: Type.Integer(),
  limit: Type.Integer(),
  offset: Type.Integer(),
  links: Type.Record(Type.String(), Type.String()),
});

export async function domainRoutes(fastify: FastifyInstance, opts: { runtime: Runtime }): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const repo = opts.runtime.store.tlsAssessments;

  app.get(
    '/api/v1/domains/:host',
    {
      schema: {
        tags: ['tls'],
        summary: 'TLS assessment history of one host',
        description: 'Every stored assessment of the host (a name or an IP address), newest first, each with its grade per address and a link to the full assessment.',
        params: Type.Object({ host: Type.String({ minLength: 1, maxLength: 253, description: 'Host name or IP address.' }) }),
        querystring: Type.Object(
          {
            port: Type.Optional(FiniteInteger({ minimum: 1, maximum: 65535, description: 'Only assessments of this port.' })),
            limit: FiniteInteger({ minimum: 1, maximum: 500, default: 50 }),
            offset: PageOffset,
          },
          { additionalProperties: false },
        ),
        response: { 200: DomainHistory, 400: problemResponse('Not a host name or IP address.'), 404: problemResponse('No assessment of this host is stored.') },
      },
    },
    async (request) => {
      // Same spelling rules as a scan request: case and trailing dot do not matter, IPs are canonical.
      const { host } = parseTlsTarget(request.params.host.includes(':') && !request.params.host.startsWith('[') ? `[${request.params.host}]` : request.params.host, 'host');
      const q = request.query;
      const { items, total } = await repo.history(host, q);
      if (total === 0) throw new PortcullisError('not-found', `no TLS assessment of ${host}${q.port !== undefined ? ` port ${q.port}` : ''} is stored`, { value: host, field: 'host' });
      const page = (offset: number): string => {
        const params = new URLSearchParams();
        for (const [k, v] of Object.entries({ ...q, offset })) if (v !== undefined) params.set(k, String(v));
        return `/api/v1/domains/${encodeURIComponent(host)}?${params.toString()}`;
      };
      const links: Record<string, string> = { self: page(q.offset) };
      if (q.offset + items.length < total) links.next = page(q.offset + q.limit);
      if (q.offset > 0) links.prev = page(Math.max(0, q.offset - q.limit));
      return { host, ...(q.port !== undefined ? { port: q.port } : {}), items: items.map(summaryJson), total, limit: q.limit, offset: q.offset, links };
    },
  );
}
