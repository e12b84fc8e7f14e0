/**
 * Maps field paths ("spec.http[0].route[1].weight") to line:column using the yaml package's
 * document AST and a LineCounter, so every message can point at the offending field.
 */
import { isMap, isScalar, isSeq, LineCounter, type Node } from 'yaml';
import type { SourcePos } from './types';

/** Renders a path the way messages show it: a.b[0].c; keys that are not identifiers go in quotes. */
export function joinPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  const plain = /^[A-Za-z_][\w-]*$/.test(key);
  if (!plain) return `${parent}[${JSON.stringify(key)}]`;
  return parent ? `${parent}.${key}` : key;
}

/**
 * Position of every key and sequence item below `node`. For a map entry the position is the
 * key's (what a user looks for); for a sequence item it is the item's start.
 */
export function collectPositions(node: unknown, lc: LineCounter, base = ''): Record<string, SourcePos> {
  const out: Record<string, SourcePos> = {};
  const at = (offset: number): SourcePos => {
    const p = lc.linePos(offset);
    return { line: p.line, column: p.col };
  };
  const walk = (n: unknown, path: string): void => {
    if (isMap(n)) {
      for (const pair of n.items) {
        const keyNode = pair.key as Node | null;
        const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
        const p = joinPath(path, key);
        const r = keyNode && (keyNode as Node).range;
        if (r) out[p] = at(r[0]);
        walk(pair.value, p);
      }
    } else if (isSeq(n)) {
      n.items.forEach((item, i) => {
        const p = joinPath(path, i);
        const r = (item as Node | null)?.range;
        if (r) out[p] = at(r[0]);
        walk(item, p);
      });
    }
  };
  walk(node, base);
  return out;
}

/** Position of a path, falling back to the nearest ancestor that has one. */
export function positionOf(positions: Record<string, SourcePos> | undefined, path: string): SourcePos | undefined {
  if (!positions) return undefined;
  let p = path;
  while (p) {
    if (positions[p]) return positions[p];
    const cut = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
    if (cut <= 0) break;
    p = p.slice(0, cut);
  }
  return positions[p];
}
