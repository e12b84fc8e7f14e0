import { table } from '../../lib/table';
import { parseArgs } from '../args';
import { controlPlaneUrl, cpFetch } from '../target';

interface ProxyStatus {
  node: string;
  role: string;
  service: string;
  namespace?: string;
  version?: string;
  ready: boolean;
  ackedVersion: number;
  currentVersion: number;
  synced: boolean;
  ackedAt?: string;
  nack?: { version: number; error: string; at: string };
}

/** `meshlab proxy-status`: each sidecar's config version, in sync or stale, since when (like istioctl proxy-status). */
export async function proxyStatusCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  const { body } = await cpFetch<ProxyStatus[]>(controlPlaneUrl(args), '/v1/proxy-status');
  const rows = body
    .sort((a, b) => a.node.localeCompare(b.node))
    .map((p) => [
      // istioctl names a proxy pod.namespace
      `${p.node}.${p.namespace ?? 'default'}`,
      p.role,
      p.service,
      p.version ?? '',
      p.role === 'gateway' ? '-' : p.ready ? 'READY' : 'NOT READY',
      p.nack && p.nack.version > p.ackedVersion ? `NACK v${p.nack.version}` : p.synced ? 'SYNCED' : 'STALE',
      `v${p.ackedVersion}/v${p.currentVersion}`,
      p.ackedAt ? `${Math.round((Date.now() - Date.parse(p.ackedAt)) / 1000)}s ago` : 'never',
    ]);
  console.log(table(['NAME', 'ROLE', 'SERVICE', 'VERSION', 'ENDPOINT', 'CONFIG', 'ACKED/CURRENT', 'SINCE'], rows));
  for (const p of body) if (p.nack && p.nack.version > p.ackedVersion) console.log(`\n${p.node} rejected config v${p.nack.version}: ${p.nack.error}`);
  return body.every((p) => p.synced) ? 0 : 1;
}

interface Described {
  service: string;
  namespace?: string;
  version: number;
  virtualService?: string;
  destinationRule?: string;
  routes: { name?: string; matches: unknown[]; destinations: { host: string; subset?: string; weight: number; percent: number }[]; timeoutMs: number; retries: { attempts: number; perTryTimeoutMs?: number; retryOn: string[] }; fault?: unknown; mirror?: unknown }[];
  trafficPolicy: { loadBalancer: { type: string }; connectionPool: unknown; outlierDetection?: unknown; tlsMode: string };
  subsets: { name: string; labels: Record<string, string>; endpoints: string[]; trafficPolicy: { loadBalancer: { type: string } } }[];
  endpoints: { instance: string; host: string; port: number; labels: Record<string, string> }[];
  policies: { kind: string; name: string; namespace?: string }[];
}

/** `meshlab describe service NAME`: routes, subsets, policies and endpoints as the sidecars get them. */
export async function describeCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  const [what, name] = args.positionals;
  if (what !== 'service' && what !== 'svc') throw new Error('usage: meshlab describe service NAME');
  if (!name) throw new Error('usage: meshlab describe service NAME (e.g. payments)');
  const { status, body } = await cpFetch<Described & { error?: string }>(controlPlaneUrl(args), `/v1/describe/service/${encodeURIComponent(name)}`);
  if (status !== 200) {
    console.error(`Error: ${body.error}`);
    return 1;
  }
  const lines: string[] = [];
  lines.push(`Service:          ${body.service}.${body.namespace ?? 'default'}.svc.cluster.local   (config v${body.version})`);
  lines.push(`VirtualService:   ${body.virtualService ?? '(none: default route to all endpoints)'}`);
  lines.push(`DestinationRule:  ${body.destinationRule ?? '(none)'}`);
  lines.push(`Load balancer:    ${body.trafficPolicy.loadBalancer.type}    mTLS: ${body.trafficPolicy.tlsMode}`);
  lines.push(`Outlier detect.:  ${body.trafficPolicy.outlierDetection ? JSON.stringify(body.trafficPolicy.outlierDetection) : '(off)'}`);
  lines.push(`Connection pool:  ${JSON.stringify(body.trafficPolicy.connectionPool)}`);
  lines.push('', 'Routes (first match wins):');
  body.routes.forEach((r, i) => {
    const match = r.matches.length ? JSON.stringify(r.matches) : 'any request';
    const to = r.destinations.map((d) => `${d.subset ? `${d.host}/${d.subset}` : d.host} ${d.percent}%`).join(', ');
    lines.push(`  ${i + 1}. ${r.name ? `[${r.name}] ` : ''}${match} → ${to}`);
    lines.push(`     timeout ${r.timeoutMs ? `${r.timeoutMs} ms` : 'none'}, retries ${r.retries.attempts} on ${r.retries.retryOn.join(',') || '-'}${r.retries.perTryTimeoutMs ? ` (per try ${r.retries.perTryTimeoutMs} ms)` : ''}${r.fault ? `, fault ${JSON.stringify(r.fault)}` : ''}${r.mirror ? `, mirror ${JSON.stringify(r.mirror)}` : ''}`);
  });
  lines.push('', 'Subsets:');
  if (body.subsets.length === 0) lines.push('  (none)');
  for (const s of body.subsets) lines.push(`  ${s.name.padEnd(8)} ${JSON.stringify(s.labels).padEnd(22)} ${s.endpoints.length ? s.endpoints.join(', ') : 'selects no running instance'}   lb ${s.trafficPolicy.loadBalancer.type}`);
  lines.push('', 'Endpoints:');
  lines.push(table(['INSTANCE', 'ADDRESS', 'LABELS'], body.endpoints.map((e) => [e.instance, `${e.host}:${e.port}`, Object.entries(e.labels).map(([k, v]) => `${k}=${v}`).join(',')])).replace(/^/gm, '  '));
  lines.push('', `Security policies in force: ${body.policies.length ? body.policies.map((p) => `${p.kind}/${p.name}${p.namespace && p.namespace !== (body.namespace ?? 'default') ? `.${p.namespace}` : ''}`).join(', ') : '(none)'}`);
  console.log(lines.join('\n'));
  return 0;
}
