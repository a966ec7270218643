import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Kysely, sql } from 'kysely';
import type { JobHandler } from '../queue.js';

/**
 * An idempotent multi-step job for the kill tests, shared by the test process and the child it kills.
 * Each run records itself in `kill_test_runs`; each step writes its row once (`ON CONFLICT DO NOTHING`)
 * into `kill_test_steps`, and every execution of a step, repeated or not, lands in
 * `kill_test_step_executions`. So after a kill and a rerun the tests can tell how often the job ran,
 * that steps were executed again, and that their side effects were not duplicated.
 */
export const STEP_JOB = 'kill-test-steps';

export interface StepJobPayload {
  steps: number;
  stepMs: number;
}

// The tables are not part of the application schema.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

export async function createStepTables(db: AnyDb): Promise<void> {
  await sql`create table if not exists kill_test_runs (run_id text primary key, job_id text not null, attempt integer not null, pid integer not null)`.execute(db);
  await sql`create table if not exists kill_test_steps (job_id text not null, step integer not null, run_id text not null, primary key (job_id, step))`.execute(db);
  await sql`create table if not exists kill_test_step_executions (id text primary key, job_id text not null, step integer not null, run_id text not null)`.execute(db);
}

export function stepJobHandler(db: AnyDb, onStep?: (step: number) => void): JobHandler<StepJobPayload, { steps: number }> {
  return async (ctx) => {
    const runId = randomUUID();
    await sql`insert into kill_test_runs (run_id, job_id, attempt, pid) values (${runId}, ${ctx.id}, ${ctx.attempt}, ${process.pid})`.execute(db);
    for (let step = 1; step <= ctx.payload.steps; step++) {
      ctx.signal.throwIfAborted();
      await sql`insert into kill_test_steps (job_id, step, run_id) values (${ctx.id}, ${step}, ${runId}) on conflict do nothing`.execute(db);
      await sql`insert into kill_test_step_executions (id, job_id, step, run_id) values (${randomUUID()}, ${ctx.id}, ${step}, ${runId})`.execute(db);
      await ctx.updateProgress({ step, of: ctx.payload.steps });
      onStep?.(step);
      await sleep(ctx.payload.stepMs, undefined, { signal: ctx.signal });
    }
    return { steps: ctx.payload.steps };
  };
}

export interface StepRun {
  run_id: string;
  attempt: number;
  pid: number;
}

export async function stepJobRuns(db: AnyDb, jobId: string): Promise<StepRun[]> {
  const { rows } = await sql<StepRun>`select run_id, attempt, pid from kill_test_runs where job_id = ${jobId} order by attempt`.execute(db);
  return rows.map((r) => ({ ...r, attempt: Number(r.attempt), pid: Number(r.pid) }));
}

export async function stepRows(db: AnyDb, jobId: string): Promise<{ step: number; run_id: string }[]> {
  const { rows } = await sql<{ step: number; run_id: string }>`select step, run_id from kill_test_steps where job_id = ${jobId} order by step`.execute(db);
  return rows.map((r) => ({ ...r, step: Number(r.step) }));
}

export async function stepExecutions(db: AnyDb, jobId: string): Promise<number> {
  const { rows } = await sql<{ n: number }>`select count(*) as n from kill_test_step_executions where job_id = ${jobId}`.execute(db);
  return Number(rows[0]?.n ?? 0);
}
