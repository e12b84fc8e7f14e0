import { readState } from '../world/state';
import { flag, type Parsed } from './args';
import { operatorHeaders } from '../lib/cp-auth';

/** Where `meshlab scenario --target` runs a lab (kubernetes: designed, not run here — world/kubernetes-target.ts). */
export const SCENARIO_TARGETS = ['embedded', 'running', 'compose', 'kubernetes'] as const;

/**
 * Which control plane a command talks to: `--cp URL`, else $MESHLAB_CP_URL, else the running
 * world's state file (.meshlab/world.json).
 */
export function controlPlaneUrl(args: Parsed): string {
  const explicit = flag(args, 'cp') ?? process.env.MESHLAB_CP_URL;
  if (explicit) return explicit.replace(/\/$/, '');
  return readState().controlPlaneUrl;
}

export async function cpFetch<T>(base: string, path: string, init?: { method?: string; body?: unknown }): Promise<{ status: number; body: T }> {
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      method: init?.method ?? (init?.body ? 'POST' : 'GET'),
      headers: { ...(init?.body ? { 'content-type': 'application/json' } : {}), ...operatorHeaders(base) },
      body: init?.body ? JSON.stringify(init.body) : undefined,
    });
  } catch (err) {
    throw new Error(`cannot reach the control plane at ${base} (${(err as Error).message}); is the world running (\`npm start\`)?`);
  }
  return { status: res.status, body: (await res.json()) as T };
}
