// The dashboard shell: one EventSource for the whole model (pushed once a second by the control
// plane), hash-routed views, each mounted into <main> and updated with every model.
import { h } from './dom.js';
import * as graph from './graph.js';
import * as split from './split.js';
import * as policies from './policies.js';
import * as chaos from './chaos.js';
import * as scenarios from './scenarios.js';
import * as traces from './traces.js';

const VIEWS = { graph, split, policies, chaos, scenarios, traces };
const main = document.getElementById('view');
const status = document.getElementById('status');
const footer = document.getElementById('footer');
let model = null;
let current = null;
let currentName = '';

function show(name) {
  if (!VIEWS[name]) name = 'graph';
  if (name === currentName) return;
  currentName = name;
  for (const a of document.querySelectorAll('#tabs a')) a.classList.toggle('active', a.dataset.view === name);
  current?.destroy?.();
  main.replaceChildren();
  main.dataset.view = name;
  current = VIEWS[name].mount(main);
  if (model) current.update(model);
}

function onModel(m) {
  model = m;
  window.__meshModel = m; // for tests and for poking at it from the console
  const failed = m.scrape.failed.length ? ` · ${m.scrape.failed.length} not answering: ${m.scrape.failed.join(', ')}` : '';
  status.className = 'status live';
  status.textContent = `live · ${new Date(m.t).toLocaleTimeString()}`;
  footer.replaceChildren(h('span', {}, `${m.scrape.proxies} proxies scraped in ${m.scrape.ms} ms${failed} · mesh v${m.meshVersion} · config v${m.configVersion} · rates over the last ${m.windowMs / 1000} s · history ${Math.round(m.scrape.historyMs / 1000)} s`));
  current?.update(m);
}

function connect() {
  const es = new EventSource('/v1/dashboard/stream');
  es.addEventListener('model', (ev) => onModel(JSON.parse(ev.data)));
  es.addEventListener('error', () => {
    status.className = 'status down';
    status.textContent = 'reconnecting…';
  });
}

window.addEventListener('hashchange', () => show(location.hash.slice(1)));
show(location.hash.slice(1) || 'graph');
connect();
