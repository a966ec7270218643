import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { readConfigFile } from '../../src/config/file.js';
// @ts-expect-error -- a plain .mjs script without type declarations
import { CHART_DIR, findHelm, lintChart, renderChart, valuesFiles } from '../../scripts/check-helm-chart.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');

type Manifest = { apiVersion: string; kind: string; metadata: { name: string; annotations?: Record<string, string> }; spec?: any; data?: Record<string, string>; stringData?: Record<string, string> };

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const instructions = (keyword: string) => dockerfile.split('\n').filter((line) => line.startsWith(`${keyword} `));

  it('builds with dev dependencies and ships a node:20-bookworm-slim runtime with production dependencies only', () => {
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:20-bookworm-slim$/m);
    expect(instructions('FROM').at(-1)).toBe('FROM ${NODE_IMAGE} AS runtime');
    expect(dockerfile).toMatch(/FROM toolchain AS prod-deps\n(.*\n)*RUN npm ci --omit=dev/);
    expect(dockerfile).toMatch(/COPY --from=prod-deps \/app\/node_modules/);
    expect(dockerfile).toMatch(/COPY --from=build \/app\/dist/);
  });

  it('runs as a numeric non-root user with the data directory as a volume, port 4545 and the serve command', () => {
    expect(instructions('USER')).toEqual(['USER 10001:10001']);
    expect(dockerfile).toMatch(/^VOLUME \["\/var\/lib\/portcullis"\]$/m);
    expect(dockerfile).toMatch(/PORTCULLIS_DATA_DIR=\/var\/lib\/portcullis/);
    expect(instructions('EXPOSE')).toEqual(['EXPOSE 4545']);
    expect(instructions('ENTRYPOINT')).toEqual(['ENTRYPOINT ["node", "dist/cli/main.js"]']);
    expect(instructions('CMD')).toEqual(['CMD ["serve"]']);
  });

  it('has a healthcheck that passes while /healthz answers 200 and fails otherwise, without curl', async () => {
    const match = /HEALTHCHECK [^\n]*\\\n\s+CMD (\[.*\])$/m.exec(dockerfile);
    expect(match).not.toBeNull();
    const [node, flag, script] = JSON.parse(match![1]!) as string[];
    expect([node, flag]).toEqual(['node', '-e']);
    let status = 200;
    const paths: string[] = [];
    const server = createServer((req, res) => {
      paths.push(req.url ?? '');
      res.writeHead(status).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = String((server.address() as AddressInfo).port);
    // Asynchronous: the server answering the check lives in this process.
    const check = () =>
      new Promise<number>((resolve) => {
        const child = execFile(process.execPath, ['-e', script!], { env: { ...process.env, PORTCULLIS_PORT: port }, timeout: 10_000 });
        child.on('exit', (code) => resolve(code ?? -1));
      });
    try {
      expect(await check()).toBe(0);
      status = 503;
      expect(await check()).toBe(1);
      expect(paths).toEqual(['/healthz', '/healthz']);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    expect(await check()).toBe(1);
  });

  it('keeps the build context to what the build copies', () => {
    const ignored = read('.dockerignore').split('\n').filter((line) => line && !line.startsWith('#'));
    expect(ignored).toEqual(expect.arrayContaining(['.git', 'node_modules', 'dist', 'data', '.env']));
    for (const needed of ['src', 'ports', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json']) expect(ignored).not.toContain(needed);
  });
});

describe('docker-compose.yml', () => {
  // merge: the file shares the API/worker settings through a `<<: *portcullis` merge key.
  const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, any> };
  const services = compose.services;

  it('runs the API without a worker on port 4545, two workers, PostgreSQL, Redis and a migrations one-shot', () => {
    expect(Object.keys(services).sort()).toEqual(['api', 'migrate', 'postgres', 'redis', 'worker']);
    expect(services.api.command).toEqual(['serve', '--no-worker']);
    expect(services.api.ports).toEqual(['${PORTCULLIS_PUBLISH_PORT:-4545}:4545']);
    expect(services.worker.command).toEqual(['worker']);
    expect(services.worker.deploy.replicas).toBe(2);
    expect(services.redis.command).toEqual(expect.arrayContaining(['--maxmemory-policy', 'noeviction']));
  });

  it('migrates as the owner role before the API and workers start as the DML-only service role', () => {
    expect(services.migrate.command).toEqual(['migrate']);
    expect(services.migrate.environment.DATABASE_ADMIN_URL).toMatch(/^postgres:\/\/portcullis_owner:/);
    expect(services.migrate.environment.DATABASE_URL).toBeUndefined();
    expect(services.migrate.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
    for (const name of ['api', 'worker']) {
      expect(services[name].environment.DATABASE_URL).toMatch(/^postgres:\/\/portcullis_app:/);
      expect(services[name].environment.REDIS_URL).toBe('redis://redis:6379');
      expect(services[name].depends_on.migrate).toEqual({ condition: 'service_completed_successfully' });
    }
  });

  it('creates the roles with deploy/postgres/roles.sql through the postgres image init script', () => {
    const mounts = services.postgres.volumes as string[];
    expect(mounts).toContain('./deploy/postgres/roles.sql:/portcullis/roles.sql:ro');
    expect(mounts).toContain('./deploy/postgres/init-roles.sh:/docker-entrypoint-initdb.d/10-portcullis-roles.sh:ro');
    const init = read('deploy/postgres/init-roles.sh');
    expect(init).toMatch(/-f \/portcullis\/roles\.sql/);
    expect(init).toMatch(/owner_role=portcullis_owner/);
    expect(init).toMatch(/app_role=portcullis_app/);
    // Every psql variable roles.sql uses is set by the init script.
    const statements = read('deploy/postgres/roles.sql').split('\n').filter((line) => !line.startsWith('--')).join('\n');
    const used = new Set([...statements.matchAll(/:["'](\w+)["']/g)].map((m) => m[1]));
    expect([...used].sort()).toEqual(['app_password', 'app_role', 'database', 'owner_password', 'owner_role', 'schema']);
    for (const variable of used) expect(init).toMatch(new RegExp(`-v ${variable}=`));
  });

  const composeCli = ['docker-compose', 'docker'].find((cli) => spawnSync(cli, cli === 'docker' ? ['compose', 'version'] : ['version'], { encoding: 'utf8' }).status === 0);
  it.skipIf(composeCli === undefined)('is accepted by `docker compose config` (skipped when neither docker-compose nor the compose plugin is installed)', () => {
    const args = composeCli === 'docker' ? ['compose', '-f', 'docker-compose.yml', 'config', '-q'] : ['-f', 'docker-compose.yml', 'config', '-q'];
    const run = spawnSync(composeCli!, args, { cwd: root, encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });
});

const helm: string | undefined = findHelm();

describe.skipIf(helm === undefined)('Helm chart deploy/helm/portcullis (skipped without helm: run `node scripts/check-helm-chart.mjs --install`)', () => {
  const render = (valuesFile: string | undefined, extraArgs: string[] = []): Manifest[] => {
    const result = renderChart(helm, valuesFile, extraArgs);
    expect(result.stderr).toBe('');
    expect(result.ok).toBe(true);
    return parseAllDocuments(result.stdout).map((doc) => doc.toJS() as Manifest).filter((m) => m !== null);
  };
  const ciValues = (name: string) => path.join(CHART_DIR, 'ci', name);
  const find = (manifests: Manifest[], kind: string, name: string) => manifests.find((m) => m.kind === kind && m.metadata.name === name);

  it('passes `helm lint --strict` with the default values and every ci/ values file', () => {
    for (const valuesFile of valuesFiles() as (string | undefined)[]) {
      const result = lintChart(helm, valuesFile);
      expect(result.stdout + result.stderr, valuesFile ?? 'default values').toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
      expect(result.ok).toBe(true);
    }
  });

  it('refuses to render without the database and Redis URLs, since the chart runs no database', () => {
    const result = renderChart(helm, undefined);
    expect(result.ok).toBe(false);
    expect(result.stderr).toMatch(/database\.url .* is required unless existingSecret is set/);
  });

  it('renders the API and worker Deployments, worker HPA, migrations hook Job, ConfigMap, Secrets and Service, and no database', () => {
    const manifests = render(ciValues('minimal-values.yaml'));
    expect(manifests.map((m) => `${m.kind}/${m.metadata.name}`).sort()).toEqual([
      'ConfigMap/portcullis',
      'Deployment/portcullis-api',
      'Deployment/portcullis-worker',
      'HorizontalPodAutoscaler/portcullis-worker',
      'Job/portcullis-migrations',
      'Secret/portcullis',
      'Secret/portcullis-migrations',
      'Service/portcullis',
      'ServiceAccount/portcullis',
    ]);
    const api = find(manifests, 'Deployment', 'portcullis-api')!.spec.template.spec;
    expect(api.containers[0].args).toEqual(['serve', '--no-worker']);
    expect(api.containers[0].livenessProbe.httpGet.path).toBe('/healthz');
    expect(api.containers[0].readinessProbe.httpGet.path).toBe('/readyz');
    expect(api.containers[0].resources.requests).toBeDefined();
    const worker = find(manifests, 'Deployment', 'portcullis-worker')!;
    expect(worker.spec.replicas).toBeUndefined(); // the HPA owns the replica count
    expect(worker.spec.template.spec.containers[0].args).toEqual(['worker', '--concurrency', '2']);
    expect(find(manifests, 'HorizontalPodAutoscaler', 'portcullis-worker')!.spec.scaleTargetRef.name).toBe('portcullis-worker');
    const secret = find(manifests, 'Secret', 'portcullis')!;
    expect(Object.keys(secret.stringData!).sort()).toEqual(['DATABASE_URL', 'PORTCULLIS_SSLLABS_EMAIL', 'REDIS_URL']);
    expect(secret.stringData!.DATABASE_URL).toMatch(/portcullis_app/);
  });

  it('runs migrations as a pre-install/pre-upgrade hook with DATABASE_ADMIN_URL from a hook Secret created before it', () => {
    const manifests = render(ciValues('minimal-values.yaml'));
    const job = find(manifests, 'Job', 'portcullis-migrations')!;
    const adminSecret = find(manifests, 'Secret', 'portcullis-migrations')!;
    expect(job.metadata.annotations!['helm.sh/hook']).toBe('pre-install,pre-upgrade');
    expect(adminSecret.metadata.annotations!['helm.sh/hook']).toBe('pre-install,pre-upgrade');
    expect(Number(adminSecret.metadata.annotations!['helm.sh/hook-weight'])).toBeLessThan(Number(job.metadata.annotations!['helm.sh/hook-weight']));
    const container = job.spec.template.spec.containers[0];
    expect(container.args).toEqual(['migrate']);
    expect(container.env).toEqual([{ name: 'DATABASE_ADMIN_URL', valueFrom: { secretKeyRef: { name: 'portcullis-migrations', key: 'DATABASE_ADMIN_URL' } } }]);
    // The service containers never see the owner role's credentials.
    for (const name of ['portcullis-api', 'portcullis-worker']) {
      expect(JSON.stringify(find(manifests, 'Deployment', name))).not.toMatch(/DATABASE_ADMIN_URL|portcullis-migrations/);
    }
  });

  it('runs every container as non-root with a read-only root filesystem and no capabilities', () => {
    const manifests = render(ciValues('minimal-values.yaml'));
    const pods = manifests.filter((m) => m.kind === 'Deployment' || m.kind === 'Job').map((m) => m.spec.template.spec);
    expect(pods).toHaveLength(3);
    for (const pod of pods) {
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001 });
      expect(pod.automountServiceAccountToken).toBe(false);
      for (const container of pod.containers) {
        expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
      }
    }
  });

  it('renders a config file that Portcullis itself accepts', () => {
    for (const valuesFile of ['minimal-values.yaml', 'full-values.yaml']) {
      const configMap = find(render(ciValues(valuesFile)), 'ConfigMap', 'portcullis')!;
      const file = path.join(mkdtempSync(path.join(tmpdir(), 'portcullis-chart-')), 'portcullis.json');
      writeFileSync(file, configMap.data!['portcullis.json']!);
      expect(() => readConfigFile(file)).not.toThrow();
    }
  });

  it('with every option on: Ingress with TLS, ServiceMonitor on /metrics, credentials from existing Secrets only', () => {
    const manifests = render(ciValues('full-values.yaml'));
    const ingress = find(manifests, 'Ingress', 'portcullis')!;
    expect(ingress.spec.tls).toEqual([{ secretName: 'portcullis-tls', hosts: ['portcullis.example.com'] }]);
    expect(ingress.spec.rules[0].http.paths[0].backend.service).toEqual({ name: 'portcullis', port: { name: 'http' } });
    const monitor = find(manifests, 'ServiceMonitor', 'portcullis')!;
    expect(monitor.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(monitor.spec.endpoints[0]).toMatchObject({ port: 'http', path: '/metrics', authorization: { type: 'Bearer', credentials: { name: 'portcullis-metrics-key', key: 'token' } } });
    expect(manifests.filter((m) => m.kind === 'Secret')).toEqual([]);
    const api = find(manifests, 'Deployment', 'portcullis-api')!.spec.template.spec.containers[0];
    expect(api.envFrom).toEqual([{ secretRef: { name: 'portcullis-credentials' } }]);
    expect(find(manifests, 'Job', 'portcullis-migrations')!.spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef.name).toBe('portcullis-migrations');
  });

  it('sets a fixed worker count when autoscaling is off', () => {
    const manifests = render(ciValues('minimal-values.yaml'), ['--set', 'worker.autoscaling.enabled=false', '--set', 'worker.replicas=3']);
    expect(find(manifests, 'Deployment', 'portcullis-worker')!.spec.replicas).toBe(3);
    expect(manifests.some((m) => m.kind === 'HorizontalPodAutoscaler')).toBe(false);
  });
});

it('keeps the chart README in step with values.yaml: every top-level value is documented', () => {
  const values = parse(readFileSync(path.join(CHART_DIR, 'values.yaml'), 'utf8')) as Record<string, unknown>;
  const readme = readFileSync(path.join(CHART_DIR, 'README.md'), 'utf8');
  for (const key of Object.keys(values)) expect(readme, key).toContain(`\`${key}`);
  expect(existsSync(path.join(CHART_DIR, 'templates', 'NOTES.txt'))).toBe(true);
});
