import * as hdr from 'hdr-histogram-js';

/** Latency percentiles in microseconds, read from an HDR histogram (3 significant digits). */
export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/** Highest latency the histogram tracks: 60 s in µs; anything slower is clamped (and is an error anyway). */
export const MAX_TRACKABLE_US = 60_000_000;

/** A µs histogram: 1 µs discernible, 3 significant digits (so 0.1 % relative error at any magnitude). */
export function newHistogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: MAX_TRACKABLE_US, numberOfSignificantValueDigits: 3, autoResize: false, useWebAssembly: false });
}

export function recordUs(h: hdr.Histogram, us: number): void {
  h.recordValue(Math.min(Math.max(1, Math.round(us)), MAX_TRACKABLE_US));
}

export function summarize(h: hdr.Histogram): LatencySummary {
  if (h.totalCount === 0) return { count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 };
  return {
    count: h.totalCount,
    p50: h.getValueAtPercentile(50),
    p90: h.getValueAtPercentile(90),
    p99: h.getValueAtPercentile(99),
    p999: h.getValueAtPercentile(99.9),
    max: h.maxValue,
    mean: Math.round(h.mean * 10) / 10,
  };
}

/** Serializes a histogram for the trip from the generator process to the runner (merged there per topology and rate). */
export function encodeHistogram(h: hdr.Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

/** Adds an encoded histogram into `into`. */
export function mergeEncoded(into: hdr.Histogram, encoded: string): void {
  const h = hdr.decodeFromCompressedBase64(encoded, 32, false);
  into.add(h);
  h.destroy();
}

export type Histogram = hdr.Histogram;
