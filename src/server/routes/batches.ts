import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { submitPortScan, submitTlsScan } from '../../jobs/index.js';
import { type ImportFormat, checkTargetScope, normalizeTarget, parseTargetFile } from '../../monitor/target-import.js';
import { scanningAs } from '../auth.js';
import type { Runtime } from '../../runtime/index.js';
import { PortcullisError } from '../../shared/errors.js';
import { timeOrderedId } from '../../shared/ids.js';
import type { BatchRecord } from '../../store/batches.js';
import { targetKey } from '../../tls/target.js';
import { IdParam, problemResponse } from '../schemas.js';
import { UPLOAD_BODY_LIMIT, readUploadedText, registerUploadParsers } from '../upload.js';

const BASE = '/api/v1/batches';
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);

const Counts = Type.Object(
  { total: Type.Integer(), queued: Type.Integer(), running: Type.Integer(), done: Type.Integer(), failed: Type.Integer() },
  { description: 'Targets by state. TLS targets count one each; an address target counts once for its port scan.' },
);

const Progress = Type.Object({
  id: Type.String(),
  status: Type.Union([Type.Literal('queued'), Type.Literal('running'), Type.Literal('done')], { description: '`done` when every target finished (assessed or failed).' }),
  createdAt: Type.String({ format: 'date-time' }),
  counts: Counts,
  percent: Type.Number(),
  etaSeconds: Nullable(Type.Number({ description: 'Estimated seconds left from the pace so far; null before the first target finished.' })),
  source: Type.Object({ format: Type.String(), lines: Type.Integer(), accepted: Type.Integer(), rejected: Type.Array(Type.Object({ line: Type.Integer(), reason: Type.String() })) }),
  scans: Type.Array(Type.Object({ kind: Type.String(), id: Type.String(), status: Type.String(), link: Type.String() })),
  links: Type.Record(Type.String(), Type.String()),
});

const Results = Type.Intersect([
  Progress,
  Type.Object({
    results: Type.Object({
      tls: Type.Array(
        Type.Object({
          host: Type.String(),
          port: Type.Integer(),
          grade: Nullable(Type.String({ description: 'Worst grade across the addresses.' })),
          cached: Type.Boolean({ description: 'Answered by an assessment younger than tls.maxAgeSeconds instead of a new one.' }),
          assessment: Type.Optional(Type.String({ description: 'Link to the full assessment.' })),
          error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
        }),
      ),
      ports: Type.Array(
        Type.Object({
          scanId: Type.String(),
          targets: Type.Array(Type.String()),
          ports: Type.String(),
          status: Type.String(),
          hostsUp: Type.Optional(Type.Integer()),
          openPorts: Type.Optional(Type.Integer()),
          link: Type.String(),
        }),
      ),
    }),
  }),
]);

const FORMATS: Record<string, ImportFormat> = { 'text/csv': 'csv', 'application/json': 'json', 'text/plain': 'text' };

export async function batchRoutes(fastify: FastifyInstance, opts: { runtime: Runtime }): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { runtime } = opts;
  await registerUploadParsers(fastify);

  app.post(
    BASE,
    {
      bodyLimit: UPLOAD_BODY_LIMIT,
      schema: {
        tags: ['monitoring'],
        summary: 'Scan a file of targets once: TLS for host names, ports for addresses',
        description:
          'The body is the file: `text/plain` (one target per line), `text/csv` (a `target` column; `ports`, `schedule` and label columns are read too), ' +
          '`application/json` (an array of targets or objects) or `multipart/form-data` with one file; UTF-8 text. Host names and host:port become one TLS scan; ' +
          'IPs, CIDRs and ranges become port scans (one per port spec). A line that cannot be read or is out of scope is rejected alone and reported; ' +
          'the rest is queued. A host assessed less than `tls.maxAgeSeconds` ago is answered from the store unless `fresh=true`. ' +
          'Poll `GET /api/v1/batches/{id}`: 202 with progress until every target finished, then 200 with the results.',
        querystring: Type.Object(
          {
            fresh: Type.Optional(Type.Boolean({ description: 'Assess every host anew (default false: reuse recent assessments).' })),
            format: Type.Optional(Type.Union([Type.Literal('auto'), Type.Literal('text'), Type.Literal('csv'), Type.Literal('json')], { description: 'Overrides the format the content type implies.' })),
          },
          { additionalProperties: false },
        ),
        response: {
          202: Type.Object({ id: Type.String(), accepted: Type.Integer(), rejected: Type.Array(Type.Object({ line: Type.Integer(), reason: Type.String() })), links: Type.Record(Type.String(), Type.String()) }),
          400: problemResponse('Nothing in the file could be scanned (every line rejected), or the file is malformed.'),
          413: problemResponse('The file is larger than the import limit.'),
          415: problemResponse('The content type is not one of text/plain, text/csv, application/json, multipart/form-data.'),
          503: problemResponse('The database or the queue is unavailable.'),
        },
      },
    },
    async (request, reply) => {
      const caller = await scanningAs(runtime, request);
      const upload = await readUploadedText(request);
      const format = request.query.format ?? FORMATS[upload.contentType] ?? 'auto';
      const parsed = parseTargetFile(upload.text, format);
      const rejected: Array<{ line: number; reason: string }> = [];
      const tlsHosts = new Map<string, string>();
      const portGroups = new Map<string, Set<string>>();
      const deps = { portLists: runtime.portLists, defaultPorts: runtime.config.portscan.defaultPorts, maxAddresses: runtime.config.scope.maxAddressesPerScan };
      for (const line of parsed.lines) {
        if (line.input === undefined) {
          rejected.push({ line: line.line, reason: line.error ?? 'unreadable' });
          continue;
        }
        const normalized = normalizeTarget(line.input, deps);
        if ('error' in normalized) {
          rejected.push({ line: line.line, reason: normalized.error.message });
          continue;
        }
        const denied = normalized.targets.map((t) => checkTargetScope(t, caller.policy)).find((e) => e !== undefined);
        if (denied !== undefined) {
          rejected.push({ line: line.line, reason: denied.message });
          continue;
        }
        for (const t of normalized.targets) {
          if (t.kind === 'tls') tlsHosts.set(targetKey({ host: t.value, port: t.port }), targetKey({ host: t.value, port: t.port }));
          else portGroups.set(t.ports ?? '', (portGroups.get(t.ports ?? '') ?? new Set()).add(t.value));
        }
      }
      const accepted = tlsHosts.size + [...portGroups.values()].reduce((n, s) => n + s.size, 0);
      if (accepted === 0) {
        throw new PortcullisError('request.invalid', `nothing in the file can be scanned: ${rejected.length} line(s) rejected${rejected[0] ? `, e.g. line ${rejected[0].line}: ${rejected[0].reason}` : ''}`, {
          field: 'file',
          rejected,
        });
      }
      const fresh = request.query.fresh === true;
      const scans: BatchRecord['scans'] = [];
      try {
        if (tlsHosts.size > 0) scans.push({ kind: 'tls', id: (await submitTlsScan(runtime, { hosts: [...tlsHosts.values()], options: { fresh, ...(caller.scopeAllow !== undefined ? { scopeAllow: caller.scopeAllow } : {}) }, deferChecks: true, requestedBy: caller.requestedBy })).id });
        for (const [ports, targets] of portGroups) scans.push({ kind: 'ports', id: (await submitPortScan({ ...runtime, policy: caller.policy }, { targets: [...targets], ports, requestedBy: caller.requestedBy })).id });
      } catch (err) {
        // All or nothing: a batch whose scans could not all be queued leaves none behind.
        await Promise.all(scans.map((s) => (s.kind === 'tls' ? runtime.store.tlsAssessments.deleteScan(s.id) : runtime.store.portScans.delete(s.id))));
        throw err;
      }
      const batch = await runtime.store.batches.create({
        id: timeOrderedId(),
        createdAt: new Date().toISOString(),
        source: { format: parsed.format, ...(upload.filename !== undefined ? { filename: upload.filename } : {}), lines: parsed.lines.length, accepted, rejected },
        options: { fresh },
        scans,
      });
      return reply.status(202).header('location', `${BASE}/${batch.id}`).send({ id: batch.id, accepted, rejected, links: { self: `${BASE}/${batch.id}` } });
    },
  );

  app.get(
    `${BASE}/:id`,
    {
      schema: {
        tags: ['monitoring'],
        summary: 'Progress of a batch, then its results',
        description: '202 with counts (queued, running, done, failed), percent and ETA while any target is unfinished — never a partial result; 200 with the results once all finished.',
        params: IdParam,
        response: { 200: Results, 202: Progress, 404: problemResponse('No such batch.') },
      },
    },
    async (request, reply) => {
      const batch = await runtime.store.batches.get(request.params.id);
      if (batch === undefined) throw new PortcullisError('not-found', `no batch with id ${request.params.id}`, { value: request.params.id, field: 'id' });
      const view = await batchView(runtime, batch);
      if (view.progress.status !== 'done') return reply.status(202).send(view.progress);
      return { ...view.progress, results: await view.results() };
    },
  );
}

/** Where a batch stands, computed from the scans it submitted (the store is the only state). */
async function batchView(runtime: Runtime, batch: BatchRecord) {
  const counts = { total: 0, queued: 0, running: 0, done: 0, failed: 0 };
  const scans: Array<{ kind: string; id: string; status: string; link: string }> = [];
  const tlsScanIds: string[] = [];
  const portScanIds: string[] = [];
  for (const ref of batch.scans) {
    if (ref.kind === 'tls') {
      const scan = await runtime.store.tlsAssessments.getScan(ref.id);
      const results = scan === undefined ? [] : await runtime.store.tlsAssessments.scanResults(ref.id);
      const total = scan?.targets.length ?? 0;
      const failed = results.filter((r) => r.error !== undefined).length + (scan?.status === 'failed' || scan?.status === 'cancelled' ? total - results.length : 0);
      const done = results.filter((r) => r.error === undefined).length;
      const remaining = Math.max(0, total - done - failed);
      const running = scan?.status === 'running' ? Math.min(remaining, runtime.config.tls.concurrency) : 0;
      Object.assign(counts, { total: counts.total + total, done: counts.done + done, failed: counts.failed + failed, running: counts.running + running, queued: counts.queued + remaining - running });
      scans.push({ kind: 'tls', id: ref.id, status: scan?.status ?? 'deleted', link: `/api/v1/tls-scans/${ref.id}` });
      tlsScanIds.push(ref.id);
    } else {
      const scan = await runtime.store.portScans.get(ref.id);
      const n = scan?.targets.length ?? 0;
      const state = scan?.status ?? 'failed';
      counts.total += n;
      if (state === 'done') counts.done += n;
      else if (state === 'running') counts.running += n;
      else if (state === 'queued') counts.queued += n;
      else counts.failed += n;
      scans.push({ kind: 'ports', id: ref.id, status: scan?.status ?? 'deleted', link: `/api/v1/port-scans/${ref.id}` });
      portScanIds.push(ref.id);
    }
  }
  const finished = counts.done + counts.failed;
  const elapsedS = (Date.now() - Date.parse(batch.createdAt)) / 1000;
  const status: 'queued' | 'running' | 'done' = finished === counts.total ? 'done' : finished > 0 || counts.running > 0 ? 'running' : 'queued';
  const progress = {
    id: batch.id,
    status,
    createdAt: batch.createdAt,
    counts,
    percent: counts.total === 0 ? 100 : Math.round((1000 * finished) / counts.total) / 10,
    etaSeconds: finished === 0 || status === 'done' ? (status === 'done' ? 0 : null) : Math.round((elapsedS / finished) * (counts.total - finished)),
    source: batch.source,
    scans,
    links: { self: `${BASE}/${batch.id}` },
  };
  const results = async () => ({
    tls: (await Promise.all(tlsScanIds.map((id) => runtime.store.tlsAssessments.scanResults(id)))).flat().map((r) => ({
      host: r.host,
      port: r.port,
      grade: r.assessment?.grade ?? null,
      cached: r.cached,
      ...(r.assessment !== undefined ? { assessment: `/api/v1/tls-assessments/${r.assessment.id}` } : {}),
      ...(r.error !== undefined ? { error: r.error } : {}),
    })),
    ports: (
      await Promise.all(
        portScanIds.map(async (id) => {
          const scan = await runtime.store.portScans.get(id);
          if (scan === undefined) return [];
          const totals = scan.status === 'done' ? await runtime.store.portScans.totals(id) : undefined;
          return [
            {
              scanId: id,
              targets: scan.targets,
              ports: scan.ports,
              status: scan.status,
              ...(totals !== undefined ? { hostsUp: totals.hostsUp, openPorts: totals.open } : {}),
              link: `/api/v1/port-scans/${id}`,
            },
          ];
        }),
      )
    ).flat(),
  });
  return { progress, results };
}
