import http from 'node:http';
import { defineScenario } from './runner/scenario';
import { DENIED_LABELS } from './runner/flags';
import { ORDER, PAYMENTS } from './runner/fixtures';
import type { ScenarioContext } from './runner/context';

const DENY_VALIDATE = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: payments-deny-validate
spec:
  selector:
    matchLabels:
      app: payments
  action: DENY
  rules:
  - to:
    - operation:
        paths: ["/api/payments/validate"]
`;

/** `n` GETs from `instance`'s app point of view: to its own sidecar's outbound port with Host `host`. Status → count. */
async function callsFrom(ctx: ScenarioContext, instance: string, host: string, path: string, n: number): Promise<Map<string, number>> {
  const state = ctx.world.state();
  const inst = state.instances.find((i) => i.id === instance);
  if (!inst) throw new Error(`no instance ${instance}`);
  const out = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const answer = await new Promise<string>((resolve) => {
      const req = http.get({ host: state.host, port: inst.sidecar.ports.outbound, path, agent: false, headers: { host }, timeout: 5000 }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve(res.statusCode === 403 ? `403 ${body}` : String(res.statusCode)));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    });
    out.set(answer, (out.get(answer) ?? 0) + 1);
  }
  return out;
}

const show = (m: Map<string, number>): string => [...m].map(([k, v]) => `${v}× ${k}`).join(', ');

/** Istio's HTTP authorization task on the lab: the default policy on payments, then a DENY rule that beats it. */
export default defineScenario({
  name: 'authz',
  title: 'AuthorizationPolicy: only orders and the gateway may call payments; a DENY on a path wins over ALLOW',
  teaches: [
    'An ALLOW policy on a workload denies every caller it does not match (403 "RBAC: access denied"; as in Envoy no response flag, the reason is in response_code_details);',
    'callers are matched by the principal of their verified mTLS certificate, not by anything they could claim in a header;',
    'DENY policies are evaluated first: a matching DENY rule wins over any ALLOW.',
  ],
  control: {
    removes: "no AuthorizationPolicy (config/default's ALLOW deleted, the DENY not applied)",
    shows: 'without AuthorizationPolicies notifications reaches payments and nothing is denied',
    fails: ['notifications → payments denied', 'payments sidecars counted the denials', 'orders → /api/payments/validate now denied'],
  },
  async run(ctx) {
    const n = ctx.pick(20, 10);
    if (ctx.control) {
      await ctx.world.deleteConfig([{ kind: 'AuthorizationPolicy', name: 'payments' }]);
      ctx.mark("control arm: config/default's AuthorizationPolicy payments deleted");
    }
    const validate = '/api/payments/validate?amount=1';
    const deniedBefore = await sumRbac(ctx);

    const fromOrders = await callsFrom(ctx, 'orders-v1-0', 'payments', validate, n);
    ctx.mark(`default policy, orders → payments: ${show(fromOrders)}`);
    const fromNotifications = await callsFrom(ctx, 'notifications-v1-0', 'payments', validate, n);
    ctx.mark(`default policy, notifications → payments: ${show(fromNotifications)}`);
    ctx.expectEqual(`orders → payments allowed (200 of ${n})`, fromOrders.get('200') ?? 0, n);
    ctx.expectEqual(`notifications → payments denied (403 RBAC: access denied of ${n})`, fromNotifications.get('403 RBAC: access denied') ?? 0, n);
    ctx.expectEqual('payments sidecars counted the denials (response_code=403, response_flags="-" as Envoy reports RBAC, source_principal=notifications)', (await sumRbac(ctx)) - deniedBefore, n);

    await ctx.applyPolicy(DENY_VALIDATE, 'DENY /api/payments/validate on payments (next to the ALLOW)');
    const ordersAfterDeny = await callsFrom(ctx, 'orders-v1-0', 'payments', validate, n);
    ctx.mark(`with the DENY, orders → payments /api/payments/validate: ${show(ordersAfterDeny)}`);
    ctx.expectEqual(`orders → /api/payments/validate now denied though ALLOW matches (403 of ${n})`, ordersAfterDeny.get('403 RBAC: access denied') ?? 0, n);

    // Other paths are still allowed for orders: placing orders charges payments (POST /payments).
    const samples = await ctx.load('orders', { method: 'POST', path: '/orders', body: ORDER, rps: 10, count: n, concurrency: 4 });
    ctx.expectEqual(`orders placed (POST /payments by orders not denied) of ${samples.length}`, samples.filter((s) => s.status === 201).length, samples.length);
  },
});

async function sumRbac(ctx: ScenarioContext): Promise<number> {
  let sum = 0;
  for (const id of PAYMENTS) sum += await ctx.metric(id, 'istio_requests_total', { reporter: 'destination', ...DENIED_LABELS, source_principal: 'spiffe://cluster.local/ns/default/sa/notifications' });
  return sum;
}
