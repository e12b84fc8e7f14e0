/**
 * The contract every toxic implements. A toxic is a loop over its stub's input (Toxiproxy's
 * Pipe): it reads chunks, may wait, writes them on, and returns promptly when interrupted,
 * after handing on any chunk it was holding.
 */
import type { GoField } from '../gojson';
import type { ToxicStub } from '../stub';

export type Attributes = Record<string, number>;

/** Randomness for toxics that need it (latency jitter, slicer sizes); seeded per proxy. */
export interface ToxicContext {
  random(): number;
  intn(n: number): number;
}

export interface ToxicKind {
  /** The "type" string of the API, e.g. "latency". */
  readonly type: string;
  /** Go struct name, used in decode error messages ("LatencyToxic"). */
  readonly goName: string;
  /** Attribute keys in Toxiproxy's JSON order, with their Go types. */
  readonly fields: readonly GoField[];
  pipe(attrs: Attributes, stub: ToxicStub, ctx: ToxicContext): Promise<void>;
  /** Called when the toxic is removed from a live link (timeout closes the connection). */
  cleanup?(stub: ToxicStub): void;
  /** Fresh per-link state for stateful toxics. */
  newState?(): unknown;
  /** Toxiproxy sets SO_LINGER 0 on connections started with this toxic, so closes become RSTs. */
  readonly resetsConnection?: boolean;
}

/** Zero-valued attributes in field order, as Go's zero struct marshals. */
export function defaultAttributes(kind: ToxicKind): Attributes {
  const attrs: Attributes = {};
  for (const f of kind.fields) attrs[f.key] = 0;
  return attrs;
}
