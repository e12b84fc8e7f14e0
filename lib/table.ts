/** Renders rows as an aligned text table with a header rule (for terminals). */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = rows.map((r) => r.map((c) => String(c)));
  const widths = headers.map((h, i) => Math.max(visible(h), ...cells.map((r) => visible(r[i] ?? ''))));
  const line = (r: string[]): string => r.map((c, i) => c + ' '.repeat(widths[i] - visible(c))).join('  ').trimEnd();
  return [line(headers), widths.map((w) => '─'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

/** Display width, ignoring ANSI colour codes. */
function visible(s: string): number {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\x1b\[[0-9;]*m/g, '').length;
}
