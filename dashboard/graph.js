// The service graph, Kiali-style: a box per service holding one node per version, the ingress
// gateway on the left, and an edge per (caller workload → destination version) with its live
// requests/s, error ratio (coloured), p99 and a lock when every request went over mutual TLS.
import { h, s, pct, ms, rps, health } from './dom.js';

const COL_W = 430;
const NODE_W = 170;
const NODE_H = 54;
const BOX_PAD = 14;
const BOX_HEAD = 26;
const ROW_GAP = 16;
const BOX_GAP = 34;

export function mount(root) {
  const svgHolder = h('div', { class: 'graph-holder' });
  const legend = h('div', { class: 'legend' },
    h('span', { class: 'swatch healthy' }), 'healthy',
    h('span', { class: 'swatch degraded' }), 'errors ≥ 1 %',
    h('span', { class: 'swatch failure' }), 'errors ≥ 10 %',
    h('span', { class: 'swatch idle' }), 'no traffic',
    h('span', { class: 'dot ejected' }), 'ejected',
    h('span', { class: 'dot sick' }), 'sick (lab)',
    h('span', { class: 'dot down' }), 'not ready',
    h('span', { class: 'pool-open-key' }), 'pool open (503 UO)');
  const table = h('div', { class: 'edge-table' });
  root.append(h('section', { class: 'card' }, h('h2', {}, 'Service graph'), legend, svgHolder), h('section', { class: 'card' }, h('h2', {}, 'Edges'), table));
  return {
    update(m) {
      svgHolder.replaceChildren(drawGraph(m));
      table.replaceChildren(edgeTable(m));
    },
  };
}

/** Service-level caller → callee pairs: from traffic, and from the chaos proxies (which exist per topology edge even before any request). */
function serviceLinks(m, serviceOfNode, serviceOfInstance) {
  const links = new Set();
  for (const e of m.graph.edges) links.add(`${serviceOfNode(e.source)}>${serviceOfNode(e.target)}`);
  for (const c of m.chaos.edges ?? []) {
    const from = c.from === 'gateway' ? 'istio-ingressgateway' : c.from;
    const to = serviceOfInstance(c.to);
    if (to) links.add(`${from}>${to}`);
  }
  return [...links].map((l) => l.split('>'));
}

function layout(m) {
  const nodes = m.graph.nodes;
  const byService = new Map();
  for (const n of nodes) (byService.get(n.service) ?? byService.set(n.service, []).get(n.service)).push(n);
  const instSvc = new Map(nodes.flatMap((n) => n.instances.map((i) => [i.id, n.service])));
  const nodeSvc = (id) => nodes.find((n) => n.id === id)?.service ?? id.split(':')[0];
  const links = serviceLinks(m, nodeSvc, (i) => instSvc.get(i));
  const depth = new Map();
  const gw = nodes.find((n) => n.kind === 'gateway')?.service;
  if (gw) depth.set(gw, 0);
  for (let changed = true, guard = 0; changed && guard < 20; guard++) {
    changed = false;
    for (const [a, b] of links) {
      if (depth.has(a) && a !== b && (depth.get(b) ?? -1) < depth.get(a) + 1 && depth.get(a) + 1 <= 6) {
        depth.set(b, depth.get(a) + 1);
        changed = true;
      }
    }
  }
  for (const svc of byService.keys()) if (!depth.has(svc)) depth.set(svc, svc === gw ? 0 : 1);
  const columns = new Map();
  for (const [svc, d] of depth) if (byService.has(svc)) (columns.get(d) ?? columns.set(d, []).get(d)).push(svc);
  const boxes = [];
  const pos = new Map();
  let height = 0;
  for (const [d, svcs] of [...columns].sort((a, b) => a[0] - b[0])) {
    let y = 20;
    for (const svc of svcs.sort()) {
      const versions = byService.get(svc).sort((a, b) => String(a.version).localeCompare(String(b.version)));
      const isGw = versions[0].kind === 'gateway';
      const x = 20 + d * COL_W;
      const boxH = isGw ? NODE_H + 2 * BOX_PAD : BOX_HEAD + versions.length * (NODE_H + ROW_GAP) - ROW_GAP + 2 * BOX_PAD - 6;
      boxes.push({ svc, x, y, w: NODE_W + 2 * BOX_PAD, h: boxH, gateway: isGw });
      versions.forEach((n, i) => pos.set(n.id, { x: x + BOX_PAD, y: y + (isGw ? BOX_PAD : BOX_HEAD + BOX_PAD - 6) + i * (NODE_H + ROW_GAP), n }));
      y += boxH + BOX_GAP;
    }
    height = Math.max(height, y);
  }
  const width = 40 + (Math.max(0, ...columns.keys()) + 1) * COL_W - (COL_W - NODE_W - 2 * BOX_PAD);
  return { boxes, pos, width: Math.max(width, 600), height: Math.max(height, 200) };
}

function lock(x, y) {
  return s('g', { class: 'lock', transform: `translate(${x},${y})` },
    s('title', {}, 'mutual TLS'),
    s('path', { d: 'M2 5 V3 a3 3 0 0 1 6 0 V5', fill: 'none', 'stroke-width': 1.5 }),
    s('rect', { x: 0, y: 5, width: 10, height: 7, rx: 1.5 }));
}

function drawGraph(m) {
  const { boxes, pos, width, height } = layout(m);
  const svcView = new Map(m.graph.services.map((x) => [x.name, x]));
  const svg = s('svg', { class: 'graph', viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': 'service graph' });
  const defs = s('defs', {});
  for (const k of ['healthy', 'degraded', 'failure', 'idle']) {
    defs.append(s('marker', { id: `arrow-${k}`, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 10, markerHeight: 10, markerUnits: 'userSpaceOnUse', orient: 'auto-start-reverse' }, s('path', { d: 'M0 0 L10 5 L0 10 z', class: `arrowhead ${k}` })));
  }
  svg.append(defs);
  for (const b of boxes) {
    const v = svcView.get(b.svc);
    const cls = `service-box${b.gateway ? ' gateway' : ''}${v?.poolOpen ? ' pool-open' : ''}`;
    const g = s('g', { class: cls, 'data-service': b.svc });
    g.append(s('rect', { x: b.x, y: b.y, width: b.w, height: b.h, rx: 8 }));
    if (!b.gateway) g.append(s('text', { x: b.x + 10, y: b.y + 18, class: 'box-title' }, b.svc));
    if (v?.poolOpen) g.append(s('text', { x: b.x + b.w - 8, y: b.y + 18, class: 'pool-label', 'text-anchor': 'end' }, `pool open · ${v.overflows} UO`));
    else if (v?.pending) g.append(s('text', { x: b.x + b.w - 8, y: b.y + 18, class: 'pending-label', 'text-anchor': 'end' }, `${v.pending} pending`));
    svg.append(g);
  }
  // Edges under nodes, fanned out at their source so parallel edges stay apart.
  const outCount = new Map();
  const edgeLayer = s('g', { class: 'edges' });
  const labelLayer = s('g', { class: 'edge-labels' });
  const edges = [...m.graph.edges].sort((a, b) => (pos.get(a.target)?.y ?? 0) - (pos.get(b.target)?.y ?? 0));
  const perSource = new Map();
  for (const e of edges) perSource.set(e.source, (perSource.get(e.source) ?? 0) + 1);
  for (const e of edges) {
    const a = pos.get(e.source);
    const b = pos.get(e.target);
    if (!a || !b) continue;
    const i = outCount.get(e.source) ?? 0;
    outCount.set(e.source, i + 1);
    const n = perSource.get(e.source);
    const x1 = a.x + NODE_W;
    const y1 = a.y + NODE_H / 2 + (n > 1 ? (i - (n - 1) / 2) * Math.min(12, (NODE_H - 10) / (n - 1)) : 0);
    const x2 = b.x;
    const y2 = b.y + NODE_H / 2;
    const dx = Math.max(40, (x2 - x1) / 2);
    const state = health(e.errorRate, e.requests);
    const g = s('g', { class: `edge ${state}`, 'data-source': e.source, 'data-target': e.target, 'data-health': state, 'data-rps': e.rps, 'data-error-rate': e.errorRate, 'data-mtls': e.mtls ? 'yes' : e.mtlsShare > 0 ? 'partly' : 'no' });
    g.append(s('path', { d: `M${x1} ${y1} C${x1 + dx} ${y1}, ${x2 - dx} ${y2}, ${x2} ${y2}`, 'marker-end': `url(#arrow-${state})`, 'stroke-width': Math.min(6, 1.5 + Math.log2(1 + e.rps)) }, s('title', {}, edgeTitle(e))));
    edgeLayer.append(g);
    // Label on the curve, in the gap between the columns.
    const t = 0.5;
    const bx = (1 - t) ** 3 * x1 + 3 * (1 - t) ** 2 * t * (x1 + dx) + 3 * (1 - t) * t ** 2 * (x2 - dx) + t ** 3 * x2;
    const by = (1 - t) ** 3 * y1 + 3 * (1 - t) ** 2 * t * y1 + 3 * (1 - t) * t ** 2 * y2 + t ** 3 * y2;
    const text = e.protocol === 'tcp' ? `TCP · ${bytesRate(e.tcpBytesPerSec)}` : e.requests ? `${rps(e.rps)} rps · ${pct(e.errorRate)} err · p99 ${ms(e.p99Ms)}` : 'no traffic';
    const w = text.length * 6.7 + (e.mtls ? 16 : 0) + 10;
    const lg = s('g', { class: `edge-label ${state}`, 'data-source': e.source, 'data-target': e.target });
    lg.append(s('rect', { x: bx - w / 2, y: by - 10, width: w, height: 18, rx: 4 }), s('text', { x: bx - w / 2 + 5, y: by + 3 }, text));
    if (e.mtls) lg.append(lock(bx + w / 2 - 15, by - 7));
    labelLayer.append(lg);
  }
  svg.append(edgeLayer);
  for (const { x, y, n } of pos.values()) svg.append(drawNode(n, x, y, m));
  svg.append(labelLayer);
  return svg;
}

/** A TCP edge's throughput (istio_tcp_* bytes both ways). */
function bytesRate(v) {
  return v >= 1024 ? `${(v / 1024).toFixed(1)} KiB/s` : `${Math.round(v)} B/s`;
}

function edgeTitle(e) {
  if (e.protocol === 'tcp') {
    const flags = Object.entries(e.flags).map(([c, v]) => `${c}×${v}`).join(' ');
    return `${e.source} → ${e.target} (TCP)\n${bytesRate(e.tcpBytesPerSec)}, ${e.tcpConnections} connection(s) opened${flags ? `\nflags: ${flags}` : ''}`;
  }
  const codes = Object.entries(e.codes).map(([c, v]) => `${c}×${v}`).join(' ');
  const flags = Object.entries(e.flags).map(([c, v]) => `${c}×${v}`).join(' ');
  return `${e.source} → ${e.target}\n${rps(e.rps)} req/s, ${pct(e.errorRate)} errors, p99 ${ms(e.p99Ms)}\ncodes: ${codes || '—'}${flags ? `\nflags: ${flags}` : ''}\n${e.mtls ? 'mutual TLS' : 'plaintext'}`;
}

function drawNode(n, x, y, m) {
  const inbound = m.graph.edges.filter((e) => e.target === n.id);
  const req = inbound.reduce((a, e) => a + e.requests, 0);
  const err = inbound.reduce((a, e) => a + e.errorRate * e.requests, 0);
  const state = n.kind === 'gateway' ? 'healthy' : health(req ? err / req : 0, req);
  const g = s('g', { class: `node ${n.kind} ${state}`, 'data-node': n.id });
  g.append(s('rect', { x, y, width: NODE_W, height: NODE_H, rx: 6 }));
  const label = n.kind === 'gateway' ? 'istio-ingressgateway' : n.kind === 'unknown' ? (m.graph.edges.some((e) => e.source === n.id) ? 'unknown (no sidecar)' : 'unknown destination') : `${n.service} ${n.version}`;
  g.append(s('text', { x: x + 10, y: y + 19, class: 'node-title' }, label));
  if (n.instances.length === 0 && n.kind === 'workload') g.append(s('text', { x: x + 10, y: y + 40, class: 'node-note' }, 'no instance'));
  n.instances.forEach((inst, i) => {
    const cx = x + 16 + i * 22;
    const cy = y + 38;
    const cls = ['inst', inst.ready ? 'ready' : 'down', inst.ejectedBy.length ? 'ejected' : '', inst.sick && (inst.sick.error_rate > 0 || inst.sick.latency_ms > 0 || inst.sick.hang) ? 'sick' : '', inst.synced ? '' : 'stale'].filter(Boolean).join(' ');
    const tip = `${inst.id}: ${inst.ready ? 'ready' : 'not ready'}${inst.ejectedBy.length ? `, ejected by ${inst.ejectedBy.join(', ')}` : ''}${inst.sick && cls.includes('sick') ? `, sick ${JSON.stringify(inst.sick)}` : ''}${inst.synced ? '' : ', config stale'}`;
    g.append(s('circle', { cx, cy, r: 7, class: cls, 'data-instance': inst.id }, s('title', {}, tip)));
  });
  const ejected = n.instances.filter((i) => i.ejectedBy.length).length;
  if (ejected) g.append(s('text', { x: x + NODE_W - 8, y: y + 42, class: 'ejected-label', 'text-anchor': 'end' }, `${ejected} ejected`));
  return g;
}

function edgeTable(m) {
  const rows = [...m.graph.edges].sort((a, b) => a.source.localeCompare(b.source) || a.target.localeCompare(b.target));
  if (rows.length === 0) return h('p', { class: 'muted' }, 'No requests seen yet. Send some through the gateway (e.g. POST /orders).');
  return h('table', { class: 'grid' },
    h('thead', {}, h('tr', {}, ['from', 'to', 'req/s', 'errors', 'p99', 'codes', 'flags', 'mTLS'].map((c) => h('th', {}, c)))),
    h('tbody', {}, rows.map((e) => h('tr', { class: health(e.errorRate, e.requests), 'data-edge': `${e.source}>${e.target}` },
      h('td', {}, e.source), h('td', {}, e.target), h('td', { class: 'num' }, rps(e.rps)), h('td', { class: 'num err' }, pct(e.errorRate)), h('td', { class: 'num' }, ms(e.p99Ms)),
      h('td', {}, Object.entries(e.codes).map(([c, v]) => `${c}×${v}`).join(' ') || '—'), h('td', {}, Object.entries(e.flags).map(([c, v]) => `${c}×${v}`).join(' ') || '—'), h('td', { 'data-mtls': e.mtls ? 'yes' : e.mtlsShare > 0 ? 'partly' : 'no', title: 'as the destination sidecar reported it' }, e.mtls ? '🔒 yes' : e.mtlsShare > 0 ? `partly (${pct(e.mtlsShare)})` : 'no')))));
}
