/**
 * `meshlab analyze -f FILE|DIR [-f ...] [-o json]`: offline analysis of Istio YAML, like
 * `istioctl analyze --use-kube=false`. Exit code 0 when there is no Error (warnings allowed, as
 * istioctl's default --failure-threshold Error), 1 on errors or bad usage.
 */
import { analyze } from '../../mesh/config/analyze';
import { loadPath } from '../../mesh/config/load';
import { formatMessages, hasErrors, sortMessages, type Message } from '../../mesh/config/messages';
import type { MeshResource } from '../../mesh/config/types';

export interface CommandIO {
  out: (text: string) => void;
  err: (text: string) => void;
}

const defaultIO: CommandIO = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

const USAGE = `Usage: meshlab analyze -f FILE|DIR [-f FILE|DIR ...] [-o json]

Validates and analyzes Istio VirtualService, DestinationRule, PeerAuthentication and
AuthorizationPolicy YAML offline. A directory means every *.yaml/*.yml file in it.

Options:
  -f, --filename FILE|DIR   file or directory to analyze (repeatable)
  -o, --output json         print messages as JSON instead of text
  -h, --help                show this help
`;

interface Parsed {
  files: string[];
  json: boolean;
  help: boolean;
}

function parseArgs(args: string[]): Parsed | string {
  const p: Parsed = { files: [], json: false, help: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const eq = a.indexOf('=');
    const [flag, inline] = a.startsWith('--') && eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [a, undefined];
    const value = (): string | undefined => inline ?? args[++i];
    if (flag === '-h' || flag === '--help') p.help = true;
    else if (flag === '-f' || flag === '--filename') {
      const v = value();
      if (!v) return `${flag} needs a file or directory`;
      p.files.push(...v.split(',').filter(Boolean));
    } else if (flag === '-o' || flag === '--output') {
      const v = value();
      if (v !== 'json' && v !== 'text') return `unsupported output format ${JSON.stringify(v)} (use json)`;
      p.json = v === 'json';
    } else if (!a.startsWith('-')) p.files.push(a);
    else return `unknown option ${a}`;
  }
  return p;
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
  if (parsed.files.length === 0) {
    io.err(`Error: no input: pass -f FILE|DIR\n\n${USAGE}`);
    return 1;
  }
  const resources: MeshResource[] = [];
  const messages: Message[] = [];
  for (const f of parsed.files) {
    const loaded = loadPath(f);
    resources.push(...loaded.resources);
    messages.push(...loaded.messages);
  }
  messages.push(...analyze(resources));
  const sorted = sortMessages(messages);
  const failed = hasErrors(sorted);
  if (parsed.json) {
    io.out(`${JSON.stringify(sorted, null, 2)}\n`);
  } else if (sorted.length === 0) {
    io.out(`\u2714 No validation issues found when analyzing namespace: default (${resources.length} resource(s) in ${parsed.files.join(', ')}).\n`);
  } else {
    io.out(`${formatMessages(sorted)}\n`);
    if (failed) io.err(`Error: Analyzers found issues when analyzing namespace: default.\n`);
  }
  return failed ? 1 : 0;
}
