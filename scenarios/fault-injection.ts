import { defineScenario } from './runner/scenario';
import { hasFlag } from './runner/flags';
import { GATEWAY, PAYMENTS, paymentsVirtualService } from './runner/fixtures';

/** The mesh's own fault injection: delays and aborts at given percentages, on the client side. */
export default defineScenario({
  name: 'fault-injection',
  title: 'VirtualService fault: 100 ms delay on 50% and HTTP 503 abort on 10% of payments calls, measured',
  teaches: [
    "Fault injection happens in the caller's sidecar before routing: a delayed request (flag DI) still reaches",
    'payments, an aborted one (flag FI) never does and is never retried. Each request rolls its own dice.',
  ],
  control: {
    removes: 'no fault (the VirtualService without its fault block)',
    shows: 'without the fault block nothing is delayed (DI) or aborted (FI)',
    fails: ['aborted (503, flag FI)', 'delayed (flag DI)'],
  },
  async run(ctx) {
    await ctx.applyPolicy(
      paymentsVirtualService(`- fault:
    delay:
      fixedDelay: 100ms
      percentage: {value: 50}
    abort:
      httpStatus: 503
      percentage: {value: 10}
  route:
  - destination: {host: payments}`),
      'fault: delay 100ms on 50%, abort 503 on 10%',
    );
    const n = 1000;
    const since = Date.now();
    const servedBefore = await ctx.served(PAYMENTS, GATEWAY);
    const samples = await ctx.load('faults', { path: '/api/payments/validate?amount=5', rps: 200, count: n, concurrency: 64 });
    const served = (await ctx.served(PAYMENTS, GATEWAY)) - servedBefore;
    // The gateway is the caller here: its access log records which requests it delayed (DI) or aborted (FI).
    const log = (await ctx.accessLog('gateway')).filter((e) => e.path.startsWith('/api/payments/validate') && Date.parse(e.start_time) >= since);
    const flagged = (f: string) => log.filter((e) => hasFlag(e, f));
    const aborted = samples.filter((s) => s.status === 503).length;
    const delayed = flagged('DI');
    ctx.expectEqual('requests the gateway logged', log.length, n);
    ctx.expectNear(`aborted (503, flag FI) over ${n} requests`, (100 * aborted) / n, 10, 3, '%');
    ctx.expectEqual('aborts the gateway flagged FI', flagged('FI').length, aborted);
    ctx.expectNear(`delayed (flag DI) over ${n} requests`, (100 * delayed.length) / n, 50, 5, '%');
    ctx.expectEqual('delayed requests that took under 100 ms', delayed.filter((e) => e.duration_ms < 100).length, 0);
    ctx.expectEqual('requests from the gateway that reached payments = requests not aborted', served, n - aborted);
    ctx.expectEqual('responses other than 200 or the injected 503', samples.filter((s) => s.status !== 200 && s.status !== 503).length, 0);
  },
});
