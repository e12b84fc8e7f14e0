/**
 * The topologies the bench knows, in run order (defined in topologies.ts). Kept apart so argument
 * parsing does not load the control plane and the sidecar's modules.
 */
export const TOPOLOGY_NAMES = ['direct', 'sidecar1', 'sidecar1-alt', 'sidecar1-traced', 'sidecar2', 'sidecar2-mtls', 'chain5', 'node-proxy', 'haproxy', 'nginx'] as const;
