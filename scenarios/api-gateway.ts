import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import { defineScenario } from './runner/scenario';
import { ORDER } from './runner/fixtures';
import type { ScenarioContext } from './runner/context';
import type { AccessLogEntry } from '../mesh/access-log';
import { issueToken } from '../mesh/security/token-issuer';

/**
 * The lab's Istio YAML, one document per step, from config/samples/api-gateway.yaml (what the README shows and
 * test/config/samples checks with `analyze`): the Gateway with httpsRedirect, the AuthorizationPolicy (alice
 * orders, any token reads), the claim-routing VirtualService and the local rate limit EnvoyFilter.
 */
const SAMPLE = path.resolve(__dirname, '..', '..', 'config', 'samples', 'api-gateway.yaml');
function labDoc(kind: string): string {
  const doc = fs.readFileSync(SAMPLE, 'utf8').split(/^---$/m).find((d) => new RegExp(`^kind: ${kind}$`, 'm').test(d));
  if (!doc) throw new Error(`${SAMPLE} has no ${kind}`);
  return doc.replace(/^\n+/, '');
}
const GATEWAY = labDoc('Gateway');
const AUTHZ = labDoc('AuthorizationPolicy');
const ROUTES = labDoc('VirtualService');
const RATE_LIMIT = labDoc('EnvoyFilter');

const RATE = 20;
const BURST = 10;
const FILL_MS = 50;

interface EdgeWorld {
  gatewayHttpsUrl?: string;
  gatewayCaFile?: string;
}

/** The gateway's access-log entries that started in [from, to) wall-clock ms, optionally only for a path prefix. */
async function gatewayLog(ctx: ScenarioContext, from: number, to: number, prefix = '/'): Promise<AccessLogEntry[]> {
  return (await ctx.accessLog('gateway')).filter((e) => {
    const t = Date.parse(e.start_time);
    return t >= from && t < to && e.path.startsWith(prefix);
  });
}

const count = (entries: AccessLogEntry[], pred: (e: AccessLogEntry) => boolean): number => entries.filter(pred).length;

/** One plain-HTTP GET to the gateway: status and Location. */
function plainGet(url: string): Promise<{ status: number; location?: string }> {
  return new Promise((resolve, reject) => {
    http.get(url, { agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location }));
    }).on('error', reject);
  });
}

/**
 * The edge as an API gateway, with Istio's own resources: TLS termination, JWT authentication, authorization
 * by request principal, JWT claim routing and a local rate limit, all at the ingress gateway.
 */
export default defineScenario({
  name: 'api-gateway',
  title: 'the ingress gateway as an API gateway: HTTPS only, JWT → 401/403, claim routing, 20 rps local rate limit',
  teaches: [
    'A Gateway says which ports, hosts and certificates the edge serves; VirtualServices bind to it with `gateways:`.',
    'RequestAuthentication rejects an invalid token (401) but lets a request without one through: AuthorizationPolicy',
    '`requestPrincipals` (`iss/sub`) decides who may do what (403). Claims route too (`@request.auth.claims.group`).',
    "Envoy's local rate limit (an EnvoyFilter, as Istio's task writes it) is a token bucket: max_tokens is the burst,",
    'tokens_per_fill per fill_interval the rate; beyond it 429 with flag RL, answered at the edge, never reaching orders.',
  ],
  control: {
    removes: 'no httpsRedirect, AuthorizationPolicy, claim routes or EnvoyFilter (config/default: a RequestAuthentication only)',
    shows: 'plain HTTP is served, a request without a token or with bob\'s places orders, nothing is rate limited and beta users land anywhere',
    fails: ['plain HTTP redirected', 'no token: denied', "bob's token: denied", 'allowed under the rate limit', 'refused over the limit', 'beta users routed to payments v2', 'other users routed to payments v1'],
  },
  async run(ctx) {
    const edge = ctx.world as unknown as EdgeWorld;
    if (!edge.gatewayHttpsUrl || !edge.gatewayCaFile) throw new Error('api-gateway needs the embedded world (its gateway HTTPS listener and edge CA)');
    const https = { url: edge.gatewayHttpsUrl, ca: fs.readFileSync(edge.gatewayCaFile) };
    await ctx.applyPolicy(GATEWAY, 'Gateway: HTTP redirects to HTTPS');
    await ctx.applyPolicy(AUTHZ, 'AuthorizationPolicy: alice orders, any token reads');
    await ctx.applyPolicy(ROUTES, 'VirtualService: claim group=beta → payments v2, others v1');

    const alice = await issueToken({ sub: 'alice', aud: 'shop' });
    const bob = await issueToken({ sub: 'bob', aud: 'shop' });
    const beta = await issueToken({ sub: 'dana', aud: 'shop', claims: { group: 'beta' } });
    const expired = await issueToken({ sub: 'alice', aud: 'shop', ttlSeconds: -300 });
    const auth = (t?: string): Record<string, string> => (t ? { authorization: `Bearer ${t}` } : {});
    const n = ctx.pick(20, 10);

    // 1. HTTPS only.
    let from = Date.now();
    const plain = [];
    for (let i = 0; i < n; i++) plain.push(await plainGet(`${ctx.world.gatewayUrl}/api/payments/validate?amount=1`));
    let log = await gatewayLog(ctx, from, Date.now() + 1);
    ctx.mark(`plain HTTP: ${plain.filter((p) => p.status === 301).length}× 301 → ${plain[0]?.location ?? '-'}`);
    ctx.expectEqual(`plain HTTP redirected to https (gateway log: 301 https_redirect, of ${n})`, count(log, (e) => e.response_code === 301 && e.response_code_details === 'https_redirect'), n);

    // 2. Who may place an order.
    const phase = async (name: string, token: string | undefined): Promise<AccessLogEntry[]> => {
      const t0 = Date.now();
      await ctx.load(name, { method: 'POST', path: '/orders', body: ORDER, headers: auth(token), rps: 50, count: n, concurrency: 4, https });
      return gatewayLog(ctx, t0, Date.now() + 1, '/orders');
    };
    const ordersFrom = Date.now();
    const none = await phase('no token', undefined);
    const invalid = await phase('expired token', expired);
    const byAlice = await phase("alice's token", alice);
    const byBob = await phase("bob's token", bob);
    const reached = await ordersInbound(ctx, ordersFrom, Date.now() + 1);
    ctx.expectEqual(`no token: denied by requestPrincipals (gateway log: 403 rbac_access_denied, of ${n})`, count(none, (e) => e.response_code === 403 && e.response_code_details.startsWith('rbac_access_denied')), n);
    ctx.expectEqual(`invalid (expired) token: 401 by RequestAuthentication (gateway log: jwt_authn_access_denied{Jwt_is_expired}, of ${n})`, count(invalid, (e) => e.response_code === 401 && e.response_code_details === 'jwt_authn_access_denied{Jwt_is_expired}'), n);
    ctx.expectEqual(`alice's token: order placed (gateway log: 201, of ${n})`, count(byAlice, (e) => e.response_code === 201), n);
    ctx.expectEqual(`bob's token: denied by requestPrincipals (gateway log: 403, of ${n})`, count(byBob, (e) => e.response_code === 403), n);
    const placed = [none, invalid, byAlice, byBob].reduce((a, l) => a + count(l, (e) => e.response_code === 201), 0);
    ctx.expectEqual('only the orders the gateway let through reached orders (orders\' sidecar, inbound POST /orders = gateway 201s)', reached, placed);

    // 3. JWT claim routing (20 each even in --quick: without the routes a user lands on v1 with p = 2/3, so 20 of 20 by chance is p < 0.0003).
    const routed = ctx.pick(40, 20);
    from = Date.now();
    await ctx.load('beta users', { path: '/api/payments/validate?amount=5', headers: auth(beta), rps: 50, count: routed, concurrency: 4, https });
    const betaRouted = await ctx.routedVersions('/api/payments', from, Date.now() + 1);
    from = Date.now();
    await ctx.load('other users', { path: '/api/payments/validate?amount=5', headers: auth(alice), rps: 50, count: routed, concurrency: 4, https });
    const othersRouted = await ctx.routedVersions('/api/payments', from, Date.now() + 1);
    ctx.expectEqual(`beta users routed to payments v2 (gateway log, of ${routed})`, betaRouted.get('v2') ?? 0, routed);
    ctx.expectEqual(`other users routed to payments v1 (gateway log, of ${routed})`, othersRouted.get('v1') ?? 0, routed);

    // 4. The local rate limit: alice places orders at twice the limit.
    await ctx.applyPolicy(RATE_LIMIT, `EnvoyFilter: local rate limit ${RATE} rps, burst ${BURST}`);
    const offered = 2 * RATE;
    const total = ctx.pick(400, 200);
    from = Date.now();
    await ctx.load('rate limited', { method: 'POST', path: '/orders', body: ORDER, headers: auth(alice), rps: offered, count: total, concurrency: 16, https });
    log = await gatewayLog(ctx, from, Date.now() + 1, '/orders');
    const reachedRl = await ordersInbound(ctx, from, Date.now() + 1);
    const starts = log.map((e) => Date.parse(e.start_time)).sort((a, b) => a - b);
    const spanMs = starts.length > 1 ? starts[starts.length - 1] - starts[0] : 0;
    // Envoy's bucket: full (the burst) at the first request, then one token per fill_interval.
    const expectedAllowed = BURST + (spanMs / FILL_MS) * 1;
    const allowed = count(log, (e) => e.response_flags !== 'RL');
    const limited = count(log, (e) => e.response_code === 429 && e.response_flags === 'RL');
    ctx.mark(`rate limit: ${log.length} requests over ${(spanMs / 1000).toFixed(2)} s at the gateway, ${allowed} allowed, ${limited} × 429 RL`);
    ctx.expectNear(`allowed under the rate limit (burst ${BURST} + ${RATE}/s × ${(spanMs / 1000).toFixed(2)} s, ±5%)`, allowed, Math.round(expectedAllowed), Math.round(expectedAllowed * 0.05));
    ctx.expectNear(`refused over the limit: 429 with flag RL (the rest of ${log.length}, ±5%)`, limited, Math.round(log.length - expectedAllowed), Math.round(expectedAllowed * 0.05));
    ctx.expectEqual('none of the 429s reached orders (orders\' sidecar inbound POST /orders = gateway non-RL answers)', reachedRl, allowed);
  },
});

/**
 * POST /orders requests orders' sidecar saw inbound between two wall-clock instants (its access log's start
 * times: the log keeps its newest 5,000 entries, so on a world earlier labs filled, a count before minus a
 * count after is not what arrived in between).
 */
async function ordersInbound(ctx: ScenarioContext, fromWall: number, toWall: number): Promise<number> {
  const entries = await ctx.accessLog('orders-v1-0');
  return entries.filter((e) => {
    const t = Date.parse(e.start_time);
    return e.direction === 'inbound' && e.method === 'POST' && e.path === '/orders' && t >= fromWall && t <= toWall;
  }).length;
}
