// The Kubernetes manifests, offline: each overlay rendered by `kubectl kustomize`, every object
// type-checked against the Kubernetes API's types with unknown fields rejected (and a misspelled
// field shown to fail), every environment variable a setting of this build, the references
// between objects resolved, the deployment rules of k8s/README.md held, and yamllint clean.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';

import {
  describeError,
  environmentOf,
  k8sDir,
  literalSettingsOf,
  objectsOf,
  overlays,
  render,
  repo,
  run,
  secretTemplate,
  settingNames,
  theOne,
  typeCheck,
} from './k8s_support.mjs';

/// Beyond DRAIN_TIMEOUT, the grace period holds the last calls' goodbye (bounded at 15 s in
/// app/bridge_server.cpp) and the finalisers that write their files (k8s/README.md).
const drainMarginSeconds = 30;

function workloadOf(objects) {
  return theOne(objects, 'StatefulSet', 'switchboard');
}

function containerOf(objects) {
  const containers = workloadOf(objects).spec.template.spec.containers;
  return containers.find((c) => c.name === 'switchboard');
}

function clone(object) {
  return JSON.parse(JSON.stringify(object));
}

test('each overlay renders and every object passes the Kubernetes API types, unknown fields rejected', () => {
  const groups = {};
  for (const overlay of overlays) groups[overlay] = render(overlay);
  groups['secret template'] = [secretTemplate()];

  // Misspellings and a wrong type, each of which must fail with its field named: proof that the
  // check rejects what the API server's strict field validation would.
  const production = render('production');
  const probe = clone(workloadOf(production));
  probe.spec.template.spec.containers[0].readynessProbe = { httpGet: { path: '/readyz', port: 'metrics' } };
  const grace = clone(workloadOf(production));
  grace.spec.template.spec.terminationGracePeriodSeconds = '340';
  const ingress = clone(theOne(production, 'Ingress', 'switchboard'));
  ingress.spec.rules[0].http.paths[0].pathtype = 'Prefix';
  const hpa = clone(theOne(production, 'HorizontalPodAutoscaler', 'switchboard'));
  hpa.spec.metrics[0].pods.target.averageValues = '100';
  const monitor = clone(theOne(production, 'ServiceMonitor', 'switchboard'));
  monitor.spec.endpoints[0].intervall = '15s';
  const scaled = clone(theOne(render('production with KEDA'), 'ScaledObject', 'switchboard'));
  scaled.spec.maxReplicas = 10;
  const unknownField = (field) => new RegExp(`known properties, and '"${field}"' does not exist`);
  const negatives = [
    [probe, unknownField('readynessProbe')],
    [grace, /Type 'string' is not assignable to type 'number'/],
    [ingress, unknownField('pathtype')],
    [hpa, unknownField('averageValues')],
    [monitor, unknownField('intervall')],
    [scaled, unknownField('maxReplicas')],
  ];
  groups['deliberate mistakes'] = negatives.map(([object]) => object);

  const errors = typeCheck(groups);
  const unexpected = errors.filter((e) => e.label !== 'deliberate mistakes');
  assert.deepEqual(unexpected.map(describeError), [], 'rendered objects that fail the API types');
  for (const [object, expected] of negatives) {
    const found = errors.filter((e) => e.label === 'deliberate mistakes' && e.object === object);
    assert.equal(found.length, 1, `${object.kind}, expected ${expected}: ${found.map(describeError)}`);
    assert.match(found[0].message, expected, describeError(found[0]));
  }
});

test('every environment variable the manifests set is a setting switchboard settings lists', () => {
  const settings = settingNames();
  const template = secretTemplate();
  for (const key of Object.keys(template.stringData)) {
    assert.ok(settings.has(key), `secret template key ${key} is not a setting`);
    assert.equal(template.stringData[key], '', `secret template ${key} holds a value`);
  }
  for (const overlay of overlays) {
    const objects = render(overlay);
    const variables = environmentOf(objects, workloadOf(objects));
    assert.ok(variables.length > 5, `${overlay}: too few variables found`);
    for (const variable of variables) {
      assert.ok(settings.has(variable.name),
        `${overlay}: ${variable.name} (${variable.from} of ${variable.container}) is not a setting`);
      const secret = variable.entry?.valueFrom?.secretKeyRef;
      if (secret) {
        assert.equal(secret.name, template.metadata.name, `${variable.name}: unknown Secret`);
        assert.ok(secret.key in template.stringData, `${variable.name}: ${secret.key} not in the template`);
      }
    }
    const names = variables.map((v) => v.name);
    assert.equal(new Set(names).size, names.length, `${overlay}: a variable is set twice: ${names}`);
    const nodeName = variables.find((v) => v.name === 'NODE_NAME');
    assert.equal(nodeName?.entry?.valueFrom?.fieldRef?.fieldPath, 'metadata.name',
      `${overlay}: NODE_NAME must be the pod name`);
  }
});

test('the workload runs as non-root on a read-only root filesystem, records to its volume and drains in its grace period', () => {
  for (const overlay of overlays) {
    const objects = render(overlay);
    const workload = workloadOf(objects);
    const pod = workload.spec.template.spec;
    const container = containerOf(objects);
    const settings = literalSettingsOf(objects, workload);
    const where = `${overlay}: `;

    assert.equal(pod.securityContext.runAsNonRoot, true, where + 'runAsNonRoot');
    assert.ok(pod.securityContext.runAsUser > 0, where + 'runAsUser');
    assert.equal(container.securityContext.readOnlyRootFilesystem, true, where + 'read-only root');
    assert.equal(container.securityContext.allowPrivilegeEscalation, false, where + 'privilege escalation');
    assert.deepEqual(container.securityContext.capabilities.drop, ['ALL'], where + 'capabilities');
    assert.deepEqual(container.args, ['serve'], where + 'serve');

    // Writable places: the recordings volume at RECORDINGS_DIR, and /tmp. Everything else
    // mounted is read-only (the cluster link's certificates).
    const writable = container.volumeMounts.filter((m) => m.readOnly !== true);
    const mounts = Object.fromEntries(writable.map((m) => [m.mountPath, m.name]));
    assert.deepEqual(Object.keys(mounts).sort(), [settings.RECORDINGS_DIR, '/tmp'].sort(), where + 'mounts');
    const claims = workload.spec.volumeClaimTemplates.map((c) => c.metadata.name);
    assert.ok(claims.includes(mounts[settings.RECORDINGS_DIR]), where + 'recordings on a volume claim');

    // The container's ports are PORT and METRICS_PORT.
    const ports = Object.fromEntries(container.ports.map((p) => [p.name, p.containerPort]));
    assert.equal(ports.http, Number(settings.PORT), where + 'http port is PORT');
    assert.equal(ports.metrics, Number(settings.METRICS_PORT), where + 'metrics port is METRICS_PORT');
    assert.ok(ports.cluster > 0, where + 'a cluster port is reserved');

    // Probes on the metrics port: /healthz for liveness and start-up, /readyz for readiness.
    assert.deepEqual(container.livenessProbe.httpGet, { path: '/healthz', port: 'metrics' }, where + 'liveness');
    assert.deepEqual(container.startupProbe.httpGet, { path: '/healthz', port: 'metrics' }, where + 'startup');
    assert.deepEqual(container.readinessProbe.httpGet, { path: '/readyz', port: 'metrics' }, where + 'readiness');

    // SIGTERM comes after preStop; the grace period must cover preStop, the drain (DRAIN_TIMEOUT,
    // set in the manifests, not left to the default) and the goodbye of the last calls.
    const preStop = container.lifecycle.preStop.sleep.seconds;
    assert.match(settings.DRAIN_TIMEOUT ?? '', /^[0-9]+$/, where + 'DRAIN_TIMEOUT is set');
    const drainTimeout = Number(settings.DRAIN_TIMEOUT);
    assert.equal(pod.terminationGracePeriodSeconds, preStop + drainTimeout + drainMarginSeconds,
      `${where}grace ${pod.terminationGracePeriodSeconds} s != preStop ${preStop} + DRAIN_TIMEOUT ${drainTimeout} + ${drainMarginSeconds}`);

    // Requests fit inside limits.
    const { requests, limits } = container.resources;
    assert.ok(requests.cpu && requests.memory && limits.cpu && limits.memory, where + 'requests and limits');

    // The StatefulSet's pods are found by name through the headless cluster Service.
    const cluster = theOne(objects, 'Service', workload.spec.serviceName);
    assert.equal(cluster.spec.clusterIP, 'None', where + 'headless');
    assert.equal(cluster.spec.publishNotReadyAddresses, true, where + 'draining peers stay listed');
    assert.deepEqual(cluster.spec.ports.map((p) => p.targetPort), ['cluster'], where + 'cluster port only');
  }
});

test('Services and the Ingress reach ports that exist, with one route per node up to the most replicas', () => {
  for (const overlay of overlays) {
    const objects = render(overlay);
    const workload = workloadOf(objects);
    const podLabels = workload.spec.template.metadata.labels;
    const containerPorts = new Set(containerOf(objects).ports.map((p) => p.name));
    const services = objectsOf(objects, 'Service');
    for (const service of services) {
      for (const [key, value] of Object.entries(service.spec.selector)) {
        if (key === 'statefulset.kubernetes.io/pod-name') continue;
        assert.equal(podLabels[key], value, `${overlay}: Service ${service.metadata.name} selects no pod`);
      }
      for (const port of service.spec.ports) {
        assert.ok(containerPorts.has(port.targetPort),
          `${overlay}: Service ${service.metadata.name} targets unknown port ${port.targetPort}`);
      }
    }
    // Prometheus scrapes each pod once: one Service of those the ServiceMonitor selects has the
    // port it scrapes.
    for (const monitor of objectsOf(objects, 'ServiceMonitor')) {
      const selected = services.filter((s) => Object.entries(monitor.spec.selector.matchLabels)
        .every(([key, value]) => s.metadata.labels?.[key] === value));
      for (const endpoint of monitor.spec.endpoints) {
        const scraped = selected.filter((s) => s.spec.ports.some((p) => p.name === endpoint.port));
        assert.deepEqual(scraped.map((s) => s.metadata.name), ['switchboard'],
          `${overlay}: Services scraped on ${endpoint.port}`);
        const port = scraped[0].spec.ports.find((p) => p.name === endpoint.port);
        assert.equal(port.targetPort, 'metrics', `${overlay}: the scrape reaches METRICS_PORT`);
      }
    }
    for (const ingress of objectsOf(objects, 'Ingress')) {
      for (const rule of ingress.spec.rules) {
        for (const route of rule.http.paths) {
          const service = theOne(objects, 'Service', route.backend.service.name);
          assert.ok(service.spec.ports.some((p) => p.name === route.backend.service.port.name),
            `${overlay}: ${rule.host}${route.path} reaches no port`);
        }
      }
    }
  }

  for (const overlay of ['production', 'production with KEDA']) {
    const objects = render(overlay);
    const settings = literalSettingsOf(objects, workloadOf(objects));
    const ingress = theOne(objects, 'Ingress', 'switchboard');
    const publicUrl = new URL(settings.PUBLIC_URL);
    assert.equal(publicUrl.protocol, 'https:', `${overlay}: PUBLIC_URL is https`);
    const tlsHosts = new Set(ingress.spec.tls.flatMap((t) => t.hosts));
    const main = ingress.spec.rules.find((r) => r.host === publicUrl.host);
    assert.ok(main, `${overlay}: no Ingress rule for PUBLIC_URL's host ${publicUrl.host}`);
    assert.equal(main.http.paths[0].backend.service.name, 'switchboard', `${overlay}: main route`);

    const autoscaler = objectsOf(objects, 'HorizontalPodAutoscaler')[0]?.spec.maxReplicas ??
      theOne(objects, 'ScaledObject').spec.maxReplicaCount;
    const workload = workloadOf(objects).metadata.name;
    for (let ordinal = 0; ordinal < autoscaler; ++ordinal) {
      const pod = `${workload}-${ordinal}`;
      const host = `${pod}.${publicUrl.host}`;
      const rule = ingress.spec.rules.find((r) => r.host === host);
      assert.ok(rule, `${overlay}: no route for node ${pod} (${host})`);
      assert.deepEqual(rule.http.paths.map((p) => [p.path, p.pathType]), [['/media-stream', 'Exact']],
        `${overlay}: ${host} routes only the media stream`);
      const service = theOne(objects, 'Service', rule.http.paths[0].backend.service.name);
      assert.equal(service.spec.selector['statefulset.kubernetes.io/pod-name'], pod,
        `${overlay}: ${host} reaches ${pod} only`);
    }
    for (const rule of ingress.spec.rules) {
      assert.ok(tlsHosts.has(rule.host), `${overlay}: ${rule.host} has no TLS`);
    }

    // A call is one WebSocket: the proxy must not time it out before MAX_CALL_DURATION ends it.
    const longest = Number(settings.MAX_CALL_DURATION);
    assert.ok(longest > 0, `${overlay}: MAX_CALL_DURATION must bound calls behind a proxy`);
    for (const annotation of ['proxy-read-timeout', 'proxy-send-timeout']) {
      const seconds = Number(ingress.metadata.annotations[`nginx.ingress.kubernetes.io/${annotation}`]);
      assert.ok(seconds > longest, `${overlay}: ${annotation} ${seconds} s <= the longest call ${longest} s`);
    }
    assert.equal(ingress.spec.ingressClassName, 'nginx', `${overlay}: NGINX ingress`);
  }
});

test('NetworkPolicies let the ingress reach http, peers the cluster port, Prometheus the metrics, nothing else', () => {
  for (const overlay of overlays) {
    const objects = render(overlay);
    const podLabels = workloadOf(objects).spec.template.metadata.labels;
    const selects = (policy) => Object.entries(policy.spec.podSelector.matchLabels ?? {})
      .every(([key, value]) => podLabels[key] === value);
    const policies = objectsOf(objects, 'NetworkPolicy').filter(selects);
    const deny = policies.filter((p) => p.spec.policyTypes.includes('Ingress') && !p.spec.ingress);
    assert.equal(deny.length, 1, `${overlay}: one default-deny for the pods`);
    const allowed = {};
    for (const policy of policies) {
      for (const rule of policy.spec.ingress ?? []) {
        assert.ok(rule.from?.length && rule.ports?.length, `${overlay}: ${policy.metadata.name} opens too much`);
        for (const port of rule.ports) {
          allowed[port.port] = rule.from.map((peer) =>
            peer.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] ??
            (peer.podSelector?.matchLabels?.['app.kubernetes.io/name'] === 'switchboard' ? 'peers' : 'other'));
        }
      }
    }
    assert.deepEqual(allowed, { http: ['ingress-nginx'], cluster: ['peers'], metrics: ['monitoring'] },
      `${overlay}: ports opened to whom`);
  }
});

test('dev is one replica without TLS or autoscaling, production autoscales on calls with its observability', () => {
  const dev = render('dev');
  assert.equal(workloadOf(dev).spec.replicas, 1);
  for (const kind of ['Ingress', 'HorizontalPodAutoscaler', 'ScaledObject', 'ServiceMonitor']) {
    assert.equal(objectsOf(dev, kind).length, 0, `dev has a ${kind}`);
  }

  const production = render('production');
  assert.equal(workloadOf(production).spec.replicas, undefined, 'the autoscaler owns replicas');
  const hpa = theOne(production, 'HorizontalPodAutoscaler', 'switchboard');
  assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'switchboard' });
  assert.equal(hpa.spec.metrics[0].type, 'Pods');
  assert.ok(hpa.spec.minReplicas >= 2, 'a peer for every drain');
  assert.equal(objectsOf(production, 'ScaledObject').length, 0, 'KEDA is the alternative, not both');
  theOne(production, 'PodDisruptionBudget', 'switchboard');
  theOne(production, 'ServiceMonitor', 'switchboard');
  theOne(production, 'PrometheusRule', 'switchboard');
  const dashboard = theOne(production, 'ConfigMap', 'switchboard-grafana-dashboard');
  assert.equal(dashboard.metadata.labels.grafana_dashboard, '1');
  assert.equal(JSON.parse(dashboard.data['grafana-dashboard.json']).uid, 'switchboard-overview');

  const keda = render('production with KEDA');
  assert.equal(objectsOf(keda, 'HorizontalPodAutoscaler').length, 0, 'the ScaledObject replaces the HPA');
  const scaled = theOne(keda, 'ScaledObject', 'switchboard');
  assert.deepEqual(scaled.spec.scaleTargetRef, hpa.spec.scaleTargetRef);
  assert.equal(scaled.spec.minReplicaCount, hpa.spec.minReplicas);
  assert.equal(scaled.spec.maxReplicaCount, hpa.spec.maxReplicas);
  assert.equal(scaled.spec.triggers[0].metadata.threshold, hpa.spec.metrics[0].pods.target.averageValue);
});

test('yamllint is clean on k8s/', () => {
  const result = run('yamllint', ['-f', 'parsable', '-c', path.join(k8sDir, '.yamllint.yaml'), k8sDir], { cwd: repo });
  assert.equal(result.status, 0, `yamllint:\n${result.stdout}${result.stderr}`);
});

test('the nodes form one cluster: CLUSTER_PORT is the cluster port, CLUSTER_DNS the headless Service, mutual TLS from its Secret, each node its own stream URL', () => {
  for (const overlay of overlays) {
    const objects = render(overlay);
    const workload = workloadOf(objects);
    const container = containerOf(objects);
    const settings = literalSettingsOf(objects, workload);
    const where = `${overlay}: `;
    if (overlay === 'dev') {
      // One replica: no cluster, and no certificates to make.
      assert.equal(settings.CLUSTER_PORT ?? '', '', where + 'no cluster port');
      assert.equal(settings.CLUSTER_DNS ?? '', '', where + 'no CLUSTER_DNS (it needs CLUSTER_PORT)');
      assert.equal(settings.CLUSTER_TLS_CERT ?? '', '', where + 'no cluster TLS');
      continue;
    }
    // The port: the container's `cluster` port and the headless Service's.
    const ports = Object.fromEntries(container.ports.map((p) => [p.name, p.containerPort]));
    assert.equal(Number(settings.CLUSTER_PORT), ports.cluster, where + 'CLUSTER_PORT is the cluster port');
    const headless = theOne(objects, 'Service', workload.spec.serviceName);
    assert.equal(headless.spec.clusterIP, 'None', where + 'the governing Service is headless');
    assert.equal(headless.spec.publishNotReadyAddresses, true, where + 'draining (not ready) pods stay reachable');
    const clusterPort = headless.spec.ports.find((p) => p.targetPort === 'cluster');
    assert.equal(clusterPort?.port, Number(settings.CLUSTER_PORT), where + 'the headless Service serves CLUSTER_PORT');
    // Peers by the headless Service's name (the short name resolves in the pod's namespace).
    assert.equal(settings.CLUSTER_DNS, workload.spec.serviceName, where + 'CLUSTER_DNS names the headless Service');
    // Mutual TLS: the three files in one read-only mount of the cluster TLS Secret.
    const tlsDir = path.posix.dirname(settings.CLUSTER_TLS_CERT ?? '');
    for (const name of ['CLUSTER_TLS_CERT', 'CLUSTER_TLS_KEY', 'CLUSTER_TLS_CA']) {
      assert.equal(path.posix.dirname(settings[name] ?? ''), tlsDir, where + `${name} is in the TLS mount`);
    }
    const mount = container.volumeMounts.find((m) => m.mountPath === tlsDir);
    assert.equal(mount?.readOnly, true, where + 'the cluster TLS files are mounted read-only');
    const volume = workload.spec.template.spec.volumes.find((v) => v.name === mount.name);
    assert.ok(volume?.secret?.secretName, where + 'the cluster TLS files come from a Secret');
    assert.equal(settings.CLUSTER_INSECURE ?? 'false', 'false', where + 'never an insecure link');
    assert.match(settings.MAX_CALLS ?? '', /^[1-9][0-9]*$/, where + 'MAX_CALLS bounds each node');
    // NODE_STREAM_URL: each pod's own route, $(NODE_NAME) defined before it (Kubernetes expands
    // only earlier variables).
    const names = container.env.map((e) => e.name);
    assert.ok(names.indexOf('NODE_NAME') >= 0 && names.indexOf('NODE_NAME') < names.indexOf('NODE_STREAM_URL'),
      where + 'NODE_STREAM_URL comes after NODE_NAME');
    const streamUrl = settings.NODE_STREAM_URL ?? '';
    assert.match(streamUrl, /^wss:\/\/\$\(NODE_NAME\)\./, where + 'NODE_STREAM_URL is per pod');
    const ingress = theOne(objects, 'Ingress', 'switchboard');
    const pod0 = new URL(streamUrl.replace('$(NODE_NAME)', `${workload.metadata.name}-0`));
    const rule = ingress.spec.rules.find((r) => r.host === pod0.hostname);
    assert.ok(rule, where + `the Ingress routes ${pod0.hostname}`);
    assert.ok(rule.http.paths.some((p) => p.path === pod0.pathname), where + `and its ${pod0.pathname}`);
  }
});
