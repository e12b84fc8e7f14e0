import type { HeaderOperations } from './config/types';
import type { IncomingHttpHeaders } from 'node:http';

/** Istio's `headers.request|response` set/add/remove, compiled to lower-case names once. */
export interface HeaderOps {
  set: [string, string][];
  add: [string, string][];
  remove: string[];
  /** A wider level applied after this one (route after weighted destination). */
  then?: HeaderOps;
}

export function compileHeaderOps(ops: HeaderOperations | undefined): HeaderOps | undefined {
  if (!ops) return undefined;
  const out: HeaderOps = {
    set: Object.entries(ops.set ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]),
    add: Object.entries(ops.add ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]),
    remove: (ops.remove ?? []).map((k) => k.toLowerCase()),
  };
  return out.set.length + out.add.length + out.remove.length === 0 ? undefined : out;
}

/**
 * A route's and one weighted destination's operations, in Envoy's order: the weighted cluster's first, then the
 * route's (most_specific_header_mutations_wins defaults to false, so on a conflict the route level wins: its `set`
 * overwrites, its `remove` removes what the destination added). Each level removes, then sets, then adds.
 */
export function mergeHeaderOps(route: HeaderOps | undefined, destination: HeaderOps | undefined): HeaderOps | undefined {
  if (!route) return destination;
  if (!destination) return route;
  return { ...destination, then: route };
}

/** Applies ops to a flat [name, value, …] list (names already lower-case), in place order: remove, set, add. */
export function applyToFlat(headers: string[], ops: HeaderOps): string[] {
  let out = headers;
  const drop = ops.remove.length > 0 || ops.set.length > 0;
  if (drop) {
    out = [];
    for (let i = 0; i < headers.length; i += 2) {
      const n = headers[i];
      if (ops.remove.includes(n) || ops.set.some((s) => s[0] === n)) continue;
      out.push(n, headers[i + 1]);
    }
  }
  for (const [n, v] of ops.set) out.push(n, v);
  for (const [n, v] of ops.add) out.push(n, v);
  return ops.then ? applyToFlat(out, ops.then) : out;
}

/** Applies ops to a response header object (as writeHead takes it). */
export function applyToObject(headers: IncomingHttpHeaders, ops: HeaderOps): IncomingHttpHeaders {
  for (const n of ops.remove) delete headers[n];
  for (const [n, v] of ops.set) headers[n] = v;
  for (const [n, v] of ops.add) {
    const cur = headers[n];
    if (cur === undefined) headers[n] = v;
    else if (Array.isArray(cur)) cur.push(v);
    else headers[n] = [cur, v];
  }
  return ops.then ? applyToObject(headers, ops.then) : headers;
}
