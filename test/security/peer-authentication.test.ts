import { effectiveMtlsMode, validatePeerAuthentication, PeerAuthenticationPolicy, PeerAuthMode } from '../../mesh/security/peer-authentication';

function pa(name: string, namespace: string, mode: PeerAuthMode | undefined, matchLabels?: Record<string, string>): PeerAuthenticationPolicy {
  return { metadata: { name, namespace }, spec: { ...(matchLabels ? { selector: { matchLabels } } : {}), ...(mode ? { mtls: { mode } } : {}) } };
}
const PAYMENTS = { service: 'payments', labels: { app: 'payments' } };

describe('effectiveMtlsMode', () => {
  test('PERMISSIVE when no policy', () => {
    expect(effectiveMtlsMode([], PAYMENTS)).toBe('PERMISSIVE');
  });
  test('mesh-wide, namespace, workload: narrowest wins', () => {
    const mesh = pa('default', 'istio-system', 'STRICT');
    const ns = pa('default', 'default', 'PERMISSIVE');
    const wl = pa('payments', 'default', 'DISABLE', { app: 'payments' });
    expect(effectiveMtlsMode([mesh], PAYMENTS)).toBe('STRICT');
    expect(effectiveMtlsMode([mesh, ns], PAYMENTS)).toBe('PERMISSIVE');
    expect(effectiveMtlsMode([wl, mesh, ns], PAYMENTS)).toBe('DISABLE');
    expect(effectiveMtlsMode([wl, mesh, ns], { service: 'orders' })).toBe('PERMISSIVE');
    expect(effectiveMtlsMode([wl, mesh], { service: 'orders' })).toBe('STRICT');
  });
  test('UNSET (or no mtls) inherits from the wider scope', () => {
    const mesh = pa('default', 'istio-system', 'STRICT');
    expect(effectiveMtlsMode([mesh, pa('default', 'default', 'UNSET')], PAYMENTS)).toBe('STRICT');
    expect(effectiveMtlsMode([mesh, pa('p', 'default', undefined, { app: 'payments' })], PAYMENTS)).toBe('STRICT');
    expect(effectiveMtlsMode([pa('default', 'istio-system', 'UNSET')], PAYMENTS)).toBe('PERMISSIVE');
  });
  test('other namespaces and root-namespace selector policies do not apply', () => {
    expect(effectiveMtlsMode([pa('default', 'shop', 'STRICT')], PAYMENTS)).toBe('PERMISSIVE');
    expect(effectiveMtlsMode([pa('x', 'istio-system', 'STRICT', { app: 'payments' })], PAYMENTS)).toBe('PERMISSIVE');
    expect(effectiveMtlsMode([pa('default', 'shop', 'STRICT')], PAYMENTS, 'shop')).toBe('STRICT');
  });
  test('portLevelMtls on a workload policy applies to that port only', () => {
    const p: PeerAuthenticationPolicy = {
      metadata: { name: 'p', namespace: 'default' },
      spec: { selector: { matchLabels: { app: 'payments' } }, mtls: { mode: 'STRICT' }, portLevelMtls: { '8080': { mode: 'DISABLE' } } },
    };
    expect(effectiveMtlsMode([p], { ...PAYMENTS, port: 8080 })).toBe('DISABLE');
    expect(effectiveMtlsMode([p], { ...PAYMENTS, port: 9090 })).toBe('STRICT');
  });
  test('an invalid mode is an error naming the resource and field', () => {
    const bad = pa('default', 'default', 'STRICt' as PeerAuthMode);
    expect(() => effectiveMtlsMode([bad], PAYMENTS)).toThrow(
      'PeerAuthentication default/default: spec.mtls.mode is "STRICt"; expected one of STRICT, PERMISSIVE, DISABLE, UNSET',
    );
    expect(validatePeerAuthentication(pa('ok', 'default', 'STRICT'))).toEqual([]);
  });
});
