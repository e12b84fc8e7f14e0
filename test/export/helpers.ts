/** Shared pieces of the export tests: the export as objects, and the official schemas that judge it. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import Ajv from 'ajv';
import type { ExportFile } from '../../world/kubernetes-export';

/** The repository root (tests run from dist/test/export). */
export const ROOT = path.resolve(__dirname, '..', '..', '..');

export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; spec?: any; [k: string]: unknown };

/** Every document of every exported file, with the file it came from. */
export function objectsOf(files: ExportFile[]): (K8sObject & { file: string })[] {
  return files.flatMap((f) => YAML.parseAllDocuments(f.text).map((d) => ({ ...(d.toJS() as K8sObject), file: f.path })));
}

export const ref = (o: K8sObject): string => `${o.kind}/${o.metadata.name}`;

/**
 * Istio's corpus lives in ../shared beside the checkout (CI) or beside the worktrees' parent
 * (/work/wt/NAME → /work/shared); the first that exists.
 */
export function istioCorpus(): string {
  const candidates = [path.resolve(ROOT, '..', 'shared', 'istio-corpus'), path.resolve(ROOT, '..', '..', 'shared', 'istio-corpus')];
  const found = candidates.find((c) => fs.existsSync(c));
  if (!found) throw new Error(`Istio's corpus is not at ${candidates.join(' or ')}: the CRD schemas these tests validate against live there`);
  return found;
}

/**
 * kubernetes-models (Kubernetes' OpenAPI) and @kubernetes-models/istio are ES modules only, which
 * Jest's CommonJS runtime cannot load: a plain node process validates each object with the model
 * class for its apiVersion and kind and answers one line of JSON per object.
 */
const MODEL_VALIDATOR = `
const objects = JSON.parse(await new Promise((r) => { let s = ''; process.stdin.on('data', (c) => (s += c)); process.stdin.on('end', () => r(s)); }));
const out = [];
for (const o of objects) {
  const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['', o.apiVersion];
  const spec = group.endsWith('.istio.io') ? '@kubernetes-models/istio/' + group + '/' + version + '/' + o.kind : 'kubernetes-models/' + (group ? group + '/' : '') + version + '/' + o.kind;
  try {
    const mod = await import(spec);
    const Model = mod[o.kind];
    if (!Model) throw new Error('no model class ' + o.kind + ' in ' + spec);
    new Model(o).validate();
    out.push({ ok: true, model: spec });
  } catch (e) {
    out.push({ ok: false, model: spec, error: e.message });
  }
}
process.stdout.write(JSON.stringify(out));
`;

export function validateWithModels(objects: object[]): { ok: boolean; model: string; error?: string }[] {
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', MODEL_VALIDATOR], { cwd: ROOT, input: JSON.stringify(objects), encoding: 'utf8' });
  return JSON.parse(out) as { ok: boolean; model: string; error?: string }[];
}

type Schema = Record<string, any>;

/**
 * An OpenAPI v3 structural schema as the API server applies it with strict field validation
 * (`kubectl apply --validate=strict`): a field not in `properties` is an error unless the schema
 * preserves unknown fields. x-kubernetes-int-or-string means either type.
 */
function strict(s: Schema): Schema {
  if (!s || typeof s !== 'object') return s;
  const out: Schema = {};
  for (const [k, v] of Object.entries(s)) {
    if (k === 'properties') out.properties = Object.fromEntries(Object.entries(v as Schema).map(([p, ps]) => [p, strict(ps as Schema)]));
    else if (k === 'items' || k === 'additionalProperties' || k === 'not') out[k] = typeof v === 'object' ? strict(v as Schema) : v;
    else if (k === 'oneOf' || k === 'anyOf' || k === 'allOf') out[k] = (v as Schema[]).map(strict);
    else if (!k.startsWith('x-kubernetes-')) out[k] = v;
  }
  if (s['x-kubernetes-int-or-string']) {
    delete out.type;
    out.anyOf = [...(out.anyOf ?? []), { type: 'integer' }, { type: 'string' }];
  }
  if (s.properties && !s['x-kubernetes-preserve-unknown-fields'] && s.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}

/** Validators for Istio's kinds from the CRDs' openAPIV3Schema, keyed `group/version/Kind`. */
export function istioCrdValidators(): Map<string, (o: unknown) => string | undefined> {
  const docs = YAML.parseAllDocuments(fs.readFileSync(path.join(istioCorpus(), 'crd-schemas', 'crd-all.gen.yaml'), 'utf8')).map((d) => d.toJS() as Schema);
  const ajv = new Ajv({ strict: false, allErrors: true, logger: false });
  const out = new Map<string, (o: unknown) => string | undefined>();
  for (const crd of docs) {
    if (crd?.kind !== 'CustomResourceDefinition') continue;
    for (const v of crd.spec.versions as Schema[]) {
      const schema = strict(v.schema.openAPIV3Schema as Schema);
      // The CRD schema covers spec and status; apiVersion/kind/metadata are the API server's.
      schema.properties = { ...schema.properties, apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object' } };
      const check = ajv.compile(schema);
      out.set(`${crd.spec.group}/${v.name}/${crd.spec.names.kind}`, (o) => (check(o) ? undefined : ajv.errorsText(check.errors, { dataVar: crd.spec.names.kind })));
    }
  }
  return out;
}
