// Chaos: every edge proxy of the chaos server with its toxics (add latency or reset, remove), and
// each instance's lab control (make it fail, slow it, heal it).
import { h, api } from './dom.js';

export function mount(root) {
  const edgesBox = h('div', {});
  const labsBox = h('div', {});
  const note = h('p', { class: 'action-note', role: 'status' });
  root.append(
    h('section', { class: 'card' }, h('h2', {}, 'Instances (lab control)'), labsBox),
    h('section', { class: 'card' }, h('h2', {}, 'Network edges (chaos proxies)'), edgesBox),
    note,
  );
  let signature = '';
  const run = async (what, fn) => {
    note.textContent = `${what}…`;
    note.className = 'action-note';
    try {
      await fn();
      note.textContent = `✔ ${what}`;
    } catch (err) {
      note.textContent = `✘ ${what}: ${err.message}`;
      note.className = 'action-note error';
    }
  };
  return {
    update(m) {
      const sick = Object.fromEntries(m.graph.nodes.flatMap((n) => n.instances.map((i) => [i.id, i.sick])));
      const sig = JSON.stringify([m.chaos, m.labs, sick]);
      if (sig === signature || root.contains(document.activeElement) && document.activeElement.tagName === 'INPUT') return;
      signature = sig;
      labsBox.replaceChildren(m.labs.length === 0 ? h('p', { class: 'muted' }, 'No lab controls known: the launcher posts them to /v1/dashboard/world.') : h('table', { class: 'grid' },
        h('thead', {}, h('tr', {}, ['instance', 'state', ''].map((c) => h('th', {}, c)))),
        h('tbody', {}, m.labs.map((id) => {
          const sk = sick[id];
          const isSick = sk && (sk.error_rate > 0 || sk.latency_ms > 0 || sk.hang);
          const rate = h('input', { type: 'number', min: 0, max: 100, value: 100, class: 'small', 'aria-label': `error rate % for ${id}` });
          const lat = h('input', { type: 'number', min: 0, value: 300, class: 'small', 'aria-label': `latency ms for ${id}` });
          return h('tr', { 'data-instance': id, class: isSick ? 'sick' : '' },
            h('td', {}, id),
            h('td', { class: isSick ? 'warn' : 'ok' }, isSick ? `sick: ${sk.error_rate > 0 ? `${Math.round(sk.error_rate * 100)}% → ${sk.status}` : ''}${sk.latency_ms ? ` +${sk.latency_ms} ms` : ''}${sk.hang ? ' hang' : ''}` : 'healthy'),
            h('td', { class: 'actions' },
              rate, '% ', h('button', { 'data-action': 'fail', onclick: () => run(`${id}: ${rate.value}% errors`, () => api('POST', `/v1/dashboard/labs/${encodeURIComponent(id)}/sick`, { error_rate: Number(rate.value) / 100, status: 500 })) }, 'inject 500s'),
              lat, ' ms ', h('button', { 'data-action': 'slow', onclick: () => run(`${id}: +${lat.value} ms`, () => api('POST', `/v1/dashboard/labs/${encodeURIComponent(id)}/sick`, { latency_ms: Number(lat.value) })) }, 'slow down'),
              h('button', { 'data-action': 'heal', onclick: () => run(`${id}: healed`, () => api('DELETE', `/v1/dashboard/labs/${encodeURIComponent(id)}/sick`)) }, 'heal')));
        }))));
      if (!m.chaos.url) {
        edgesBox.replaceChildren(h('p', { class: 'muted no-chaos' }, 'no chaos server (start the control plane with CHAOS_URL, or POST {"chaosUrl": …} to /v1/dashboard/world)'));
        return;
      }
      if (m.chaos.error) {
        edgesBox.replaceChildren(h('p', { class: 'error' }, `chaos server ${m.chaos.url}: ${m.chaos.error}`));
        return;
      }
      edgesBox.replaceChildren(h('table', { class: 'grid' },
        h('thead', {}, h('tr', {}, ['edge', 'toxics', 'add'].map((c) => h('th', {}, c)))),
        h('tbody', {}, (m.chaos.edges ?? []).map((e) => {
          const lat = h('input', { type: 'number', min: 0, value: 200, class: 'small', 'aria-label': `latency for ${e.name}` });
          return h('tr', { 'data-proxy': e.name, class: e.toxics.length ? 'has-toxics' : '' },
            h('td', {}, e.from, ' → ', e.to, e.enabled ? '' : h('span', { class: 'error' }, ' (down)')),
            h('td', {}, e.toxics.length === 0 ? h('span', { class: 'muted' }, 'none') : e.toxics.map((t) => h('span', { class: 'chip', 'data-toxic': t.name }, `${t.type} ${Object.entries(t.attributes).filter(([, v]) => v).map(([k, v]) => `${k}=${v}`).join(' ')} (${t.stream})`,
              h('button', { class: 'x', title: `remove ${t.name}`, onclick: () => run(`${e.name}: removed ${t.name}`, () => api('POST', '/v1/dashboard/chaos/toxics/remove', { proxy: e.name, toxic: t.name })) }, '×')))),
            h('td', { class: 'actions' },
              lat, ' ms ', h('button', { 'data-action': 'latency', onclick: () => run(`${e.name}: +${lat.value} ms latency`, () => api('POST', '/v1/dashboard/chaos/toxics', { proxy: e.name, type: 'latency', latency: Number(lat.value) })) }, '+ latency'),
              h('button', { 'data-action': 'reset', onclick: () => run(`${e.name}: reset connections`, () => api('POST', '/v1/dashboard/chaos/toxics', { proxy: e.name, type: 'reset_peer', timeout: 0 })) }, '+ reset')));
        }))));
    },
  };
}
