/** slow_close: passes data through but delays the end-of-stream by `delay` ms. */
import { INTERRUPTED, type ToxicStub } from '../stub';
import type { Attributes, ToxicKind } from './toxic';

export const slowClose: ToxicKind = {
  type: 'slow_close',
  goName: 'SlowCloseToxic',
  fields: [{ key: 'delay', kind: 'int64' }],
  async pipe(attrs: Attributes, stub: ToxicStub): Promise<void> {
    for (;;) {
      const c = await stub.read();
      if (c === INTERRUPTED) return;
      if (c === null) {
        if (await stub.sleep(attrs.delay)) stub.close();
        else stub.push(null); // interrupted while delaying: keep the pending close queued
        return;
      }
      stub.write(c);
    }
  },
};
