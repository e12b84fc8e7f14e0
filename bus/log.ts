/**
 * The bus adapters' only logger: warnings to stderr, each distinct text at most once per 10 s, so a
 * broker outage produces a few lines rather than one per retry. MESHLAB_BUS_LOG=silent mutes it.
 */
const lastPrinted = new Map<string, number>();
const WINDOW_MS = 10_000;

export function busWarn(source: string, text: string): void {
  if (process.env.MESHLAB_BUS_LOG === 'silent') return;
  const key = source + '|' + text;
  const now = Date.now();
  const last = lastPrinted.get(key);
  if (last !== undefined && now - last < WINDOW_MS) return;
  if (lastPrinted.size > 500) lastPrinted.clear();
  lastPrinted.set(key, now);
  process.stderr.write(`[bus:${source}] ${text}\n`);
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
