// What the Kubernetes and image tests share: rendering the kustomizations with kubectl, reading
// the rendered objects, the settings the executable lists, the strict type check of objects
// against the Kubernetes API's TypeScript types, and a switchboard node as a child process.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { parseAllDocuments } from 'yaml';

export const testDir = path.dirname(fileURLToPath(import.meta.url));
export const repo = path.resolve(testDir, '../..');
export const k8sDir = path.join(repo, 'k8s');

export function switchboardBinary() {
  const binary = process.env.SWITCHBOARD_BINARY;
  assert.ok(binary, 'SWITCHBOARD_BINARY must name the switchboard executable');
  return binary;
}

/// Runs a command to completion; its output as text.
export function run(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...options });
  if (result.error) throw result.error;
  return result;
}

/// Every document of a YAML text as plain objects; a syntax error fails.
export function parseYaml(text, where) {
  const objects = [];
  for (const document of parseAllDocuments(text)) {
    assert.deepEqual(document.errors.map(String), [], `${where}: YAML errors`);
    const value = document.toJS();
    if (value !== null && value !== undefined) objects.push(value);
  }
  return objects;
}

export function readYaml(file) {
  return parseYaml(readFileSync(file, 'utf8'), path.relative(repo, file));
}

/// The overlays a platform team applies, plus production with the KEDA component, which is
/// rendered through a kustomization made for the test (as the comment in production's
/// kustomization.yaml says to do).
export const overlays = ['dev', 'production', 'production with KEDA'];

function overlayDirectory(overlay) {
  if (overlay !== 'production with KEDA') return path.join(k8sDir, 'overlays', overlay);
  const dir = mkdtempSync(path.join(tmpdir(), 'switchboard-keda-'));
  const relative = (to) => path.relative(dir, path.join(k8sDir, to));
  writeFileSync(path.join(dir, 'kustomization.yaml'), [
    'apiVersion: kustomize.config.k8s.io/v1beta1',
    'kind: Kustomization',
    'resources:',
    `  - ${relative('overlays/production')}`,
    'components:',
    `  - ${relative('components/keda')}`,
    '',
  ].join('\n'));
  return dir;
}

const renderings = new Map();

/// `kubectl kustomize` of an overlay: its objects. Fails when kustomize does.
export function render(overlay) {
  if (!renderings.has(overlay)) {
    const dir = overlayDirectory(overlay);
    const result = run('kubectl', ['kustomize', dir]);
    if (dir.startsWith(tmpdir())) rmSync(dir, { recursive: true, force: true });
    assert.equal(result.status, 0, `kubectl kustomize ${overlay} failed:\n${result.stderr}`);
    renderings.set(overlay, parseYaml(result.stdout, `kubectl kustomize ${overlay}`));
  }
  return renderings.get(overlay);
}

export function objectsOf(objects, kind) {
  return objects.filter((object) => object.kind === kind);
}

export function theOne(objects, kind, name) {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  assert.equal(found.length, 1, `expected one ${kind}${name ? ' ' + name : ''}, found ${found.length}`);
  return found[0];
}

/// The names `switchboard settings` lists (the first column of its Markdown table).
export function settingNames() {
  const result = run(switchboardBinary(), ['settings']);
  assert.equal(result.status, 0, result.stderr);
  const names = [...result.stdout.matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map((m) => m[1]);
  assert.ok(names.includes('PORT') && names.includes('METRICS_PORT'), 'settings table not recognised');
  return new Set(names);
}

/// The Secret template's keys: what `switchboard-secrets` holds once filled.
export function secretTemplate() {
  const [secret] = readYaml(path.join(k8sDir, 'secret.template.yaml'));
  return secret;
}

/// Every environment variable a workload's containers get, with where it comes from: `env`
/// entries, and the keys of the ConfigMaps and Secrets of `envFrom` (the Secret's keys from the
/// template, since no Secret is rendered).
export function environmentOf(objects, workload) {
  const variables = [];
  const template = secretTemplate();
  const pod = workload.spec.template.spec;
  for (const container of [...(pod.initContainers ?? []), ...pod.containers]) {
    for (const entry of container.env ?? []) {
      variables.push({ name: entry.name, container: container.name, from: 'env', entry });
    }
    for (const source of container.envFrom ?? []) {
      let keys;
      if (source.configMapRef) {
        keys = Object.keys(theOne(objects, 'ConfigMap', source.configMapRef.name).data ?? {});
      } else {
        assert.equal(source.secretRef?.name, template.metadata.name, 'envFrom names an unknown Secret');
        keys = Object.keys(template.stringData);
      }
      for (const key of keys) {
        variables.push({ name: (source.prefix ?? '') + key, container: container.name, from: 'envFrom' });
      }
    }
  }
  return variables;
}

/// The settings a workload's container is started with: its ConfigMap (envFrom) values and the
/// literal `env` values; values from the downward API or a Secret are left to the caller.
export function literalSettingsOf(objects, workload) {
  const settings = {};
  const container = workload.spec.template.spec.containers[0];
  for (const source of container.envFrom ?? []) {
    if (source.configMapRef) {
      Object.assign(settings, theOne(objects, 'ConfigMap', source.configMapRef.name).data);
    }
  }
  for (const entry of container.env ?? []) {
    if (entry.value !== undefined) settings[entry.name] = entry.value;
  }
  return settings;
}

// The TypeScript type of each object kind the manifests may hold: the Kubernetes API's types
// (npm kubernetes-types, generated from the API's OpenAPI schema) and ./crd-types.ts for the
// custom resources. A kind missing here fails the check: add its type.
const modules = {
  core_v1: 'kubernetes-types/core/v1',
  apps_v1: 'kubernetes-types/apps/v1',
  policy_v1: 'kubernetes-types/policy/v1',
  networking_v1: 'kubernetes-types/networking/v1',
  autoscaling_v2: 'kubernetes-types/autoscaling/v2',
  crd: path.join(testDir, 'crd-types'),
};
const typeOfKind = {
  'v1 Namespace': 'core_v1.Namespace',
  'v1 ServiceAccount': 'core_v1.ServiceAccount',
  'v1 ConfigMap': 'core_v1.ConfigMap',
  'v1 Secret': 'core_v1.Secret',
  'v1 Service': 'core_v1.Service',
  'apps/v1 StatefulSet': 'apps_v1.StatefulSet',
  'policy/v1 PodDisruptionBudget': 'policy_v1.PodDisruptionBudget',
  'networking.k8s.io/v1 NetworkPolicy': 'networking_v1.NetworkPolicy',
  'networking.k8s.io/v1 Ingress': 'networking_v1.Ingress',
  'autoscaling/v2 HorizontalPodAutoscaler': 'autoscaling_v2.HorizontalPodAutoscaler',
  'monitoring.coreos.com/v1 ServiceMonitor': 'crd.ServiceMonitor',
  'monitoring.coreos.com/v1 PrometheusRule': 'crd.PrometheusRule',
  'keda.sh/v1alpha1 ScaledObject': 'crd.ScaledObject',
};

/// Type-checks groups of objects with `tsc --strict`: each object becomes an object literal
/// typed by its kind, so a field its type does not declare is an error (TypeScript's excess
/// property check), as is a wrong value type or a missing required field. `groups` maps a label
/// to a list of objects; returns the errors, each with the label and object it concerns.
export function typeCheck(groups) {
  const dir = mkdtempSync(path.join(tmpdir(), 'switchboard-k8s-types-'));
  const files = [];
  const origins = new Map();  // file -> [{line, label, object}]
  let index = 0;
  for (const [label, objects] of Object.entries(groups)) {
    const lines = Object.entries(modules).map(([alias, from]) =>
      `import type * as ${alias} from ${JSON.stringify(from)};`);
    const starts = [];
    for (const object of objects) {
      const type = typeOfKind[`${object.apiVersion} ${object.kind}`];
      if (!type) {
        starts.push({ line: lines.length + 1, label, object, unknown: true });
        lines.push(`// no type for ${object.apiVersion} ${object.kind}`);
        continue;
      }
      starts.push({ line: lines.length + 1, label, object });
      const literal = JSON.stringify(object, null, 2).split('\n');
      lines.push(`export const object${index++}: ${type} = ${literal[0]}`, ...literal.slice(1));
      lines[lines.length - 1] += ';';
    }
    const file = path.join(dir, `group${files.length}.ts`);
    writeFileSync(file, lines.join('\n') + '\n');
    files.push(file);
    origins.set(file, starts);
  }
  writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      strict: true,
      noEmit: true,
      target: 'es2022',
      module: 'esnext',
      moduleResolution: 'bundler',
      types: [],
      paths: { 'kubernetes-types/*': [path.join(testDir, 'node_modules/kubernetes-types/*')] },
    },
    files,
  }));
  const tsc = path.join(testDir, 'node_modules/typescript/bin/tsc');
  const result = run(process.execPath, [tsc, '-p', 'tsconfig.json', '--pretty', 'false'], { cwd: dir });
  rmSync(dir, { recursive: true, force: true });
  const errors = [];
  for (const [file, starts] of origins) {
    for (const start of starts.filter((s) => s.unknown)) {
      errors.push({ ...start, code: 'no-type', message: `no type for ${start.object.apiVersion} ${start.object.kind}` });
    }
  }
  for (const match of result.stdout.matchAll(/^(.+?)\((\d+),\d+\): error (TS\d+): (.*)$/gm)) {
    const [, file, line, code, message] = match;
    const starts = origins.get(path.resolve(dir, file));
    assert.ok(starts, `tsc reported an error outside the generated files:\n${match[0]}`);
    const origin = starts.filter((s) => s.line <= Number(line)).at(-1);
    errors.push({ label: origin.label, object: origin.object, code, message });
  }
  // tsc's exit status must agree: errors it printed in a form not parsed above still fail.
  if (errors.length === 0) assert.equal(result.status, 0, `tsc failed:\n${result.stdout}${result.stderr}`);
  return errors;
}

export function describeError(error) {
  const { object } = error;
  return `${error.label}: ${object.kind}/${object.metadata?.name}: ${error.code} ${error.message}`;
}

/// GET http://127.0.0.1:port/path: {status, body}.
export function httpGet(port, target) {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path: target }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => { body += chunk; });
      response.on('end', () => resolve({ status: response.statusCode, body }));
    });
    request.on('error', reject);
  });
}

/// Starts `switchboard serve` in `workDir` with exactly `environment` (plus PATH and HOME).
/// `ready` resolves with the ports from its "listening on" line; `stop()` sends SIGTERM
/// (SIGKILL after 20 s) and resolves with how it ended, once reaped.
export function startNode(environment, workDir) {
  const child = spawn(switchboardBinary(), ['serve'], {
    cwd: workDir,
    env: { PATH: process.env.PATH, HOME: workDir, ...environment },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => { log = (log + chunk).slice(-64 * 1024); });
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  const ready = new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stderr });
    lines.on('line', (line) => {
      const match = /listening on \S+:(\d+) .*metrics on port (\d+)/.exec(line);
      if (match) resolve({ port: Number(match[1]), metricsPort: Number(match[2]) });
    });
    child.on('error', reject);
    exited.then(({ code, signal }) =>
      reject(new Error(`switchboard serve exited (${code ?? signal}) before listening:\n${log}`)));
  });
  let stopping = null;
  const stop = () => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        const result = await exited;
        clearTimeout(killer);
        return result;
      }
      return exited;
    })();
    return stopping;
  };
  return { ready, stop, log: () => log };
}
