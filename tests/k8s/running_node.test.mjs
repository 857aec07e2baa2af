// The manifests against a running node: `switchboard serve` started with each overlay's own
// settings (its ConfigMap, with ports 0 instead of the fixed ones), its probes requested on the
// port each names, and the autoscaling signal (the HPA's metric, prometheus-adapter's rule, the
// KEDA query) checked against a real scrape of /metrics and evaluated by promtool.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  httpGet,
  k8sDir,
  literalSettingsOf,
  objectsOf,
  readYaml,
  render,
  run,
  startNode,
  theOne,
} from './k8s_support.mjs';

/// Starts a node as the overlay's pod would run, but on free ports, with made-up secrets and
/// the recordings in a temporary directory. Which setting each container port is: http = PORT,
/// metrics = METRICS_PORT (manifests.test.mjs checks the numbers agree).
function nodeOf(overlay) {
  const objects = render(overlay);
  const workload = theOne(objects, 'StatefulSet', 'switchboard');
  const settings = literalSettingsOf(objects, workload);
  const work = mkdtempSync(path.join(tmpdir(), 'switchboard-k8s-node-'));
  const node = startNode({
    ...settings,
    ...clusterOf(settings, work),
    PORT: '0',
    METRICS_PORT: '0',
    RECORDINGS_DIR: path.join(work, 'recordings'),
    NODE_NAME: `${workload.metadata.name}-0`,
    OPENAI_API_KEY: 'sk-test-not-a-key',
    TWILIO_AUTH_TOKEN: 'test-auth-token',
  }, work);
  return { objects, workload, node, work };
}

/// The overlay's cluster as a lone pod runs it: on any free port (so no CLUSTER_DNS, which needs
/// a fixed one; here the Service's name resolves to nothing anyway), with certificates made for
/// the test in place of the Secret switchboard-cluster-tls.
function clusterOf(settings, work) {
  if (!settings.CLUSTER_PORT) return {};
  const files = {};
  if (settings.CLUSTER_TLS_CERT) {
    const dir = path.join(work, 'cluster-tls');
    const openssl = (...args) => {
      const result = run('openssl', args, { cwd: dir });
      assert.equal(result.status, 0, `openssl ${args.join(' ')}: ${result.stderr}`);
    };
    mkdirSync(dir);
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=test-ca',
      '-keyout', 'ca.key', '-out', 'ca.crt');
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=test-node', '-keyout', 'tls.key',
      '-out', 'node.csr');
    writeFileSync(path.join(dir, 'usage.ext'), 'extendedKeyUsage=serverAuth,clientAuth\n');
    openssl('x509', '-req', '-in', 'node.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key',
      '-CAcreateserial', '-days', '2', '-out', 'tls.crt', '-extfile', 'usage.ext');
    files.CLUSTER_TLS_CERT = path.join(dir, 'tls.crt');
    files.CLUSTER_TLS_KEY = path.join(dir, 'tls.key');
    files.CLUSTER_TLS_CA = path.join(dir, 'ca.crt');
  }
  return { ...files, CLUSTER_PORT: '0', CLUSTER_DNS: '' };
}

function portsOf(ready) {
  return { http: ready.port, metrics: ready.metricsPort };
}

for (const overlay of ['dev', 'production']) {
  describe(`${overlay}: a node started with the overlay's settings`, () => {
    let started;
    let ports;
    before(async () => {
      started = nodeOf(overlay);
      ports = portsOf(await started.node.ready);
    });
    after(async () => {
      const ended = await started?.node.stop();
      rmSync(started?.work, { recursive: true, force: true });
      // A clean SIGTERM stop: the exit a pod's termination expects.
      assert.deepEqual(ended, { code: 0, signal: null }, started?.node.log());
    });

    test('answers every probe on the port and path the manifest names', async () => {
      assert.notEqual(ports.http, ports.metrics, 'METRICS_PORT must be its own listener');
      const container = started.workload.spec.template.spec.containers[0];
      for (const kind of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
        const { path: target, port } = container[kind].httpGet;
        assert.ok(port in ports, `${kind} names port ${port}, which is neither PORT nor METRICS_PORT`);
        const answer = await httpGet(ports[port], target);
        assert.equal(answer.status, 200, `${kind} ${target} on ${port}: ${answer.status} ${answer.body}`);
      }
      // The metrics stay off the public port (the ingress reaches only `http`).
      assert.equal((await httpGet(ports.http, '/metrics')).status, 404);
      assert.equal((await httpGet(ports.metrics, '/metrics')).status, 200);
    });

    if (overlay === 'production') {
      test('the autoscaling metric is a gauge of the real scrape, and the adapter rule and KEDA query select it', async () => {
        const scrape = await httpGet(ports.metrics, '/metrics');
        assert.equal(scrape.status, 200);
        const types = new Map([...scrape.body.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]]));
        // The series as Prometheus stores it after a scrape through the ServiceMonitor: the node's
        // own labels plus the target's namespace and pod.
        const series = [...scrape.body.matchAll(/^switchboard_active_calls(\{[^}]*\})? (\S+)$/gm)];
        assert.equal(series.length, 1, 'one switchboard_active_calls series per node');
        const nodeLabels = series[0][1] ?? '{}';
        assert.match(nodeLabels, /node="switchboard-0"/, 'the node label is NODE_NAME, the pod name');

        const hpa = theOne(started.objects, 'HorizontalPodAutoscaler', 'switchboard');
        const metric = hpa.spec.metrics[0].pods.metric.name;
        assert.equal(types.get(metric), 'gauge', `the HPA's ${metric} is not a gauge of the scrape`);

        const values = readYaml(path.join(k8sDir, 'overlays/production/prometheus-adapter-values.yaml'))[0];
        const rules = values.rules.custom.filter((rule) => rule.name.as === metric);
        assert.equal(rules.length, 1, `one prometheus-adapter rule serves ${metric}`);
        const [rule] = rules;
        const seriesName = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{/.exec(rule.seriesQuery)?.[1];
        assert.equal(types.get(seriesName), 'gauge', `the adapter's series ${seriesName} is not in the scrape`);
        assert.match(seriesName, new RegExp(rule.name.matches), 'name.matches selects the series');
        assert.deepEqual(rule.resources.overrides, {
          namespace: { resource: 'namespace' }, pod: { resource: 'pod' } });

        const keda = theOne(render('production with KEDA'), 'ScaledObject', 'switchboard');
        const kedaQuery = keda.spec.triggers[0].metadata.query;
        const namespace = theOne(started.objects, 'StatefulSet', 'switchboard').metadata.namespace;

        // Evaluate the queries on two pods' series as Prometheus would hold them: the adapter's
        // seriesQuery finds both, its metricsQuery (templated the way the adapter does for an HPA
        // asking about the two pods) gives each pod its own value, KEDA's query their sum.
        const labelsOf = (pod) => nodeLabels.replace(/node="[^"]*"/, `node="${pod}"`)
          .replace(/^\{/, `{namespace="${namespace}",pod="${pod}",`).replace(',}', '}');
        const metricsQuery = rule.metricsQuery
          .replaceAll('<<.Series>>', seriesName)
          .replaceAll('<<.LabelMatchers>>', `namespace="${namespace}",pod=~"switchboard-0|switchboard-1"`)
          .replaceAll('<<.GroupBy>>', 'pod');
        assert.doesNotMatch(metricsQuery, /<<|>>/, 'a template field the test does not fill');
        const work = mkdtempSync(path.join(tmpdir(), 'switchboard-promtool-'));
        const file = path.join(work, 'autoscaling.test.yaml');
        writeFileSync(file, JSON.stringify({
          rule_files: [],
          evaluation_interval: '1m',
          tests: [{
            interval: '1m',
            input_series: [
              { series: `${seriesName}${labelsOf('switchboard-0')}`, values: '120x3' },
              { series: `${seriesName}${labelsOf('switchboard-1')}`, values: '40x3' },
            ],
            promql_expr_test: [
              { expr: rule.seriesQuery, eval_time: '2m', exp_samples: [
                { labels: `${seriesName}${labelsOf('switchboard-0')}`, value: 120 },
                { labels: `${seriesName}${labelsOf('switchboard-1')}`, value: 40 }] },
              { expr: metricsQuery, eval_time: '2m', exp_samples: [
                { labels: '{pod="switchboard-0"}', value: 120 },
                { labels: '{pod="switchboard-1"}', value: 40 }] },
              { expr: kedaQuery, eval_time: '2m', exp_samples: [{ labels: '{}', value: 160 }] },
            ],
          }],
        }));
        const promtool = run('promtool', ['test', 'rules', file]);
        rmSync(work, { recursive: true, force: true });
        assert.equal(promtool.status, 0, `promtool test rules:\n${promtool.stdout}${promtool.stderr}`);
        assert.equal(objectsOf(started.objects, 'ScaledObject').length, 0);
      });
    }
  });
}
