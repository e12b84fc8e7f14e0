/**
 * `analyze`: schema validation of every resource plus the cross-resource analyzers, like
 * `istioctl analyze`. Every resource is analyzed even when another (or itself) has schema errors:
 * the analyzers read specs defensively, so a typo in one resource never hides a conflict or a
 * missing reference in another. Kubernetes objects in `ctx.objects` (and the running world's
 * instances) form the inventory hosts, ports and selectors resolve against.
 * Pure: the same resources and context always give the same messages.
 */
import { makeMessage, sortMessages, type Message } from './messages';
import { Codes } from './messages';
import { validateResource } from './schema/validate';
import { buildInventory } from './kube';
import type { AnalyzeContext, MeshResource } from './types';
import type { Analyzer } from './analyzers/types';
import { duplicateResources } from './analyzers/duplicates';
import { conflictingDestinationRules, conflictingPeerAuthentications, conflictingVirtualServices } from './analyzers/conflicts';
import { destinationHosts, destinationReferences } from './analyzers/references';
import { subsetsSelectPods } from './analyzers/subsets';
import { unreachableRules } from './analyzers/unreachable';
import { outlierNeverEjects } from './analyzers/outlier';
import { conflictingGateways, gatewayPorts, virtualServiceGateways } from './analyzers/gateways';
import { caCertificates } from './analyzers/destination-rule-tls';
import { authorizationPolicies, peerAuthenticationSelectors } from './analyzers/policies';
import { sidecarSelectors } from './analyzers/sidecars';
import { serviceEntryAddresses, serviceEntryProtocols } from './analyzers/service-entries';
import { deprecations } from './analyzers/deprecation';
import { jwtClaimRoutes } from './analyzers/jwt';

/** [istioctl analyzer name (or meshlab's), analyzer]; messages carry the name in `analyzer`. */
export const ANALYZERS: ReadonlyArray<[string, Analyzer]> = [
  ['meshlab.DuplicateResourceAnalyzer', duplicateResources],
  ['virtualservice.ConflictingMeshGatewayHostsAnalyzer', conflictingVirtualServices],
  ['meshlab.ConflictingDestinationRulesAnalyzer', conflictingDestinationRules],
  ['meshlab.ConflictingPeerAuthenticationsAnalyzer', conflictingPeerAuthentications],
  ['virtualservice.DestinationRuleAnalyzer', destinationReferences],
  ['virtualservice.DestinationHostAnalyzer', destinationHosts],
  ['destinationrule.PodNotSelectedAnalyzer', subsetsSelectPods],
  ['schemaValidation.VirtualService', unreachableRules],
  ['meshlab.OutlierDetectionAnalyzer', outlierNeverEjects],
  ['gateway.ConflictingGatewayAnalyzer', conflictingGateways],
  ['gateway.IngressGatewayPortAnalyzer', gatewayPorts],
  ['virtualservice.GatewayAnalyzer', virtualServiceGateways],
  ['destinationrule.CaCertificateAnalyzer', caCertificates],
  ['authz.AuthorizationPoliciesAnalyzer', authorizationPolicies],
  ['meshlab.PeerAuthenticationSelectorAnalyzer', peerAuthenticationSelectors],
  ['sidecar.SelectorAnalyzer', sidecarSelectors],
  ['serviceentry.ProtocolAddressesAnalyzer', serviceEntryAddresses],
  ['serviceentry.ConflictingServiceEntryProtocolAnalyzer', serviceEntryProtocols],
  ['deprecation.FieldAnalyzer', deprecations],
  ['virtualservice.JWTClaimRouteAnalyzer', jwtClaimRoutes],
];

export function analyze(resources: readonly MeshResource[], ctx: AnalyzeContext = {}): Message[] {
  const messages: Message[] = [];
  for (const r of resources) messages.push(...validateResource(r).map((m) => ({ ...m, analyzer: 'schemaValidation' })));
  const namespaces = new Set(resources.map((r) => r.metadata.namespace));
  const full: AnalyzeContext = { ...ctx, inventory: ctx.inventory ?? buildInventory(ctx, namespaces) };
  for (const [name, run] of ANALYZERS) {
    let out: Message[];
    try {
      out = run(resources, full);
    } catch (err) {
      // An analyzer tripping over a malformed spec must not hide the others' findings.
      out = [makeMessage(Codes.SchemaValidationError, `analyzer ${name} could not read the configuration: ${(err as Error).message}`)];
    }
    messages.push(...out.map((m) => ({ ...m, analyzer: name })));
  }
  return sortMessages(messages);
}
