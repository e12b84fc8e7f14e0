// Traffic split: for each service with subsets, the configured weights of its VirtualService's
// catch-all route beside the measured share of requests per version over the last minute.
import { h } from './dom.js';

const bar = (value, cls) => h('div', { class: 'bar' }, h('div', { class: `fill ${cls}`, style: `width:${Math.max(0, Math.min(100, value ?? 0))}%` }));

export function mount(root) {
  const body = h('div', {});
  root.append(h('section', { class: 'card' }, h('h2', {}, 'Traffic split'), h('p', { class: 'muted' }, 'Configured weights (VirtualService) beside the measured share of requests per version over the last minute, summed over every caller.'), body));
  return {
    update(m) {
      if (m.splits.length === 0) {
        body.replaceChildren(h('p', { class: 'muted' }, 'No service has DestinationRule subsets.'));
        return;
      }
      body.replaceChildren(...m.splits.map((sp) => h('div', { class: 'split', 'data-service': sp.service },
        h('h3', {}, sp.service, h('span', { class: 'muted source' }, ` · ${sp.source} · ${sp.requests} requests in the last ${Math.round(Math.min(60000, m.scrape.historyMs) / 1000)} s`)),
        h('table', { class: 'grid split-table' },
          h('thead', {}, h('tr', {}, ['subset', 'endpoints', 'configured', '', 'measured', ''].map((c) => h('th', {}, c)))),
          h('tbody', {}, sp.rows.map((r) => h('tr', { 'data-subset': r.subset },
            h('td', {}, r.subset, r.version && r.version !== r.subset ? h('span', { class: 'muted' }, ` (version ${r.version})`) : ''),
            h('td', { class: 'num' }, String(r.endpoints)),
            h('td', { class: 'num configured' }, `${r.configured}%`), h('td', { class: 'barcell' }, bar(r.configured, 'configured')),
            h('td', { class: 'num measured' }, r.measured === null ? '—' : `${r.measured}%`), h('td', { class: 'barcell' }, bar(r.measured, 'measured')))))),
        sp.matchRoutes.length ? h('ul', { class: 'match-routes' }, sp.matchRoutes.map((r) => h('li', {}, r))) : '')));
    },
  };
}
