import { inboundSecurityLabels, outboundSecurityLabels } from '../../mesh/security/telemetry-labels';

const ME = 'spiffe://cluster.local/ns/default/sa/payments';
const PEER = 'spiffe://cluster.local/ns/default/sa/orders';

test('inbound labels: principals under mTLS, unknown for plaintext', () => {
  expect(inboundSecurityLabels({ mtls: true, connectionSecurityPolicy: 'mutual_tls', peerPrincipal: PEER }, ME)).toEqual({
    source_principal: PEER,
    destination_principal: ME,
    connection_security_policy: 'mutual_tls',
  });
  expect(inboundSecurityLabels({ mtls: false, connectionSecurityPolicy: 'none' }, ME)).toEqual({
    source_principal: 'unknown',
    destination_principal: 'unknown',
    connection_security_policy: 'none',
  });
});

test('outbound labels: destination principal from the upstream connection', () => {
  expect(outboundSecurityLabels({ mtls: true, connectionSecurityPolicy: 'mutual_tls', peerPrincipal: PEER }, ME)).toEqual({
    source_principal: ME,
    destination_principal: PEER,
    connection_security_policy: 'unknown',
  });
  expect(outboundSecurityLabels(undefined, ME).destination_principal).toBe('unknown');
});
