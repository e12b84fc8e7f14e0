/**
 * Live re-linking: toxics added, updated and removed while bytes flow must not drop, duplicate
 * or reorder a single byte; and toxicity is a seeded per-connection probability.
 */
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Toxiproxy } from 'toxiproxy-node-client';
import type { ChaosServer } from '../../chaos/server';
import { connect, portOf, readN, startChaos, startEcho, untilClosed, type Fixture } from './helpers';

let echo: Fixture;
beforeAll(async () => {
  echo = await startEcho();
});
afterAll(async () => {
  await echo.close();
});

/** Deterministic, position-dependent bytes so any loss or reordering shows up. */
function pattern(offset: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = ((offset + i) * 31 + ((offset + i) >> 8)) & 0xff;
  return b;
}

/** Writes a pattern block every millisecond until stopped; returns the bytes written. */
function pump(s: Socket, block = 512): { stop(): number } {
  let sent = 0;
  let running = true;
  const tick = (): void => {
    if (!running) return;
    s.write(pattern(sent, block));
    sent += block;
    // Paced (not a busy loop) so other test workers on this 2-core machine keep their timing.
    if (s.writableLength > 1 << 20) s.once('drain', () => setTimeout(tick, 1));
    else setTimeout(tick, 1);
  };
  tick();
  return {
    stop: () => {
      running = false;
      return sent;
    },
  };
}

describe('live add/update/remove', () => {
  let server: ChaosServer;
  let tp: Toxiproxy;
  beforeEach(async () => {
    server = await startChaos(11);
    tp = new Toxiproxy(server.url);
  });
  afterEach(async () => {
    await server.close();
  });

  test('1,000 add/remove cycles on a live connection lose no byte', async () => {
    const proxy = await tp.createProxy({ name: 'cycle', listen: '127.0.0.1:0', upstream: `127.0.0.1:${echo.port}` });
    // Two resident toxics so removals also happen in the middle of a chain.
    await proxy.addToxic({ name: 'base_up', type: 'latency', stream: 'upstream', toxicity: 1, attributes: { latency: 0, jitter: 0 } });
    await proxy.addToxic({ name: 'base_down', type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: 1, jitter: 0 } });
    const s = await connect(portOf(proxy.listen));
    const received: Buffer[] = [];
    let receivedBytes = 0;
    s.on('data', (b: Buffer) => {
      received.push(b);
      receivedBytes += b.length;
    });
    const writer = pump(s);
    const kinds = [
      { type: 'latency', attributes: { latency: 2, jitter: 1 } },
      { type: 'slicer', attributes: { average_size: 100, size_variation: 30, delay: 0 } },
      { type: 'bandwidth', attributes: { rate: 100_000 } },
      { type: 'noop', attributes: {} },
      { type: 'limit_data', attributes: { bytes: 1e12 } },
    ] as const;
    for (let i = 0; i < 1000; i++) {
      const k = kinds[i % kinds.length];
      const stream = i % 2 === 0 ? 'upstream' : 'downstream';
      const t = await proxy.addToxic({ name: `x${i}`, type: k.type as 'latency', stream, toxicity: 1, attributes: k.attributes as never });
      if (i % 10 === 0) {
        // Remove and re-add a resident toxic that now sits before x<i> in the chain.
        const base = await proxy.getToxic(stream === 'upstream' ? 'base_up' : 'base_down');
        await base.remove();
        await proxy.addToxic(base.toJson());
      }
      await t.remove();
    }
    const sent = writer.stop();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${receivedBytes}/${sent} bytes echoed`)), 10_000);
      const check = (): void => {
        if (receivedBytes >= sent) {
          clearTimeout(timer);
          resolve();
        } else setTimeout(check, 5);
      };
      check();
    });
    s.destroy();
    expect(sent).toBeGreaterThan(50_000);
    expect(receivedBytes).toBe(sent);
    expect(Buffer.concat(received).equals(pattern(0, sent))).toBe(true);
  });

  test('removing a latency toxic releases held data at once', async () => {
    const proxy = await tp.createProxy({ name: 'release', listen: '127.0.0.1:0', upstream: `127.0.0.1:${echo.port}` });
    const s = await connect(portOf(proxy.listen));
    const t = await proxy.addToxic({ name: 'slow', type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: 2000, jitter: 0 } });
    const t0 = performance.now();
    s.write('held');
    const got = readN(s, 4);
    await t.remove();
    expect((await got).toString()).toBe('held');
    expect(performance.now() - t0).toBeLessThan(300);
    s.destroy();
  });

  test('updating a toxic applies to the open connection', async () => {
    const proxy = await tp.createProxy({ name: 'update', listen: '127.0.0.1:0', upstream: `127.0.0.1:${echo.port}` });
    const s = await connect(portOf(proxy.listen));
    const rtt = async (): Promise<number> => {
      const t0 = performance.now();
      s.write('x');
      await readN(s, 1);
      return performance.now() - t0;
    };
    const t = await proxy.addToxic({ name: 'lat', type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: 150, jitter: 0 } });
    expect(await rtt()).toBeGreaterThanOrEqual(150 - 2);
    await t.update({ ...t.toJson(), attributes: { latency: 20, jitter: 0 } });
    const after: number[] = [];
    for (let i = 0; i < 7; i++) after.push(await rtt());
    after.sort((a, b) => a - b);
    expect(after[0]).toBeGreaterThanOrEqual(20 - 2); // setTimeout may fire ~1 ms early
    expect(after[3]).toBeLessThanOrEqual(20 + 10); // median
    s.destroy();
  });
});

describe('toxicity', () => {
  /**
   * Opens `n` connections (10 at a time) through a limit_data(1 byte) toxic with the given
   * toxicity and echoes 2 bytes on each: an affected connection returns 1 byte and closes, an
   * unaffected one returns both. Byte counts, not timings, so CPU load cannot blur the result.
   */
  async function affectedCount(seed: number, toxicity: number, n: number): Promise<number> {
    const server = await startChaos(seed);
    try {
      const tp = new Toxiproxy(server.url);
      const proxy = await tp.createProxy({ name: 'tox', listen: '127.0.0.1:0', upstream: `127.0.0.1:${echo.port}` });
      await proxy.addToxic({ name: 'cut', type: 'limit_data', stream: 'downstream', toxicity, attributes: { bytes: 1 } } as never);
      let affected = 0;
      for (let batch = 0; batch < n; batch += 10) {
        await Promise.all(
          Array.from({ length: Math.min(10, n - batch) }, async () => {
            const s = await connect(portOf(proxy.listen));
            const out = untilClosed(s);
            s.end('ab');
            const { data } = await out;
            if (data.length === 1) affected++;
            else expect(data.toString()).toBe('ab');
          }),
        );
      }
      return affected;
    } finally {
      await server.close();
    }
  }

  test('toxicity 0.5 affects about half of 100 connections (50 +/- 15, i.e. 3 sd), repeatably for a seed', async () => {
    const first = await affectedCount(1234, 0.5, 100);
    const second = await affectedCount(1234, 0.5, 100);
    expect(first).toBeGreaterThanOrEqual(35);
    expect(first).toBeLessThanOrEqual(65);
    expect(second).toBe(first);
  });

  test('toxicity 0 never and 1 always applies', async () => {
    expect(await affectedCount(5, 0, 20)).toBe(0);
    expect(await affectedCount(5, 1, 20)).toBe(20);
  });
});
