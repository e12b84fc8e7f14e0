// Scenario runs: the current run's timeline (requests/s by outcome per interval, events marked)
// and verdict table, live while the runner posts; past runs listed, each openable.
import { h, s, api } from './dom.js';

export function mount(root) {
  const currentBox = h('div', {});
  const pastBox = h('div', {});
  root.append(h('section', { class: 'card' }, h('h2', {}, 'Scenario run'), currentBox), h('section', { class: 'card' }, h('h2', {}, 'Past runs'), pastBox));
  let listedVersion = -1;
  let pinned = null; // a past run the user opened
  async function list(version) {
    listedVersion = version;
    try {
      const { runs } = await api('GET', '/v1/scenarios');
      pastBox.replaceChildren(runs.length === 0 ? h('p', { class: 'muted' }, 'No scenario has reported yet. Runs appear here as `meshlab scenario` posts to /v1/scenarios/events.') : h('table', { class: 'grid' },
        h('thead', {}, h('tr', {}, ['started', 'scenario', 'verdict', 'checks', ''].map((c) => h('th', {}, c)))),
        h('tbody', {}, runs.map((r) => h('tr', { 'data-run': r.run },
          h('td', {}, new Date(r.startedAt).toLocaleString()), h('td', {}, r.scenario, h('span', { class: 'muted' }, r.title ? ` · ${r.title}` : '')),
          h('td', { class: r.state === 'passed' ? 'ok' : r.state === 'failed' ? 'error' : 'warn' }, r.state.toUpperCase()),
          h('td', { class: 'num' }, `${r.verdict.filter((v) => v.pass).length}/${r.verdict.length}`),
          h('td', {}, h('button', { onclick: async () => { pinned = await api('GET', `/v1/scenarios/${encodeURIComponent(r.run)}`); currentBox.replaceChildren(runView(pinned, true, () => { pinned = null; })); } }, 'open')))))));
    } catch (err) {
      pastBox.replaceChildren(h('p', { class: 'error' }, err.message));
    }
  }
  return {
    update(m) {
      if (m.scenario.version !== listedVersion) void list(m.scenario.version);
      if (pinned) return;
      currentBox.replaceChildren(m.scenario.current ? runView(m.scenario.current, false) : h('p', { class: 'muted' }, 'No scenario run yet.'));
    },
  };
}

function runView(r, isPast, onClose) {
  const badge = h('span', { class: `badge ${r.state}`, 'data-state': r.state }, r.state === 'running' ? 'RUNNING' : r.state.toUpperCase());
  return h('div', { class: 'run', 'data-run': r.run },
    h('h3', {}, badge, ' ', r.scenario, h('span', { class: 'muted' }, r.title ? ` · ${r.title}` : ''), isPast ? h('button', { class: 'right', onclick: (ev) => { onClose(); ev.target.closest('.run').replaceWith(h('p', { class: 'muted' }, 'back to live on the next update…')); } }, 'back to live') : ''),
    r.teaches?.length ? h('p', { class: 'muted' }, r.teaches.join(' ')) : '',
    timeline(r),
    verdictTable(r),
    r.report?.error ? h('p', { class: 'error' }, `error: ${r.report.error}`) : '');
}

/** Stacked bars per progress interval (ok / failed requests per second), events as vertical marks. */
function timeline(r) {
  const series = [...new Set(r.progress.map((p) => p.series))];
  if (series.length === 0 && r.events.length === 0) return h('p', { class: 'muted' }, 'No progress yet.');
  const W = 900;
  const H = 150;
  const bars = [];
  for (const name of series) {
    const pts = r.progress.filter((p) => p.series === name).sort((a, b) => a.t - b.t);
    for (let i = 1; i < pts.length; i++) {
      const dt = (pts[i].t - pts[i - 1].t) / 1000;
      if (dt <= 0) continue;
      bars.push({ t0: pts[i - 1].t, t1: pts[i].t, ok: (pts[i].ok - pts[i - 1].ok) / dt, failed: (pts[i].failed - pts[i - 1].failed) / dt, series: name });
    }
  }
  const tMax = Math.max(1000, ...r.progress.map((p) => p.t), ...r.events.map((e) => e.t));
  const tMin = Math.min(0, ...r.events.map((e) => e.t));
  const yMax = Math.max(1, ...bars.map((b) => b.ok + b.failed));
  const x = (t) => 40 + ((t - tMin) / (tMax - tMin)) * (W - 60);
  const y = (v) => H - 20 - (v / yMax) * (H - 40);
  const svg = s('svg', { class: 'timeline', viewBox: `0 0 ${W} ${H + 40}`, width: '100%' });
  svg.append(s('line', { x1: 40, y1: H - 20, x2: W - 20, y2: H - 20, class: 'axis' }), s('text', { x: 4, y: y(yMax) + 4, class: 'tick' }, `${Math.round(yMax)}/s`), s('text', { x: 4, y: H - 16, class: 'tick' }, '0'));
  for (let t = 0; t <= tMax; t += tMax > 30000 ? 10000 : tMax > 8000 ? 2000 : 1000) svg.append(s('text', { x: x(t), y: H - 4, class: 'tick', 'text-anchor': 'middle' }, `${t / 1000}s`));
  for (const b of bars) {
    const bx = x(b.t0);
    const bw = Math.max(1, x(b.t1) - bx - 1);
    svg.append(s('rect', { x: bx, y: y(b.ok), width: bw, height: H - 20 - y(b.ok), class: 'ok-bar' }, s('title', {}, `${b.series}: ${b.ok.toFixed(0)} ok/s, ${b.failed.toFixed(0)} failed/s`)));
    if (b.failed > 0) svg.append(s('rect', { x: bx, y: y(b.ok + b.failed), width: bw, height: y(b.ok) - y(b.ok + b.failed), class: 'fail-bar' }));
  }
  r.events.forEach((e, i) => {
    const ex = x(e.t);
    svg.append(s('line', { x1: ex, y1: 10, x2: ex, y2: H - 20, class: 'event-line' }), s('text', { x: ex + 3, y: H + 12 + (i % 3) * 11, class: 'event-label' }, `◀ ${e.label}`.slice(0, 60)));
  });
  return svg;
}

function verdictTable(r) {
  if (r.verdict.length === 0) return h('p', { class: 'muted' }, 'No expectation checked yet.');
  return h('table', { class: 'grid verdict' },
    h('thead', {}, h('tr', {}, ['', 'expectation', 'expected', 'measured'].map((c) => h('th', {}, c)))),
    h('tbody', {}, r.verdict.map((v) => h('tr', { class: v.pass ? 'pass' : 'fail' }, h('td', { class: v.pass ? 'ok' : 'error' }, v.pass ? 'PASS' : 'FAIL'), h('td', {}, v.name), h('td', {}, v.expected), h('td', {}, v.measured)))));
}
