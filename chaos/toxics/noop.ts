/** noop: passes every chunk through unchanged. Also what a link runs when toxicity rolls "unaffected". */
import { INTERRUPTED, type ToxicStub } from '../stub';
import type { ToxicKind } from './toxic';

export async function passThrough(stub: ToxicStub): Promise<void> {
  for (;;) {
    const c = await stub.read();
    if (c === INTERRUPTED) return;
    if (c === null) return stub.close();
    stub.write(c);
  }
}

export const noop: ToxicKind = {
  type: 'noop',
  goName: 'NoopToxic',
  fields: [],
  pipe: (_attrs, stub) => passThrough(stub),
};
