import { ChaosClient } from '../chaos/client';
import { defineScenario } from './runner/scenario';
import { hasFlag } from './runner/flags';
import { ORDER, PAYMENTS, paymentsVirtualService } from './runner/fixtures';

/** A broken network (not a broken instance): the chaos proxy on the orders→payments edges. */
export default defineScenario({
  name: 'network-chaos',
  title: 'chaos proxy: +200 ms latency, then connection resets, on orders→payments; retries and timeouts absorb them',
  teaches: [
    'Every sidecar→sidecar hop runs through a Toxiproxy-compatible chaos proxy (orders->payments-v1-0, …). Latency',
    'there slows calls but a 3 s timeout (1 s per try) tolerates it; resets on one instance are retried (retryOn reset)',
    'on another: the caller\'s access log shows each retried call (attempts > 1) and none that ran out of retries (URX).',
  ],
  control: {
    removes: 'no retries (the same VirtualService with retries: {attempts: 0})',
    shows: 'without retries every call whose connection is reset fails the order (≈ 1 in 3)',
    fails: ['orders confirmed under resets on one instance', 'calls retried after a reset'],
  },
  async run(ctx) {
    if (!ctx.world.chaosUrl) throw new Error('this world runs without a chaos server (chaosPort: false)');
    const chaos = new ChaosClient(ctx.world.chaosUrl);
    const edges = PAYMENTS.map((id) => `orders->${id}`);
    await ctx.apply(
      paymentsVirtualService(
        ctx.control
          ? `- route:
  - destination: {host: payments}
  timeout: 3s
  retries:
    attempts: 0`
          : `- route:
  - destination: {host: payments}
  timeout: 3s
  retries:
    attempts: 3
    perTryTimeout: 1s
    retryOn: connect-failure,reset,5xx`,
      ),
      ctx.control ? 'control arm: timeout 3s, retries off' : 'timeout 3s, retries 3 on connect-failure,reset,5xx',
    );
    const n = ctx.pick(200, 100);
    try {
      for (const e of edges) await chaos.addToxic(e, { name: 'slow', type: 'latency', stream: 'downstream', attributes: { latency: 200, jitter: 0 } });
      ctx.mark('latency 200 ms on orders->payments-*');
      const slow = await ctx.load('latency 200 ms', { path: '/orders', body: ORDER, rps: 20, count: n, concurrency: 32 });
      for (const e of edges) await chaos.removeToxic(e, 'slow');
      ctx.mark('latency removed');

      await chaos.addToxic(edges[0], { name: 'reset', type: 'reset_peer', stream: 'downstream', attributes: { timeout: 0 } });
      ctx.mark(`reset_peer on ${edges[0]}`);
      const resetsSince = Date.now();
      const resets = await ctx.load('resets on one instance', { path: '/orders', body: ORDER, rps: 20, count: n, concurrency: 32 });
      await chaos.removeToxic(edges[0], 'reset');
      ctx.mark('reset removed');

      const ok = (s: typeof slow): number => (100 * s.filter((x) => x.status === 201).length) / s.length;
      ctx.expectEqual(`orders confirmed under +200 ms (${n})`, ok(slow), 100);
      // Each payments call waits ≥ 200 ms for its response bytes; a new mTLS connection pays the latency on its handshake too.
      ctx.expectAtLeast('p50 order latency under +200 ms (one payments call)', ctx.latency(slow, 50), 200, ' ms');
      ctx.expectAtMost('p99 order latency under +200 ms: within the 3 s route timeout', ctx.latency(slow, 99), 3000, ' ms');
      ctx.expectAtLeast(`orders confirmed under resets on one instance (${n})`, ok(resets), 99);
      // The mesh's own record of the resets: the orders sidecar's access log for the reset phase.
      const calls = (await ctx.accessLog('orders-v1-0')).filter((e) => e.direction === 'outbound' && e.authority === 'payments' && Date.parse(e.start_time) >= resetsSince);
      const retried = calls.filter((e) => e.attempts > 1);
      ctx.expectAtLeast(`calls retried after a reset (attempts > 1), of ${calls.length}`, retried.length, 1);
      ctx.expectEqual('retried calls answered 2xx by another instance', retried.filter((e) => e.response_code < 300 && e.upstream_instance !== PAYMENTS[0]).length, retried.length);
      ctx.expectEqual('calls that ran out of retries (flag URX)', calls.filter((e) => hasFlag(e, 'URX')).length, 0);
    } finally {
      for (const e of edges) {
        for (const t of ['slow', 'reset']) await chaos.removeToxic(e, t).catch(() => undefined);
      }
    }
  },
});
