/**
 * Analyzer messages in the shape istioctl analyze prints them. Codes reuse Istio's (IST0xxx) where
 * Istio has a message with the same meaning, and meshlab's own ML0xxx codes otherwise.
 */

export type Level = 'Error' | 'Warning' | 'Info';

export interface Message {
  code: string;
  level: Level;
  message: string;
  /** "Kind namespace/name", e.g. "VirtualService default/payments" (istioctl's FriendlyName). */
  resource?: string;
  /** The analyzer that produced it, named like istioctl's (e.g. "virtualservice.DestinationHostAnalyzer"). */
  analyzer?: string;
  file?: string;
  line?: number;
  column?: number;
  /** Field path inside the resource, e.g. "spec.http[0].route[1].weight". */
  path?: string;
}

export interface MessageType {
  code: string;
  name: string;
  level: Level;
}

/** Every message kind meshlab emits. */
export const Codes = {
  Deprecated: { code: 'IST0002', name: 'Deprecated', level: 'Warning' },
  ReferencedResourceNotFound: { code: 'IST0101', name: 'ReferencedResourceNotFound', level: 'Error' },
  SchemaValidationError: { code: 'IST0106', name: 'SchemaValidationError', level: 'Error' },
  ConflictingMeshGatewayVirtualServiceHosts: {
    code: 'IST0109',
    name: 'ConflictingMeshGatewayVirtualServiceHosts',
    level: 'Error',
  },
  ConflictingSidecarWorkloadSelectors: { code: 'IST0110', name: 'ConflictingSidecarWorkloadSelectors', level: 'Error' },
  MultipleSidecarsWithoutWorkloadSelectors: { code: 'IST0111', name: 'MultipleSidecarsWithoutWorkloadSelectors', level: 'Error' },
  VirtualServiceDestinationPortSelectorRequired: { code: 'IST0112', name: 'VirtualServiceDestinationPortSelectorRequired', level: 'Error' },
  NoMatchingWorkloadsFound: { code: 'IST0127', name: 'NoMatchingWorkloadsFound', level: 'Warning' },
  NoServerCertificateVerificationDestinationLevel: { code: 'IST0128', name: 'NoServerCertificateVerificationDestinationLevel', level: 'Warning' },
  NoServerCertificateVerificationPortLevel: { code: 'IST0129', name: 'NoServerCertificateVerificationPortLevel', level: 'Warning' },
  VirtualServiceUnreachableRule: { code: 'IST0130', name: 'VirtualServiceUnreachableRule', level: 'Warning' },
  VirtualServiceIneffectiveMatch: { code: 'IST0131', name: 'VirtualServiceIneffectiveMatch', level: 'Info' },
  VirtualServiceHostNotFoundInGateway: { code: 'IST0132', name: 'VirtualServiceHostNotFoundInGateway', level: 'Warning' },
  SchemaWarning: { code: 'IST0133', name: 'SchemaWarning', level: 'Warning' },
  ServiceEntryAddressesRequired: { code: 'IST0134', name: 'ServiceEntryAddressesRequired', level: 'Warning' },
  IngressRouteRulesNotAffected: { code: 'IST0140', name: 'IngressRouteRulesNotAffected', level: 'Warning' },
  ConflictingGateways: { code: 'IST0145', name: 'ConflictingGateways', level: 'Error' },
  JwtClaimBasedRoutingWithoutRequestAuthN: { code: 'IST0149', name: 'JwtClaimBasedRoutingWithoutRequestAuthN', level: 'Error' },
  GatewayPortNotDefinedOnService: { code: 'IST0162', name: 'GatewayPortNotDefinedOnService', level: 'Warning' },
  ReferencedInternalGateway: { code: 'IST0165', name: 'ReferencedInternalGateway', level: 'Warning' },
  IneffectivePolicy: { code: 'IST0167', name: 'IneffectivePolicy', level: 'Warning' },
  DestinationRuleSubsetNotSelectPods: { code: 'IST0173', name: 'DestinationRuleSubsetNotSelectPods', level: 'Error' },
  UnknownDestinationRuleHost: { code: 'IST0174', name: 'UnknownDestinationRuleHost', level: 'Warning' },
  ConflictingServiceEntryProtocol: { code: 'IST0177', name: 'ConflictingServiceEntryProtocol', level: 'Warning' },
  YamlSyntaxError: { code: 'ML0001', name: 'YamlSyntaxError', level: 'Error' },
  UnsupportedKind: { code: 'ML0002', name: 'UnsupportedKind', level: 'Error' },
  UnsupportedField: { code: 'ML0003', name: 'UnsupportedField', level: 'Error' },
  OutlierDetectionNeverEjects: { code: 'ML0004', name: 'OutlierDetectionNeverEjects', level: 'Warning' },
  ConflictingDestinationRules: { code: 'ML0005', name: 'ConflictingDestinationRules', level: 'Error' },
  DuplicateResource: { code: 'ML0006', name: 'DuplicateResource', level: 'Error' },
  ConflictingPeerAuthentications: { code: 'ML0007', name: 'ConflictingPeerAuthentications', level: 'Error' },
} as const satisfies Record<string, MessageType>;

export type CodeName = keyof typeof Codes;

export function makeMessage(type: MessageType, message: string, where: Omit<Message, 'code' | 'level' | 'message'> = {}): Message {
  const m: Message = { code: type.code, level: type.level, message };
  for (const [k, v] of Object.entries(where)) if (v !== undefined) (m as unknown as Record<string, unknown>)[k] = v;
  return m;
}

export function hasErrors(messages: readonly Message[]): boolean {
  return messages.some((m) => m.level === 'Error');
}

const LEVEL_ORDER: Record<Level, number> = { Error: 0, Warning: 1, Info: 2 };

/** Stable order: by file, line, column, then level and code (istioctl sorts similarly). */
export function sortMessages(messages: readonly Message[]): Message[] {
  return [...messages].sort(
    (a, b) =>
      (a.file ?? '').localeCompare(b.file ?? '') ||
      (a.line ?? 0) - (b.line ?? 0) ||
      (a.column ?? 0) - (b.column ?? 0) ||
      LEVEL_ORDER[a.level] - LEVEL_ORDER[b.level] ||
      a.code.localeCompare(b.code),
  );
}

/** Where a message points, as istioctl prints it: `file.yaml:12`. */
export function reference(m: Message): string | undefined {
  if (!m.file) return undefined;
  return m.line !== undefined ? `${m.file}:${m.line}` : m.file;
}

/**
 * One line per message, like istioctl:
 * `Error [IST0101] (VirtualService default/payments orders.yaml:12) Referenced host+subset in destinationrule not found: "payments+v3"`
 */
export function formatMessage(m: Message): string {
  const origin: string[] = [];
  if (m.resource) origin.push(m.resource);
  const ref = reference(m);
  if (ref) origin.push(ref);
  const at = origin.length ? ` (${origin.join(' ')})` : '';
  return `${m.level} [${m.code}]${at} ${text(m)}`;
}

/** The message as istioctl words it: IST0106's template is "Schema validation error: %v". */
function text(m: Message): string {
  return m.code === 'IST0106' ? `Schema validation error: ${m.message}` : m.message;
}

const LEVEL_RANK: Record<Level, number> = { Info: 0, Warning: 1, Error: 2 };

/** True if `level` is at least `threshold` (Info < Warning < Error), as istioctl's thresholds compare. */
export function atLeast(level: Level, threshold: Level): boolean {
  return LEVEL_RANK[level] >= LEVEL_RANK[threshold];
}

/** istioctl's JSON/YAML form of a message (code, level, origin, reference, message, documentationUrl), plus meshlab's path. */
export function structured(m: Message): Record<string, unknown> {
  const out: Record<string, unknown> = { code: m.code, level: m.level };
  if (m.resource) out.origin = m.resource;
  const ref = reference(m);
  if (ref) out.reference = ref;
  out.message = text(m);
  out.documentationUrl = m.code.startsWith('IST')
    ? `https://istio.io/latest/docs/reference/config/analysis/${m.code.toLowerCase()}/`
    : `mesh/config/README.md#message-codes (${m.code})`;
  if (m.path) out.path = m.path;
  if (m.line !== undefined) out.line = m.line;
  if (m.column !== undefined) out.column = m.column;
  return out;
}

export function formatMessages(messages: readonly Message[]): string {
  return sortMessages(messages).map(formatMessage).join('\n');
}
