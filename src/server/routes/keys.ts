import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { type Actor, createApiKeys } from '../../auth/service.js';
import type { Runtime } from '../../runtime/index.js';
import { PortcullisError } from '../../shared/errors.js';
import { FiniteInteger, problemResponse } from '../schemas.js';

const BASE = '/api/v1/keys';

const ScopeSchema = Type.Union([Type.Literal('read'), Type.Literal('scan'), Type.Literal('admin')]);

export const ApiKeySchema = Type.Object(
  {
    id: Type.String({ description: 'The key id (`key_…`): the first part of the key, safe to show and log.' }),
    name: Type.String(),
    scopes: Type.Array(ScopeSchema),
    allow: Type.Array(Type.String(), { description: 'CIDRs and domains this key may scan; empty: the server\'s scope policy alone.' }),
    rateLimitPerMinute: Type.Optional(Type.Integer({ description: 'Requests per minute; absent: the server default.' })),
    maxConcurrentScans: Type.Optional(Type.Integer({ description: 'Scans queued or running at once; absent: the server default.' })),
    createdAt: Type.String({ format: 'date-time' }),
    createdBy: Type.String({ description: 'Key id or OIDC subject that created it; `cli` or `bootstrap` for the command line and the first start.' }),
    expiresAt: Type.Optional(Type.String({ format: 'date-time' })),
    revokedAt: Type.Optional(Type.String({ format: 'date-time' })),
    lastUsedAt: Type.Optional(Type.String({ format: 'date-time', description: 'Updated at most once a minute.' })),
  },
  { additionalProperties: false },
);

const KeyId = Type.Object({ id: Type.String({ pattern: '^key_[a-z2-7]{16}$', description: 'A key id, `key_` and 16 base32 characters.' }) });

const NewKeyBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    scopes: Type.Array(ScopeSchema, { minItems: 1, maxItems: 3, uniqueItems: true }),
    allow: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 255 }), { maxItems: 1000, description: 'Narrows what the key may scan to these CIDRs, ranges and domains.' })),
    expiresAt: Type.Optional(Type.String({ format: 'date-time' })),
    rateLimitPerMinute: Type.Optional(FiniteInteger({ minimum: 1, maximum: 1_000_000 })),
    maxConcurrentScans: Type.Optional(FiniteInteger({ minimum: 1, maximum: 100_000 })),
  },
  { additionalProperties: false },
);

const problems = {
  400: problemResponse('The request is invalid.'),
  401: problemResponse('No valid credentials.'),
  403: problemResponse('The caller lacks scope `admin`.'),
};

export async function keyRoutes(fastify: FastifyInstance, opts: { runtime: Runtime }): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { runtime } = opts;
  const keys = createApiKeys(runtime.store);

  app.post(
    BASE,
    {
      config: { access: 'admin', audit: 'keys.create' },
      schema: {
        tags: ['security'],
        summary: 'Create an API key',
        description: 'Answers the key once, in `token`; only a salted hash is stored, so a lost key cannot be shown again (revoke it and create another).',
        body: NewKeyBody,
        response: { 201: Type.Object({ ...ApiKeySchema.properties, token: Type.String({ description: 'The key: `pcl_<id>_<secret>`. Shown only in this answer.' }) }), ...problems },
      },
    },
    async (request, reply) => {
      const principal = request.principal;
      if (principal === undefined) throw new PortcullisError('auth.required', 'creating a key needs an admin key');
      const actor: Actor = { kind: principal.kind, id: principal.id, name: principal.name };
      const { key, token } = await keys.create(request.body, actor);
      return reply.status(201).header('location', `${BASE}/${key.id}`).header('cache-control', 'no-store').send({ ...key, token });
    },
  );

  app.get(
    BASE,
    {
      config: { access: 'admin' },
      schema: {
        tags: ['security'],
        summary: 'List API keys',
        description: 'Names, scopes, expiry and last use; never the keys themselves.',
        querystring: Type.Object({ includeRevoked: Type.Boolean({ default: false }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ items: Type.Array(ApiKeySchema) }), ...problems },
      },
    },
    async (request) => ({ items: await runtime.store.apiKeys.list({ includeRevoked: request.query.includeRevoked }) }),
  );

  app.get(
    `${BASE}/:id`,
    {
      config: { access: 'admin' },
      schema: { tags: ['security'], summary: 'One API key', params: KeyId, response: { 200: ApiKeySchema, ...problems, 404: problemResponse('No such key.') } },
    },
    async (request) => {
      const key = await runtime.store.apiKeys.get(request.params.id);
      if (key === undefined) throw new PortcullisError('not-found', `no API key ${request.params.id}`, { value: request.params.id, field: 'id' });
      return key;
    },
  );

  app.delete(
    `${BASE}/:id`,
    {
      config: { access: 'admin', audit: 'keys.revoke' },
      schema: {
        tags: ['security'],
        summary: 'Revoke an API key',
        description: 'The key stops working at once; it stays listed (with `includeRevoked`) for the audit trail.',
        params: KeyId,
        response: { 200: ApiKeySchema, ...problems, 404: problemResponse('No such key.') },
      },
    },
    async (request) => keys.revoke(request.params.id),
  );
}
