/**
 * `meshlab export kubernetes [-o DIR] [--namespace NS] [--cp URL]`: writes the world as Kubernetes
 * manifests for a cluster with Istio (world/kubernetes-export.ts), with the Istio config live on the
 * control plane when one is reachable (`--cp URL`, $MESHLAB_CP_URL, or the running world).
 */
import path from 'node:path';
import { flag, parseArgs } from '../args';
import { controlPlaneUrl } from '../target';
import { DEFAULT_NAMESPACE, kubernetesExport, readLiveConfig, writeExport, type LiveResource } from '../../world/kubernetes-export';
import { DEFAULT_TOPOLOGY } from '../../world/topology';

const USAGE = `Usage: meshlab export kubernetes [-o DIR] [--namespace NS] [--cp URL]

Writes Namespace, ServiceAccounts, Services, Deployments, Kafka, RabbitMQ, an ingress gateway, the
Istio config (config/default, plus what is live on the control plane) and a kustomization.yaml.

Options:
  -o, --output DIR     where to write (default .meshlab/kubernetes); must be empty, new, or an earlier export
  -n, --namespace NS   the namespace of every object (default ${DEFAULT_NAMESPACE})
  --cp URL             read the live config from this control plane (an error if it does not answer);
                       without it: $MESHLAB_CP_URL, else the running world, else config/default only
`;

/** The live config, or undefined when no control plane is known; an explicitly named one must answer. */
async function live(args: ReturnType<typeof parseArgs>, warn: (t: string) => void): Promise<LiveResource[] | undefined> {
  const explicit = flag(args, 'cp') !== undefined || process.env.MESHLAB_CP_URL !== undefined;
  let url: string;
  try {
    url = controlPlaneUrl(args);
  } catch {
    return undefined; // no running world: config/default only (said in the notes)
  }
  try {
    return await readLiveConfig(url);
  } catch (err) {
    const msg = `cannot read the live config from the control plane at ${url}: ${(err as Error).message}`;
    if (explicit) throw new Error(msg);
    warn(`note: ${msg}`);
    return undefined;
  }
}

export interface CommandIO {
  out: (text: string) => void;
  err: (text: string) => void;
}

const defaultIO: CommandIO = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

export async function exportCommand(argv: string[], io: CommandIO = defaultIO): Promise<number> {
  const args = parseArgs(argv, ['help', 'h']);
  const [what, ...extra] = args.positionals;
  if (flag(args, 'help') || flag(args, 'h')) {
    io.out(USAGE);
    return 0;
  }
  if (what !== 'kubernetes' || extra.length) {
    io.err(`Error: ${what === undefined ? 'say what to export' : `cannot export ${JSON.stringify([what, ...extra].join(' '))}`}: the one target is \`kubernetes\`\n\n${USAGE}`);
    return 2;
  }
  const known = new Set(['o', 'output', 'n', 'namespace', 'cp']);
  const unknown = [...args.flags.keys()].filter((k) => !known.has(k));
  if (unknown.length) {
    io.err(`Error: unknown option ${unknown.map((k) => (k.length === 1 ? `-${k}` : `--${k}`)).join(', ')}\n\n${USAGE}`);
    return 2;
  }
  const shown = flag(args, 'output') ?? flag(args, 'o') ?? path.join('.meshlab', 'kubernetes');
  const dir = path.resolve(shown);
  const namespace = flag(args, 'namespace') ?? flag(args, 'n') ?? DEFAULT_TOPOLOGY.namespace ?? DEFAULT_NAMESPACE;
  const liveConfig = await live(args, (t) => io.err(`${t}\n`));
  const { files, notes } = kubernetesExport(DEFAULT_TOPOLOGY, { namespace, live: liveConfig });
  writeExport(dir, files);
  for (const n of notes) io.err(`note: ${n}\n`);
  io.out(`wrote ${files.length} files to ${shown}${liveConfig ? ` (with ${liveConfig.length} live Istio resource(s))` : ''}:\n${files.map((f) => `  ${f.path}`).join('\n')}\napply with: kubectl apply -k ${shown}   (needs a cluster with Istio)\n`);
  return 0;
}
