import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { type HostComparison, comparePortScans } from '../../portscan/index.js';
import type { Runtime } from '../../runtime/index.js';
import { PortcullisError } from '../../shared/errors.js';
import type { ServiceInfo } from '../../shared/model.js';
import type { PortScanRecord } from '../../store/index.js';
import { compareAssessments, comparisonPoints } from '../../tls/compare.js';
import type { Target } from '../../monitor/model.js';
import { FiniteInteger, IdParam, problemResponse } from '../schemas.js';
import { comparisonSide } from './port-scans.js';

const Change = Type.Object({
  at: Type.String({ format: 'date-time', description: 'When the change was first seen: the finish of the first assessment or the creation of the first scan showing it.' }),
  ip: Type.String({ description: 'The address, or `*` for the whole assessment.' }),
  aspect: Type.String({ description: 'tls: grade, gradeTrustIgnored, protocols, suites, certificate, findings, endpoint, criteria. ports: port-opened, port-closed, state, service, host.' }),
  before: Type.String(),
  after: Type.String(),
  from: Type.String({ description: 'The assessment or scan before the change.' }),
  to: Type.String({ description: 'The first assessment or scan with the change.' }),
});

const Changes = Type.Object({
  target: Type.Object({ id: Type.String(), kind: Type.String(), value: Type.String(), port: Type.Integer() }),
  compared: Type.Integer({ description: 'Assessments or scans compared (consecutive pairs of the newest `limit`).' }),
  changes: Type.Array(Change, { description: 'Oldest first.' }),
});

type ChangeEntry = { at: string; ip: string; aspect: string; before: string; after: string; from: string; to: string };

export async function targetChangeRoutes(fastify: FastifyInstance, opts: { runtime: Runtime }): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { runtime } = opts;

  app.get(
    '/api/v1/targets/:id/changes',
    {
      schema: {
        tags: ['targets'],
        summary: 'What changed on a target over time',
        description:
          'TLS targets: consecutive assessments of host:port by one engine compared (grade, protocols, cipher suites, certificate, findings per address). ' +
          'Address targets: consecutive finished port scans of the target compared (ports opened and closed, state and service changes per address; ports one scan did not cover are not reported as closed). ' +
          'Each change once, with when it was first seen.',
        params: IdParam,
        querystring: Type.Object(
          {
            limit: FiniteInteger({ minimum: 2, maximum: 200, default: 50, description: 'How many of the newest assessments or scans to compare.' }),
            engine: Type.Union([Type.Literal('native'), Type.Literal('ssllabs')], { default: 'native', description: 'TLS targets: whose assessments to compare.' }),
          },
          { additionalProperties: false },
        ),
        response: { 200: Changes, 404: problemResponse('No such target.') },
      },
    },
    async (request) => {
      const target = await runtime.store.targets.get(request.params.id);
      if (target === undefined) throw new PortcullisError('not-found', `no target with id ${request.params.id}`, { value: request.params.id, field: 'id' });
      const { limit, engine } = request.query;
      const { compared, changes } = target.kind === 'tls' ? await tlsChanges(runtime, target, limit, engine) : await portChanges(runtime, target, limit);
      return { target: { id: target.id, kind: target.kind, value: target.value, port: target.port }, compared, changes };
    },
  );
}

async function tlsChanges(runtime: Runtime, target: Target, limit: number, engine: 'native' | 'ssllabs'): Promise<{ compared: number; changes: ChangeEntry[] }> {
  const repo = runtime.store.tlsAssessments;
  const { items } = await repo.history(target.value, { port: target.port, limit: limit * 2, offset: 0 });
  const ids = items.filter((a) => a.engine === engine && a.grade !== null).slice(0, limit).reverse().map((a) => a.id);
  const docs = (await Promise.all(ids.map((id) => repo.getAssessment(id)))).filter((d) => d !== undefined);
  const changes: ChangeEntry[] = [];
  for (let i = 1; i < docs.length; i++) {
    const [a, b] = [docs[i - 1], docs[i]] as [NonNullable<(typeof docs)[0]>, NonNullable<(typeof docs)[0]>];
    for (const p of comparisonPoints(compareAssessments(a.assessment, b.assessment))) {
      changes.push({ at: b.finishedAt, ip: p.ip, aspect: p.aspect, before: p.a, after: p.b, from: a.id, to: b.id });
    }
  }
  return { compared: docs.length, changes };
}

async function portChanges(runtime: Runtime, target: Target, limit: number): Promise<{ compared: number; changes: ChangeEntry[] }> {
  const repo = runtime.store.portScans;
  // The scheduler scans an address target as a scan of exactly that target; earlier manual scans of it count too.
  const { items } = await repo.list({ status: 'done', target: target.value, limit: limit * 2, offset: 0 });
  const scans = items.filter((s) => s.targets.length === 1 && s.targets[0] === target.value).slice(0, limit).reverse();
  const changes: ChangeEntry[] = [];
  let previous: Awaited<ReturnType<typeof comparisonSide>> | undefined;
  let previousScan: PortScanRecord | undefined;
  for (const scan of scans) {
    const side = await comparisonSide(repo, scan);
    if (previous !== undefined && previousScan !== undefined) {
      for (const host of comparePortScans(previous, side).hosts) changes.push(...hostChanges(host, scan.createdAt, previousScan.id, scan.id));
    }
    previous = side;
    previousScan = scan;
  }
  return { compared: scans.length, changes };
}

function hostChanges(h: HostComparison, at: string, from: string, to: string): ChangeEntry[] {
  const entry = (aspect: string, before: string, after: string): ChangeEntry => ({ at, ip: h.ip, aspect, before, after, from, to });
  if (h.change !== 'changed') return [entry('host', h.change === 'appeared' ? 'not seen' : 'seen', h.change === 'appeared' ? 'seen' : 'not seen')];
  return [
    ...(h.status !== undefined ? [entry('host', h.status.from, h.status.to)] : []),
    ...h.newlyOpen.map((t) => entry('port-opened', `${t.port}/tcp ${t.from}`, `${t.port}/tcp open${t.service?.name ? ` (${t.service.name})` : ''}`)),
    ...h.newlyClosed.map((t) => entry('port-closed', `${t.port}/tcp open${t.service?.name ? ` (${t.service.name})` : ''}`, `${t.port}/tcp ${t.to}`)),
    ...h.stateChanges.map((t) => entry('state', `${t.port}/tcp ${t.from}`, `${t.port}/tcp ${t.to}`)),
    ...h.serviceChanges.map((c) => entry('service', `${c.port}/tcp ${describeService(c.from)}`, `${c.port}/tcp ${describeService(c.to)} (${c.fields.join(', ')} changed)`)),
  ];
}

function describeService(s: ServiceInfo): string {
  return [s.name, s.product, s.version].filter((x) => x !== undefined && x !== '').join(' ');
}
