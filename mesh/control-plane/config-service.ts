import fs from 'node:fs';
import path from 'node:path';
import { ConfigStore, ConfigRejectedError, resourceKey, type ResourceRef } from '../config/store';
import { loadPath, loadYaml } from '../config/load';
import { analyze } from '../config/analyze';
import { Codes, hasErrors, type Message } from '../config/messages';
import { messageAt, resourceLabel } from '../config/schema/validate';
import { runtimeView, worldSkips, type WorldNamespaces } from '../config/runtime-view';
import { egressRuntimeMessages, tlsOriginationMessages } from '../egress/runtime-support';
import { writeSecretCredential } from '../gateway/secret-credentials';
import { RUNTIME_KINDS, type AnalyzeContext, type Kind, type KubeObject, type MeshResource } from '../config/types';

/** A file as the CLI sends it: its name (for messages with file:line:col) and its YAML text. */
export interface ConfigFile {
  name: string;
  text: string;
}

export type ApplyAction = 'created' | 'configured' | 'unchanged' | 'deleted' | 'used as topology' | 'used as credential' | 'ignored';

export interface ApplyResult {
  kind: Kind | string;
  name: string;
  namespace?: string;
  apiVersion?: string;
  action: ApplyAction;
  /** Why, for objects that are not applied as mesh config. */
  reason?: string;
}

export interface ApplyOutcome {
  ok: boolean;
  version: number;
  /** kubectl-style results: `virtualservice.networking.istio.io/payments configured`, one per object in the files. */
  results: ApplyResult[];
  messages: Message[];
}

/** What apply does with a Kubernetes (or context-only) object found beside the Istio config. */
function credentialResult(res: ApplyResult, reason: string): ApplyResult {
  return reason.startsWith('written') ? { ...res, action: 'used as credential', reason } : { ...res, reason: `${res.reason ?? ''}; ${reason}` };
}

function objectResult(o: KubeObject): ApplyResult {
  const base = { kind: o.kind, name: o.metadata.name, namespace: o.metadata.namespace ?? 'default', apiVersion: o.apiVersion };
  if (o.ignored) return { ...base, action: 'ignored', reason: o.ignored };
  return {
    ...base,
    action: 'used as topology',
    reason: `read to analyze this config (hosts, ports, workloads, namespaces); the running world's processes come from its topology, so apply does not create a ${o.kind}`,
  };
}

/**
 * The messages of a committed apply plus those `analyze` finds with the files' Kubernetes objects and
 * the running world as topology (a subset selecting no pod of the Deployments beside it, a policy
 * selecting no workload, …): the same references `meshlab analyze -f` reports. They are reported,
 * not blocking — acceptance is decided without them, as Istio's validation admits what its
 * analyzers only warn about (and as running instances come and go).
 */
function withTopologyMessages(committed: Message[], withTopology: Message[]): Message[] {
  const key = (m: Message) => `${m.code}\u0001${m.resource ?? ''}\u0001${m.path ?? ''}\u0001${m.message}`;
  const seen = new Set(committed.map(key));
  return [...committed, ...withTopology.filter((m) => !seen.has(key(m)))];
}

/** Where the applied configuration is kept so a control-plane restart serves the same mesh. */
const STATE_FILE = 'applied-config.json';

/**
 * The control plane's configuration: Istio resources in, validated and analyzed as a whole set,
 * applied all-or-nothing, persisted, and handed to the registry to push to every sidecar.
 */
export class ConfigService {
  readonly store: ConfigStore;

  constructor(
    private readonly dataDir: string | undefined,
    private readonly context: () => AnalyzeContext,
    /** The running world's services outside "default" (the topology's word): where its workloads are. */
    private readonly world: () => WorldNamespaces = () => new Map(),
    /** Where a TLS Secret applied with the config becomes a gateway credential (mesh/gateway/secret-credentials.ts). */
    private readonly credentialsDir?: string,
  ) {
    this.store = new ConfigStore({}, (rs) => runtimeView(rs, this.world()));
  }

  /** Loads the persisted config if any, else the default config folder. Invalid default config is a startup error. */
  /** The store analyzes every commit against the declared services (not the instances, which come and go). */
  private syncStoreContext(): void {
    const { services } = this.context();
    this.store.setContext(services ? { services } : {});
  }

  init(defaultDir: string | undefined): void {
    this.syncStoreContext();
    const saved = this.dataDir && path.join(this.dataDir, STATE_FILE);
    if (saved && fs.existsSync(saved)) {
      const resources = JSON.parse(fs.readFileSync(saved, 'utf8')) as MeshResource[];
      this.store.replaceAll(resources);
      return;
    }
    if (!defaultDir || !fs.existsSync(defaultDir)) return;
    const loaded = loadPath(defaultDir);
    if (hasErrors(loaded.messages)) throw new ConfigRejectedError(loaded.messages);
    this.store.replaceAll(loaded.resources);
    this.persist();
  }

  apply(files: ConfigFile[]): ApplyOutcome {
    const { resources, objects, messages } = this.load(files);
    let objectResults = objects.map(objectResult);
    // Every kind meshlab runs is applied minus the fields named here (ML0003); a kind it only analyzes is refused by name.
    for (const r of resources) {
      if (r.kind === 'ServiceEntry' || r.kind === 'Sidecar') messages.push(...egressRuntimeMessages(r));
      if (r.kind === 'DestinationRule') messages.push(...tlsOriginationMessages(r, [...this.store.list(), ...resources]));
      if (!RUNTIME_KINDS.includes(r.kind)) {
        messages.push(messageAt(r, Codes.UnsupportedField, 'kind', `${resourceLabel(r)}: ${r.kind} is valid Istio and meshlab analyzes it (meshlab analyze), but its runtime is not supported by meshlab yet; remove it from the files to apply`));
      }
    }
    if (hasErrors(messages)) {
      // Still analyze what was loaded, so every problem is reported at once (not only the first).
      const all = [...messages, ...analyze([...this.store.list(), ...resources], { ...this.context(), objects })].filter((m, i, a) => a.findIndex((x) => x.code === m.code && x.file === m.file && x.line === m.line && x.message === m.message) === i);
      return { ok: false, version: this.store.version, results: objectResults, messages: all };
    }
    const results: ApplyResult[] = resources.map((r) => {
      const old = this.store.get(r.kind, r.metadata.name, r.metadata.namespace);
      const action: ApplyAction = !old ? 'created' : JSON.stringify(old.spec) === JSON.stringify(r.spec) ? 'unchanged' : 'configured';
      const reason = worldSkips(r, this.world());
      return { kind: r.kind, name: r.metadata.name, namespace: r.metadata.namespace, action, ...(reason ? { reason } : {}) };
    });
    // Secrets become gateway credentials before the push that may name them (the gateway reads them at each push).
    const credentialsDir = this.credentialsDir;
    if (credentialsDir) {
      objectResults = objectResults.map((res, i) => (objects[i].kind === 'Secret' && !objects[i].ignored ? credentialResult(res, writeSecretCredential(credentialsDir, objects[i])) : res));
    }
    if (results.every((r) => r.action === 'unchanged')) {
      return { ok: true, version: this.store.version, results: [...results, ...objectResults], messages: analyze(this.store.list(), { ...this.context(), objects }) };
    }
    const out = this.commit(() => this.store.apply(resources), results, messages);
    if (!out.ok) return { ...out, results: objectResults };
    return { ...out, results: [...out.results, ...objectResults], messages: withTopologyMessages(out.messages, analyze(this.store.list(), { ...this.context(), objects })) };
  }

  delete(files: ConfigFile[] | undefined, refs: ResourceRef[] | undefined): ApplyOutcome {
    let targets = refs ?? [];
    let messages: Message[] = [];
    let objectResults: ApplyResult[] = [];
    if (files) {
      const loaded = this.load(files);
      if (hasErrors(loaded.messages)) return { ok: false, version: this.store.version, results: [], messages: loaded.messages };
      // Kubernetes objects in the files are not mesh config: deleting a file's config leaves them be, and says so.
      targets = loaded.resources.map((r) => ({ kind: r.kind, name: r.metadata.name, namespace: r.metadata.namespace }));
      objectResults = loaded.objects.map((o) => ({ ...objectResult(o), action: 'ignored' as const, reason: o.ignored ?? `a Kubernetes ${o.kind} is not mesh config; delete removes only the Istio resources of the files` }));
      messages = loaded.messages;
    }
    const missing = targets.filter((t) => !this.store.get(t.kind, t.name, t.namespace));
    if (missing.length) {
      return {
        ok: false,
        version: this.store.version,
        results: [],
        messages: missing.map((m) => ({ code: 'ML0404', level: 'Error', message: `${m.kind} "${m.name}" not found in namespace ${m.namespace ?? 'default'}; nothing was deleted`, resource: `${m.kind} ${m.namespace ?? 'default'}/${m.name}` })),
      };
    }
    const results = targets.map((t) => ({ kind: t.kind, name: t.name, namespace: t.namespace ?? 'default', action: 'deleted' as const }));
    if (targets.length === 0) return { ok: true, version: this.store.version, results: objectResults, messages };
    const out = this.commit(() => this.store.delete(targets), results, messages);
    return { ...out, results: [...out.results, ...objectResults] };
  }

  list(kind?: Kind, name?: string): MeshResource[] {
    const all = this.store.list(kind).sort((a, b) => resourceKey(a).localeCompare(resourceKey(b)));
    return name ? all.filter((r) => r.metadata.name === name) : all;
  }

  analyze(): Message[] {
    return analyze(this.store.list(), this.context());
  }

  private load(files: ConfigFile[]): { resources: MeshResource[]; objects: KubeObject[]; messages: Message[] } {
    const resources: MeshResource[] = [];
    const objects: KubeObject[] = [];
    const messages: Message[] = [];
    for (const f of files) {
      const r = loadYaml(f.text, f.name);
      resources.push(...r.resources);
      objects.push(...r.objects);
      messages.push(...r.messages);
    }
    if (files.length > 0 && resources.length === 0 && objects.length === 0 && !hasErrors(messages)) {
      messages.push({ code: 'ML0400', level: 'Error', message: `no Istio resources or Kubernetes objects found in ${files.map((f) => f.name).join(', ')} (empty documents only)` });
    }
    return { resources, objects, messages };
  }

  /**
   * Validation that decides acceptance uses no running-instance context: whether a subset selects a
   * pod right now (IST0173) depends on which instances a scenario has stopped, so it is reported by
   * `analyze()` (and `meshlab analyze`) but never blocks an apply.
   */
  private commit(run: () => { version: number; messages: Message[] }, results: ApplyOutcome['results'], loadMessages: Message[]): ApplyOutcome {
    this.syncStoreContext();
    try {
      const r = run();
      this.persist();
      return { ok: true, version: r.version, results, messages: [...loadMessages, ...r.messages] };
    } catch (err) {
      if (err instanceof ConfigRejectedError) return { ok: false, version: this.store.version, results: [], messages: [...loadMessages, ...err.messages] };
      throw err;
    }
  }

  private persist(): void {
    if (!this.dataDir) return;
    fs.mkdirSync(this.dataDir, { recursive: true });
    const file = path.join(this.dataDir, STATE_FILE);
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(this.store.list(), null, 1));
    fs.renameSync(`${file}.tmp`, file);
  }
}
