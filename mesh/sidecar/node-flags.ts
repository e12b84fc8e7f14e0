/**
 * The Node flags a sidecar (and the gateway, the same program) runs with, wherever it is started: the world's
 * processes (world/process.ts), the bench, and the compose file. Chosen by measurement (mesh/README.md, "Memory"):
 * V8's young generation grows its semi-spaces up to 16 MB each under load, which is RSS a proxy does not need — what
 * a request allocates dies before the next scavenge. The bench A/Bs them with `--alt-sidecar-flags`.
 */
export const SIDECAR_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1'];

/** The flags a process of this role starts with. */
export function nodeFlagsFor(role: string): readonly string[] {
  return role === 'sidecar' || role === 'gateway' ? SIDECAR_NODE_FLAGS : [];
}
