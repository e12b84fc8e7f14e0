/** Test helpers: analyze inline YAML and locate text independently of the yaml package. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { analyze } from '../../mesh/config/analyze';
import { loadYaml } from '../../mesh/config/load';
import type { Message } from '../../mesh/config/messages';
import type { AnalyzeContext } from '../../mesh/config/types';

export const REPO = path.resolve(__dirname, '../../..');

/** Load + analyze YAML text as file `t.yaml`. */
export function lint(text: string, ctx?: AnalyzeContext): Message[] {
  const loaded = loadYaml(text, 't.yaml');
  return [...loaded.messages, ...analyze(loaded.resources, ctx)];
}

/** 1-based line/column of the n-th (0-based) occurrence of `needle` in `text`. */
export function at(text: string, needle: string, n = 0): { line: number; column: number } {
  let idx = -1;
  for (let i = 0; i <= n; i++) {
    idx = text.indexOf(needle, idx + 1);
    if (idx < 0) throw new Error(`needle ${JSON.stringify(needle)} #${n} not in text`);
  }
  const before = text.slice(0, idx);
  const line = before.split('\n').length;
  const column = idx - before.lastIndexOf('\n');
  return { line, column };
}

/** The single message with `code`; fails with the full list when there are zero or several. */
export function only(messages: Message[], code: string): Message {
  const hits = messages.filter((m) => m.code === code);
  if (hits.length !== 1) {
    throw new Error(`expected exactly one ${code}, got ${hits.length}:\n${messages.map((m) => `${m.code} ${m.path} ${m.message}`).join('\n')}`);
  }
  return hits[0];
}

export const DR_PAYMENTS = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: payments
spec:
  host: payments
  subsets:
  - name: v1
    labels:
      version: v1
  - name: v2
    labels:
      version: v2
`;

/** A VirtualService for payments with the given http rules (YAML indented at 2 spaces under spec). */
export function vs(http: string, name = 'payments', host = 'payments'): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ${name}
spec:
  hosts:
  - ${host}
  http:
${http}`;
}

/**
 * Istio's corpus (../shared/istio-corpus beside the checkout; from a worktree nested deeper, the
 * nearest ancestor's shared/istio-corpus). Undefined when absent — which fails under CI=true.
 */
export function istioCorpus(): string | undefined {
  for (let dir = REPO; ; dir = path.dirname(dir)) {
    const c = path.join(path.dirname(dir), 'shared', 'istio-corpus');
    if (fs.existsSync(c)) return c;
    if (path.dirname(dir) === dir) break;
  }
  if (process.env.CI === 'true') throw new Error('../shared/istio-corpus not found beside the checkout (CI=true requires it)');
  return undefined;
}
