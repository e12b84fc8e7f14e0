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

export const SPEC_RULES: Record<Kind, Rule> = {
  VirtualService: virtualServiceSpec,
  DestinationRule: destinationRuleSpec,
  PeerAuthentication: peerAuthenticationSpec,
  AuthorizationPolicy: authorizationPolicySpec,
};

/** "VirtualService payments.default" — how istioctl names a resource in messages. */
export function resourceLabel(r: Pick<MeshResource, 'kind' | 'metadata'>): string {
  return `${r.kind} ${r.metadata.name || '<unnamed>'}.${r.metadata.namespace || MESH_NAMESPACE}`;
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
  if (namespace !== MESH_NAMESPACE) {
    reporter.report(S, 'metadata.namespace', `metadata.namespace ${JSON.stringify(namespace)} is not supported: meshlab has a single namespace "${MESH_NAMESPACE}" (omit the field or set it to "${MESH_NAMESPACE}")`);
  }
  if (r.spec === undefined || r.spec === null) {
    reporter.report(S, 'spec', 'spec is required');
  } else {
    walk(r.spec, SPEC_RULES[r.kind], 'spec', reporter);
  }
  return out;
}
