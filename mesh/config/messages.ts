/**
 * Analyzer messages in the shape istioctl analyze prints them. Codes reuse Istio's (IST0xxx) where
 * Istio has a message with the same meaning, and meshlab's own ML0xxx codes otherwise.
 */

export type Level = 'Error' | 'Warning' | 'Info';

export interface Message {
  code: string;
  level: Level;
  message: string;
  /** "Kind name.namespace", e.g. "VirtualService payments.default". */
  resource?: string;
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
  ReferencedResourceNotFound: { code: 'IST0101', name: 'ReferencedResourceNotFound', level: 'Error' },
  SchemaValidationError: { code: 'IST0106', name: 'SchemaValidationError', level: 'Error' },
  ConflictingMeshGatewayVirtualServiceHosts: {
    code: 'IST0109',
    name: 'ConflictingMeshGatewayVirtualServiceHosts',
    level: 'Error',
  },
  VirtualServiceUnreachableRule: { code: 'IST0130', name: 'VirtualServiceUnreachableRule', level: 'Warning' },
  VirtualServiceIneffectiveMatch: { code: 'IST0131', name: 'VirtualServiceIneffectiveMatch', level: 'Info' },
  SchemaWarning: { code: 'IST0133', name: 'SchemaWarning', level: 'Warning' },
  DestinationRuleSubsetNotSelectPods: { code: 'IST0173', name: 'DestinationRuleSubsetNotSelectPods', level: 'Error' },
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

/**
 * One line per message, like istioctl:
 * `Error [IST0101] (VirtualService payments.default orders.yaml:12:9) Referenced subset not found: "v3"`
 */
export function formatMessage(m: Message): string {
  const origin: string[] = [];
  if (m.resource) origin.push(m.resource);
  if (m.file) origin.push(m.line !== undefined ? `${m.file}:${m.line}:${m.column ?? 1}` : m.file);
  const at = origin.length ? ` (${origin.join(' ')})` : '';
  return `${m.level} [${m.code}]${at} ${m.message}`;
}

export function formatMessages(messages: readonly Message[]): string {
  return sortMessages(messages).map(formatMessage).join('\n');
}
