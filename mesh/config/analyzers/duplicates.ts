/** Two resources with the same kind, namespace and name: the later one would silently win. */
import { Codes } from '../messages';
import { messageAt } from '../schema/validate';
import type { Analyzer } from './types';

export const duplicateResources: Analyzer = (resources) => {
  const seen = new Map<string, { file: string; line: number }>();
  const out = [];
  for (const r of resources) {
    if (!r.metadata.name) continue;
    const key = `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`;
    const first = seen.get(key);
    if (first) {
      out.push(
        messageAt(r, Codes.DuplicateResource, 'metadata.name', `${r.kind} ${r.metadata.name} is defined more than once (first at ${first.file}:${first.line}); names must be unique per kind`),
      );
    } else seen.set(key, { file: r.source.file, line: r.source.line });
  }
  return out;
};
