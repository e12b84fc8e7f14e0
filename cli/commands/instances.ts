import { readState } from '../../world/state';
import { flag, parseArgs } from '../args';
import { table } from '../../lib/table';

/** `meshlab scale` and `meshlab rollout`: live instances of the world `npm start` runs, through its instance API. */

export const SCALE_HELP = `meshlab scale SERVICE --version V --replicas N
  Adds or removes instances of SERVICE at version V until N run. A new instance gets traffic once it is
  ready; a removed one leaves the endpoints (every sidecar ACKs) and drains before it stops.`;

export const ROLLOUT_HELP = `meshlab rollout SERVICE --from V1 --to V2
  A rolling update: each instance at V1 is replaced by one at V2, one at a time (the new one ready first,
  then the old one drained). Drive traffic meanwhile: no request should fail.`;

async function call(path: string, body: unknown): Promise<Record<string, unknown>> {
  const url = readState().instanceControlUrl;
  if (!url) throw new Error('the running world serves no instance API (.meshlab/world.json has no instanceControlUrl); start it with `npm start`');
  const res = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const out = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(String(out.error ?? `HTTP ${res.status}`));
  return out;
}

function show(out: Record<string, unknown>): void {
  const instances = (out.instances ?? []) as { id: string; service: string; version: string }[];
  console.log(table(['INSTANCE', 'SERVICE', 'VERSION'], instances.map((i) => [i.id, i.service, i.version])));
}

export async function scaleCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  const service = args.positionals[0];
  const version = flag(args, 'version');
  const replicas = Number(flag(args, 'replicas'));
  if (!service || !version || flag(args, 'replicas') === undefined) throw new Error(`usage: ${SCALE_HELP.split('\n')[0]}`);
  const out = await call('/v1/world/scale', { service, version, replicas });
  for (const id of out.added as string[]) console.log(`added ${id} (ready, in the endpoints)`);
  for (const id of out.removed as string[]) console.log(`removed ${id} (drained)`);
  show(out);
  return 0;
}

export async function rolloutCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  const service = args.positionals[0];
  const from = flag(args, 'from');
  const to = flag(args, 'to');
  if (!service || !from || !to) throw new Error(`usage: ${ROLLOUT_HELP.split('\n')[0]}`);
  const out = await call('/v1/world/rollout', { service, from, to });
  for (const s of out.steps as { replaced: string; by: string }[]) console.log(`${s.by} ready → ${s.replaced} drained and stopped`);
  show(out);
  return 0;
}
