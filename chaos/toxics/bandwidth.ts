/**
 * bandwidth: limits throughput to `rate` KB/s (1 KB = 1000 bytes, as Toxiproxy: bytes/rate ms).
 * Large chunks go out in 100 ms slices; time overslept is credited to the next chunk.
 */
import { INTERRUPTED, now, type ToxicStub } from '../stub';
import type { Attributes, ToxicKind } from './toxic';

export const bandwidth: ToxicKind = {
  type: 'bandwidth',
  goName: 'BandwidthToxic',
  fields: [{ key: 'rate', kind: 'int64' }],
  async pipe(attrs: Attributes, stub: ToxicStub): Promise<void> {
    const rate = attrs.rate;
    let sleep = 0; // ms owed before the next write; negative when we overslept
    for (;;) {
      const c = await stub.read();
      if (c === INTERRUPTED) return;
      if (c === null) return stub.close();
      if (rate <= 0) sleep = 0;
      else sleep += c.data.length / rate;
      const slice = rate * 100; // bytes per 100 ms
      while (rate > 0 && c.data.length > slice) {
        const sliceStart = now();
        if (!(await stub.sleep(100))) {
          stub.write(c);
          return;
        }
        stub.write({ data: c.data.subarray(0, slice), ts: c.ts });
        c.data = c.data.subarray(slice);
        // Toxiproxy subtracts a flat 100 ms here; crediting the real elapsed time keeps the
        // average rate exact when timers fire late on a busy machine.
        sleep -= now() - sliceStart;
      }
      const start = now();
      const completed = await stub.sleep(sleep);
      if (completed) sleep -= now() - start;
      stub.write(c);
      if (!completed) return;
    }
  },
};
