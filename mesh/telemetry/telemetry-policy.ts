import type { TracingPolicy } from './tracer';

/**
 * Istio's Telemetry API for one workload, as pilot computes it (pilot/pkg/model/telemetry.go,
 * applicableTelemetries): the root namespace's Telemetry without selector (istio-system: mesh-wide), then the
 * workload's namespace's without selector, then the one whose selector matches the workload's labels; each
 * later one overrides the fields it sets (customTags as a whole, as Istio's shallow merge does). Where a level
 * has several, Istio takes the oldest; meshlab, with no creation times, the first by name.
 * The resources arrive validated (mesh/config/schema/telemetry.ts): what is read here is what meshlab runs.
 */

export const ROOT_NAMESPACE = 'istio-system';

export interface WorkloadTelemetry {
  /** undefined: no Telemetry sets tracing for this workload. */
  tracing?: TracingPolicy;
  /** undefined: no Telemetry sets accessLogging.disabled. */
  accessLogDisabled?: boolean;
  /** The Telemetry resources applied, least specific first (`namespace/name`), for /config_dump. */
  applied: string[];
}

interface TelemetryLike {
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: {
    selector?: { matchLabels?: Record<string, string> };
    tracing?: { randomSamplingPercentage?: number; disableSpanReporting?: boolean; customTags?: Record<string, { literal?: { value: string }; header?: { name: string; defaultValue?: string }; environment?: { name: string; defaultValue?: string } }> }[];
    accessLogging?: { disabled?: boolean }[];
  };
}

const hasSelector = (t: TelemetryLike): boolean => Object.keys(t.spec?.selector?.matchLabels ?? {}).length > 0;
const selects = (t: TelemetryLike, labels: Readonly<Record<string, string>>): boolean => Object.entries(t.spec?.selector?.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
const byName = (a: TelemetryLike, b: TelemetryLike): number => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0);

export function telemetryFor(resources: readonly unknown[], workload: { namespace: string; labels: Readonly<Record<string, string>> }, env: NodeJS.ProcessEnv = process.env): WorkloadTelemetry {
  const all = (resources as TelemetryLike[]).filter((r) => r?.kind === 'Telemetry').sort(byName);
  const ns = (r: TelemetryLike): string => r.metadata.namespace || 'default';
  const levels: TelemetryLike[] = [];
  const root = all.find((r) => ns(r) === ROOT_NAMESPACE && !hasSelector(r));
  if (root) levels.push(root);
  if (workload.namespace !== ROOT_NAMESPACE) {
    const nsWide = all.find((r) => ns(r) === workload.namespace && !hasSelector(r));
    if (nsWide) levels.push(nsWide);
  }
  const own = all.find((r) => ns(r) === workload.namespace && hasSelector(r) && selects(r, workload.labels));
  if (own) levels.push(own);

  const out: WorkloadTelemetry = { applied: levels.map((r) => `${ns(r)}/${r.metadata.name}`) };
  for (const t of levels) {
    const tr = t.spec?.tracing?.[0];
    if (tr) {
      const p: TracingPolicy = { ...out.tracing };
      if (tr.randomSamplingPercentage !== undefined && tr.randomSamplingPercentage !== null) p.sampling = tr.randomSamplingPercentage;
      if (tr.disableSpanReporting !== undefined && tr.disableSpanReporting !== null) p.disableSpanReporting = tr.disableSpanReporting;
      if (tr.customTags) {
        const literalTags: Record<string, string> = {};
        const headerTags: Record<string, { name: string; defaultValue?: string }> = {};
        for (const [tag, c] of Object.entries(tr.customTags)) {
          if (c.literal) literalTags[tag] = c.literal.value;
          else if (c.environment) {
            // Envoy reads the variable once, at config time; an empty value sets no tag.
            const v = env[c.environment.name] ?? c.environment.defaultValue ?? '';
            if (v !== '') literalTags[tag] = v;
          } else if (c.header) headerTags[tag] = { name: c.header.name, defaultValue: c.header.defaultValue };
        }
        p.literalTags = literalTags;
        p.headerTags = headerTags;
      }
      out.tracing = p;
    }
    const al = t.spec?.accessLogging?.[0];
    // An entry without `disabled` turns the log (back) on, as Istio's default providers would.
    if (al) out.accessLogDisabled = al.disabled === true;
  }
  return out;
}
