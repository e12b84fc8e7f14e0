import * as fs from 'node:fs';
import * as path from 'node:path';
import YAML from 'yaml';
import { SPEC_RULES } from '../../mesh/config/schema/validate';
import type { Rule } from '../../mesh/config/schema/dsl';
import type { Kind } from '../../mesh/config/types';
import { istioCorpus } from './helpers';

/**
 * Every field Istio's CRDs accept (the OpenAPI schemas of crd-all.gen.yaml, walked at test time) is
 * either implemented by meshlab's schema or named as ML0003 "valid Istio, not supported by meshlab"
 * (an `unsupported` entry on the path, or an ancestor's) — never an unknown field.
 */
interface OpenApi {
  type?: string;
  properties?: Record<string, OpenApi>;
  items?: OpenApi;
  additionalProperties?: OpenApi | boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
}

function crdSchemas(file: string): Map<string, OpenApi> {
  const out = new Map<string, OpenApi>();
  for (const doc of YAML.parseAllDocuments(fs.readFileSync(file, 'utf8'))) {
    const crd = doc.toJS() as { kind?: string; spec?: { names: { kind: string }; versions: Array<{ name: string; schema: { openAPIV3Schema: { properties: { spec: OpenApi } } } }> } };
    if (crd?.kind !== 'CustomResourceDefinition' || !crd.spec) continue;
    const v = crd.spec.versions.find((x) => x.name === 'v1') ?? crd.spec.versions[crd.spec.versions.length - 1];
    out.set(crd.spec.names.kind, v.schema.openAPIV3Schema.properties.spec);
  }
  return out;
}

/** Field paths of the CRD schema our rule neither implements nor reports as unsupported. */
function uncovered(schema: OpenApi, rule: Rule | undefined, p: string, out: string[]): void {
  if (!rule) {
    out.push(p);
    return;
  }
  if (rule.t === 'any') return;
  if (schema.properties) {
    if (rule.t !== 'object') {
      out.push(`${p} (schema object, rule ${rule.t})`);
      return;
    }
    for (const [k, child] of Object.entries(schema.properties)) {
      if (rule.unsupported && k in rule.unsupported) continue;
      uncovered(child, rule.fields[k], `${p}.${k}`, out);
    }
    return;
  }
  if (schema.items) {
    if (rule.t === 'array') uncovered(schema.items, rule.of, `${p}[]`, out);
    return;
  }
  if (schema.additionalProperties && typeof schema.additionalProperties === 'object') {
    if (rule.t === 'map') uncovered(schema.additionalProperties, rule.of, `${p}{}`, out);
  }
}

const corpus = istioCorpus();
const CRD = path.join(corpus ?? '', 'crd-schemas/crd-all.gen.yaml');

(corpus ? describe : describe.skip)("the whole schema of every kind meshlab reads, against Istio's CRDs", () => {
  const schemas = corpus ? crdSchemas(CRD) : new Map<string, OpenApi>();
  test.each(Object.keys(SPEC_RULES) as Kind[])('%s: every CRD field path is implemented or ML0003', (kind) => {
    const schema = schemas.get(kind);
    expect(schema).toBeDefined();
    const out: string[] = [];
    uncovered(schema!, SPEC_RULES[kind], 'spec', out);
    expect(out).toEqual([]);
  });
});
