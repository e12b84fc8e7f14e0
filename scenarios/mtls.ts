import http from 'node:http';
import { defineScenario } from './runner/scenario';
import { ORDER, PAYMENTS, STRICT_PEER_AUTHENTICATION } from './runner/fixtures';
import type { ScenarioContext } from './runner/context';

const STRICT = STRICT_PEER_AUTHENTICATION;

const ORDERS_PRINCIPAL = 'spiffe://cluster.local/ns/default/sa/orders';

/** A plaintext HTTP GET straight to a sidecar's inbound port, as a workload outside the mesh would send: the status, or how the connection ended. */
function plaintextGet(host: string, port: number, path: string): Promise<string> {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path, agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(`HTTP ${res.statusCode}`));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

async function sumOver(ctx: ScenarioContext, instances: string[], name: string, labels: Record<string, string>): Promise<number> {
  let sum = 0;
  for (const id of instances) sum += await ctx.metric(id, name, labels);
  return sum;
}

/** Istio's mutual TLS migration task: PERMISSIVE (plaintext and mTLS on one port) → STRICT (mTLS only). */
export default defineScenario({
  name: 'mtls',
  title: 'PeerAuthentication PERMISSIVE → STRICT under load: plaintext refused, mesh traffic (already mTLS) unaffected',
  teaches: [
    'Every sidecar holds a short-lived SPIFFE certificate from the mesh CA and already talks mTLS to its peers (auto mTLS);',
    'PERMISSIVE also admits plaintext on the same port, STRICT refuses it at the connection (counted by reason) — and the',
    'receiving side labels requests with the verified source_principal and connection_security_policy="mutual_tls".',
  ],
  control: {
    removes: 'PeerAuthentication STRICT not applied (the mesh stays PERMISSIVE)',
    shows: 'left PERMISSIVE, the plaintext client is still admitted and nothing is refused',
    fails: ['plaintext client under STRICT', 'refused connections counted'],
  },
  async run(ctx) {
    const state = ctx.world.state();
    const orders = state.instances.find((i) => i.id === 'orders-v1-0');
    if (!orders) throw new Error('mtls needs the orders-v1-0 instance');
    const host = state.host;
    const inboundPort = orders.sidecar.ports.inbound;
    const certs = (await (await fetch(`${ctx.adminUrl('orders-v1-0')}/certs`)).json()) as { identity: string; peerAuthenticationMode: string; certificate: { serial: string; generation: number; notAfter: string } | null };
    ctx.mark(`orders' certificate: ${certs.identity}, serial ${certs.certificate?.serial.slice(0, 12)}…, generation ${certs.certificate?.generation}, valid until ${certs.certificate?.notAfter}`);
    ctx.expectEqual("orders' sidecar identity (SPIFFE id from its certificate)", certs.identity, ORDERS_PRINCIPAL);

    const permissive = await plaintextGet(host, inboundPort, '/orders?limit=1');
    ctx.mark(`PERMISSIVE: plaintext GET to orders' inbound port → ${permissive}`);
    ctx.expectEqual('plaintext client under PERMISSIVE (admitted)', permissive, 'HTTP 200');

    const refusedBefore = await ctx.metric('orders-v1-0', 'meshlab_inbound_connections_refused_total', { reason: 'plaintext_in_strict' });
    const principalBefore = await sumOver(ctx, PAYMENTS, 'istio_requests_total', { reporter: 'destination', source_principal: ORDERS_PRINCIPAL, connection_security_policy: 'mutual_tls' });

    // Orders keep flowing through gateway → orders → payments while the mesh switches to STRICT.
    const durationMs = ctx.pick(8000, 4000);
    const load = ctx.load('orders', { method: 'POST', path: '/orders', body: ORDER, rps: 20, durationMs, concurrency: 8 });
    await new Promise((r) => setTimeout(r, durationMs / 3));
    await ctx.applyPolicy(STRICT, 'PeerAuthentication STRICT (namespace-wide)');
    const strict = await plaintextGet(host, inboundPort, '/orders?limit=1');
    ctx.mark(`STRICT: plaintext GET to orders' inbound port → ${strict}`);
    const samples = await load;

    const refusedAfter = await ctx.metric('orders-v1-0', 'meshlab_inbound_connections_refused_total', { reason: 'plaintext_in_strict' });
    const principalAfter = await sumOver(ctx, PAYMENTS, 'istio_requests_total', { reporter: 'destination', source_principal: ORDERS_PRINCIPAL, connection_security_policy: 'mutual_tls' });
    const created = samples.filter((s) => s.status === 201).length;
    ctx.expectEqual('plaintext client under STRICT: connection refused, no HTTP answer', strict.startsWith('HTTP') ? strict : 'refused', 'refused');
    ctx.expectEqual('refused connections counted (meshlab_inbound_connections_refused_total{reason="plaintext_in_strict"})', refusedAfter - refusedBefore, 1);
    ctx.expectEqual(`failed orders across the switch (of ${samples.length})`, samples.length - created, 0);
    ctx.expectAtLeast('payments requests labelled source_principal=orders, mutual_tls (one per order)', principalAfter - principalBefore, created);
  },
});
