import { startCommand, START_HELP } from './commands/start';

type Command = { help: string; run: (argv: string[]) => Promise<number> };

/** Subcommands load lazily so `meshlab analyze` does not pay for the world's modules. */
const COMMANDS: Record<string, Command> = {
  start: { help: START_HELP, run: startCommand },
  scenario: {
    help: 'meshlab scenario NAME|FILE.yaml [--quick] [--control] [--seed N] [--json FILE] | --list   Runs a lab and prints its verdict.',
    run: async (argv) => (await import('./commands/scenario')).scenarioCommand(argv),
  },
  scale: {
    help: 'meshlab scale SERVICE --version V --replicas N   Adds or removes live instances (ready before traffic, drained before stop).',
    run: async (argv) => (await import('./commands/instances')).scaleCommand(argv),
  },
  rollout: {
    help: 'meshlab rollout SERVICE --from V1 --to V2   A rolling update, one instance at a time.',
    run: async (argv) => (await import('./commands/instances')).rolloutCommand(argv),
  },
  canary: {
    help: 'meshlab canary [SERVICE] [--steps 5,10,25,50,100] [--interval 10s] [--threshold 2]   An automated canary (Flagger-style analysis).',
    run: async (argv) => (await import('./commands/canary')).canaryCommand(argv),
  },
  analyze: {
    help: 'meshlab analyze [-f FILE|DIR] [-o log|json|yaml] [-n NS|-A]   istioctl analyze: files offline, or the running world.',
    run: async (argv) => (await import('./commands/analyze')).analyzeCommand(argv),
  },
  apply: {
    help: 'meshlab apply -f FILE|DIR [--cp URL]   Applies Istio YAML to the running mesh (all-or-nothing).',
    run: async (argv) => (await import('./commands/config')).applyCommand(argv),
  },
  delete: {
    help: 'meshlab delete -f FILE|DIR | KIND NAME   Deletes Istio resources.',
    run: async (argv) => (await import('./commands/config')).deleteCommand(argv),
  },
  get: {
    help: 'meshlab get [KIND] [NAME] [-n NS|-A] [-o yaml|json]   Lists the Istio resources in force.',
    run: async (argv) => (await import('./commands/config')).getCommand(argv),
  },
  'proxy-status': {
    help: "meshlab proxy-status   Each sidecar's config version: in sync, stale or rejected, and since when.",
    run: async (argv) => (await import('./commands/mesh')).proxyStatusCommand(argv),
  },
  describe: {
    help: 'meshlab describe service NAME   Routes, subsets, policies and endpoints of a service.',
    run: async (argv) => (await import('./commands/mesh')).describeCommand(argv),
  },
  chaos: {
    help: 'meshlab chaos list | add EDGE TYPE [-a k=v] | remove EDGE NAME | down|up EDGE | reset   Cuts or slows edges (Toxiproxy API).',
    run: async (argv) => (await import('./commands/chaos')).chaosCommand(argv),
  },
  token: {
    help: 'meshlab token --sub SUB [--aud AUD] [--claim k=v]   Prints a JWT from the lab issuer config/default trusts.',
    run: async (argv) => (await import('./commands/edge')).tokenCommand(argv),
  },
  certs: {
    help: 'meshlab certs create HOST... [--name CREDENTIAL] | certs client CN   Gateway TLS credentials from a local edge CA.',
    run: async (argv) => (await import('./commands/edge')).certsCommand(argv),
  },
  export: { help: 'meshlab export kubernetes [-o DIR] [--namespace NS] [--cp URL]   Writes the world as Kubernetes manifests for Istio.', run: async (argv) => (await import('./commands/export')).exportCommand(argv) },
  toxiproxy: {
    help: 'meshlab toxiproxy [--host 127.0.0.1] [--port 8474]   Runs the chaos proxy alone, a drop-in for toxiproxy-server.',
    run: async (argv) => {
      await (await import('../chaos/main')).runToxiproxyServerCli(argv);
      return 0;
    },
  },
};

function usage(): string {
  return `meshlab — a local service-mesh lab\n\nUsage:\n${Object.values(COMMANDS).map((c) => `  ${c.help.split('\n').join('\n  ')}`).join('\n')}\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    console.log(usage());
    return name ? 0 : 2;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    console.error(`meshlab: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  return cmd.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: Error) => {
    console.error(`meshlab: ${err.message}`);
    process.exitCode = 1;
  },
);
