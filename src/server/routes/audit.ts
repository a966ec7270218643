import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import type { Runtime } from '../../runtime/index.js';
import { FiniteInteger, SearchText, problemResponse } from '../schemas.js';

const AuditEntrySchema = Type.Object(
  {
    id: Type.String(),
    at: Type.String({ format: 'date-time' }),
    actor: Type.Object({
      kind: Type.Union([Type.Literal('api-key'), Type.Literal('oidc'), Type.Literal('cli')]),
      id: Type.String({ description: 'Key id, OIDC `iss|sub`, or `cli`.' }),
      name: Type.String(),
    }),
    action: Type.String({ description: 'What was done, e.g. `port-scans.create`, `tls-scans.cancel`, `targets.delete`, `keys.revoke`.' }),
    resource: Type.Optional(Type.String({ description: 'The id of the scan, target or key concerned.' })),
    status: Type.Integer({ description: 'The HTTP status answered (denied and failed attempts are recorded too); 0 for command-line actions.' }),
    sourceIp: Type.Optional(Type.String()),
    detail: Type.Record(Type.String(), Type.Unknown()),
  },
  { additionalProperties: false },
);

export async function auditRoutes(fastify: FastifyInstance, opts: { runtime: Runtime }): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { runtime } = opts;

  app.get(
    '/api/v1/audit',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['security'],
        summary: 'The audit log, newest first',
        description: 'Every request that started, cancelled, changed or deleted something, and every key created or revoked, with who did it. Page with `before` (the last id seen).',
        querystring: Type.Object(
          {
            actor: Type.Optional(SearchText({ maxLength: 300, description: 'Only this actor id (a key id).' })),
            action: Type.Optional(Type.String({ maxLength: 100, pattern: '^[a-z0-9.-]+$', description: 'An action, or a prefix ending in `.` (e.g. `keys.`).' })),
            since: Type.Optional(Type.String({ format: 'date-time' })),
            before: Type.Optional(SearchText({ maxLength: 64, description: 'Entries older than this entry id.' })),
            limit: FiniteInteger({ minimum: 1, maximum: 1000, default: 100 }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ items: Type.Array(AuditEntrySchema) }),
          400: problemResponse('Invalid filter.'),
          401: problemResponse('No valid credentials.'),
          403: problemResponse('The caller lacks scope `admin`.'),
        },
      },
    },
    async (request) => ({ items: await runtime.store.audit.list(request.query) }),
  );
}
