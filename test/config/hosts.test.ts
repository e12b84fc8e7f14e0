import { canonicalHost, canonicalHostIn, fqdn, hostMatches, isMeshLocal, resolveHost, sameHost } from '../../mesh/config/hosts';

describe('host canonicalization (single namespace "default")', () => {
  test.each<[string, string]>([
    ['payments', 'payments'],
    ['payments.default', 'payments'],
    ['payments.default.svc', 'payments'],
    ['payments.default.svc.cluster.local', 'payments'],
    ['Payments.Default.SVC.cluster.local', 'payments'],
    ['payments.default.svc.cluster.local.', 'payments'],
    ['payments.other', 'payments.other'],
    ['payments.other.svc', 'payments.other.svc.cluster.local'],
    ['payments.other.svc.cluster.local', 'payments.other.svc.cluster.local'],
    ['payments.default.example.com', 'payments.default.example.com'],
    ['www.example.com', 'www.example.com'],
  ])('%s -> %s', (input, want) => {
    expect(canonicalHost(input)).toBe(want);
  });

  test('sameHost treats all in-namespace forms as one service and others as different', () => {
    expect(sameHost('payments', 'payments.default.svc.cluster.local')).toBe(true);
    expect(sameHost('payments.default', 'payments.default.svc')).toBe(true);
    expect(sameHost('payments', 'payments.other')).toBe(false);
    expect(sameHost('payments', 'orders')).toBe(false);
  });

  test('a short name resolves in the namespace of the resource that names it; FQDNs anywhere', () => {
    expect(resolveHost('payments', 'shop')).toBe('payments.shop.svc.cluster.local');
    expect(resolveHost('payments.shop', 'shop')).toBe('payments.shop.svc.cluster.local');
    expect(resolveHost('payments.default.svc.cluster.local', 'shop')).toBe('payments.default.svc.cluster.local');
    expect(resolveHost('example.com', 'shop')).toBe('example.com');
    expect(canonicalHostIn('payments', 'shop')).toBe('payments.shop.svc.cluster.local');
    expect(canonicalHostIn('payments.default', 'shop')).toBe('payments');
  });

  test('wildcard host matching: *.example.com matches a.example.com, * matches all', () => {
    expect(hostMatches('*.example.com', 'a.example.com')).toBe(true);
    expect(hostMatches('*.example.com', 'example.com')).toBe(false);
    expect(hostMatches('*', 'x')).toBe(true);
  });

  test('fqdn and isMeshLocal', () => {
    expect(fqdn('payments')).toBe('payments.default.svc.cluster.local');
    expect(fqdn('payments.default')).toBe('payments.default.svc.cluster.local');
    expect(isMeshLocal('orders.default.svc.cluster.local')).toBe(true);
    expect(isMeshLocal('orders.shop')).toBe(false);
  });
});
