import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import type { ApplyOutcome, ConfigFile } from '../../mesh/control-plane/config-service';
import { formatMessages, type Message } from '../../mesh/config/messages';
import type { Kind, MeshResource } from '../../mesh/config/types';
import { table } from '../../lib/table';
import { flag, parseArgs } from '../args';
import { controlPlaneUrl, cpFetch } from '../target';

const KIND_ALIASES: Record<string, Kind> = {};
for (const [kind, names] of Object.entries({
  VirtualService: ['virtualservice', 'virtualservices', 'vs'],
  DestinationRule: ['destinationrule', 'destinationrules', 'dr'],
  PeerAuthentication: ['peerauthentication', 'peerauthentications', 'pa'],
  AuthorizationPolicy: ['authorizationpolicy', 'authorizationpolicies', 'ap'],
  Gateway: ['gateway', 'gateways', 'gw'],
  ServiceEntry: ['serviceentry', 'serviceentries', 'se'],
  Sidecar: ['sidecar', 'sidecars'],
  Telemetry: ['telemetry', 'telemetries'],
  RequestAuthentication: ['requestauthentication', 'requestauthentications', 'ra'],
  EnvoyFilter: ['envoyfilter', 'envoyfilters', 'ef'],
}) as [Kind, string[]][]) {
  for (const n of names) KIND_ALIASES[n] = kind;
  KIND_ALIASES[kind.toLowerCase()] = kind;
}

const GROUP: Record<Kind, string> = {
  VirtualService: 'virtualservice.networking.istio.io',
  DestinationRule: 'destinationrule.networking.istio.io',
  PeerAuthentication: 'peerauthentication.security.istio.io',
  AuthorizationPolicy: 'authorizationpolicy.security.istio.io',
  Gateway: 'gateway.networking.istio.io',
  ServiceEntry: 'serviceentry.networking.istio.io',
  Sidecar: 'sidecar.networking.istio.io',
  Telemetry: 'telemetry.telemetry.istio.io',
  RequestAuthentication: 'requestauthentication.security.istio.io',
  EnvoyFilter: 'envoyfilter.networking.istio.io',
};

export function parseKind(raw: string): Kind {
  const kind = KIND_ALIASES[raw.toLowerCase()];
  if (!kind) throw new Error(`unknown kind "${raw}"; use one of ${Object.keys(GROUP).join(', ')} (or vs, dr, pa, ap)`);
  return kind;
}

/** The YAML files named by -f (files or folders of *.yaml / *.yml, sorted), read for sending. */
export function readFiles(paths: string[]): ConfigFile[] {
  if (paths.length === 0) throw new Error('-f FILE|DIR is required (an Istio YAML file or a folder of them)');
  const out: ConfigFile[] = [];
  for (const p of paths) {
    if (p === '-') {
      out.push({ name: '<stdin>', text: fs.readFileSync(0, 'utf8') });
      continue;
    }
    if (!fs.existsSync(p)) throw new Error(`${p}: no such file or directory`);
    const files = fs.statSync(p).isDirectory()
      ? fs.readdirSync(p).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => path.join(p, f))
      : [p];
    for (const f of files) out.push({ name: f, text: fs.readFileSync(f, 'utf8') });
  }
  return out;
}

/** kubectl's resource naming: `virtualservice.networking.istio.io/payments`, `service/payments`, `deployment.apps/orders-v1`. */
function objectName(r: ApplyOutcome['results'][number]): string {
  const group = GROUP[r.kind as Kind];
  if (group) return `${group}/${r.name}`;
  const g = r.apiVersion && r.apiVersion.includes('/') ? `.${r.apiVersion.split('/')[0]}` : '';
  return `${r.kind.toLowerCase()}${g}/${r.name}`;
}

function report(out: ApplyOutcome, verb: string): number {
  for (const r of out.results) {
    const ns = r.namespace && r.namespace !== 'default' ? ` -n ${r.namespace}` : '';
    console.log(`${objectName(r)}${ns} ${r.action}${r.reason ? ` (${r.reason})` : ''}`);
  }
  const shown: Message[] = out.messages.filter((m) => m.level !== 'Info');
  if (shown.length) console.error(formatMessages(shown));
  const errors = out.messages.filter((m) => m.level === 'Error').length;
  if (!out.ok) {
    console.error(`error: nothing was ${verb}: the configuration has ${errors} error(s)`);
    return 1;
  }
  // Analyzer findings against the topology (the files' Kubernetes objects, the running world) do not block, as in Istio.
  if (errors > 0) console.error(`${verb}; the ${errors} error(s) above are what meshlab analyze finds against the topology (the files' Kubernetes objects and the running world): reported, not blocking`);
  return 0;
}

/** `meshlab apply -f FILE|DIR`: validated as a whole by the control plane, applied all-or-nothing. */
export async function applyCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  const files = readFiles(args.flags.get('f') ?? args.flags.get('filename') ?? []);
  const { body } = await cpFetch<ApplyOutcome>(controlPlaneUrl(args), '/v1/config/apply', { body: { files } });
  return report(body, 'applied');
}

/** `meshlab delete -f FILE|DIR` or `meshlab delete KIND NAME`. */
export async function deleteCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  const f = args.flags.get('f') ?? args.flags.get('filename');
  let payload: unknown;
  if (f) payload = { files: readFiles(f) };
  else {
    const [kind, ...names] = args.positionals;
    if (!kind || names.length === 0) throw new Error('usage: meshlab delete -f FILE|DIR, or meshlab delete KIND NAME [NAME…]');
    const namespace = flag(args, 'n', flag(args, 'namespace', 'default'));
    payload = { refs: names.map((name) => ({ kind: parseKind(kind), name, namespace })) };
  }
  const { body } = await cpFetch<ApplyOutcome>(controlPlaneUrl(args), '/v1/config/delete', { body: payload });
  return report(body, 'deleted');
}

/** `meshlab get [KIND] [NAME] [-n NAMESPACE | -A] [-o yaml|json|wide]` (default namespace: default). */
export async function getCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['A', 'all-namespaces']);
  const all = flag(args, 'A') === 'true' || flag(args, 'all-namespaces') === 'true';
  const namespace = flag(args, 'n', flag(args, 'namespace', 'default'))!;
  const [rawKind, name] = args.positionals;
  const kind = rawKind && rawKind !== 'all' ? parseKind(rawKind) : undefined;
  const output = flag(args, 'o', flag(args, 'output', 'table'))!;
  if (!['table', 'wide', 'yaml', 'json'].includes(output)) throw new Error(`-o must be yaml, json or wide, got "${output}"`);
  const q = new URLSearchParams();
  if (kind) q.set('kind', kind);
  if (name) q.set('name', name);
  const { body } = await cpFetch<{ version: number; resources: MeshResource[] }>(controlPlaneUrl(args), `/v1/config?${q}`);
  const resources = all ? body.resources : body.resources.filter((r) => (r.metadata.namespace ?? 'default') === namespace);
  const plain = resources.map((r) => ({ apiVersion: r.apiVersion, kind: r.kind, metadata: { name: r.metadata.name, namespace: r.metadata.namespace }, spec: r.spec }));
  if (name && plain.length === 0) {
    console.error(`Error from server (NotFound): ${kind ? GROUP[kind] : 'resource'} "${name}" not found${all ? '' : ` in namespace ${namespace}`}`);
    return 1;
  }
  if (output === 'json') console.log(JSON.stringify(plain.length === 1 && name ? plain[0] : { apiVersion: 'v1', kind: 'List', items: plain }, null, 2));
  else if (output === 'yaml') console.log(plain.map((r) => YAML.stringify(r)).join('---\n'));
  else if (plain.length === 0) console.log(all ? 'No resources found.' : `No resources found in ${namespace} namespace.`);
  else if (all) console.log(table(['NAMESPACE', 'KIND', 'NAME', 'HOSTS', 'FROM'], resources.map((r) => [r.metadata.namespace, r.kind, r.metadata.name, hostsOf(r), r.source ? `${r.source.file}:${r.source.line}` : ''])));
  else console.log(table(['KIND', 'NAME', 'HOSTS', 'FROM'], resources.map((r) => [r.kind, r.metadata.name, hostsOf(r), r.source ? `${r.source.file}:${r.source.line}` : ''])));
  return 0;
}

function hostsOf(r: MeshResource): string {
  const spec = r.spec as { hosts?: string[]; host?: string; selector?: { matchLabels?: Record<string, string> } };
  if (spec.hosts) return spec.hosts.join(',');
  if (spec.host) return spec.host;
  if (spec.selector?.matchLabels) return Object.entries(spec.selector.matchLabels).map(([k, v]) => `${k}=${v}`).join(',');
  return '*';
}

