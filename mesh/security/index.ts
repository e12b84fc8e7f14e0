/** Zero-trust building blocks for the sidecar and control plane; see each module's header for the why. */
export { MeshCA, CsrRejectedError, MIN_WORKLOAD_TTL_MS } from './ca';
export type { SignOptions, SignedCert } from './ca';
export { spiffeId, serviceFromSpiffe, parseSpiffeId, principalOf, TRUST_DOMAIN } from './identity';
export { WorkloadCertManager } from './workload-cert';
export type { WorkloadCertOptions, SignResponse, CurrentCert, RotatedEvent } from './workload-cert';
export { createMtlsServer, MtlsServer, mtlsConnector, connectionInfo, spiffeIdOf, MTLS_MODES } from './mtls';
export type { MtlsMode, ConnInfo, RefusalReason, RefusedEvent, MtlsServerOptions, MtlsConnectorOptions } from './mtls';
export { effectiveMtlsMode, validatePeerAuthentication } from './peer-authentication';
export type { PeerAuthenticationPolicy, PeerAuthMode } from './peer-authentication';
export { compileAuthorization, validateAuthorizationPolicy, AUTHZ_DENIED_STATUS, AUTHZ_DENIED_BODY } from './authz';
export type { AuthorizationPolicy, AuthzRequest, AuthzDecision, CompiledAuthorization } from './authz';
export { PolicyError } from './policy-common';
export type { Workload } from './policy-common';
export { inboundSecurityLabels, outboundSecurityLabels } from './telemetry-labels';
export type { SecurityLabels } from './telemetry-labels';
