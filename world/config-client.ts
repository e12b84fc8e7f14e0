import type { ApplyOutcome } from '../mesh/control-plane/config-service';
import { formatMessages } from '../mesh/config/messages';
import { operatorHeaders } from '../lib/cp-auth';

/** Talking to a control plane's config API, shared by every kind of world handle (embedded, attached, compose). */

export async function applyConfig(controlPlaneUrl: string, files: { name: string; text: string }[]): Promise<ApplyOutcome> {
  return post(controlPlaneUrl, '/v1/config/apply', { files }, 'config rejected');
}

export async function deleteConfig(controlPlaneUrl: string, refs: { kind: string; name: string }[]): Promise<ApplyOutcome> {
  return post(controlPlaneUrl, '/v1/config/delete', { refs }, 'delete rejected');
}

/** Resolves once `ready` endpoints are ready and every sidecar ACKed the newest config. */
export async function waitForSync(controlPlaneUrl: string, ready: number, timeoutMs = 10000): Promise<void> {
  const res = await fetch(`${controlPlaneUrl}/v1/sync?ready=${ready}&timeoutMs=${timeoutMs}`);
  if (!res.ok) throw new Error(`the mesh did not converge: ${await res.text()}`);
}

async function post(controlPlaneUrl: string, path: string, body: unknown, what: string): Promise<ApplyOutcome> {
  const res = await fetch(`${controlPlaneUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...operatorHeaders(controlPlaneUrl) }, body: JSON.stringify(body) });
  const out = (await res.json()) as ApplyOutcome & { error?: string };
  if (res.status === 401 || res.status === 403) throw new Error(`${what}: ${res.status} ${out.error}`);
  if (!out.ok) throw new Error(`${what}:\n${formatMessages(out.messages)}`);
  return out;
}
