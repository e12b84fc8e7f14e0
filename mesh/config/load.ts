/**
 * Loading Istio YAML: multi-document files (or a directory of *.yaml|*.yml, sorted) become
 * MeshResources carrying their source file and the line:column of every field. Loading only
 * rejects what cannot become a resource (YAML syntax, unknown kind/apiVersion); everything else
 * is judged by `analyze`, so the store can re-validate any resource set on its own.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isMap, isScalar, LineCounter, parseAllDocuments, stringify, type Document } from 'yaml';
import { Codes, makeMessage, type Message } from './messages';
import { collectPositions } from './positions';
import { MESH_NAMESPACE } from './hosts';
import { ignoredReason } from './kube';
import type { Kind, KubeObject, MeshResource } from './types';

export interface LoadResult {
  resources: MeshResource[];
  /** Kubernetes objects (and context-only Istio kinds) found beside them; `ignored` says why one plays no part. */
  objects: KubeObject[];
  messages: Message[];
}

/** apiVersions accepted per kind (Istio serves all of these for the same schema). */
export const API_VERSIONS: Record<Kind, string[]> = {
  VirtualService: ['networking.istio.io/v1alpha3', 'networking.istio.io/v1beta1', 'networking.istio.io/v1'],
  DestinationRule: ['networking.istio.io/v1alpha3', 'networking.istio.io/v1beta1', 'networking.istio.io/v1'],
  PeerAuthentication: ['security.istio.io/v1beta1', 'security.istio.io/v1'],
  AuthorizationPolicy: ['security.istio.io/v1beta1', 'security.istio.io/v1'],
  Gateway: ['networking.istio.io/v1alpha3', 'networking.istio.io/v1beta1', 'networking.istio.io/v1'],
  ServiceEntry: ['networking.istio.io/v1alpha3', 'networking.istio.io/v1beta1', 'networking.istio.io/v1'],
  Sidecar: ['networking.istio.io/v1alpha3', 'networking.istio.io/v1beta1', 'networking.istio.io/v1'],
  Telemetry: ['telemetry.istio.io/v1alpha1', 'telemetry.istio.io/v1'],
  RequestAuthentication: ['security.istio.io/v1beta1', 'security.istio.io/v1'],
  EnvoyFilter: ['networking.istio.io/v1alpha3'],
};

function isKind(k: unknown): k is Kind {
  return typeof k === 'string' && Object.prototype.hasOwnProperty.call(API_VERSIONS, k);
}

function strMap(v: unknown): Record<string, string> | undefined {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
  return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, String(x)]));
}

function docToResource(doc: Document, lc: LineCounter, file: string, messages: Message[]): MeshResource | KubeObject | undefined {
  const contents = doc.contents;
  const start = lc.linePos(contents?.range?.[0] ?? 0);
  const where = { file, line: start.line, column: start.col };
  if (!isMap(contents)) {
    messages.push(makeMessage(Codes.SchemaValidationError, 'document is not a map; expected an Istio resource with apiVersion, kind, metadata, spec', where));
    return undefined;
  }
  const positions = collectPositions(contents, lc);
  const obj = doc.toJS({ maxAliasCount: 100 }) as Record<string, unknown>;
  const { kind, apiVersion } = obj;
  const at = (p: string) => ({ ...where, ...(positions[p] ?? {}), path: p });
  const meta = (obj.metadata ?? {}) as Record<string, unknown>;
  const name = typeof meta.name === 'string' ? meta.name : '';
  const ns = meta.namespace === undefined || meta.namespace === null ? undefined : String(meta.namespace);
  const label = `${typeof kind === 'string' ? kind : '<no kind>'} ${ns ?? MESH_NAMESPACE}/${name || '<unnamed>'}`;
  if (typeof kind !== 'string' || kind === '' || typeof apiVersion !== 'string' || apiVersion === '') {
    const missing = [typeof apiVersion !== 'string' || apiVersion === '' ? 'apiVersion' : '', typeof kind !== 'string' || kind === '' ? 'kind' : ''].filter(Boolean).join(' and ');
    messages.push(makeMessage(Codes.SchemaValidationError, `${missing} required: every Kubernetes object names its apiVersion and kind (e.g. apiVersion: networking.istio.io/v1, kind: VirtualService)`, { ...at(typeof kind === 'string' ? 'apiVersion' : 'kind'), resource: label }));
    return undefined;
  }
  if (!isKind(kind) || !/\.istio\.io\//.test(apiVersion)) {
    const object: KubeObject = {
      apiVersion,
      kind,
      metadata: { name, namespace: ns, labels: strMap(meta.labels), annotations: strMap(meta.annotations) },
      raw: obj,
      source: { file, line: start.line, column: start.col, positions },
    };
    const why = ignoredReason(apiVersion, kind);
    if (why) object.ignored = why;
    return object;
  }
  if (!API_VERSIONS[kind].includes(apiVersion)) {
    messages.push(
      makeMessage(
        Codes.UnsupportedKind,
        `apiVersion ${JSON.stringify(apiVersion)} is not valid for ${kind}; use one of ${API_VERSIONS[kind].join(', ')}`,
        { ...at('apiVersion'), resource: label },
      ),
    );
    return undefined;
  }
  // labels/annotations (and other Kubernetes metadata) are accepted and ignored.
  const namespace = ns ?? MESH_NAMESPACE;
  return {
    kind,
    apiVersion,
    metadata: { name, namespace },
    spec: obj.spec,
    source: { file, line: start.line, column: start.col, positions },
  };
}

/** Parses one YAML text (possibly several `---` documents). `file` is used in messages. */
export function loadYaml(text: string, file: string): LoadResult {
  const lc = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const resources: MeshResource[] = [];
  const objects: KubeObject[] = [];
  const messages: Message[] = [];
  const list = Array.isArray(docs) ? docs : [];
  if (!Array.isArray(docs)) {
    messages.push(makeMessage(Codes.YamlSyntaxError, 'unexpected YAML stream', { file, line: 1, column: 1 }));
  }
  for (const doc of list) {
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        const p = lc.linePos(e.pos[0]);
        messages.push(makeMessage(Codes.YamlSyntaxError, `YAML syntax error: ${e.message.split('\n')[0]}`, { file, line: p.line, column: p.col }));
      }
      continue;
    }
    // Empty documents (a trailing `---`, comments only) are skipped, as kubectl does.
    if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) continue;
    // Converting to values can still fail (an alias to an anchor set later, too many aliases): a message, never a throw.
    let r: ReturnType<typeof docToResource>;
    try {
      r = docToResource(doc, lc, file, messages);
    } catch (err) {
      const p = lc.linePos(doc.range?.[0] ?? 0);
      messages.push(makeMessage(Codes.YamlSyntaxError, `YAML error: ${(err as Error).message.split('\n')[0]}`, { file, line: p.line, column: p.col }));
      continue;
    }
    if (!r) continue;
    if (isKind(r.kind) && 'spec' in r && !('raw' in r)) resources.push(r as MeshResource);
    else if (r.kind === 'List' && Array.isArray((r as KubeObject).raw.items)) {
      // A kubectl List: its items are loaded as documents of their own.
      const inner = loadYaml(YAML_stringifyItems((r as KubeObject).raw.items as unknown[]), file);
      resources.push(...inner.resources);
      objects.push(...inner.objects);
      messages.push(...inner.messages);
    } else objects.push(r as KubeObject);
  }
  return { resources, objects, messages };
}

function yamlFilesIn(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && /\.ya?ml$/i.test(e.name))
    .map((e) => path.join(dir, e.name))
    .sort();
}

/** Loads a file, or every *.yaml|*.yml directly inside a directory (sorted by name). */
export function loadPath(fileOrDir: string): LoadResult {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(fileOrDir);
  } catch {
    return { resources: [], objects: [], messages: [makeMessage(Codes.YamlSyntaxError, `cannot read ${fileOrDir}: no such file or directory`, { file: fileOrDir })] };
  }
  const files = stat.isDirectory() ? yamlFilesIn(fileOrDir) : [fileOrDir];
  const out: LoadResult = { resources: [], objects: [], messages: [] };
  for (const f of files) {
    const r = loadYaml(fs.readFileSync(f, 'utf8'), f);
    out.resources.push(...r.resources);
    out.objects.push(...r.objects);
    out.messages.push(...r.messages);
  }
  return out;
}

/** Items of a List as a multi-document YAML text (their positions are then relative to that text). */
function YAML_stringifyItems(items: unknown[]): string {
  return items.map((i) => stringify(i)).join('---\n');
}
