/**
 * Just enough of the Prometheus text format for the dashboard: the samples of a few named metrics,
 * with their labels. Label sets are cached by their raw text, because a sidecar prints the same
 * series every second and parsing them again would be most of the scrape's cost.
 */

export interface PromSample {
  /** Metric name as printed (`istio_request_duration_milliseconds_bucket`). */
  name: string;
  /** Raw `{...}` text, a stable key for the series within one process's output. */
  key: string;
  labels: Readonly<Record<string, string>>;
  value: number;
}

const labelCache = new Map<string, Record<string, string>>();
const LABEL = /(\w+)="((?:[^"\\]|\\.)*)"/g;

function parseLabels(raw: string): Record<string, string> {
  let labels = labelCache.get(raw);
  if (labels) return labels;
  labels = {};
  for (const m of raw.matchAll(LABEL)) labels[m[1]] = m[2].replace(/\\(.)/g, (_s, c: string) => (c === 'n' ? '\n' : c));
  if (labelCache.size > 50_000) labelCache.clear();
  labelCache.set(raw, labels);
  return labels;
}

/** Samples of the metrics named in `names` (exact names, suffixes included), in input order. */
export function parsePromText(text: string, names: ReadonlySet<string>): PromSample[] {
  const out: PromSample[] = [];
  let pos = 0;
  while (pos < text.length) {
    let end = text.indexOf('\n', pos);
    if (end < 0) end = text.length;
    const line = text.slice(pos, end);
    pos = end + 1;
    if (line.length === 0 || line.charCodeAt(0) === 35 /* # */) continue;
    const brace = line.indexOf('{');
    const space = line.indexOf(' ');
    const nameEnd = brace >= 0 && brace < space ? brace : space;
    if (nameEnd <= 0) continue;
    const name = line.slice(0, nameEnd);
    if (!names.has(name)) continue;
    let key = '';
    let rest = line.slice(nameEnd);
    if (rest[0] === '{') {
      const close = rest.lastIndexOf('}');
      key = rest.slice(0, close + 1);
      rest = rest.slice(close + 1);
    }
    const value = Number(rest.trim().split(' ')[0]);
    if (!Number.isFinite(value)) continue;
    out.push({ name, key, labels: parseLabels(key), value });
  }
  return out;
}
