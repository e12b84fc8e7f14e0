import fs from 'node:fs';
import path from 'node:path';
import { ConfigStore, ConfigRejectedError, resourceKey, type ResourceRef } from '../config/store';
import { loadPath, loadYaml } from '../config/load';
import { analyze } from '../config/analyze';
import { hasErrors, type Message } from '../config/messages';
import type { AnalyzeContext, Kind, MeshResource } from '../config/types';

/** A file as the CLI sends it: its name (for messages with file:line:col) and its YAML text. */
export interface ConfigFile {
  name: string;
  text: string;
}

export type ApplyAction = 'created' | 'configured' | 'unchanged' | 'deleted';

export interface ApplyOutcome {
  ok: boolean;
  version: number;
  /** kubectl-style results: `virtualservice.networking.istio.io/payments configured`. */
  results: { kind: Kind; name: string; action: ApplyAction }[];
  messages: Message[];
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
  ) {
    this.store = new ConfigStore();
  }

  /** Loads the persisted config if any, else the default config folder. Invalid default config is a startup error. */
  init(defaultDir: string | undefined): void {
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
    const { resources, messages } = this.load(files);
    if (hasErrors(messages)) return { ok: false, version: this.store.version, results: [], messages };
    const results = resources.map((r) => {
      const old = this.store.get(r.kind, r.metadata.name, r.metadata.namespace);
      const action: ApplyAction = !old ? 'created' : JSON.stringify(old.spec) === JSON.stringify(r.spec) ? 'unchanged' : 'configured';
      return { kind: r.kind, name: r.metadata.name, action };
    });
    if (results.every((r) => r.action === 'unchanged')) return { ok: true, version: this.store.version, results, messages: analyze(this.store.list(), this.context()) };
    return this.commit(() => this.store.apply(resources), results, messages);
  }

  delete(files: ConfigFile[] | undefined, refs: ResourceRef[] | undefined): ApplyOutcome {
    let targets = refs ?? [];
    let messages: Message[] = [];
    if (files) {
      const loaded = this.load(files);
      if (hasErrors(loaded.messages)) return { ok: false, version: this.store.version, results: [], messages: loaded.messages };
      targets = loaded.resources.map((r) => ({ kind: r.kind, name: r.metadata.name, namespace: r.metadata.namespace }));
      messages = loaded.messages;
    }
    const missing = targets.filter((t) => !this.store.get(t.kind, t.name, t.namespace));
    if (missing.length) {
      return {
        ok: false,
        version: this.store.version,
        results: [],
        messages: missing.map((m) => ({ code: 'ML0404', level: 'Error', message: `${m.kind} "${m.name}" not found; nothing was deleted`, resource: `${m.kind} ${m.name}.${m.namespace ?? 'default'}` })),
      };
    }
    const results = targets.map((t) => ({ kind: t.kind, name: t.name, action: 'deleted' as const }));
    return this.commit(() => this.store.delete(targets), results, messages);
  }

  list(kind?: Kind, name?: string): MeshResource[] {
    const all = this.store.list(kind).sort((a, b) => resourceKey(a).localeCompare(resourceKey(b)));
    return name ? all.filter((r) => r.metadata.name === name) : all;
  }

  analyze(): Message[] {
    return analyze(this.store.list(), this.context());
  }

  private load(files: ConfigFile[]): { resources: MeshResource[]; messages: Message[] } {
    const resources: MeshResource[] = [];
    const messages: Message[] = [];
    for (const f of files) {
      const r = loadYaml(f.text, f.name);
      resources.push(...r.resources);
      messages.push(...r.messages);
    }
    if (files.length > 0 && resources.length === 0 && !hasErrors(messages)) {
      messages.push({ code: 'ML0400', level: 'Error', message: `no Istio resources found in ${files.map((f) => f.name).join(', ')}` });
    }
    return { resources, messages };
  }

  /**
   * Validation that decides acceptance uses no running-instance context: whether a subset selects a
   * pod right now (IST0173) depends on which instances a scenario has stopped, so it is reported by
   * `analyze()` (and `meshlab analyze`) but never blocks an apply.
   */
  private commit(run: () => { version: number; messages: Message[] }, results: ApplyOutcome['results'], loadMessages: Message[]): ApplyOutcome {
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
