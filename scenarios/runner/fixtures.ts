/** A valid order (19.98 in total) for load. */
export const ORDER = { user_id: 'u-lab', items: [{ sku: 'SKU-1', qty: 2, unit_price: 9.99 }] };

function indent(text: string, spaces: number): string {
  return text.trim().split('\n').map((l) => ' '.repeat(spaces) + l).join('\n');
}

/** The payments DestinationRule with subsets v1/v2 and an optional top-level trafficPolicy (YAML body). */
export function paymentsDestinationRule(trafficPolicy?: string): string {
  return `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: payments
spec:
  host: payments
${trafficPolicy ? `  trafficPolicy:\n${indent(trafficPolicy, 4)}\n` : ''}  subsets:
  - name: v1
    labels: {version: v1}
  - name: v2
    labels: {version: v2}
`;
}

/** A VirtualService for payments with the given `http:` rules (YAML list body). */
export function paymentsVirtualService(http: string): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: payments
spec:
  hosts: [payments]
  http:
${indent(http, 2)}
`;
}

/** A v1/v2 weighted split for payments. */
export function paymentsSplit(v1: number, v2: number): string {
  return paymentsVirtualService(`- route:
  - destination: {host: payments, subset: v1}
    weight: ${v1}
  - destination: {host: payments, subset: v2}
    weight: ${v2}`);
}

/** The payments instances of the default topology. */
export const PAYMENTS = ['payments-v1-0', 'payments-v1-1', 'payments-v2-0'];

/** The ingress gateway as payments' sidecars name a caller (source_workload). */
export const GATEWAY = 'istio-ingressgateway-v1';

/** Mesh-wide STRICT mTLS: a PeerAuthentication named `default` with no selector in the (single) namespace. */
export const STRICT_PEER_AUTHENTICATION = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: default
spec:
  mtls:
    mode: STRICT
`;
