import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BusMessage } from './types';
import {
  MAX_WAIT_MS,
  SESSION_TIMEOUT_MS,
  type CommitRequest,
  type FetchRequest,
  type FetchResponse,
  type LeaveRequest,
  type PublishRequest,
  type StatsResponse,
  type StoredMessage,
} from './memory-protocol';

/**
 * The embedded broker behind `npm start`'s default bus: a separate process so services in other
 * processes share one log. Kafka-like semantics (see memory-protocol.ts), kept in memory only: a
 * restart of this process loses every topic, which is fine for a lab world.
 */

interface GroupState {
  committed: number;
  owner?: string;
  lastSeen: number;
  generation: number;
  /** offset → deliveries so far, for offsets ≥ committed. */
  deliveries: Map<number, number>;
  ownerWaiters: Set<() => void>;
}

interface TopicState {
  log: BusMessage[];
  waiters: Set<() => void>;
  groups: Map<string, GroupState>;
}

const MAX_BODY_BYTES = 16 * 1024 * 1024;

class BadRequest extends Error {}

export class MemoryLog {
  private readonly topics = new Map<string, TopicState>();
  private closed = false;

  private topic(name: string): TopicState {
    let t = this.topics.get(name);
    if (!t) {
      t = { log: [], waiters: new Set(), groups: new Map() };
      this.topics.set(name, t);
    }
    return t;
  }

  private group(t: TopicState, name: string): GroupState {
    let g = t.groups.get(name);
    if (!g) {
      g = { committed: 0, lastSeen: 0, generation: 0, deliveries: new Map(), ownerWaiters: new Set() };
      t.groups.set(name, g);
    }
    return g;
  }

  publish(req: PublishRequest): number[] {
    const t = this.topic(req.topic);
    const offsets = req.messages.map((m) => t.log.push({ id: m.id, key: m.key, value: m.value, headers: m.headers }) - 1);
    wake(t.waiters);
    return offsets;
  }

  /** Takes ownership if free or expired; true if `member` owns the group now. */
  private acquire(g: GroupState, member: string): boolean {
    const now = Date.now();
    if (g.owner !== undefined && g.owner !== member && now - g.lastSeen > SESSION_TIMEOUT_MS) g.owner = undefined;
    if (g.owner === undefined) {
      g.owner = member;
      g.generation++;
    }
    if (g.owner === member) g.lastSeen = now;
    return g.owner === member;
  }

  async fetch(req: FetchRequest): Promise<FetchResponse> {
    const t = this.topic(req.topic);
    const g = this.group(t, req.group);
    const waitMs = Math.max(0, Math.min(req.waitMs, MAX_WAIT_MS));
    if (!this.acquire(g, req.member)) {
      const leaseLeft = SESSION_TIMEOUT_MS - (Date.now() - g.lastSeen) + 5;
      await waitFor(g.ownerWaiters, Math.min(waitMs, Math.max(leaseLeft, 0)), () => this.closed);
      if (this.closed || !this.acquire(g, req.member)) {
        return { owner: false, generation: g.generation, from: g.committed, messages: [] };
      }
    }
    const generation = g.generation;
    const from = req.generation === generation ? Math.max(0, Math.min(req.from, t.log.length)) : g.committed;
    if (from >= t.log.length && waitMs > 0) {
      await waitFor(t.waiters, waitMs, () => this.closed);
    }
    if (g.owner !== req.member || g.generation !== generation) {
      return { owner: false, generation: g.generation, from: g.committed, messages: [] };
    }
    g.lastSeen = Date.now();
    const max = Math.max(1, Math.min(req.max, 1000));
    const messages: StoredMessage[] = t.log.slice(from, from + max).map((m, i) => {
      const offset = from + i;
      const seen = g.deliveries.get(offset) ?? 0;
      g.deliveries.set(offset, seen + 1);
      return { ...m, offset, redeliveries: seen };
    });
    return { owner: true, generation, from, messages };
  }

  /** False when `member` no longer owns the group in `generation` (the caller answers 409). */
  commit(req: CommitRequest): boolean {
    const t = this.topic(req.topic);
    const g = this.group(t, req.group);
    if (g.owner !== req.member || g.generation !== req.generation) return false;
    g.committed = Math.max(0, Math.min(req.offset, t.log.length));
    g.lastSeen = Date.now();
    for (const offset of g.deliveries.keys()) if (offset < g.committed) g.deliveries.delete(offset);
    return true;
  }

  leave(req: LeaveRequest): void {
    const g = this.topics.get(req.topic)?.groups.get(req.group);
    if (g && g.owner === req.member) {
      g.owner = undefined;
      wake(g.ownerWaiters);
    }
  }

  stats(): StatsResponse {
    const out: StatsResponse = { topics: {} };
    for (const [name, t] of this.topics) {
      const groups: Record<string, { committed: number; lag: number }> = {};
      for (const [gname, g] of t.groups) groups[gname] = { committed: g.committed, lag: t.log.length - g.committed };
      out.topics[name] = { end: t.log.length, groups };
    }
    return out;
  }

  close(): void {
    this.closed = true;
    for (const t of this.topics.values()) {
      wake(t.waiters);
      for (const g of t.groups.values()) wake(g.ownerWaiters);
    }
  }
}

function wake(waiters: Set<() => void>): void {
  for (const w of [...waiters]) w();
}

function waitFor(waiters: Set<() => void>, ms: number, closed: () => boolean): Promise<void> {
  if (ms <= 0 || closed()) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      waiters.delete(done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    waiters.add(done);
  });
}

// ---------------------------------------------------------------- HTTP layer

function readJson(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new BadRequest(`request body over ${MAX_BODY_BYTES} bytes; publish smaller batches`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch (e) {
        reject(new BadRequest(`body is not JSON: ${(e as Error).message}`));
      }
    });
    req.on('error', reject);
  });
}

function str(body: Record<string, unknown>, field: string): string {
  const v = body[field];
  if (typeof v !== 'string' || v === '') throw new BadRequest(`field "${field}" must be a non-empty string`);
  return v;
}

function num(body: Record<string, unknown>, field: string, fallback?: number): number {
  const v = body[field] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new BadRequest(`field "${field}" must be a number`);
  return v;
}

function validMessages(body: Record<string, unknown>): BusMessage[] {
  const list = body.messages;
  if (!Array.isArray(list)) throw new BadRequest('field "messages" must be an array of {id, key, value, headers?}');
  return list.map((m: unknown, i) => {
    const o = (m ?? {}) as Record<string, unknown>;
    for (const f of ['id', 'key', 'value']) {
      if (typeof o[f] !== 'string') throw new BadRequest(`messages[${i}].${f} must be a string`);
    }
    const headers = o.headers;
    if (headers !== undefined && (typeof headers !== 'object' || headers === null)) {
      throw new BadRequest(`messages[${i}].headers must be an object of strings`);
    }
    return { id: o.id as string, key: o.key as string, value: o.value as string, headers: headers as Record<string, string> | undefined };
  });
}

async function route(log: MemoryLog, req: http.IncomingMessage): Promise<[number, unknown]> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method === 'GET' && path === '/health') return [200, { ok: true }];
  if (req.method === 'GET' && path === '/stats') return [200, log.stats()];
  if (req.method !== 'POST') return [404, { error: `no route ${req.method} ${path}` }];
  const body = (await readJson(req)) as Record<string, unknown>;
  if (typeof body !== 'object' || body === null) throw new BadRequest('body must be a JSON object');
  switch (path) {
    case '/publish':
      return [200, { offsets: log.publish({ topic: str(body, 'topic'), messages: validMessages(body) }) }];
    case '/fetch':
      return [
        200,
        await log.fetch({
          topic: str(body, 'topic'),
          group: str(body, 'group'),
          member: str(body, 'member'),
          generation: num(body, 'generation', 0),
          from: num(body, 'from', 0),
          max: num(body, 'max', 100),
          waitMs: num(body, 'waitMs', 1000),
        }),
      ];
    case '/commit': {
      const ok = log.commit({
        topic: str(body, 'topic'),
        group: str(body, 'group'),
        member: str(body, 'member'),
        generation: num(body, 'generation'),
        offset: num(body, 'offset'),
      });
      return ok ? [200, { ok }] : [409, { error: 'not the owner of this group in this generation (rebalanced)' }];
    }
    case '/leave':
      log.leave({ topic: str(body, 'topic'), group: str(body, 'group'), member: str(body, 'member') });
      return [200, { ok: true }];
    default:
      return [404, { error: `no route POST ${path}` }];
  }
}

export interface MemoryBrokerHandle {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startMemoryBroker(opts: { host?: string; port?: number } = {}): Promise<MemoryBrokerHandle> {
  const host = opts.host ?? '127.0.0.1';
  const log = new MemoryLog();
  const server = http.createServer((req, res) => {
    route(log, req).then(
      ([status, body]) => send(res, status, body),
      (err: unknown) => send(res, err instanceof BadRequest ? 400 : 500, { error: (err as Error).message }),
    );
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}`,
    port,
    close: async () => {
      log.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  if (res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
