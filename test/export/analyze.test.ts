/**
 * `meshlab analyze` on the exported directory as it is: analyze reads the Kubernetes objects beside
 * the Istio ones (issue #16, branch `config`, merged here); before it, analyze rejected their kinds
 * (ML0002 "kind … is not supported by meshlab") and the first two tests failed for that reason alone.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { analyzeCommand } from '../../cli/commands/analyze';
import { kubernetesExport, writeExport } from '../../world/kubernetes-export';

describe('meshlab analyze accepts the export', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlab-export-analyze-'));
    writeExport(dir, kubernetesExport().files);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function analyzeDir(args: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const code = await analyzeCommand(args, { out: (t) => (out += t), err: (t) => (err += t) });
    return { code, out, err };
  }

  it('`meshlab analyze DIR` on the whole exported directory exits 0 (needs analyze to read Kubernetes objects: issue #16)', async () => {
    const r = await analyzeDir(['-o', 'json', '-f', dir]);
    expect(`${r.code}\n${r.out}${r.err}`).toMatch(/^0\n/);
    expect(JSON.parse(r.out)).toEqual([]);
  });

  it('the export has no ingress/ folder any more: config/default\'s Gateway and VirtualService, which meshlab\'s own gateway runs, are the ingress', () => {
    expect(fs.existsSync(path.join(dir, 'ingress'))).toBe(false);
    expect(fs.readFileSync(path.join(dir, 'istio-default-gateway.yaml'), 'utf8')).toMatch(/kind: Gateway[\s\S]*kind: VirtualService/);
  });

  it("the export's Istio config from config/default analyzes clean on its own (4 files, no message)", async () => {
    const files = fs.readdirSync(dir).filter((f) => f.startsWith('istio-default-')).map((f) => path.join(dir, f));
    expect(files.length).toBe(4);
    const r = await analyzeDir(['-o', 'json', ...files.flatMap((f) => ['-f', f])]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual([]);
  });

  it('the mail provider\'s cluster registration (egress/), analyzed with the export, draws only ML0003 — on credentialName (a Secret, where meshlab reads files) and the workloadSelector Istio needs for it — which is why it sits in egress/', async () => {
    const r = await analyzeDir(['-o', 'json', '-f', dir, '-f', path.join(dir, 'egress')]);
    const messages = JSON.parse(r.out) as { code: string; message: string; origin: string; path: string }[];
    expect(messages.map((m) => `${m.code} ${m.origin} ${m.path}`)).toEqual([
      'ML0003 DestinationRule default/mail-provider spec.workloadSelector',
      'ML0003 DestinationRule default/mail-provider spec.trafficPolicy.portLevelSettings[0].tls.credentialName',
    ]);
  });
});
