/**
 * timeout: swallows all data; closes the connection after `timeout` ms without input
 * (0 = never). Removing it from a live connection closes that connection.
 */
import { INTERRUPTED, TIMED_OUT, type ToxicStub } from '../stub';
import type { Attributes, ToxicKind } from './toxic';

export const timeout: ToxicKind = {
  type: 'timeout',
  goName: 'TimeoutToxic',
  fields: [{ key: 'timeout', kind: 'int64' }],
  async pipe(attrs: Attributes, stub: ToxicStub): Promise<void> {
    for (;;) {
      // Go re-creates time.After on every loop turn, so each chunk re-arms the timer.
      const c = attrs.timeout > 0 ? await stub.readWithin(attrs.timeout) : await stub.read();
      if (c === TIMED_OUT) return stub.close();
      if (c === INTERRUPTED) return;
      if (c === null) return stub.close();
      stub.drop(c);
    }
  },
  cleanup(stub) {
    stub.close();
  },
};
