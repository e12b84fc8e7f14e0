/**
 * reset_peer: on the first input (data or end-of-stream) waits `timeout` ms, then closes the
 * connection; connections that started with this toxic present close with TCP RST
 * (socket.resetAndDestroy(), Toxiproxy's SetLinger(0)), so peers see ECONNRESET. Data is dropped.
 */
import { INTERRUPTED, type ToxicStub } from '../stub';
import type { Attributes, ToxicKind } from './toxic';

export const resetPeer: ToxicKind = {
  type: 'reset_peer',
  goName: 'ResetToxic',
  fields: [{ key: 'timeout', kind: 'int64' }],
  resetsConnection: true,
  async pipe(attrs: Attributes, stub: ToxicStub): Promise<void> {
    const c = await stub.read();
    if (c === INTERRUPTED) return;
    if (c) stub.drop(c);
    // Go waits unconditionally here (no interrupt case), then closes.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, attrs.timeout)).unref());
    stub.close();
  },
};
