/**
 * The discovery protocol between the control plane and every sidecar, shaped like xDS: a sidecar
 * opens one long-lived stream (server-sent events), announcing its node and endpoint; the control
 * plane pushes versioned snapshots; the sidecar ACKs or NACKs each version. The stream's life is the
 * endpoint's registration: when a sidecar's process dies, its stream closes and its endpoint goes.
 */

export interface NodeInfo {
  /** Unique node id, the instance id (`payments-v1-0`) or `gateway`. */
  id: string;
  role: 'sidecar' | 'gateway';
  service: string;
  version?: string;
  /** The workload's Kubernetes namespace (Istio's POD_NAMESPACE); "default" when absent. */
  namespace?: string;
  labels: Record<string, string>;
  /** The sidecar's inbound address: where peers send this instance's traffic. */
  inbound?: { host: string; port: number };
  admin?: { host: string; port: number };
}

export interface Endpoint {
  instance: string;
  service: string;
  /** The service's namespace; "default" when absent. */
  namespace?: string;
  labels: Record<string, string>;
  host: string;
  port: number;
}

export interface Snapshot {
  version: number;
  /** Ready endpoints of every service. */
  endpoints: Record<string, Endpoint[]>;
  /** The mesh configuration in force (Istio resources); empty until the control-plane issue lands. */
  resources: unknown[];
  /** Namespace of each declared service outside "default", endpoints or not. */
  namespaces?: Record<string, string>;
}

export interface Ack {
  node: string;
  version: number;
  /** Absent for an ACK; the reason for a NACK. */
  error?: string;
}

export const DISCOVERY_PATH = '/v1/discovery';
