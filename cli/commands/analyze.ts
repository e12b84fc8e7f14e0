/**
 * `meshlab analyze`: istioctl analyze for meshlab. With `-f FILE|DIR` it analyzes files offline
 * (like `istioctl analyze --use-kube=false`): Istio resources plus the Kubernetes objects beside
 * them (Namespace, Service, Deployment, Pod, …) that hosts, ports and selectors resolve against.
 * Without files it asks the running world's control plane to analyze its config against its
 * topology. Output and exit status follow istioctl: one line per message
 * (`Error [IST0101] (VirtualService default/reviews file.yaml:12) …`) or `-o json|yaml`; messages
 * of namespace `-n NS` (default "default") or all with `-A`; exit 79 when a message reaches
 * `--failure-threshold` (default Error) in the text format, 1 on bad usage or unreadable input.
 */
import YAML from 'yaml';
import { analyze } from '../../mesh/config/analyze';
import { loadPath } from '../../mesh/config/load';
import { atLeast, Codes, formatMessage, sortMessages, structured, type Level, type Message } from '../../mesh/config/messages';
import type { KubeObject, MeshResource } from '../../mesh/config/types';
import { parseArgs as parseCliArgs } from '../args';
import { controlPlaneUrl, cpFetch } from '../target';

export interface CommandIO {
  out: (text: string) => void;
  err: (text: string) => void;
}

const defaultIO: CommandIO = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

/** istioctl's exit status when analyzers found issues at or above the failure threshold. */
export const EXIT_ANALYZER_FOUND_ISSUES = 79;

const USAGE = `Usage: meshlab analyze [-f FILE|DIR ...] [options]

Analyzes Istio VirtualService, DestinationRule, PeerAuthentication, AuthorizationPolicy, Gateway,
ServiceEntry and Sidecar YAML like istioctl analyze. Kubernetes objects in the same files
(Namespace, Service, ServiceAccount, Deployment, Pod, Secret, …) are read to resolve hosts, ports
and workload selectors. Without -f, analyzes the running world (its config and its topology).

Options:
  -f, --filename FILE|DIR      file or directory to analyze (repeatable; a directory means every *.yaml/*.yml in it)
  -o, --output log|json|yaml   output format (default log: one line per message)
  -n, --namespace NS           report messages of namespace NS (default: default)
  -A, --all-namespaces         report messages of every namespace
      --failure-threshold L    Info|Warning|Error: exit ${EXIT_ANALYZER_FOUND_ISSUES} when a message is at least L (default Error; log output only, as istioctl)
      --output-threshold L     Info|Warning|Error: print messages of at least L (default Info)
  -S, --suppress CODE=RESOURCE suppress a code on a resource ("IST0101=VirtualService default/reviews"; '*' matches anything); repeatable
      --cp URL                 control plane of the running world (default: .meshlab/world.json)
  -h, --help                   show this help
`;

interface Parsed {
  files: string[];
  output: 'log' | 'json' | 'yaml';
  namespace: string;
  all: boolean;
  failure: Level;
  outputThreshold: Level;
  suppress: Array<{ code: string; resource: RegExp; raw: string }>;
  cp?: string;
  help: boolean;
}

function level(flag: string, v: string | undefined): Level | string {
  const l = (v ?? '').toLowerCase();
  if (l === 'info') return 'Info';
  if (l === 'warning' || l === 'warn') return 'Warning';
  if (l === 'error') return 'Error';
  return `${flag} must be one of Info, Warning, Error (got ${JSON.stringify(v)})`;
}

const globToRegExp = (glob: string): RegExp => new RegExp(`^${glob.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);

function parseArgs(args: string[]): Parsed | string {
  const p: Parsed = { files: [], output: 'log', namespace: 'default', all: false, failure: 'Error', outputThreshold: 'Info', suppress: [], help: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const eq = a.indexOf('=');
    const [flag, inline] = a.startsWith('--') && eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [a, undefined];
    const value = (): string | undefined => inline ?? args[++i];
    if (flag === '-h' || flag === '--help') p.help = true;
    else if (flag === '-A' || flag === '--all-namespaces') p.all = true;
    else if (flag === '-f' || flag === '--filename') {
      const v = value();
      if (!v) return `${flag} needs a file or directory`;
      p.files.push(...v.split(',').filter(Boolean));
    } else if (flag === '-o' || flag === '--output') {
      const v = value();
      if (v === 'text') p.output = 'log';
      else if (v === 'log' || v === 'json' || v === 'yaml') p.output = v;
      else return `unsupported output format ${JSON.stringify(v)} (use log, json or yaml)`;
    } else if (flag === '-n' || flag === '--namespace') {
      const v = value();
      if (!v) return `${flag} needs a namespace`;
      p.namespace = v;
    } else if (flag === '--failure-threshold' || flag === '--output-threshold') {
      const l = level(flag, value());
      if (l !== 'Info' && l !== 'Warning' && l !== 'Error') return l;
      if (flag === '--failure-threshold') p.failure = l;
      else p.outputThreshold = l;
    } else if (flag === '-S' || flag === '--suppress') {
      const v = value() ?? '';
      const parts = v.split('=');
      if (parts.length !== 2 || !parts[0] || !parts[1]) return `${JSON.stringify(v)} is not a valid suppression value: use CODE=RESOURCE, e.g. "IST0101=VirtualService default/reviews"`;
      p.suppress.push({ code: parts[0], resource: globToRegExp(parts[1]), raw: v });
    } else if (flag === '--cp') {
      const v = value();
      if (!v) return '--cp needs a URL';
      p.cp = v;
    } else if (!a.startsWith('-')) p.files.push(a);
    else return `unknown option ${a}`;
  }
  return p;
}

/** Namespace of the resource a message is about ("Kind ns/name"), if any. */
function namespaceOf(m: Message): string | undefined {
  const name = m.resource?.split(' ')[1];
  return name?.includes('/') ? name.split('/')[0] : undefined;
}

async function liveMessages(p: Parsed): Promise<Message[]> {
  const args = parseCliArgs(p.cp ? ['--cp', p.cp] : []);
  const { body } = await cpFetch<{ messages: Message[] }>(controlPlaneUrl(args), '/v1/analyze');
  return body.messages;
}

export async function analyzeCommand(args: string[], io: CommandIO = defaultIO): Promise<number> {
  const parsed = parseArgs(args);
  if (typeof parsed === 'string') {
    io.err(`Error: ${parsed}\n\n${USAGE}`);
    return 1;
  }
  if (parsed.help) {
    io.out(USAGE);
    return 0;
  }
  const known = new Set<string>(Object.values(Codes).map((c) => c.code));
  for (const s of parsed.suppress) {
    if (!known.has(s.code)) io.err(`Warning: Supplied message code '${s.code}' is an unknown message code and will not have any effect.\n`);
  }
  const messages: Message[] = [];
  let count = 0;
  if (parsed.files.length === 0) {
    try {
      messages.push(...(await liveMessages(parsed)));
    } catch (err) {
      io.err(`Error: ${(err as Error).message}\nPass -f FILE|DIR to analyze files offline.\n`);
      return 1;
    }
  } else {
    const resources: MeshResource[] = [];
    const objects: KubeObject[] = [];
    for (const f of parsed.files) {
      const loaded = loadPath(f);
      resources.push(...loaded.resources);
      objects.push(...loaded.objects);
      messages.push(...loaded.messages);
    }
    count = resources.length + objects.length;
    messages.push(...analyze(resources, { objects }));
  }
  // istioctl: messages of the analyzed namespace (or all with -A), minus suppressions.
  const kept = sortMessages(messages).filter((m) => {
    const ns = namespaceOf(m);
    if (!parsed.all && ns !== undefined && ns !== parsed.namespace) return false;
    return !parsed.suppress.some((s) => s.code === m.code && m.resource !== undefined && s.resource.test(m.resource));
  });
  const shown = kept.filter((m) => atLeast(m.level, parsed.outputThreshold));
  const what = parsed.files.length === 0 ? `the running world (namespace ${parsed.all ? '*' : parsed.namespace})` : parsed.files.join(', ');
  if (parsed.output === 'json') io.out(`${JSON.stringify(shown.map(structured), null, 2)}\n`);
  else if (parsed.output === 'yaml') io.out(shown.length ? YAML.stringify(shown.map(structured)) : '[]\n');
  else if (shown.length === 0) {
    const n = parsed.files.length === 0 ? '' : ` (${count} object(s))`;
    io.err(`\u2714 No validation issues found when analyzing ${what}${n}.\n`); // on stderr, as istioctl
  } else {
    io.out(`${shown.map(formatMessage).join('\n')}\n`);
  }
  // As istioctl: the exit status depends on the unfiltered-by-output-threshold list, in the log format only.
  const failed = parsed.output === 'log' && kept.some((m) => atLeast(m.level, parsed.failure));
  if (failed) io.err(`Error: Analyzers found issues when analyzing ${parsed.all ? 'all namespaces' : `namespace: ${parsed.namespace}`}.\nSee https://istio.io/latest/docs/reference/config/analysis for more information about causes and resolutions.\n`);
  return failed ? EXIT_ANALYZER_FOUND_ISSUES : 0;
}
