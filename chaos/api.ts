/**
 * Toxiproxy's HTTP API over node:http, answering with its routes, status codes, JSON shapes
 * (key order included), error bodies and headers, so unmodified Toxiproxy clients work.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, ErrBadRequestBody, ErrMissingField, joinError, toApiError } from './errors';
import { decodeStruct, parseGoJson } from './gojson';
import { ErrProxyAlreadyStarted, type Proxy } from './proxy';
import { PROXY_FIELDS, type ProxyCollection } from './proxy_collection';
import { toxicJson } from './wrapper';

export const TOXIPROXY_VERSION = '2.12.0';

export interface ApiState {
  proxies: ProxyCollection;
  newProxy(name: string, listen: string, upstream: string): Proxy;
  log(message: string, fields: Record<string, unknown>): void;
}

type Handler = (state: ApiState, vars: string[], body: string, res: ServerResponse) => Promise<void>;

interface Route {
  pattern: string[]; // literal segments, "*" for a variable
  methods: Record<string, Handler>;
}

const routes: Route[] = [
  { pattern: ['reset'], methods: { POST: resetState } },
  { pattern: ['proxies'], methods: { GET: proxyIndex, POST: proxyCreate } },
  { pattern: ['populate'], methods: { POST: populate } },
  { pattern: ['proxies', '*'], methods: { GET: proxyShow, POST: proxyUpdate, PATCH: proxyUpdate, DELETE: proxyDelete } },
  { pattern: ['proxies', '*', 'toxics'], methods: { GET: toxicIndex, POST: toxicCreate } },
  { pattern: ['proxies', '*', 'toxics', '*'], methods: { GET: toxicShow, POST: toxicUpdate, PATCH: toxicUpdate, DELETE: toxicDelete } },
  { pattern: ['version'], methods: { GET: version } },
];

/** xid-style request id (20 chars of base32hex), as zerolog's hlog.RequestIDHandler emits. */
function requestId(): string {
  const alphabet = '0123456789abcdefghijklmnopqrstuv';
  const bytes = randomBytes(20);
  let out = '';
  for (let i = 0; i < 20; i++) out += alphabet[bytes[i] & 31];
  return out;
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * The largest request body the API reads (Toxiproxy reads without a limit; a populate of a few
 * thousand proxies is well under it). A larger one, by Content-Length or as it streams (chunked),
 * is answered 413 in Toxiproxy's error shape and changes nothing.
 */
export const API_BODY_LIMIT_BYTES = 1024 * 1024;

export function createApiHandler(state: ApiState): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const tooLarge = (): void => {
      res.setHeader('Connection', 'close');
      sendError(res, new ApiError(`request body too large: the limit is ${API_BODY_LIMIT_BYTES} bytes`, 413));
      res.once('finish', () => req.destroy());
    };
    if (Number(req.headers['content-length'] ?? 0) > API_BODY_LIMIT_BYTES) return tooLarge();
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on('data', (c: Buffer) => {
      if (refused) return;
      size += c.length;
      if (size > API_BODY_LIMIT_BYTES) {
        refused = true;
        chunks.length = 0;
        return tooLarge();
      }
      chunks.push(c);
    });
    req.on('error', () => {});
    req.on('end', () => {
      if (refused) return;
      dispatch(state, req, Buffer.concat(chunks).toString('utf8'), res).catch((e) => sendError(res, toApiError(e)));
    });
  };
}

async function dispatch(state: ApiState, req: IncomingMessage, body: string, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  const segments = path.split('/').slice(1).map(decodeSegment);
  const route = routes.find(
    (r) => r.pattern.length === segments.length && r.pattern.every((p, i) => (p === '*' ? segments[i] !== '' : p === segments[i])),
  );
  if (!route) {
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
    res.end('404 page not found\n');
    return;
  }
  const handler = route.methods[req.method ?? 'GET'];
  if (!handler) {
    res.writeHead(405);
    res.end();
    return;
  }
  res.setHeader('X-Toxiproxy-Request-Id', requestId());
  if ((req.headers['user-agent'] ?? '').startsWith('Mozilla/')) {
    res.writeHead(403, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
    res.end('User agent not allowed\n');
    return;
  }
  const vars = route.pattern.map((p, i) => (p === '*' ? segments[i] : null)).filter((v): v is string => v !== null);
  try {
    await handler(state, vars, body, res);
  } catch (e) {
    sendError(res, toApiError(e));
  }
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(value));
}

/** Go's http.Error: text/plain content type, JSON body plus a newline. */
function sendError(res: ServerResponse, err: ApiError): void {
  if (res.headersSent) return;
  res.writeHead(err.status, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
  res.end(JSON.stringify(err.toJSON()) + '\n');
}

function noContent(res: ServerResponse): void {
  res.writeHead(204);
  res.end();
}

function proxyWithToxics(p: Proxy): Record<string, unknown> {
  return { ...p.toJSON(), toxics: p.toxics.list().map(toxicJson) };
}

async function proxyIndex(state: ApiState, _v: string[], _b: string, res: ServerResponse): Promise<void> {
  const out: Record<string, unknown> = {};
  // Go marshals maps with sorted keys.
  for (const [name, p] of [...state.proxies.all()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    out[name] = proxyWithToxics(p);
  }
  sendJson(res, 200, out);
}

async function resetState(state: ApiState, _v: string[], _b: string, res: ServerResponse): Promise<void> {
  for (const p of state.proxies.all().values()) {
    try {
      await p.start();
    } catch (e) {
      if (e !== ErrProxyAlreadyStarted) throw e;
    }
    await p.toxics.reset();
  }
  state.log('Reset state', {});
  noContent(res);
}

async function proxyCreate(state: ApiState, _v: string[], body: string, res: ServerResponse): Promise<void> {
  const parsed = parseGoJson(body);
  if ('error' in parsed) throw joinError(parsed.error, ErrBadRequestBody);
  const input: Record<string, unknown> = { name: '', listen: '', upstream: '', enabled: true };
  const err = decodeStruct(input, parsed.value, PROXY_FIELDS, 'Proxy', 'toxiproxy.Proxy');
  if (err) throw joinError(err, ErrBadRequestBody);
  if ((input.name as string).length < 1) throw joinError('name', ErrMissingField);
  if ((input.upstream as string).length < 1) throw joinError('upstream', ErrMissingField);
  const proxy = state.newProxy(input.name as string, input.listen as string, input.upstream as string);
  await state.proxies.add(proxy, input.enabled as boolean);
  state.log('Created proxy', { name: proxy.name, listen: proxy.listen, upstream: proxy.upstream, enabled: proxy.enabled });
  sendJson(res, 201, proxyWithToxics(proxy));
}

async function populate(state: ApiState, _v: string[], body: string, res: ServerResponse): Promise<void> {
  const result = await state.proxies.populate(body);
  // Go's nil slice marshals as null.
  const proxies = result.proxies.length > 0 ? result.proxies.map(proxyWithToxics) : null;
  if (result.error) {
    state.log('Populate errors', { error: result.error.message });
    sendJson(res, result.error.status, { error: result.error.message, status: result.error.status, proxies });
    return;
  }
  state.log('Populated proxies', { proxies: result.proxies.map((p) => p.name).join(',') });
  sendJson(res, 201, { proxies });
}

async function proxyShow(state: ApiState, [name]: string[], _b: string, res: ServerResponse): Promise<void> {
  sendJson(res, 200, proxyWithToxics(state.proxies.get(name)));
}

async function proxyUpdate(state: ApiState, [name]: string[], body: string, res: ServerResponse): Promise<void> {
  const proxy = state.proxies.get(name);
  const parsed = parseGoJson(body);
  if ('error' in parsed) throw joinError(parsed.error, ErrBadRequestBody);
  const input: Record<string, unknown> = { listen: proxy.listen, upstream: proxy.upstream, enabled: proxy.enabled };
  const err = decodeStruct(input, parsed.value, PROXY_FIELDS.filter((f) => f.key !== 'name'), 'Proxy', 'toxiproxy.Proxy');
  if (err) throw joinError(err, ErrBadRequestBody);
  await proxy.update(input as { listen: string; upstream: string; enabled: boolean });
  state.log('Updated proxy', { name: proxy.name, listen: proxy.listen, upstream: proxy.upstream, enabled: proxy.enabled });
  sendJson(res, 200, proxyWithToxics(proxy));
}

async function proxyDelete(state: ApiState, [name]: string[], _b: string, res: ServerResponse): Promise<void> {
  await state.proxies.remove(name);
  state.log('Deleted proxy', { name });
  noContent(res);
}

async function toxicIndex(state: ApiState, [name]: string[], _b: string, res: ServerResponse): Promise<void> {
  sendJson(res, 200, state.proxies.get(name).toxics.list().map(toxicJson));
}

async function toxicCreate(state: ApiState, [name]: string[], body: string, res: ServerResponse): Promise<void> {
  const toxic = await state.proxies.get(name).toxics.addJson(body);
  state.log('Added toxic', { proxy: name, toxic: toxic.name, type: toxic.type, stream: toxic.stream, toxicity: toxic.toxicity, attributes: JSON.stringify(toxic.attributes) });
  sendJson(res, 200, toxicJson(toxic));
}

async function toxicShow(state: ApiState, [name, toxicName]: string[], _b: string, res: ServerResponse): Promise<void> {
  const toxic = state.proxies.get(name).toxics.get(toxicName);
  if (!toxic) throw new ApiError('toxic not found', 404);
  sendJson(res, 200, toxicJson(toxic));
}

async function toxicUpdate(state: ApiState, [name, toxicName]: string[], body: string, res: ServerResponse): Promise<void> {
  const toxic = await state.proxies.get(name).toxics.updateJson(toxicName, body);
  state.log('Updated toxic', { proxy: name, toxic: toxic.name, toxicity: toxic.toxicity, attributes: JSON.stringify(toxic.attributes) });
  sendJson(res, 200, toxicJson(toxic));
}

async function toxicDelete(state: ApiState, [name, toxicName]: string[], _b: string, res: ServerResponse): Promise<void> {
  await state.proxies.get(name).toxics.remove(toxicName);
  state.log('Removed toxic', { proxy: name, toxic: toxicName });
  noContent(res);
}

async function version(_s: ApiState, _v: string[], _b: string, res: ServerResponse): Promise<void> {
  res.writeHead(200, { 'Content-Type': 'application/json;charset=utf-8' });
  res.end(`{"version": "${TOXIPROXY_VERSION}"}\n`);
}
