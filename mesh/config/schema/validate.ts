/** Schema validation of one resource (metadata + spec), producing positioned messages. */
import { makeMessage, type Message, type MessageType } from '../messages';
import { Codes } from '../messages';
import { MESH_NAMESPACE } from '../hosts';
import { positionOf } from '../positions';
import type { Kind, MeshResource } from '../types';
import type { Reporter, Rule } from './dsl';
import { walk } from './walk';
import { virtualServiceSpec } from './virtual-service';
import { destinationRuleSpec } from './destination-rule';
import { authorizationPolicySpec, peerAuthenticationSpec } from './security';
import { gatewaySpec, serviceEntrySpec, sidecarSpec } from './analyzed-only';
import { telemetrySpec } from './telemetry';
import { requestAuthenticationSpec } from './request-authentication';
import { envoyFilterSpec } from './envoy-filter';

export const SPEC_RULES: Record<Kind, Rule> = {
  VirtualService: virtualServiceSpec,
  DestinationRule: destinationRuleSpec,
  PeerAuthentication: peerAuthenticationSpec,
  AuthorizationPolicy: authorizationPolicySpec,
  Gateway: gatewaySpec,
  ServiceEntry: serviceEntrySpec,
  Sidecar: sidecarSpec,
  Telemetry: telemetrySpec,
  RequestAuthentication: requestAuthenticationSpec,
  EnvoyFilter: envoyFilterSpec,
};

/** "VirtualService default/payments" — how istioctl names a resource in messages (`<type> <namespace>/<name>`). */
export function resourceLabel(r: { kind: string; metadata: { name: string; namespace?: string } }): string {
  return `${r.kind} ${r.metadata.namespace || MESH_NAMESPACE}/${r.metadata.name || '<unnamed>'}`;
}

/** Builds a message positioned at `path` inside resource `r`. */
export function messageAt(r: MeshResource, type: MessageType, path: string, text: string): Message {
  const pos = positionOf(r.source.positions, path) ?? { line: r.source.line, column: r.source.column };
  return makeMessage(type, text, {
    resource: resourceLabel(r),
    file: r.source.file,
    line: pos.line,
    column: pos.column,
    path,
  });
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function validateResource(r: MeshResource): Message[] {
  const out: Message[] = [];
  const reporter: Reporter = { report: (type, path, text) => out.push(messageAt(r, type, path, text)) };
  const S = Codes.SchemaValidationError;
  const { name, namespace } = r.metadata;
  if (!name) reporter.report(S, 'metadata', 'metadata.name is required');
  else if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
    reporter.report(S, 'metadata.name', `metadata.name ${JSON.stringify(name)} must be a lower-case DNS name (letters, digits, '-', '.')`);
  }
  if (namespace.length > 63 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace)) {
    reporter.report(S, 'metadata.namespace', `metadata.namespace ${JSON.stringify(namespace)} must be a DNS label (lower-case letters, digits and '-', at most 63 characters)`);
  }
  if (r.spec === undefined || r.spec === null) {
    reporter.report(S, 'spec', 'spec is required');
  } else {
    walk(r.spec, SPEC_RULES[r.kind], 'spec', reporter);
  }
  return out;
}
