// Policies: the Istio YAML in force per service, the analyzer's messages about it, and each
// proxy's config version (in sync with the control plane, or stale / NACKed).
import { h, api } from './dom.js';

export function mount(root) {
  const proxies = h('div', {});
  const services = h('div', { class: 'policy-grid' });
  const messages = h('div', {});
  root.append(
    h('section', { class: 'card' }, h('h2', {}, 'Proxy config sync'), proxies),
    h('section', { class: 'card' }, h('h2', {}, 'Analyzer'), messages),
    h('section', { class: 'card' }, h('h2', {}, 'Config in force, per service'), services),
  );
  let loadedVersion = -1;
  let loading = false;
  async function load(version) {
    loading = true;
    try {
      const p = await api('GET', '/v1/dashboard/policies');
      loadedVersion = version;
      messages.replaceChildren(p.messages.length ? messageList(p.messages) : h('p', { class: 'ok' }, '✔ No validation issues found.'));
      services.replaceChildren(...p.services.map((sv) => h('div', { class: 'policy', 'data-service': sv.service },
        h('h3', {}, sv.service),
        sv.messages.length ? messageList(sv.messages) : '',
        sv.resources.length ? sv.resources.map((r) => h('details', { open: true }, h('summary', {}, `${r.kind} ${r.name}`, r.file ? h('span', { class: 'muted' }, ` · ${r.file}`) : ''), h('pre', { class: 'yaml' }, r.yaml))) : h('p', { class: 'muted' }, 'No resource: Istio defaults apply.'))));
    } catch (err) {
      messages.replaceChildren(h('p', { class: 'error' }, `could not load policies: ${err.message}`));
    } finally {
      loading = false;
    }
  }
  return {
    update(m) {
      if (m.configVersion !== loadedVersion && !loading) void load(m.configVersion);
      proxies.replaceChildren(h('table', { class: 'grid' },
        h('thead', {}, h('tr', {}, ['proxy', 'role', 'service', 'version', 'ready', 'config version', 'status'].map((c) => h('th', {}, c)))),
        h('tbody', {}, m.proxies.map((p) => h('tr', { 'data-proxy': p.node, class: p.synced ? 'synced' : 'stale' },
          h('td', {}, p.node), h('td', {}, p.role), h('td', {}, p.service), h('td', {}, p.version ?? ''), h('td', {}, p.ready ? 'yes' : 'no'),
          h('td', { class: 'num' }, `${p.ackedVersion} / ${m.meshVersion}`),
          h('td', { class: p.nack ? 'error' : p.synced ? 'ok' : 'warn' }, p.nack ? `NACK: ${p.nack}` : p.synced ? 'in sync' : 'stale'))))));
    },
  };
}

function messageList(list) {
  return h('ul', { class: 'messages' }, list.map((m) => h('li', { class: m.level.toLowerCase() }, h('b', {}, `${m.level} [${m.code}]`), ` ${m.resource ? `(${m.resource}) ` : ''}${m.file ? `${m.file}:${m.line ?? ''}:${m.column ?? ''} ` : ''}${m.message}`)));
}
