import * as fs from 'node:fs';
import * as path from 'node:path';
import { analyze } from '../../mesh/config/analyze';
import { loadPath } from '../../mesh/config/load';
import type { Message } from '../../mesh/config/messages';
import { istioCorpus } from './helpers';

/**
 * Istio's own validation examples and samples (../shared/istio-corpus): what Istio accepts gets no
 * IST0106 (ML0003 "valid Istio, not supported by meshlab" is allowed), what it rejects gets IST0106.
 */
const corpus = istioCorpus();

function messagesOf(file: string): Message[] {
  const l = loadPath(file);
  return [...l.messages, ...analyze(l.resources, { objects: l.objects })];
}

const rejecting = (ms: Message[]) => ms.filter((m) => ['IST0106', 'ML0001', 'ML0002'].includes(m.code));

/**
 * Known difference, not a meshlab rule: `[1.2.3.4, 001:db8::]` is, by YAML 1.2's flow rules (a ":"
 * before "]" is a value indicator), a map {"001:db8:": null}; Go's YAML reads a string.
 */
const YAML_DIFFERENCES = new Set(['serviceentry-valid-1.yaml']);

(corpus ? describe : describe.skip)("Istio's validation examples and samples", () => {
  const rows = corpus
    ? fs.readFileSync(path.join(corpus, 'crds/index.tsv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split('\t') as [string, string | undefined])
    : [];

  test('crds/: every valid example is accepted without IST0106, every invalid one gets IST0106', () => {
    const wrong: string[] = [];
    for (const [file, istioErr] of rows) {
      if (YAML_DIFFERENCES.has(file)) continue;
      const bad = rejecting(messagesOf(path.join(corpus!, 'crds', file)));
      if (istioErr ? bad.length === 0 : bad.length > 0) wrong.push(`${file}: Istio ${istioErr ? `rejects (${istioErr})` : 'accepts'}; meshlab: ${bad.map((m) => m.message).join('; ') || 'no IST0106'}`);
    }
    expect(rows.length).toBeGreaterThan(30);
    expect(wrong).toEqual([]);
  });

  test.each(['dataset', 'bookinfo', 'samples'])('%s/: every file is accepted as it is (no IST0106, YAML or kind error)', (dir) => {
    const files = fs.readdirSync(path.join(corpus!, dir)).filter((f) => /\.ya?ml$/.test(f));
    expect(files.length).toBeGreaterThan(4);
    const wrong = files.flatMap((f) => rejecting(messagesOf(path.join(corpus!, dir, f))).map((m) => `${f}: ${m.code} ${m.message}`));
    expect(wrong).toEqual([]);
  });
});
