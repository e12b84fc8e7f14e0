import { policiesByService } from '../../mesh/control-plane/dashboard/policies';
import { loadYaml } from '../../mesh/config/load';
import { analyze } from '../../mesh/config/analyze';

/** The dashboard's "policies per service": resources grouped by the service they are about, with their analyzer messages. */
describe('dashboard policies per service', () => {
  const text = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: payments, namespace: shop}
spec:
  host: payments
  trafficPolicy:
    outlierDetection: {consecutive5xxErrors: 3}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: payments, namespace: team}
spec:
  hosts: [payments]
  http:
  - route:
    - destination: {host: payments}
`;
  const { resources } = loadYaml(text, 'p.yaml');
  const messages = analyze(resources, { instances: [{ service: 'payments', namespace: 'shop', labels: { app: 'payments', version: 'v1' } }] });

  test("payments runs in shop: shop's DestinationRule is payments', team's VirtualService is about payments.team; the DR's 1 ML0004 shows beside it", () => {
    const groups = policiesByService(resources, messages, ['payments'], new Map([['payments', 'shop']]));
    const by = Object.fromEntries(groups.map((g) => [g.service, g]));
    expect(by.payments.resources.map((r) => r.kind)).toEqual(['DestinationRule']);
    expect(by['payments.team.svc.cluster.local'].resources.map((r) => r.kind)).toEqual(['VirtualService']);
    const ml4 = messages.filter((m) => m.code === 'ML0004');
    expect(ml4).toHaveLength(1);
    expect(by.payments.messages).toEqual(ml4);
  });
});
