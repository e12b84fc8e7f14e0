/**
 * The control plane's request bodies, checked before anything is touched: each reader returns the
 * typed value or a message naming what was wrong and what would be right (answered 400; nothing
 * changes). Shapes follow the xDS-like protocol (mesh/xds.ts) and the config API.
 */
import type { Ack, NodeInfo } from '../xds';
import type { ConfigFile } from './config-service';
import type { ResourceRef } from '../config/store';
import { RUNTIME_KINDS, type Kind } from '../config/types';

/** The largest request body the control plane reads (a config apply of many files fits easily); larger → 413. */
export const CP_BODY_LIMIT_BYTES = 1024 * 1024;

export type Checked<T> = { ok: true; value: T } | { ok: false; error: string };

/** What the config store holds and serves: every kind the sidecars run (ServiceEntry and Sidecar included, so a lab can delete them). */
const KINDS: readonly Kind[] = RUNTIME_KINDS;
/** Node ids and service names: what instance ids and Kubernetes names look like. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  const s = JSON.stringify(v);
  return `${typeof v} ${s.length > 60 ? `${s.slice(0, 60)}…` : s}`;
}

function address(v: unknown, at: string, errors: string[]): void {
  if (v === undefined) return;
  if (!isObject(v) || typeof v.host !== 'string' || v.host === '' || !Number.isInteger(v.port) || (v.port as number) < 1 || (v.port as number) > 65535) {
    errors.push(`${at} must be {"host": "127.0.0.1", "port": <1-65535>}, got ${isObject(v) ? JSON.stringify(v).slice(0, 80) : describe(v)}`);
  }
}

/** The discovery stream's `x-mesh-node` header. */
export function readNode(header: unknown): Checked<NodeInfo> {
  const example = '{"id": "payments-v1-0", "role": "sidecar", "service": "payments", "labels": {"app": "payments"}, "inbound": {"host": "127.0.0.1", "port": 41000}}';
  if (typeof header !== 'string' || header === '') return { ok: false, error: `the x-mesh-node header is required: JSON like ${example}` };
  let v: unknown;
  try {
    v = JSON.parse(header);
  } catch (err) {
    return { ok: false, error: `bad x-mesh-node header: not JSON (${(err as Error).message}); expected ${example}` };
  }
  if (!isObject(v)) return { ok: false, error: `bad x-mesh-node header: expected a JSON object like ${example}, got ${describe(v)}` };
  const errors: string[] = [];
  if (typeof v.id !== 'string' || !NAME.test(v.id)) errors.push(`id must be a name (letters, digits, . _ -; at most 128), got ${describe(v.id)}`);
  if (v.role !== 'sidecar' && v.role !== 'gateway') errors.push(`role must be "sidecar" or "gateway", got ${describe(v.role)}`);
  if (typeof v.service !== 'string' || !NAME.test(v.service)) errors.push(`service must be a name (letters, digits, . _ -), got ${describe(v.service)}`);
  if (v.version !== undefined && typeof v.version !== 'string') errors.push(`version must be a string, got ${describe(v.version)}`);
  if (v.namespace !== undefined && (typeof v.namespace !== 'string' || !/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(v.namespace))) errors.push(`namespace must be a DNS-1123 label (lowercase letters, digits, '-'), got ${describe(v.namespace)}`);
  if (!isObject(v.labels) || Object.values(v.labels).some((l) => typeof l !== 'string')) errors.push(`labels must be an object of strings like {"app": "payments", "version": "v1"}, got ${describe(v.labels)}`);
  address(v.inbound, 'inbound', errors);
  address(v.admin, 'admin', errors);
  if (errors.length) return { ok: false, error: `bad x-mesh-node header: ${errors.join('; ')}` };
  return { ok: true, value: v as unknown as NodeInfo };
}

export function readAck(body: unknown): Checked<Ack> {
  const shape = 'body must be {"node": "<id>", "version": <integer >= 0>} (an ACK), with "error": "<why>" for a NACK';
  if (!isObject(body)) return { ok: false, error: `${shape}, got ${describe(body)}` };
  const errors: string[] = [];
  if (typeof body.node !== 'string' || body.node === '') errors.push(`node must be a node id, got ${describe(body.node)}`);
  // -1: a NACK of a snapshot that could not even be parsed (its version unknown).
  if (!Number.isSafeInteger(body.version) || (body.version as number) < (body.error === undefined ? 0 : -1)) errors.push(`version must be an integer >= 0 (-1 in a NACK of an unparseable snapshot), got ${describe(body.version)}`);
  if (body.error !== undefined && typeof body.error !== 'string') errors.push(`error must be a string (the NACK's reason), got ${describe(body.error)}`);
  if (errors.length) return { ok: false, error: `${shape}: ${errors.join('; ')}` };
  return { ok: true, value: { node: body.node as string, version: body.version as number, ...(body.error !== undefined ? { error: body.error as string } : {}) } };
}

export function readReady(body: unknown): Checked<{ node: string; ready: boolean }> {
  const shape = 'body must be {"node": "<id>", "ready": true|false}';
  if (!isObject(body)) return { ok: false, error: `${shape}, got ${describe(body)}` };
  const errors: string[] = [];
  if (typeof body.node !== 'string' || body.node === '') errors.push(`node must be a node id, got ${describe(body.node)}`);
  if (typeof body.ready !== 'boolean') errors.push(`ready must be true or false, got ${describe(body.ready)}`);
  if (errors.length) return { ok: false, error: `${shape}: ${errors.join('; ')}` };
  return { ok: true, value: { node: body.node as string, ready: body.ready as boolean } };
}

export interface EdgeInput {
  from: string;
  instance: string;
  host: string;
  port: number;
}

export function readEdges(body: unknown): Checked<EdgeInput[]> {
  const shape = 'body must be {"edges": [{"from": "orders", "instance": "payments-v1-0", "host": "127.0.0.1", "port": 41000}]}';
  if (!isObject(body) || !Array.isArray(body.edges)) return { ok: false, error: `${shape}, got ${isObject(body) ? `edges ${describe(body.edges)}` : describe(body)}` };
  const bad = body.edges.findIndex((e: unknown) => !isObject(e) || typeof e.from !== 'string' || !NAME.test(e.from) || typeof e.instance !== 'string' || !NAME.test(e.instance) || typeof e.host !== 'string' || e.host === '' || !Number.isInteger(e.port) || (e.port as number) < 1 || (e.port as number) > 65535);
  if (bad >= 0) return { ok: false, error: `${shape}: edges[${bad}] is not like that (from and instance names, host a non-empty string, port 1-65535), got ${isObject(body.edges[bad]) ? JSON.stringify(body.edges[bad]).slice(0, 120) : describe(body.edges[bad])}` };
  return { ok: true, value: body.edges as EdgeInput[] };
}

export interface WorkloadsInput {
  service: string;
  endpoints: { instance: string; service: string; host: string; port: number; labels: Record<string, string> }[];
}

/** POST /v1/workloads: the endpoints of a service whose workloads have no sidecar (a broker beside the mesh). */
export function readWorkloads(body: unknown): Checked<WorkloadsInput> {
  const shape = 'body must be {"service": "rabbitmq", "endpoints": [{"instance": "rabbitmq-0", "host": "127.0.0.1", "port": 5672, "labels": {"app": "rabbitmq"}}]}';
  if (!isObject(body) || typeof body.service !== 'string' || !NAME.test(body.service) || !Array.isArray(body.endpoints)) return { ok: false, error: `${shape}, got ${describe(body)}` };
  const bad = body.endpoints.findIndex((e: unknown) => !isObject(e) || typeof e.instance !== 'string' || !NAME.test(e.instance) || typeof e.host !== 'string' || e.host === '' || !Number.isInteger(e.port) || (e.port as number) < 1 || (e.port as number) > 65535 || (e.labels !== undefined && (!isObject(e.labels) || Object.values(e.labels).some((v) => typeof v !== 'string'))));
  if (bad >= 0) return { ok: false, error: `${shape}: endpoints[${bad}] is not like that, got ${JSON.stringify(body.endpoints[bad]).slice(0, 120)}` };
  const service = body.service;
  return { ok: true, value: { service, endpoints: (body.endpoints as { instance: string; host: string; port: number; labels?: Record<string, string> }[]).map((e) => ({ instance: e.instance, service, host: e.host, port: e.port, labels: e.labels ?? {} })) } };
}

function files(v: unknown): Checked<ConfigFile[]> {
  if (!Array.isArray(v)) return { ok: false, error: `files must be an array of {"name": "file.yaml", "text": "<yaml>"}, got ${describe(v)}` };
  const bad = v.findIndex((f: unknown) => !isObject(f) || typeof f.name !== 'string' || typeof f.text !== 'string');
  if (bad >= 0) return { ok: false, error: `files[${bad}] must be {"name": "file.yaml", "text": "<yaml>"} (both strings), got ${describe(v[bad])}` };
  return { ok: true, value: v.map((f: { name: string; text: string }) => ({ name: f.name, text: f.text })) };
}

export function readApply(body: unknown): Checked<ConfigFile[]> {
  if (!isObject(body)) return { ok: false, error: `body must be {"files": [{"name": "file.yaml", "text": "<yaml>"}]}, got ${describe(body)}` };
  const f = files(body.files);
  return f.ok ? f : { ok: false, error: `body must be {"files": [{"name": "file.yaml", "text": "<yaml>"}]}: ${f.error}` };
}

export function readDelete(body: unknown): Checked<{ files?: ConfigFile[]; refs?: ResourceRef[] }> {
  const shape = 'body must be {"files": [{"name", "text"}]} or {"refs": [{"kind": "VirtualService", "name": "payments"}]}';
  if (!isObject(body) || (body.files === undefined && body.refs === undefined)) return { ok: false, error: `${shape}, got ${describe(body)}` };
  if (body.files !== undefined && body.refs !== undefined) return { ok: false, error: `${shape}, not both` };
  if (body.files !== undefined) {
    const f = files(body.files);
    return f.ok ? { ok: true, value: { files: f.value } } : { ok: false, error: `${shape}: ${f.error}` };
  }
  if (!Array.isArray(body.refs)) return { ok: false, error: `${shape}: refs must be an array, got ${describe(body.refs)}` };
  const bad = body.refs.findIndex((r: unknown) => !isObject(r) || !KINDS.includes(r.kind as Kind) || typeof r.name !== 'string' || r.name === '' || (r.namespace !== undefined && typeof r.namespace !== 'string'));
  if (bad >= 0) return { ok: false, error: `${shape}: refs[${bad}] must have kind one of ${KINDS.join(', ')}, a non-empty name and an optional string namespace, got ${isObject(body.refs[bad]) ? JSON.stringify(body.refs[bad]).slice(0, 120) : describe(body.refs[bad])}` };
  return { ok: true, value: { refs: (body.refs as ResourceRef[]).map((r) => ({ kind: r.kind, name: r.name, ...(r.namespace !== undefined ? { namespace: r.namespace } : {}) })) } };
}

export function readCertificateRequest(body: unknown): Checked<{ node: string; csr: string }> {
  const shape = 'body must be {"node": "<id>", "csr": "<PEM CSR>"}';
  if (!isObject(body) || typeof body.node !== 'string' || body.node === '' || typeof body.csr !== 'string' || body.csr === '') return { ok: false, error: `${shape}, got ${isObject(body) ? `node ${describe(body.node)}, csr ${describe(body.csr)}` : describe(body)}` };
  return { ok: true, value: { node: body.node, csr: body.csr } };
}

/** `/v1/sync?ready=N&timeoutMs=M`. */
export function readSyncQuery(q: { ready?: string; timeoutMs?: string }): Checked<{ ready: number; timeoutMs: number }> {
  const ready = q.ready === undefined ? 0 : Number(q.ready);
  const timeoutMs = q.timeoutMs === undefined ? 10000 : Number(q.timeoutMs);
  if (!Number.isInteger(ready) || ready < 0 || ready > 100000) return { ok: false, error: `ready must be an integer from 0 to 100000 (endpoints to wait for), got ${JSON.stringify(q.ready)}` };
  if (!Number.isInteger(timeoutMs) || timeoutMs < 0) return { ok: false, error: `timeoutMs must be an integer >= 0 (at most 60000 is used), got ${JSON.stringify(q.timeoutMs)}` };
  return { ok: true, value: { ready, timeoutMs: Math.min(timeoutMs, 60000) } };
}

export function readConfigQuery(q: { kind?: string; name?: string }): Checked<{ kind?: Kind; name?: string }> {
  if (q.kind !== undefined && !KINDS.includes(q.kind as Kind)) return { ok: false, error: `kind must be one of ${KINDS.join(', ')}, got ${JSON.stringify(q.kind)}` };
  if (q.name !== undefined && typeof q.name !== 'string') return { ok: false, error: 'name must be given once' };
  return { ok: true, value: { kind: q.kind as Kind | undefined, name: q.name } };
}
