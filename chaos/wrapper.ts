/** A configured toxic as the API sees it (Toxiproxy's ToxicWrapper). */
import type { Attributes, ToxicKind } from './toxics/toxic';

export type Direction = 'upstream' | 'downstream';

export interface ToxicWrapper {
  name: string;
  type: string;
  /** The stream as the client spelled it (Toxiproxy echoes it back unchanged). */
  stream: string;
  direction: Direction;
  toxicity: number;
  attributes: Attributes;
  kind: ToxicKind;
}

/** JSON in Toxiproxy's key order: attributes, name, type, stream, toxicity. */
export function toxicJson(w: ToxicWrapper): Record<string, unknown> {
  return { attributes: { ...w.attributes }, name: w.name, type: w.type, stream: w.stream, toxicity: w.toxicity };
}
