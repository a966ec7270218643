import type { FastifyInstance, InjectOptions } from 'fastify';
import { createApiKeys } from '../auth/service.js';
import type { Runtime } from '../runtime/index.js';
import { type AppOptions, buildApp } from '../server/app.js';

export type TestApp = FastifyInstance & {
  /** An admin key of this app's store, for clients outside `inject` (the CLI against a listening app). */
  apiKey: string;
};

/**
 * The API on a runtime, for tests: every `inject` carries an admin key unless the test sets its own
 * Authorization header (tests of authentication itself pass `authorization: ''` or another key).
 */
export async function buildTestApp(runtime: Runtime, options: AppOptions = {}): Promise<TestApp> {
  const app = await buildApp(runtime, options);
  const { token } = await createApiKeys(runtime.store).create({ name: 'test admin', scopes: ['admin'] }, { kind: 'cli', id: 'cli', name: 'test' });
  const inject = app.inject.bind(app) as (options: InjectOptions | string) => ReturnType<FastifyInstance['inject']>;
  const withKey = (options: InjectOptions | string) => {
    const opts = typeof options === 'string' ? { url: options } : options;
    const headers = { authorization: `Bearer ${token}`, ...opts.headers };
    if (headers.authorization === '') delete (headers as Record<string, unknown>).authorization;
    return inject({ ...opts, headers });
  };
  return Object.assign(app, { inject: withKey, apiKey: token }) as unknown as TestApp;
}
