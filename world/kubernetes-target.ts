/**
 * The scenario target for a real cluster with Istio (`npm run scenario -- <lab> --target kubernetes
 * --context CTX`), designed and not run: no cluster is reachable from where meshlab is built, so
 * `attachKubernetes` refuses with an error that names the plan instead of pretending. The plan —
 * where each lab's config, lab control, metrics, access logs and invariants come from on a cluster —
 * is scenarios/README.md, "Target kubernetes (designed, not run)"; this file holds its interface.
 *
 * The world it attaches to is the one `meshlab export kubernetes` writes (world/kubernetes-export.ts),
 * applied with `kubectl apply -k`.
 */
import type { WorldHandle } from './compose-target';

export const KUBERNETES_PLAN = 'scenarios/README.md, section "Target kubernetes (designed, not run)"';

export interface KubernetesTargetOptions {
  /** The kubectl context (`--context CTX`): which cluster. */
  context: string;
  /** Where the export was applied (default `default`). */
  namespace?: string;
  /** Prometheus' base URL when the cluster runs Istio's Prometheus addon (metrics across pods). */
  prometheusUrl?: string;
}

/** One pod of the exported world as the target sees it. */
export interface ClusterPod {
  name: string;
  ip: string;
  labels: Record<string, string>;
  ready: boolean;
}

/**
 * What the target needs from a cluster, each one kubectl/istioctl operation against `context`
 * and `namespace`. The scenario world (below) is built only from these, so a test can drive it
 * with a fake cluster, and a real run needs nothing but kubectl and istioctl on the PATH.
 */
export interface ClusterOps {
  /** `kubectl apply -f -`: istiod's validating webhook rejects invalid Istio config whole, like meshlab's control plane. */
  apply(yaml: string): Promise<void>;
  /** `kubectl delete KIND NAME`. */
  delete(kind: string, name: string): Promise<void>;
  /** Polls `istioctl proxy-status` until every proxy is SYNCED (istiod's ACK view, meshlab's /v1/sync). */
  waitForSynced(timeoutMs: number): Promise<void>;
  /** `kubectl get pods -l SELECTOR -o json`. */
  pods(selector: string): Promise<ClusterPod[]>;
  /** `kubectl exec POD -c CONTAINER -- ARGV…`: lab control (loopback :9901) and Envoy's admin API (`pilot-agent request GET …`). */
  exec(pod: string, container: string, argv: string[]): Promise<string>;
  /** `kubectl port-forward TARGET :PORT`: the ingress gateway, an app's own port for the invariants. */
  portForward(target: string, port: number): Promise<{ localPort: number; close(): Promise<void> }>;
  /** `kubectl logs POD -c istio-proxy --since-time=…`: Envoy's JSON access log. */
  logs(pod: string, container: string, sinceTime: string): Promise<string>;
  /** `kubectl scale KIND/NAME --replicas=N` (instance kills, broker outages). */
  scale(kind: 'deployment' | 'statefulset', name: string, replicas: number): Promise<void>;
  /** `kubectl annotate pod POD controller.kubernetes.io/pod-deletion-cost=…`: which pod a scale-down removes. */
  annotate(pod: string, key: string, value: string): Promise<void>;
}

/**
 * The lab instance ids (`payments-v1-1`) on a cluster: the i-th ready pod, by name, of the
 * Deployment `<service>-<version>` at attach time. A restarted instance is a new pod under the same id.
 */
export function instanceIdsOf(pods: ClusterPod[]): Map<string, ClusterPod> {
  const out = new Map<string, ClusterPod>();
  const groups = new Map<string, ClusterPod[]>();
  for (const p of pods) {
    if (!p.labels.app || !p.labels.version) continue;
    const key = `${p.labels.app}-${p.labels.version}`;
    groups.set(key, [...(groups.get(key) ?? []), p]);
  }
  for (const [key, group] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
    group.sort((a, b) => a.name.localeCompare(b.name)).forEach((p, i) => out.set(`${key}-${i}`, p));
  }
  return out;
}

export class KubernetesTargetUnavailable extends Error {}

/**
 * Attaches to the exported world on a cluster. Not implemented here: no cluster is reachable, so
 * this says so, names the plan, and runs nothing.
 */
export async function attachKubernetes(options: Partial<KubernetesTargetOptions>): Promise<WorldHandle> {
  if (!options.context) throw new KubernetesTargetUnavailable('--target kubernetes needs --context CTX (a kubectl context naming the cluster the export was applied to)');
  throw new KubernetesTargetUnavailable(
    `--target kubernetes is not implemented here: no cluster reachable (context "${options.context}"${options.namespace ? `, namespace "${options.namespace}"` : ''}); nothing was run. ` +
      `The design — where each lab's config, lab control, metrics and access logs come from on a cluster with Istio — is in ${KUBERNETES_PLAN}.`,
  );
}
