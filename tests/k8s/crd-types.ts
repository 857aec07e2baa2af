// TypeScript shapes of the custom resources the manifests use, for the same strict check as the
// built-in objects (kubernetes-types): an object literal with a field these do not declare fails
// to compile. Written from the projects' API references — Prometheus Operator
// (monitoring.coreos.com/v1: ServiceMonitor, PrometheusRule) and KEDA (keda.sh/v1alpha1:
// ScaledObject) — and limited to the fields a switchboard installation has a use for: a valid
// field missing here fails the check too; add it with the type its reference gives.
import type { HorizontalPodAutoscalerBehavior } from 'kubernetes-types/autoscaling/v2';
import type { LabelSelector, ObjectMeta } from 'kubernetes-types/meta/v1';

/** monitoring.coreos.com/v1 ServiceMonitor: which Services' endpoints Prometheus scrapes. */
export interface ServiceMonitor {
  apiVersion: 'monitoring.coreos.com/v1';
  kind: 'ServiceMonitor';
  metadata: ObjectMeta;
  spec: {
    jobLabel?: string;
    targetLabels?: string[];
    podTargetLabels?: string[];
    selector: LabelSelector;
    namespaceSelector?: { any?: boolean; matchNames?: string[] };
    sampleLimit?: number;
    endpoints: Array<{
      port?: string;
      targetPort?: number | string;
      path?: string;
      scheme?: 'http' | 'https';
      interval?: string;
      scrapeTimeout?: string;
      honorLabels?: boolean;
      honorTimestamps?: boolean;
      params?: Record<string, string[]>;
      relabelings?: RelabelConfig[];
      metricRelabelings?: RelabelConfig[];
    }>;
  };
}

/** A Prometheus relabel_config, as the Prometheus Operator spells it. */
export interface RelabelConfig {
  sourceLabels?: string[];
  separator?: string;
  targetLabel?: string;
  regex?: string;
  modulus?: number;
  replacement?: string;
  action?: 'replace' | 'keep' | 'drop' | 'hashmod' | 'labelmap' | 'labeldrop' | 'labelkeep' |
    'lowercase' | 'uppercase' | 'keepequal' | 'dropequal';
}

/** monitoring.coreos.com/v1 PrometheusRule: alerting and recording rule groups. */
export interface PrometheusRule {
  apiVersion: 'monitoring.coreos.com/v1';
  kind: 'PrometheusRule';
  metadata: ObjectMeta;
  spec: {
    groups: Array<{
      name: string;
      interval?: string;
      limit?: number;
      partial_response_strategy?: string;
      rules: Array<{
        alert?: string;
        record?: string;
        expr: string | number;
        for?: string;
        keep_firing_for?: string;
        labels?: Record<string, string>;
        annotations?: Record<string, string>;
      }>;
    }>;
  };
}

/** keda.sh/v1alpha1 ScaledObject: KEDA's autoscaler for a workload. */
export interface ScaledObject {
  apiVersion: 'keda.sh/v1alpha1';
  kind: 'ScaledObject';
  metadata: ObjectMeta;
  spec: {
    scaleTargetRef: { apiVersion?: string; kind?: string; name: string; envSourceContainerName?: string };
    pollingInterval?: number;
    cooldownPeriod?: number;
    initialCooldownPeriod?: number;
    idleReplicaCount?: number;
    minReplicaCount?: number;
    maxReplicaCount?: number;
    fallback?: { failureThreshold: number; replicas: number };
    advanced?: {
      restoreToOriginalReplicaCount?: boolean;
      horizontalPodAutoscalerConfig?: { name?: string; behavior?: HorizontalPodAutoscalerBehavior };
    };
    triggers: Array<{
      type: string;
      name?: string;
      metricType?: 'AverageValue' | 'Value' | 'Utilization';
      useCachedMetrics?: boolean;
      metadata: Record<string, string>;
      authenticationRef?: { name: string; kind?: 'TriggerAuthentication' | 'ClusterTriggerAuthentication' };
    }>;
  };
}
