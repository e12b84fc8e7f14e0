import type { Sample } from './load';

/** Something that happened during a run, drawn on the timeline (fault on/off, ejection, config change). */
export interface TimelineEvent {
  t: number;
  label: string;
}

export interface Bucket {
  start: number;
  total: number;
  byOutcome: Record<string, number>;
  byDestination: Record<string, number>;
  p99Ms: number;
}

const useColor = (): boolean => !!process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code: number, s: string): string => (useColor() ? `\x1b[${code}m${s}\x1b[0m` : s);

/** Outcome classes, in the order they stack on a bar. */
export function outcomeOf(s: Sample): string {
  if (s.status === 0) return 'error';
  if (s.status < 400) return 'ok';
  if (s.overloaded) return '503 UO';
  return String(s.status);
}

export function bucketize(samples: readonly Sample[], bucketMs: number): Bucket[] {
  if (samples.length === 0) return [];
  // Requests are placed where they completed: what the system answered at that moment.
  const at = (s: Sample): number => s.t + s.latencyMs;
  const end = Math.max(...samples.map(at));
  const buckets: Bucket[] = [];
  for (let start = 0; start <= end; start += bucketMs) buckets.push({ start, total: 0, byOutcome: {}, byDestination: {}, p99Ms: 0 });
  const lat: number[][] = buckets.map(() => []);
  for (const s of samples) {
    const i = Math.min(buckets.length - 1, Math.max(0, Math.floor(at(s) / bucketMs)));
    const b = buckets[i];
    b.total++;
    const o = outcomeOf(s);
    b.byOutcome[o] = (b.byOutcome[o] ?? 0) + 1;
    const dest = s.instance ?? s.version;
    if (dest) b.byDestination[dest] = (b.byDestination[dest] ?? 0) + 1;
    lat[i].push(s.latencyMs);
  }
  buckets.forEach((b, i) => {
    const sorted = lat[i].sort((x, y) => x - y);
    b.p99Ms = sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)] : 0;
  });
  return buckets;
}

/**
 * The timeline drawn in the terminal: one row per time bucket with a bar stacked by outcome
 * (█ ok, ▓ errors), the counts, where the requests went, p99, and the events of that moment.
 */
export function renderTimeline(samples: readonly Sample[], events: readonly TimelineEvent[], bucketMs: number, width = 40): string {
  const buckets = bucketize(samples, bucketMs);
  if (buckets.length === 0) return '(no requests)';
  const max = Math.max(...buckets.map((b) => b.total), 1);
  const perSec = 1000 / bucketMs;
  const lines = [`time     requests/s by outcome (█ ok ▓ error ░ overflow)${' '.repeat(Math.max(0, width - 46))}  ok/err        destinations                 p99`];
  for (const b of buckets) {
    const ok = b.byOutcome.ok ?? 0;
    const uo = b.byOutcome['503 UO'] ?? 0;
    const err = b.total - ok - uo;
    const cells = (n: number): number => Math.round((n / max) * width);
    const bar = paint(32, '█'.repeat(cells(ok))) + paint(31, '▓'.repeat(cells(err))) + paint(33, '░'.repeat(cells(uo)));
    const pad = ' '.repeat(Math.max(0, width - cells(ok) - cells(err) - cells(uo)));
    const errDetail = Object.entries(b.byOutcome).filter(([k]) => k !== 'ok').map(([k, v]) => `${k}×${v}`).join(' ');
    const dests = Object.entries(b.byDestination).sort().map(([k, v]) => `${k} ${Math.round((100 * v) / b.total)}%`).join(' ');
    const evs = events.filter((e) => e.t >= b.start && e.t < b.start + bucketMs).map((e) => paint(36, `◀ ${e.label}`)).join(' ');
    const time = `${(b.start / 1000).toFixed(1)}s`.padStart(6);
    lines.push(`${time}  ${bar}${pad}  ${String(Math.round(ok * perSec)).padStart(4)}/${String(Math.round((err + uo) * perSec)).padEnd(4)} ${(errDetail ? `(${errDetail})` : '').padEnd(14)} ${dests.padEnd(28)} ${b.p99Ms.toFixed(0).padStart(5)} ms ${evs}`);
  }
  const before = events.filter((e) => e.t < 0);
  if (before.length) lines.unshift(...before.map((e) => paint(36, `  setup  ◀ ${e.label}`)));
  return lines.join('\n');
}
