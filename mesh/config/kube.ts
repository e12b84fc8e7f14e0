/**
 * Kubernetes objects beside the Istio resources, read the way istioctl's analyzers read them:
 * Namespaces (labels), Services (selector, ports), workloads (Pods, and the pod templates of
 * Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs), ServiceAccounts and Secrets. Together
 * with the running world's instances they form the `Inventory` analyzers resolve hosts, ports and
 * workload selectors against. Every other kind is kept with the reason meshlab ignores it.
 */
import { CLUSTER_DOMAIN, MESH_NAMESPACE, ROOT_NAMESPACE } from './hosts';
import type { AnalyzeContext, KubeObject } from './types';

/** Kubernetes kinds meshlab reads, and what for. */
export const KUBE_KINDS: Record<string, string> = {
  Namespace: 'namespace (labels, existence)',
  Service: 'service (hosts, ports, selector)',
  ServiceAccount: 'service account (identities)',
  Deployment: 'workload (pod template labels)',
  StatefulSet: 'workload (pod template labels)',
  DaemonSet: 'workload (pod template labels)',
  ReplicaSet: 'workload (pod template labels)',
  Job: 'workload (pod template labels)',
  Pod: 'workload (labels)',
  Secret: 'credential (gateway and DestinationRule credentialName)',
};

/** Istio kinds read as context only (their own schema and runtime are not meshlab's). */
export const CONTEXT_ISTIO_KINDS: Record<string, string> = {};

/** Why an object of this kind plays no part in meshlab (undefined: it is read). */
export function ignoredReason(apiVersion: string, kind: string): string | undefined {
  if (kind in KUBE_KINDS || kind in CONTEXT_ISTIO_KINDS) return undefined;
  if (/\.istio\.io\//.test(apiVersion)) return `Istio kind ${kind} is not supported by meshlab (supported: VirtualService, DestinationRule, PeerAuthentication, AuthorizationPolicy, Gateway, ServiceEntry, Sidecar, Telemetry, RequestAuthentication, EnvoyFilter)`;
  if (/^gateway\.networking\.k8s\.io\//.test(apiVersion)) return `Kubernetes Gateway API kind ${kind} is not read by meshlab`;
  return `${kind} plays no part in the mesh config meshlab reads`;
}

export interface ServicePort {
  port: number;
  name?: string;
  protocol?: string;
  targetPort?: number | string;
}

export interface ServiceInfo {
  name: string;
  namespace: string;
  fqdn: string;
  selector?: Record<string, string>;
  ports: ServicePort[];
  labels: Record<string, string>;
  type?: string;
}

export interface WorkloadInfo {
  kind: string;
  name: string;
  namespace: string;
  labels: Record<string, string>;
  serviceAccount?: string;
  containerPorts: number[];
  /** Has a sidecar (util.PodInMesh: istio-proxy container, sidecar.istio.io/inject, namespace istio-injection) or is ambient. */
  inMesh: boolean;
  /** Ambient mode (ambient.istio.io/redirection: enabled). */
  ambient?: boolean;
  annotations?: Record<string, string>;
  hasProxy?: boolean;
}

export interface SecretInfo {
  name: string;
  namespace: string;
  type?: string;
  keys: string[];
}

export interface Inventory {
  /** Namespaces named by a Namespace object or by any object's metadata.namespace. */
  namespaces: Map<string, Record<string, string>>;
  services: ServiceInfo[];
  workloads: WorkloadInfo[];
  secrets: SecretInfo[];
  /** True when services are known (Service objects or the running world): only then is a host "not found". */
  servicesKnown: boolean;
  /** Namespaces declared by Namespace objects (or the running world's), with their labels; undefined when none is. */
  declaredNamespaces?: Map<string, Record<string, string>>;
  /** Annotations of each Service, by "namespace/name" (networking.istio.io/exportTo). */
  serviceAnnotations?: Map<string, Record<string, string>>;
  /** True when workloads are known (Pods, Deployments or the running world): only then does a selector "select nothing". */
  workloadsKnown: boolean;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const rec = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const strMap = (v: unknown): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(rec(v))) if (x !== null && x !== undefined) out[k] = String(x);
  return out;
};

function hasProxy(podSpec: Record<string, unknown>): boolean {
  const all = [...(Array.isArray(podSpec.containers) ? podSpec.containers : []), ...(Array.isArray(podSpec.initContainers) ? podSpec.initContainers : [])];
  return all.some((c) => rec(c).name === 'istio-proxy');
}

function podSpecPorts(podSpec: Record<string, unknown>): number[] {
  const out: number[] = [];
  for (const c of Array.isArray(podSpec.containers) ? podSpec.containers : []) {
    for (const p of Array.isArray(rec(c).ports) ? (rec(c).ports as unknown[]) : []) {
      const n = rec(p).containerPort;
      if (typeof n === 'number') out.push(n);
    }
  }
  return out;
}

export function buildInventory(ctx: AnalyzeContext, namespacesInUse: Iterable<string> = []): Inventory {
  const inv: Inventory = { namespaces: new Map(), services: [], workloads: [], secrets: [], servicesKnown: false, workloadsKnown: false, serviceAnnotations: new Map() };
  const nsOf = (o: KubeObject): string => o.metadata.namespace || MESH_NAMESPACE;
  for (const ns of namespacesInUse) if (!inv.namespaces.has(ns)) inv.namespaces.set(ns, {});
  for (const o of ctx.objects ?? []) {
    if (o.ignored) continue;
    const spec = rec(o.raw.spec);
    switch (o.kind) {
      case 'Namespace':
        inv.namespaces.set(o.metadata.name, o.metadata.labels ?? {});
        (inv.declaredNamespaces ??= new Map()).set(o.metadata.name, o.metadata.labels ?? {});
        break;
      case 'Service': {
        inv.servicesKnown = true;
        const ns = nsOf(o);
        inv.serviceAnnotations!.set(`${ns}/${o.metadata.name}`, o.metadata.annotations ?? {});
        inv.services.push({
          name: o.metadata.name,
          namespace: ns,
          fqdn: `${o.metadata.name}.${ns}.svc.${CLUSTER_DOMAIN}`,
          selector: spec.selector === undefined ? undefined : strMap(spec.selector),
          ports: (Array.isArray(spec.ports) ? spec.ports : []).map((p) => {
            const r = rec(p);
            return { port: Number(r.port), name: str(r.name), protocol: str(r.protocol), targetPort: r.targetPort as number | string | undefined };
          }),
          labels: o.metadata.labels ?? {},
          type: str(spec.type),
        });
        break;
      }
      case 'Pod':
        inv.workloadsKnown = true;
        inv.workloads.push({ kind: 'Pod', name: o.metadata.name, namespace: nsOf(o), labels: o.metadata.labels ?? {}, annotations: o.metadata.annotations ?? {}, hasProxy: hasProxy(spec), serviceAccount: str(spec.serviceAccountName), containerPorts: podSpecPorts(spec), inMesh: false });
        break;
      case 'Deployment':
      case 'StatefulSet':
      case 'DaemonSet':
      case 'ReplicaSet':
      case 'Job': {
        inv.workloadsKnown = true;
        const tpl = rec(spec.template);
        const podSpec = rec(tpl.spec);
        inv.workloads.push({ kind: o.kind, name: o.metadata.name, namespace: nsOf(o), labels: strMap(rec(tpl.metadata).labels), annotations: strMap(rec(tpl.metadata).annotations), hasProxy: hasProxy(podSpec), serviceAccount: str(podSpec.serviceAccountName), containerPorts: podSpecPorts(podSpec), inMesh: false });
        break;
      }
      case 'Secret':
        inv.secrets.push({ name: o.metadata.name, namespace: nsOf(o), type: str(o.raw.type), keys: [...Object.keys(rec(o.raw.data)), ...Object.keys(rec(o.raw.stringData))] });
        break;
    }
    if (o.kind !== 'Namespace' && o.metadata.namespace && !inv.namespaces.has(o.metadata.namespace)) inv.namespaces.set(o.metadata.namespace, {});
  }
  if (ctx.runtimeResources) {
    inv.servicesKnown = true;
    inv.workloadsKnown = true;
    inv.declaredNamespaces ??= new Map();
  }
  for (const w of inv.workloads) {
    const inject = w.labels['sidecar.istio.io/inject'] ?? w.annotations?.['sidecar.istio.io/inject'];
    const nsLabels = inv.namespaces.get(w.namespace);
    w.ambient = w.annotations?.['ambient.istio.io/redirection'] === 'enabled';
    w.inMesh = w.hasProxy || (inject !== undefined ? inject === 'true' : nsLabels?.['istio-injection'] === 'enabled') || w.ambient;
  }
  // Like istioctl (AddDefaultResources), the ingress gateway always exists: a pod labelled
  // istio=ingressgateway and the istio-ingressgateway Service in istio-system (meshlab's gateway
  // plays that part). They do not make services or workloads "known".
  inv.workloads.push({ kind: 'Pod', name: 'istio-ingressgateway-dummypod', namespace: ROOT_NAMESPACE, labels: { istio: 'ingressgateway' }, containerPorts: [], hasProxy: true, inMesh: true });
  inv.services.push({
    name: 'istio-ingressgateway',
    namespace: ROOT_NAMESPACE,
    fqdn: `istio-ingressgateway.${ROOT_NAMESPACE}.svc.${CLUSTER_DOMAIN}`,
    selector: { istio: 'ingressgateway' },
    ports: [
      { port: 80, name: 'http2', protocol: 'TCP', targetPort: 80 },
      { port: 443, name: 'https', protocol: 'TCP', targetPort: 443 },
      { port: 31400, name: 'tcp', protocol: 'TCP', targetPort: 31400 },
      { port: 15443, name: 'tls', protocol: 'TCP', targetPort: 15443 },
    ],
    labels: {},
  });
  // The running world: every service in its namespace (default unless the topology says otherwise), one workload per instance.
  if (ctx.services) {
    inv.servicesKnown = true;
    for (const s of ctx.services) {
      const ns = s.namespace ?? MESH_NAMESPACE;
      inv.services.push({ name: s.name, namespace: ns, fqdn: `${s.name}.${ns}.svc.${CLUSTER_DOMAIN}`, selector: { app: s.name }, ports: (s.ports ?? [80]).map((port) => ({ port, name: 'http' })), labels: s.labels ?? { app: s.name } });
    }
  }
  if (ctx.instances) {
    inv.workloadsKnown = true;
    if (!ctx.services) {
      inv.servicesKnown = true;
      const seen = new Set<string>();
      for (const i of ctx.instances) {
        const ns = i.namespace ?? MESH_NAMESPACE;
        if (seen.has(`${ns}/${i.service}`)) continue;
        seen.add(`${ns}/${i.service}`);
        inv.services.push({ name: i.service, namespace: ns, fqdn: `${i.service}.${ns}.svc.${CLUSTER_DOMAIN}`, selector: { app: i.service }, ports: [{ port: 80, name: 'http' }], labels: { app: i.service } });
      }
    }
    ctx.instances.forEach((i, n) => inv.workloads.push({ kind: 'Pod', name: `${i.service}-${n}`, namespace: i.namespace ?? MESH_NAMESPACE, labels: { app: i.service, ...i.labels }, serviceAccount: i.service, containerPorts: [], inMesh: true }));
    const worldNamespaces = new Set([MESH_NAMESPACE, ...ctx.instances.map((i) => i.namespace ?? MESH_NAMESPACE)]);
    for (const ns of worldNamespaces) if (!inv.namespaces.has(ns)) inv.namespaces.set(ns, {});
    inv.declaredNamespaces ??= new Map();
    for (const ns of [...worldNamespaces, ROOT_NAMESPACE]) if (!inv.declaredNamespaces.has(ns)) inv.declaredNamespaces.set(ns, {});
  }
  return inv;
}

/** Kubernetes label selector semantics for matchLabels: every pair must be present. An empty selector selects all. */
export function selectsLabels(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  return Object.entries(selector ?? {}).every(([k, v]) => labels[k] === v);
}
