import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import type { Runtime } from '../../runtime/index.js';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);

const SslLabsStatus = Type.Union([
  Type.Object(
    {
      enabled: Type.Literal(true),
      apiVersion: Type.String({ description: '`v4` or `v3`.' }),
      baseUrl: Type.String(),
      maxAssessments: Type.Integer({ description: 'Concurrent assessments SSL Labs allows this client (X-Max-Assessments / info).' }),
      currentAssessments: Type.Integer({ description: 'In flight: the larger of ours and what SSL Labs last reported.' }),
      running: Type.Integer({ description: 'Assessments this process started and is following.' }),
      reportedCurrent: Nullable(Type.Integer({ description: 'X-Current-Assessments of the last response (counts other processes using the same email too).' })),
      coolOffMs: Type.Integer({ description: 'Mandatory pause between new assessments (info.newAssessmentCoolOff).' }),
      waiting: Type.Integer({ description: 'Jobs queued for their turn to start an assessment.' }),
      pausedUntil: Nullable(Type.String({ format: 'date-time', description: 'New starts are paused until then after a 503/529.' })),
      pauseReason: Nullable(Type.String()),
      nextStartAt: Nullable(Type.String({ format: 'date-time', description: 'Earliest next start (cool-off or 429 back-off).' })),
      started: Type.Integer({ description: 'Assessments started since this process began.' }),
      rateLimited: Type.Integer({ description: '429 answers received (a well-behaved client sees none).' }),
      pauses: Type.Integer({ description: '503/529 answers that paused new starts.' }),
      shared: Nullable(
        Type.Object(
          { inFlight: Type.Integer(), pausedUntil: Nullable(Type.String({ format: 'date-time' })), pauseReason: Nullable(Type.String()) },
          { description: 'With REDIS_URL: the budget every worker process shares — assessments in flight across all of them and their common pause. null when this process is alone.' },
        ),
      ),
    },
    { description: 'The SSL Labs engine is on.' },
  ),
  Type.Object({ enabled: Type.Literal(false), reason: Type.String() }, { description: 'The SSL Labs engine is off.' }),
]);

/** The SSL Labs governor's state: limits, what is in flight, who waits, pauses. */
export async function sslLabsRoutes(fastify: FastifyInstance, opts: { runtime: Runtime }): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { runtime } = opts;
  app.get(
    '/api/v1/ssllabs/status',
    {
      schema: {
        tags: ['ssllabs'],
        summary: 'SSL Labs engine: limits, assessments in flight, queue and pauses',
        description:
          'What this process knows about its SSL Labs budget: the maximum concurrent assessments and cool-off SSL Labs set, how many are in flight, how many jobs wait to start one, ' +
          'and whether new starts are paused after a 503/529. The same numbers are Prometheus gauges (`portcullis_ssllabs`, `portcullis_ssllabs_events`) at /metrics.',
        response: { 200: SslLabsStatus },
      },
    },
    async () =>
      (await runtime.sslLabs?.status()) ?? {
        enabled: false as const,
        reason: 'the SSL Labs engine is off: set ssllabs.email (PORTCULLIS_SSLLABS_EMAIL) to a registered organisation email to turn it on',
      },
  );
}
