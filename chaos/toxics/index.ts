/** The toxic registry: type name -> implementation. */
import { bandwidth } from './bandwidth';
import { latency } from './latency';
import { limitData } from './limit_data';
import { noop } from './noop';
import { resetPeer } from './reset_peer';
import { slicer } from './slicer';
import { slowClose } from './slow_close';
import { timeout } from './timeout';
import type { ToxicKind } from './toxic';

export const toxicRegistry: ReadonlyMap<string, ToxicKind> = new Map(
  [latency, bandwidth, slowClose, timeout, resetPeer, slicer, limitData, noop].map((k) => [k.type, k]),
);

export type { ToxicKind, Attributes, ToxicContext } from './toxic';
