import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadPath, loadYaml } from '../../mesh/config/load';
import { at } from './helpers';

const TWO_DOCS = `# leading comment
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata:
  name: orders
  labels:
    team: shop
  annotations:
    note: ignored
spec:
  host: orders
---
apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata:
  name: default
  namespace: default
spec:
  mtls:
    mode: STRICT
---
`;

describe('loadYaml', () => {
  test('multi-document text becomes resources with source positions; labels/annotations dropped', () => {
    const r = loadYaml(TWO_DOCS, 'two.yaml');
    expect(r.messages).toEqual([]);
    expect(r.resources.map((x) => [x.kind, x.apiVersion, x.metadata, x.source.file, x.source.line, x.source.column])).toEqual([
      ['DestinationRule', 'networking.istio.io/v1alpha3', { name: 'orders', namespace: 'default' }, 'two.yaml', 2, 1],
      ['PeerAuthentication', 'security.istio.io/v1beta1', { name: 'default', namespace: 'default' }, 'two.yaml', 13, 1],
    ]);
    expect(r.resources[0].source.positions?.['spec.host']).toEqual(at(TWO_DOCS, 'host: orders'));
    expect(r.resources[1].source.positions?.['spec.mtls.mode']).toEqual(at(TWO_DOCS, 'mode: STRICT'));
    expect(r.resources[1].spec).toEqual({ mtls: { mode: 'STRICT' } });
  });

  test('duplicate keys are a YAML error (not last-one-wins)', () => {
    const y = 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: a\nspec:\n  host: a\n  host: b\n';
    const r = loadYaml(y, 'd.yaml');
    expect(r.resources).toEqual([]);
    expect(r.messages.map((m) => [m.code, m.line])).toEqual([['ML0001', 7]]);
    expect(r.messages[0].message).toMatch(/YAML syntax error: Map keys must be unique/);
  });

  test('a document that is not a map and a missing kind are reported at their position', () => {
    const y = '- just\n- a list\n---\napiVersion: networking.istio.io/v1\nmetadata:\n  name: x\n';
    const r = loadYaml(y, 'l.yaml');
    expect(r.messages.map((m) => [m.code, m.line, m.column])).toEqual([
      ['IST0106', 1, 1],
      ['IST0106', 4, 1],
    ]);
    expect(r.messages[1].message).toMatch(/^kind required: every Kubernetes object names its apiVersion and kind/);
    expect(r.messages[1].resource).toBe('<no kind> default/x');
  });
});

describe('loadPath', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlab-config-'));
    fs.writeFileSync(path.join(dir, 'b.yml'), 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: b\nspec:\n  host: payments\n');
    fs.writeFileSync(path.join(dir, 'a.yaml'), 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: a\nspec:\n  host: orders\n');
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'not yaml: [');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('a directory loads *.yaml and *.yml sorted by name, ignoring other files', () => {
    const r = loadPath(dir);
    expect(r.messages).toEqual([]);
    expect(r.resources.map((x) => [x.metadata.name, path.basename(x.source.file)])).toEqual([
      ['a', 'a.yaml'],
      ['b', 'b.yml'],
    ]);
  });

  test('a missing path is a message, not an exception', () => {
    const r = loadPath(path.join(dir, 'missing.yaml'));
    expect(r.resources).toEqual([]);
    expect(r.messages[0].message).toMatch(/cannot read .*missing.yaml: no such file or directory/);
  });
});
