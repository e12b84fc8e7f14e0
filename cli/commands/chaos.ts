import { ChaosClient, type ProxyInfo, type ToxicTypeName } from '../../chaos/client';
import { table } from '../../lib/table';
import { readState } from '../../world/state';
import { flag, parseArgs, type Parsed } from '../args';

export const CHAOS_HELP = `meshlab chaos list | add EDGE TYPE [-a key=value …] [--stream downstream|upstream] [--toxicity 1] [--name N]
             | remove EDGE NAME | down EDGE | up EDGE | reset        [--chaos URL]
  Cuts or slows any edge of the running world. EDGE is a proxy (orders->payments-v1-0) or every proxy of an
  edge (orders->payments). TYPE: latency, bandwidth, slow_close, timeout, reset_peer, slicer, limit_data, noop.`;

const TYPES: ToxicTypeName[] = ['latency', 'bandwidth', 'slow_close', 'timeout', 'reset_peer', 'slicer', 'limit_data', 'noop'];

function chaosUrl(args: Parsed): string {
  const explicit = flag(args, 'chaos') ?? process.env.TOXIPROXY_URL;
  if (explicit) return explicit.replace(/\/$/, '');
  const state = readState();
  if (!state.chaosUrl) throw new Error('the running world has no chaos server (it was started with --chaos-port off)');
  return state.chaosUrl;
}

/** The proxies an EDGE argument names: itself, or every `EDGE-…` proxy (one per destination instance). */
function select(proxies: Record<string, ProxyInfo>, edge: string): string[] {
  if (proxies[edge]) return [edge];
  const group = Object.keys(proxies).filter((n) => n.startsWith(`${edge}-`)).sort();
  if (group.length === 0) throw new Error(`no proxy or edge "${edge}"; edges: ${[...new Set(Object.keys(proxies).map((n) => n.replace(/-v\d+-\d+$/, '')))].sort().join(', ')}`);
  return group;
}

export async function chaosCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  const [verb, edge, arg] = args.positionals;
  const client = new ChaosClient(chaosUrl(args));
  const proxies = verb === 'reset' ? {} : await client.listProxies();
  switch (verb) {
    case undefined:
    case 'list': {
      const rows = Object.values(proxies)
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((p) => [p.name, p.listen, p.upstream, p.enabled ? 'up' : 'DOWN', p.toxics.map((t) => `${t.name}(${t.type} ${t.stream} ${JSON.stringify(t.attributes)}${t.toxicity !== 1 ? ` ×${t.toxicity}` : ''})`).join(' ') || '-']);
      console.log(table(['PROXY', 'LISTEN', 'UPSTREAM', 'STATE', 'TOXICS'], rows));
      return 0;
    }
    case 'add': {
      if (!edge || !arg) throw new Error(`usage: ${CHAOS_HELP.split('\n')[0]}`);
      if (!TYPES.includes(arg as ToxicTypeName)) throw new Error(`unknown toxic type "${arg}"; use one of ${TYPES.join(', ')}`);
      const attributes: Record<string, number> = {};
      for (const kv of args.flags.get('a') ?? []) {
        const [k, v] = kv.split('=');
        if (!k || v === undefined || !Number.isFinite(Number(v))) throw new Error(`-a takes key=number (e.g. -a latency=200), got "${kv}"`);
        attributes[k] = Number(v);
      }
      const stream = flag(args, 'stream', 'downstream') as 'downstream' | 'upstream';
      if (stream !== 'downstream' && stream !== 'upstream') throw new Error(`--stream must be downstream or upstream, got "${stream}"`);
      const toxicity = Number(flag(args, 'toxicity', '1'));
      if (!(toxicity >= 0 && toxicity <= 1)) throw new Error(`--toxicity must be between 0 and 1, got ${flag(args, 'toxicity')}`);
      const name = flag(args, 'name', `${arg}_${stream}`)!;
      for (const p of select(proxies, edge)) {
        await client.addToxic(p, { name, type: arg as ToxicTypeName, stream, toxicity, attributes });
        console.log(`${p}: added ${name} (${arg} ${JSON.stringify(attributes)})`);
      }
      return 0;
    }
    case 'remove': {
      if (!edge || !arg) throw new Error('usage: meshlab chaos remove EDGE TOXIC_NAME');
      for (const p of select(proxies, edge)) {
        await client.removeToxic(p, arg);
        console.log(`${p}: removed ${arg}`);
      }
      return 0;
    }
    case 'down':
    case 'up': {
      if (!edge) throw new Error(`usage: meshlab chaos ${verb} EDGE`);
      for (const p of select(proxies, edge)) {
        await client.setEnabled(p, verb === 'up');
        console.log(`${p}: ${verb}`);
      }
      return 0;
    }
    case 'reset':
      await client.reset();
      console.log('every proxy enabled, every toxic removed');
      return 0;
    default:
      throw new Error(`unknown chaos command "${verb}"\n${CHAOS_HELP}`);
  }
}
