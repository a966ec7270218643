import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../runtime/index.js';
import { buildApp } from '../server/app.js';

/** The API on a runtime, for tests: every `inject` carries an admin key unless the test sets its own Authorization. */
export async function buildTestApp(runtime: Runtime): Promise<FastifyInstance> {
  return buildApp(runtime);
}
