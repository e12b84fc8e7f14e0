import { lint } from './helpers';

/** Every supported field in one place: none of it may be rejected. */
const ALL_FIELDS = `apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata:
  name: payments
  namespace: default
  labels: {app: payments}
  annotations: {owner: lab}
spec:
  host: payments.default.svc.cluster.local
  trafficPolicy:
    loadBalancer:
      consistentHash:
        httpCookie:
          name: session
          path: /
          ttl: 0s
        ringHash:
          minimumRingSize: 2048
    connectionPool:
      tcp:
        maxConnections: 10
        connectTimeout: 250ms
      http:
        http1MaxPendingRequests: 5
        http2MaxRequests: 100
        maxRequestsPerConnection: 1
        maxRetries: 3
        idleTimeout: 1m
    outlierDetection:
      consecutive5xxErrors: 2
      consecutiveGatewayErrors: 1
      interval: 500ms
      baseEjectionTime: 1m30s
      maxEjectionPercent: 100
      minHealthPercent: 50
    tls:
      mode: ISTIO_MUTUAL
  subsets:
  - name: v1
    labels:
      version: v1
    trafficPolicy:
      loadBalancer:
        simple: RANDOM
      tls:
        mode: DISABLE
  - name: v2
    labels:
      version: v2
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: orders
spec:
  host: orders
  trafficPolicy:
    loadBalancer:
      consistentHash:
        useSourceIp: true
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: payments
spec:
  hosts:
  - payments
  - payments.default
  gateways:
  - mesh
  http:
  - name: canary
    match:
    - name: by-header
      uri:
        prefix: /pay
      ignoreUriCase: true
      method:
        exact: POST
      headers:
        end-user:
          regex: "(?i)jason|kim"
        x-canary: {}
      queryParams:
        debug:
          exact: "1"
      withoutHeaders:
        x-skip: {}
      sourceLabels:
        app: orders
    route:
    - destination:
        host: payments
        subset: v2
        port:
          number: 8080
      weight: 75
      headers:
        request:
          set: {x-route: canary}
    - destination:
        host: payments
        subset: v1
      weight: 25
    timeout: 2s
    retries:
      attempts: 3
      perTryTimeout: 500ms
      retryOn: 5xx,gateway-error,reset,connect-failure,retriable-4xx,refused-stream,unavailable,cancelled,retriable-status-codes,deadline-exceeded,internal,resource-exhausted,envoy-ratelimited,503
      retryRemoteLocalities: false
    fault:
      delay:
        fixedDelay: 1.5s
        percentage:
          value: 10.5
      abort:
        httpStatus: 503
        percentage:
          value: 0.1
    mirror:
      host: payments
      subset: v1
    mirrorPercentage:
      value: 5
    headers:
      request:
        add: {x-lab: "1"}
        remove: [x-debug]
      response:
        set: {x-served-by: meshlab}
  - route:
    - destination:
        host: payments
        subset: v1
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: payments-strict
spec:
  selector:
    matchLabels:
      app: payments
  mtls:
    mode: STRICT
  portLevelMtls:
    "8081":
      mode: PERMISSIVE
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: payments-allow-orders
spec:
  selector:
    matchLabels:
      app: payments
  action: ALLOW
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/default/sa/orders"]
        notPrincipals: ["cluster.local/ns/default/sa/evil"]
        namespaces: ["default"]
    to:
    - operation:
        methods: ["POST"]
        notMethods: ["DELETE"]
        paths: ["/pay*"]
        notPaths: ["/admin"]
    when:
    - key: request.headers[x-tenant]
      values: ["lab"]
      notValues: ["blocked"]
    - key: source.principal
      values: ["*"]
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata:
  name: deny-admin
spec:
  action: DENY
  rules:
  - to:
    - operation:
        paths: ["/admin*"]
`;

test('every supported field of all four kinds is accepted with no message', () => {
  expect(lint(ALL_FIELDS)).toEqual([]);
});

test('portLevelMtls without a selector is rejected, as in Istio', () => {
  const y = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: ports
spec:
  portLevelMtls:
    "8080":
      mode: DISABLE
`;
  const msgs = lint(y);
  expect(msgs.map((m) => [m.code, m.path, m.line, m.column])).toEqual([['IST0106', 'spec.portLevelMtls', 6, 3]]);
});
