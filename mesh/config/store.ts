/**
 * ConfigStore: the control plane's current resource set, keyed by kind/namespace/name, with a
 * version that increases on every committed change. Changes are all-or-nothing: the *resulting*
 * set is analyzed and, if it has any Error, nothing is applied and ConfigRejectedError is thrown.
 */
import { analyze } from './analyze';
import { formatMessages, hasErrors, type Message } from './messages';
import { MESH_NAMESPACE } from './hosts';
import type { AnalyzeContext, Kind, MeshResource } from './types';
import type { LoadResult } from './load';

export interface ResourceRef {
  kind: Kind;
  name: string;
  namespace?: string;
}

export class ConfigRejectedError extends Error {
  constructor(readonly messages: Message[]) {
    const errors = messages.filter((m) => m.level === 'Error');
    super(`configuration rejected (${errors.length} error(s)); nothing was applied:\n${formatMessages(errors)}`);
    this.name = 'ConfigRejectedError';
  }
}

export interface ApplyResult {
  version: number;
  /** Warnings/infos about the committed set (errors never reach here). */
  messages: Message[];
}

export type StoreListener = (version: number, resources: readonly MeshResource[]) => void;

export function resourceKey(r: ResourceRef | MeshResource): string {
  const name = 'metadata' in r ? r.metadata.name : r.name;
  const ns = ('metadata' in r ? r.metadata.namespace : r.namespace) ?? MESH_NAMESPACE;
  return `${r.kind}/${ns}/${name}`;
}

export class ConfigStore {
  private items = new Map<string, MeshResource>();
  private _version = 0;
  private listeners = new Set<StoreListener>();

  /**
   * `ctx` (e.g. running instances) is passed to every analysis this store runs; `view` maps the
   * committed set to what listeners get (the control plane passes `runtimeView`).
   */
  constructor(
    private ctx: AnalyzeContext = {},
    private readonly view: (rs: readonly MeshResource[]) => readonly MeshResource[] = (rs) => rs,
  ) {}

  get version(): number {
    return this._version;
  }

  setContext(ctx: AnalyzeContext): void {
    this.ctx = ctx;
  }

  /** Creates or replaces the given resources (by kind/namespace/name), atomically. */
  apply(resources: readonly MeshResource[]): ApplyResult {
    const next = new Map(this.items);
    for (const r of resources) next.set(resourceKey(r), r);
    // Duplicates inside one apply would collapse silently in the map; analyze them as given.
    const candidate = [...next.values()];
    const messages = analyze(this.withBatchDuplicates(candidate, resources), this.ctx);
    return this.commit(next, messages);
  }

  /**
   * Applies what `loadYaml`/`loadPath` produced. Load errors (YAML syntax, unknown kind) reject
   * the whole batch too: a file that failed to parse must not be applied in part.
   */
  applyLoaded(loaded: LoadResult, opts: { replaceAll?: boolean } = {}): ApplyResult {
    if (hasErrors(loaded.messages)) {
      const next = opts.replaceAll ? loaded.resources : [...this.items.values(), ...loaded.resources];
      throw new ConfigRejectedError([...loaded.messages, ...analyze(next, this.ctx)]);
    }
    return opts.replaceAll ? this.replaceAll(loaded.resources) : this.apply(loaded.resources);
  }

  /** Deletes resources by reference, atomically (the remaining set must still be valid). */
  delete(refs: readonly ResourceRef[]): ApplyResult {
    const next = new Map(this.items);
    const missing = refs.filter((ref) => !next.delete(resourceKey(ref)));
    if (missing.length > 0) {
      throw new Error(`cannot delete: not found: ${missing.map((m) => `${m.kind} ${m.namespace ?? MESH_NAMESPACE}/${m.name}`).join(', ')}`);
    }
    return this.commit(next, analyze([...next.values()], this.ctx));
  }

  /** Replaces the whole set (e.g. reloading a directory), atomically. */
  replaceAll(resources: readonly MeshResource[]): ApplyResult {
    const next = new Map<string, MeshResource>();
    for (const r of resources) next.set(resourceKey(r), r);
    return this.commit(next, analyze(resources, this.ctx));
  }

  list(kind?: Kind): MeshResource[] {
    const all = [...this.items.values()];
    return kind ? all.filter((r) => r.kind === kind) : all;
  }

  get(kind: Kind, name: string, namespace: string = MESH_NAMESPACE): MeshResource | undefined {
    return this.items.get(resourceKey({ kind, name, namespace }));
  }

  /** Called after every committed change with the new version and full resource set. */
  onChange(listener: StoreListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private withBatchDuplicates(candidate: MeshResource[], batch: readonly MeshResource[]): MeshResource[] {
    const seen = new Set<string>();
    const extra: MeshResource[] = [];
    for (const r of batch) {
      const k = resourceKey(r);
      if (seen.has(k)) extra.push(r);
      seen.add(k);
    }
    return extra.length ? [...candidate, ...extra] : candidate;
  }

  private commit(next: Map<string, MeshResource>, messages: Message[]): ApplyResult {
    if (hasErrors(messages)) throw new ConfigRejectedError(messages);
    this.items = next;
    this._version++;
    const snapshot = this.view([...next.values()]);
    for (const l of this.listeners) l(this._version, snapshot);
    return { version: this._version, messages };
  }
}
