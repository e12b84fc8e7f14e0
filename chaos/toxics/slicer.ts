/**
 * slicer: splits each chunk into pieces of about `average_size` bytes (+/- `size_variation`)
 * written separately, `delay` microseconds apart.
 */
import { INTERRUPTED, now, type ToxicStub } from '../stub';
import type { Attributes, ToxicContext, ToxicKind } from './toxic';

/** Split points as [start0, end0, start1, end1, ...], halving recursively like Toxiproxy. */
function chunkBounds(attrs: Attributes, ctx: ToxicContext, start: number, end: number): number[] {
  const avg = attrs.average_size;
  const variation = attrs.size_variation;
  // The end-start <= 1 guard stops the endless recursion Go would hit with average_size 0.
  if (end - start - avg <= variation || end - start <= 1) return [start, end];
  let mid = start + Math.floor((end - start) / 2);
  if (variation > 0) mid += ctx.intn(variation * 2) - variation;
  mid = Math.min(Math.max(mid, start), end);
  return [...chunkBounds(attrs, ctx, start, mid), ...chunkBounds(attrs, ctx, mid, end)];
}

export const slicer: ToxicKind = {
  type: 'slicer',
  goName: 'SlicerToxic',
  fields: [
    { key: 'average_size', kind: 'int' },
    { key: 'size_variation', kind: 'int' },
    { key: 'delay', kind: 'int' },
  ],
  async pipe(attrs: Attributes, stub: ToxicStub, ctx: ToxicContext): Promise<void> {
    const delayMs = attrs.delay / 1000;
    let owed = 0; // sub-millisecond delays accumulate until a timer is worth arming
    for (;;) {
      const c = await stub.read();
      if (c === INTERRUPTED) return;
      if (c === null) return stub.close();
      const bounds = chunkBounds(attrs, ctx, 0, c.data.length);
      for (let i = 1; i < bounds.length; i += 2) {
        if (bounds[i] > bounds[i - 1]) stub.write({ data: c.data.subarray(bounds[i - 1], bounds[i]), ts: c.ts });
        owed += delayMs;
        if (owed >= 1 || (i === bounds.length - 1 && owed > 0)) {
          const start = now();
          const completed = await stub.sleep(owed);
          owed = Math.max(0, owed - (now() - start));
          if (!completed) {
            if (bounds[i] < c.data.length) stub.write({ data: c.data.subarray(bounds[i]), ts: c.ts });
            return;
          }
        }
      }
    }
  },
};
