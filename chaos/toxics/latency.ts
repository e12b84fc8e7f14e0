/**
 * latency: delays each chunk by `latency` ms +/- `jitter` ms, measured from when the chunk
 * entered the proxy, keeping order. Interrupted mid-wait, it forwards the held chunk at once.
 */
import { INTERRUPTED, now, type ToxicStub } from '../stub';
import type { Attributes, ToxicContext, ToxicKind } from './toxic';

function delayMs(attrs: Attributes, ctx: ToxicContext): number {
  let delay = attrs.latency;
  const jitter = attrs.jitter;
  // Go: rand.Int63n(jitter*2) - jitter, i.e. uniform in [-jitter, jitter).
  if (jitter > 0) delay += ctx.intn(jitter * 2) - jitter;
  return delay;
}

export const latency: ToxicKind = {
  type: 'latency',
  goName: 'LatencyToxic',
  fields: [
    { key: 'latency', kind: 'int64' },
    { key: 'jitter', kind: 'int64' },
  ],
  async pipe(attrs: Attributes, stub: ToxicStub, ctx: ToxicContext): Promise<void> {
    for (;;) {
      const c = await stub.read();
      if (c === INTERRUPTED) return;
      if (c === null) return stub.close();
      const sleep = delayMs(attrs, ctx) - (now() - c.ts);
      const completed = await stub.sleep(sleep);
      if (sleep > 0) c.ts += sleep; // later toxics measure from the delayed time
      stub.write(c); // on interrupt too: never drop data
      if (!completed) return;
    }
  },
};
