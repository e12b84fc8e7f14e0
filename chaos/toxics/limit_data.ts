/** limit_data: lets exactly `bytes` bytes through per link, then closes the connection. */
import { INTERRUPTED, type ToxicStub } from '../stub';
import type { Attributes, ToxicKind } from './toxic';

interface LimitState {
  transmitted: number;
}

export const limitData: ToxicKind = {
  type: 'limit_data',
  goName: 'LimitDataToxic',
  fields: [{ key: 'bytes', kind: 'int64' }],
  newState: (): LimitState => ({ transmitted: 0 }),
  async pipe(attrs: Attributes, stub: ToxicStub): Promise<void> {
    const state = stub.state as LimitState;
    for (;;) {
      const c = await stub.read();
      if (c === INTERRUPTED) return;
      if (c === null) return stub.close();
      const remaining = Math.max(0, attrs.bytes - state.transmitted);
      if (remaining < c.data.length) {
        stub.drop({ data: c.data.subarray(remaining), ts: c.ts });
        c.data = c.data.subarray(0, remaining);
      }
      if (c.data.length > 0) {
        stub.write(c);
        state.transmitted += c.data.length;
      }
      if (attrs.bytes - state.transmitted <= 0) return stub.close();
    }
  },
};
