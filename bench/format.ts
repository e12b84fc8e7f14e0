/** Latency for people: µs below 10 ms (the scale a proxy hop lives on), ms above. Negative overheads (noise) keep their sign. */
export function fmtUs(us: number): string {
  const a = Math.abs(us);
  if (a < 10_000) return `${Math.round(us)}µs`;
  return `${(us / 1000).toFixed(a < 100_000 ? 2 : 0)}ms`;
}

export function pad(s: string, n: number, right = false): string {
  const len = [...s].length;
  if (len >= n) return s;
  return right ? s + ' '.repeat(n - len) : ' '.repeat(n - len) + s;
}

/** A plain-text table with right-aligned columns (the first left-aligned). */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max([...h].length, ...rows.map((r) => [...(r[i] ?? '')].length)));
  const line = (cells: string[]) => cells.map((c, i) => pad(c, widths[i], i === 0)).join('  ');
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** An overhead: "+80µs", or "−12µs" when below the baseline (noise). */
export function fmtDelta(us: number): string {
  return us < 0 ? `−${fmtUs(-us)}` : `+${fmtUs(us)}`;
}
