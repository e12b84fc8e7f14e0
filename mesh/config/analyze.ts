/**
 * `analyze`: schema validation of every resource plus the cross-resource analyzers, like
 * `istioctl analyze`. Pure: the same resources and context always give the same messages.
 */
import { sortMessages, type Message } from './messages';
import { validateResource } from './schema/validate';
import type { AnalyzeContext, MeshResource } from './types';
import type { Analyzer } from './analyzers/types';
import { duplicateResources } from './analyzers/duplicates';
import { conflictingDestinationRules, conflictingPeerAuthentications, conflictingVirtualServices } from './analyzers/conflicts';
import { destinationReferences } from './analyzers/references';
import { subsetsSelectPods } from './analyzers/subsets';
import { unreachableRules } from './analyzers/unreachable';
import { outlierNeverEjects } from './analyzers/outlier';

export const ANALYZERS: ReadonlyArray<[string, Analyzer]> = [
  ['duplicates', duplicateResources],
  ['virtualservice.conflicts', conflictingVirtualServices],
  ['destinationrule.conflicts', conflictingDestinationRules],
  ['peerauthentication.conflicts', conflictingPeerAuthentications],
  ['virtualservice.references', destinationReferences],
  ['destinationrule.subsets', subsetsSelectPods],
  ['virtualservice.unreachable', unreachableRules],
  ['destinationrule.outlier', outlierNeverEjects],
];

export function analyze(resources: readonly MeshResource[], ctx: AnalyzeContext = {}): Message[] {
  const messages: Message[] = [];
  const valid: MeshResource[] = [];
  for (const r of resources) {
    const own = validateResource(r);
    messages.push(...own);
    // Cross-resource analyzers only look at resources whose schema is valid, so one typo does
    // not cascade into confusing follow-up messages.
    if (!own.some((m) => m.level === 'Error')) valid.push(r);
  }
  for (const [, run] of ANALYZERS) messages.push(...run(valid, ctx));
  return sortMessages(messages);
}
