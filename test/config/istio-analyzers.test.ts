import * as path from 'node:path';
import { analyze } from '../../mesh/config/analyze';
import { loadPath } from '../../mesh/config/load';
import type { KubeObject, MeshResource } from '../../mesh/config/types';
import { istioCorpus } from './helpers';
import { ISTIO_ANALYZER_CASES, type IstioAnalyzerCase } from './istio-analyzer-cases';

const corpus = istioCorpus();
const CORPUS = path.join(corpus ?? '', 'analyzers');
const haveCorpus = corpus !== undefined;

/** "Gateway alpha" (written without a namespace) is "Gateway default/alpha" in meshlab's naming. */
function normalize(resource: string): string {
  const sp = resource.indexOf(' ');
  const name = resource.slice(sp + 1);
  return name.includes('/') ? resource : `${resource.slice(0, sp)} default/${name}`;
}

function run(c: IstioAnalyzerCase): { got: string[]; want: string[] } {
  const resources: MeshResource[] = [];
  const objects: KubeObject[] = [];
  for (const f of c.files) {
    const l = loadPath(path.join(CORPUS, f));
    resources.push(...l.resources);
    objects.push(...l.objects);
  }
  // Istio's harness reads the files with their runtime resources (AddTestReaderKubeSource): the
  // Services, Pods and Namespaces given are all there are.
  const got = analyze(resources, { objects, runtimeResources: true })
    .filter((m) => m.analyzer === c.analyzer)
    .map((m) => `${m.code} ${m.resource}`)
    .sort();
  const want = c.expected.map(([code, r]) => `${code} ${normalize(r)}`).sort();
  return { got, want };
}

(haveCorpus ? describe : describe.skip)("Istio's analyzer test cases reproduce istioctl's messages", () => {
  test(`${ISTIO_ANALYZER_CASES.length} cases: every one gives exactly istioctl's codes and resources`, () => {
    const failed: string[] = [];
    for (const c of ISTIO_ANALYZER_CASES) {
      const { got, want } = run(c);
      if (JSON.stringify(got) !== JSON.stringify(want)) failed.push(`${c.name}\n    want ${JSON.stringify(want)}\n    got  ${JSON.stringify(got)}`);
    }
    const matched = ISTIO_ANALYZER_CASES.length - failed.length;
    const rate = matched / ISTIO_ANALYZER_CASES.length;
    process.stdout.write(`istio analyzer cases: ${matched}/${ISTIO_ANALYZER_CASES.length} match (${(rate * 100).toFixed(1)}%)\n${failed.map((f) => `  MISMATCH ${f}`).join('\n')}\n`);
    expect(rate).toBe(1); // measured 45/45
  });
});
