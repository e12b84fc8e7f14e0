import { EventEmitter } from 'node:events';
import type { Ack, Endpoint, NodeInfo, Snapshot } from '../xds';

export interface NodeStatus {
  info: NodeInfo;
  ready: boolean;
  connectedAt: Date;
  ackedVersion: number;
  ackedAt?: Date;
  nack?: { version: number; error: string; at: Date };
}

/**
 * Who is in the mesh right now. A node is registered while its discovery stream is open; its
 * endpoint counts once its sidecar reports the app healthy. Every change bumps the version and
 * emits 'snapshot' so the server pushes it to every stream.
 */
export class Registry extends EventEmitter {
  private readonly nodes = new Map<string, NodeStatus>();
  private version = 0;
  private resources: unknown[] = [];
  /** Services that exist whether or not any instance is up (Kubernetes Services): a request for one with no endpoint is 503 UH, not 404 NR. */
  private services = new Set<string>();
  /** Namespace of each declared service (the topology's word, as Kubernetes' is the pod's namespace). */
  private readonly namespaces = new Map<string, string>();

  /** Services by name (`payments`, namespace default) or `namespace/name` (`shop/payments`). */
  declareServices(names: Iterable<string>): void {
    for (const n of names) {
      const slash = n.indexOf('/');
      const name = slash < 0 ? n : n.slice(slash + 1);
      this.services.add(name);
      if (slash > 0) this.namespaces.set(name, n.slice(0, slash));
    }
    this.changed();
  }

  /** The declared services (the topology's), with their namespaces where not "default". */
  declaredServices(): { name: string; namespace?: string }[] {
    return [...this.services].map((name) => {
      const namespace = this.namespaces.get(name);
      return namespace ? { name, namespace } : { name };
    });
  }

  /** The namespace of `service`: as declared, else as its node announced it, else "default". */
  namespaceOf(service: string, announced?: string): string {
    return this.namespaces.get(service) ?? announced ?? 'default';
  }

  /** Declared service → namespace, for the services outside "default". */
  serviceNamespaces(): ReadonlyMap<string, string> {
    return this.namespaces;
  }

  connect(info: NodeInfo): void {
    this.nodes.set(info.id, { info, ready: false, connectedAt: new Date(), ackedVersion: 0 });
    this.changed();
  }

  disconnect(id: string): void {
    const node = this.nodes.get(id);
    if (!node) return;
    this.nodes.delete(id);
    if (node.ready) this.changed();
  }

  setReady(id: string, ready: boolean): boolean {
    const node = this.nodes.get(id);
    if (!node) return false;
    if (node.ready !== ready) {
      node.ready = ready;
      this.changed();
    }
    return true;
  }

  setResources(resources: unknown[]): void {
    this.resources = resources;
    this.changed();
  }

  ack(ack: Ack): void {
    const node = this.nodes.get(ack.node);
    if (!node) return;
    if (ack.error) node.nack = { version: ack.version, error: ack.error, at: new Date() };
    else {
      node.ackedVersion = Math.max(node.ackedVersion, ack.version);
      node.ackedAt = new Date();
    }
    this.emit('ack', ack);
  }

  /**
   * Per-source address overrides: traffic from service `from` to instance `instance` goes to this
   * address instead of the instance's inbound (the chaos proxy of that edge).
   */
  private readonly edges = new Map<string, Map<string, { host: string; port: number }>>();

  setEdges(edges: { from: string; instance: string; host: string; port: number }[]): void {
    for (const e of edges) (this.edges.get(e.from) ?? this.edges.set(e.from, new Map()).get(e.from)!).set(e.instance, { host: e.host, port: e.port });
    this.changed();
  }

  /** The snapshot as a sidecar of `service` sees it: endpoints it must reach through an edge proxy carry the proxy's address. */
  snapshotFor(service: string): Snapshot {
    const snap = this.snapshot();
    const overrides = this.edges.get(service);
    if (!overrides) return snap;
    const endpoints: Record<string, Endpoint[]> = {};
    for (const [svc, list] of Object.entries(snap.endpoints)) {
      endpoints[svc] = list.map((e) => {
        const o = overrides.get(e.instance);
        return o ? { ...e, host: o.host, port: o.port } : e;
      });
    }
    return { ...snap, endpoints };
  }

  /**
   * Workloads without a sidecar (a broker the world runs beside the mesh): endpoints announced by the operator,
   * as Kubernetes' endpoints of a Service whose pods have no sidecar. Replaced per service.
   */
  private readonly workloads = new Map<string, Endpoint[]>();

  setWorkloads(service: string, endpoints: Endpoint[]): void {
    if (endpoints.length === 0) this.workloads.delete(service);
    else this.workloads.set(service, endpoints.map((e) => ({ ...e, service })));
    this.changed();
  }

  snapshot(): Snapshot {
    const endpoints: Record<string, Endpoint[]> = {};
    for (const s of this.services) endpoints[s] = [];
    for (const [s, list] of this.workloads) endpoints[s] = [...list];
    for (const { info, ready } of this.nodes.values()) {
      if (!ready || !info.inbound) continue;
      const namespace = this.namespaceOf(info.service, info.namespace);
      (endpoints[info.service] ??= []).push({ instance: info.id, service: info.service, ...(namespace !== 'default' ? { namespace } : {}), labels: info.labels, host: info.inbound.host, port: info.inbound.port });
    }
    for (const list of Object.values(endpoints)) list.sort((a, b) => a.instance.localeCompare(b.instance));
    return { version: this.version, endpoints, resources: this.resources, ...(this.namespaces.size > 0 ? { namespaces: Object.fromEntries(this.namespaces) } : {}) };
  }

  get currentVersion(): number {
    return this.version;
  }

  list(): NodeStatus[] {
    return [...this.nodes.values()];
  }

  readyCount(): number {
    let n = 0;
    for (const node of this.nodes.values()) if (node.ready && node.info.inbound) n++;
    return n;
  }

  /** True when `ready` endpoints are ready and every connected node has ACKed the current version. */
  inSync(ready: number): boolean {
    if (this.readyCount() !== ready) return false;
    for (const node of this.nodes.values()) if (node.ackedVersion < this.version) return false;
    return true;
  }

  private changed(): void {
    this.version++;
    this.emit('snapshot', this.snapshot());
  }
}
