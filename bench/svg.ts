import { PERCENTILES, PERCENTILE_LABELS, type BenchResults } from './results';
import { fmtUs } from './format';

/**
 * A hand-written SVG chart: one panel per rate, latency (log scale, µs) at each percentile, one
 * line per topology. No dependency; valid standalone SVG 1.1.
 */
const COLORS = ['#222222', '#1f77b4', '#d62728', '#9467bd', '#ff7f0e', '#2ca02c', '#17becf', '#8c564b'];

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function renderSvg(r: BenchResults): string {
  const topologies = [...new Set(r.cells.map((c) => c.topology))];
  const rates = r.meta.rates.filter((rate) => r.cells.some((c) => c.rate === rate));
  const panelW = 360;
  const panelH = 260;
  const m = { left: 60, right: 16, top: 54, bottom: 40 };
  const legendH = 20 + 16 * topologies.length;
  const width = Math.max(1, rates.length) * (panelW + m.left + m.right) + 20;
  const height = m.top + panelH + m.bottom + legendH + 30;
  const values = r.cells.flatMap((c) => PERCENTILES.map((p) => c.latencyUs[p])).filter((v) => v > 0);
  const lo = Math.pow(10, Math.floor(Math.log10(Math.max(1, Math.min(...values, 1e9)))));
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(10, ...values))));
  const y = (us: number) => m.top + panelH - ((Math.log10(Math.max(us, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * panelH;
  const parts: string[] = [];
  parts.push(`<?xml version="1.0" encoding="UTF-8"?>`);
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`);
  parts.push(`<title>meshlab bench: latency percentiles per topology</title>`);
  parts.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  // Two short lines: the chart is narrow when a run has one rate.
  parts.push(`<text x="10" y="18" font-size="14" font-weight="bold">Latency by percentile (log scale)</text>`);
  parts.push(`<text x="10" y="32" font-size="10" fill="#555">open loop, measured from each request's intended send time</text>`);
  rates.forEach((rate, pi) => {
    const ox = 10 + pi * (panelW + m.left + m.right);
    const x0 = ox + m.left;
    const x = (i: number) => x0 + (i / (PERCENTILES.length - 1)) * panelW;
    parts.push(`<g class="panel" data-rate="${rate}">`);
    parts.push(`<text x="${x0 + panelW / 2}" y="${m.top - 8}" text-anchor="middle" font-weight="bold">${rate} rps</text>`);
    parts.push(`<rect x="${x0}" y="${m.top}" width="${panelW}" height="${panelH}" fill="none" stroke="#999999"/>`);
    for (let d = lo; d <= hi; d *= 10) {
      parts.push(`<line x1="${x0}" y1="${y(d).toFixed(1)}" x2="${x0 + panelW}" y2="${y(d).toFixed(1)}" stroke="#dddddd"/>`);
      parts.push(`<text x="${x0 - 6}" y="${(y(d) + 4).toFixed(1)}" text-anchor="end">${esc(fmtUs(d))}</text>`);
    }
    PERCENTILES.forEach((p, i) => parts.push(`<text x="${x(i).toFixed(1)}" y="${m.top + panelH + 16}" text-anchor="middle">${PERCENTILE_LABELS[p]}</text>`));
    topologies.forEach((t, ti) => {
      const cell = r.cells.find((c) => c.topology === t && c.rate === rate);
      if (!cell) return;
      const color = COLORS[ti % COLORS.length];
      const pts = PERCENTILES.map((p, i) => `${x(i).toFixed(1)},${y(cell.latencyUs[p]).toFixed(1)}`);
      parts.push(`<polyline data-topology="${esc(t)}" points="${pts.join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>`);
      PERCENTILES.forEach((p, i) => parts.push(`<circle cx="${x(i).toFixed(1)}" cy="${y(cell.latencyUs[p]).toFixed(1)}" r="3" fill="${color}"><title>${esc(`${t} ${rate} rps ${PERCENTILE_LABELS[p]}: ${fmtUs(cell.latencyUs[p])}`)}</title></circle>`));
    });
    parts.push(`</g>`);
  });
  const ly = m.top + panelH + m.bottom + 10;
  topologies.forEach((t, ti) => {
    const hops = r.topologies.find((x) => x.name === t)?.hops ?? 0;
    const yy = ly + ti * 16;
    parts.push(`<line x1="${10 + m.left}" y1="${yy}" x2="${30 + m.left}" y2="${yy}" stroke="${COLORS[ti % COLORS.length]}" stroke-width="3"/>`);
    parts.push(`<text x="${36 + m.left}" y="${yy + 4}">${esc(`${t} (${hops} hop${hops === 1 ? '' : 's'})`)}</text>`);
  });
  parts.push(`</svg>`);
  return parts.join('\n') + '\n';
}
