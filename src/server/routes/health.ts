import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import Type from 'typebox';
import type { Runtime } from '../../runtime/index.js';
import { pendingMigrations } from '../../store/index.js';
import { problemResponse } from '../schemas.js';
import { sendProblem } from '../problem.js';

export async function healthRoutes(fastify: FastifyInstance, opts: { runtime: Runtime }): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { runtime } = opts;

  app.get(
    '/healthz',
    {
      schema: {
        tags: ['operations'],
        summary: 'Liveness: the process is up',
        response: { 200: Type.Object({ status: Type.Literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['operations'],
        summary: 'Readiness: the database answers, is migrated, and the queue is reachable',
        response: {
          200: Type.Object({
            status: Type.Literal('ready'),
            database: Type.Object({ dialect: Type.String(), location: Type.String() }),
            queue: Type.Record(Type.String(), Type.Integer()),
          }),
          503: problemResponse('The database is unreachable or not migrated.'),
        },
      },
    },
    async (request, reply) => {
      const handle = runtime.store.handle;
      try {
        await sql`select 1`.execute(handle.db);
        const pending = await pendingMigrations(handle);
        if (pending.length > 0) throw new Error(`pending migrations: ${pending.join(', ')}; run \`portcullis migrate\``);
        const queue = await runtime.queue.counts();
        return { status: 'ready' as const, database: { dialect: handle.dialect, location: handle.location }, queue };
      } catch (err) {
        return sendProblem(reply, {
          type: 'urn:portcullis:problem:store.unavailable',
          title: 'Service Unavailable',
          status: 503,
          detail: `not ready: ${(err as Error).message}`,
          instance: request.url,
          code: 'store.unavailable',
        });
      }
    },
  );

  app.get(
    '/metrics',
    {
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics (text exposition format)',
        produces: ['text/plain'],
        response: { 200: Type.String() },
      },
    },
    async (_request, reply) => {
      const counts = await runtime.queue.counts();
      for (const [state, n] of Object.entries(counts)) runtime.metrics.queueJobs.set({ state }, n);
      const sslLabs = await runtime.sslLabs?.status();
      if (sslLabs !== undefined) {
        const pausedUntil = [sslLabs.pausedUntil, sslLabs.shared?.pausedUntil].filter((t) => t != null).map((t) => Date.parse(t as string));
        const pausedMs = Math.max(0, ...pausedUntil.map((t) => t - Date.now()));
        const gauges = { max_assessments: sslLabs.maxAssessments, current_assessments: Math.max(sslLabs.currentAssessments, sslLabs.shared?.inFlight ?? 0), running: sslLabs.running, waiting: sslLabs.waiting, cool_off_seconds: sslLabs.coolOffMs / 1000, paused_seconds: pausedMs / 1000 };
        for (const [quantity, n] of Object.entries(gauges)) runtime.metrics.sslLabs.set({ quantity }, n);
        for (const event of ['started', 'rateLimited', 'pauses'] as const) runtime.metrics.sslLabsEvents.set({ event: event === 'rateLimited' ? 'rate_limited' : event }, sslLabs[event]);
      }
      const body = await runtime.metrics.registry.metrics();
      return reply.type(runtime.metrics.registry.contentType).send(body);
    },
  );
}
