// Traces: the last N traces of an order (root path /orders by default), collected from every
// proxy's admin /traces and drawn as a waterfall across hops; with the world's Zipkin (--observability)
// each trace links to the same trace in Zipkin's UI.
import { h, api } from './dom.js';

export function mount(root) {
  const limit = h('input', { type: 'number', min: 1, max: 100, value: 8, class: 'small', 'aria-label': 'how many traces' });
  const path = h('input', { type: 'text', value: '/orders', class: 'path', 'aria-label': 'root path prefix' });
  const out = h('div', { class: 'traces' });
  const load = async () => {
    out.replaceChildren(h('p', { class: 'muted' }, 'collecting spans from every proxy…'));
    try {
      const r = await api('GET', `/v1/dashboard/traces?limit=${Number(limit.value) || 8}&path=${encodeURIComponent(path.value)}`);
      const missing = r.missing.length ? h('p', { class: 'muted' }, `no /traces from: ${r.missing.join(', ')}`) : '';
      const zipkin = r.zipkinUrl ? h('p', { class: 'muted' }, 'sampled traces are in ', h('a', { href: `${r.zipkinUrl}/zipkin/`, target: '_blank', class: 'zipkin-home' }, 'Zipkin'), '') : '';
      out.replaceChildren(missing, zipkin, ...(r.traces.length ? r.traces.map((t) => waterfall(t, r.zipkinUrl)) : [h('p', { class: 'muted no-traces' }, 'no traces')]));
    } catch (err) {
      out.replaceChildren(h('p', { class: 'error' }, err.message));
    }
  };
  root.append(h('section', { class: 'card' }, h('h2', {}, 'Traces'), h('div', { class: 'toolbar' }, 'last ', limit, ' traces whose path starts with ', path, ' ', h('button', { onclick: load, 'data-action': 'load-traces' }, 'refresh')), out));
  void load();
  return { update() {} };
}

function waterfall(t, zipkinUrl) {
  const total = Math.max(1, t.duration_us);
  const t0 = t.start * 1000;
  return h('div', { class: 'trace', 'data-trace': t.trace_id },
    h('div', { class: 'trace-head' }, h('b', {}, t.url || '(no path)'), ` · ${t.status} · ${(t.duration_us / 1000).toFixed(1)} ms · ${t.spans.length} spans · `, h('code', {}, t.trace_id), h('span', { class: 'muted' }, ` · ${new Date(t.start).toLocaleTimeString()}`),
      zipkinUrl ? h('span', {}, ' · ', h('a', { href: `${zipkinUrl}/zipkin/traces/${t.trace_id}`, target: '_blank', class: 'zipkin-link' }, 'open in Zipkin')) : ''),
    t.spans.map((sp) => {
      const left = ((sp.start * 1000 - t0) / total) * 100;
      const width = Math.max(0.5, (sp.duration_us / total) * 100);
      const dir = sp.attributes?.direction ?? '';
      const bad = !(sp.status > 0 && sp.status < 500);
      return h('div', { class: 'span-row', 'data-node': sp.node, 'data-depth': sp.depth },
        h('div', { class: 'span-name', style: `padding-left:${sp.depth * 14}px` }, `${sp.service} `, h('span', { class: 'muted' }, `${dir} ${sp.name.split('.')[0]}`)),
        h('div', { class: 'span-track' }, h('div', { class: `span-bar ${dir} ${bad ? 'bad' : ''}`, style: `left:${Math.min(left, 99.5)}%;width:${Math.min(width, 100 - Math.min(left, 99.5))}%` }, h('span', {}, `${(sp.duration_us / 1000).toFixed(1)} ms · ${sp.status}${sp.attributes?.response_flags && sp.attributes.response_flags !== '-' ? ` ${sp.attributes.response_flags}` : ''}`))));
    }));
}
