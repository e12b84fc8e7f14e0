/** Shared shapes and helpers for Istio security resources given as plain objects (parsed YAML). */

export interface ObjectMeta {
  name?: string;
  namespace?: string;
}

export interface WorkloadSelector {
  matchLabels?: Record<string, string>;
}

/** The workload a policy is evaluated for. `labels` default to {app: service}. */
export interface Workload {
  service: string;
  labels?: Record<string, string>;
  namespace?: string;
}

/** A policy resource is malformed; the message names the resource, the field path, and what is allowed. */
export class PolicyError extends Error {
  override name = 'PolicyError';
}

export function resourceName(kind: string, meta: ObjectMeta | undefined, defaultNs: string): string {
  return `${kind} ${meta?.namespace ?? defaultNs}/${meta?.name ?? '<unnamed>'}`;
}

export function workloadLabels(w: Workload): Record<string, string> {
  return w.labels ?? { app: w.service };
}

/** True when every matchLabels entry is present with the same value (an empty selector selects everything). */
export function selects(selector: WorkloadSelector | undefined, labels: Record<string, string>): boolean {
  const want = selector?.matchLabels ?? {};
  return Object.entries(want).every(([k, v]) => labels[k] === v);
}

export function hasSelector(selector: WorkloadSelector | undefined): boolean {
  return !!selector && Object.keys(selector.matchLabels ?? {}).length > 0;
}
