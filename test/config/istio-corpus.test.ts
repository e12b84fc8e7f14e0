import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import YAML from 'yaml';
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
 * Known difference, not a meshlab rule: `[1.2.3.4, 001:db8::]` is, by the YAML 1.1 and 1.2 specs (in
 * a flow collection a ":" before "," "]" or "}" is a value indicator), a map {"001:db8:": null}, and
 * so the npm `yaml` parser reads it under every option; Go's go-yaml (Istio's) ends a plain scalar at
 * ":" only before a blank and reads the string "001:db8::". Tested below: meshlab names the cause
 * and the fix (quote it).
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

  test('serviceentry-valid-1.yaml: the npm yaml parser reads `001:db8::` in a flow list as a map under all 5 option sets; meshlab says so in 1 IST0106 naming the quoted form, and quoted it loads with 0 rejections', () => {
    const file = path.join(corpus!, 'crds', 'serviceentry-valid-1.yaml');
    const text = fs.readFileSync(file, 'utf8');
    const options: (YAML.DocumentOptions & YAML.SchemaOptions)[] = [{}, { version: '1.1' }, { schema: 'core' }, { schema: 'yaml-1.1' }, { schema: 'failsafe' }];
    // If a yaml release ever reads it as Go does, this fails: drop the exclusion above.
    expect(options.map((o) => typeof (YAML.parse(text, o) as { spec: { addresses: unknown[] } }).spec.addresses[1])).toEqual(Array(5).fill('object'));
    const bad = rejecting(messagesOf(file));
    expect(bad.map((m) => [m.code, m.path, m.line])).toEqual([['IST0106', 'spec.addresses[1]', 11]]);
    expect(bad[0].message).toContain('quote it: "001:db8::"');
    const quoted = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'se-')), 'se.yaml');
    fs.writeFileSync(quoted, text.replace('001:db8::]', '"001:db8::"]'));
    expect(rejecting(messagesOf(quoted))).toEqual([]);
    fs.rmSync(path.dirname(quoted), { recursive: true, force: true });
  });

  test.each(['dataset', 'bookinfo', 'samples'])('%s/: every file is accepted as it is (no IST0106, YAML or kind error)', (dir) => {
    const files = fs.readdirSync(path.join(corpus!, dir)).filter((f) => /\.ya?ml$/.test(f));
    expect(files.length).toBeGreaterThan(4);
    const wrong = files.flatMap((f) => rejecting(messagesOf(path.join(corpus!, dir, f))).map((m) => `${f}: ${m.code} ${m.message}`));
    expect(wrong).toEqual([]);
  });
});
