/** Local TCP fixtures for the chaos tests: echo and scripted upstreams, raw client sockets. */
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import { startChaosServer, type ChaosServer } from '../../chaos/server';

export interface Fixture {
  port: number;
  close(): Promise<void>;
}

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
}

function closer(server: net.Server, sockets: Set<net.Socket>): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
}

/** Echoes everything back; ends its side when the client ends. */
export async function startEcho(): Promise<Fixture> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.setNoDelay(true);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
    s.pipe(s);
  });
  return { port: await listen(server), close: closer(server, sockets) };
}

/** On each connection, runs `script` (e.g. write N bytes and end). */
export async function startScripted(script: (s: net.Socket) => void): Promise<Fixture> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.setNoDelay(true);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
    script(s);
  });
  return { port: await listen(server), close: closer(server, sockets) };
}

/** Records what each connection received, resolving `received` when the peer closes. */
export async function startSink(): Promise<Fixture & { next(): Promise<{ data: Buffer; error?: string }> }> {
  const waiting: Array<(r: { data: Buffer; error?: string }) => void> = [];
  const done: Array<{ data: Buffer; error?: string }> = [];
  const fixture = await startScripted((s) => {
    const parts: Buffer[] = [];
    let error: string | undefined;
    s.on('data', (b: Buffer) => parts.push(b));
    s.on('error', (e: NodeJS.ErrnoException) => (error = e.code));
    s.on('close', () => {
      const r = { data: Buffer.concat(parts), error };
      const w = waiting.shift();
      if (w) w(r);
      else done.push(r);
    });
  });
  return {
    ...fixture,
    next: () => new Promise((resolve) => (done.length > 0 ? resolve(done.shift() as { data: Buffer; error?: string }) : waiting.push(resolve))),
  };
}

export async function connect(port: number): Promise<net.Socket> {
  const s = net.connect({ port, host: '127.0.0.1', noDelay: true });
  await new Promise<void>((resolve, reject) => {
    s.once('connect', () => resolve());
    s.once('error', reject);
  });
  return s;
}

/** Reads exactly `n` bytes (rejects if the socket ends first or `timeoutMs` passes). */
export function readN(s: net.Socket, n: number, timeoutMs = 5000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let got = 0;
    const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms with ${got}/${n} bytes`)), timeoutMs);
    const onData = (b: Buffer): void => {
      parts.push(b);
      got += b.length;
      if (got >= n) finish();
    };
    const onEnd = (): void => finish(new Error(`socket ended after ${got}/${n} bytes`));
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      s.off('data', onData);
      s.off('end', onEnd);
      s.off('error', onEnd);
      if (err) reject(err);
      else resolve(Buffer.concat(parts));
    };
    s.on('data', onData);
    s.on('end', onEnd);
    s.on('error', onEnd);
  });
}

export interface Outcome {
  data: Buffer;
  chunks: number;
  /** 'end' (FIN), or the error code (e.g. ECONNRESET). */
  how: string;
  /** ms from the call until the socket ended/failed. */
  after: number;
}

/** Collects everything until the socket ends or fails (bounded by `timeoutMs`). */
export function untilClosed(s: net.Socket, timeoutMs = 5000): Promise<Outcome> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let done = false;
    const timer = setTimeout(() => {
      done = true;
      reject(new Error(`socket still open after ${timeoutMs} ms (${Buffer.concat(parts).length} bytes received)`));
    }, timeoutMs);
    const finish = (how: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ data: Buffer.concat(parts), chunks: parts.length, how, after: performance.now() - t0 });
    };
    s.on('data', (b: Buffer) => parts.push(b));
    s.on('end', () => finish('end'));
    s.on('error', (e: NodeJS.ErrnoException) => finish(e.code ?? e.message));
    s.on('close', () => finish('close'));
  });
}

/** Nothing arrives on `s` for `ms` (negative assertion over a stated window). */
export function quietFor(s: net.Socket, ms: number): Promise<number> {
  return new Promise((resolve) => {
    let got = 0;
    const onData = (b: Buffer): void => {
      got += b.length;
    };
    s.on('data', onData);
    setTimeout(() => {
      s.off('data', onData);
      resolve(got);
    }, ms);
  });
}

export async function startChaos(seed = 42): Promise<ChaosServer> {
  return startChaosServer({ host: '127.0.0.1', port: 0, seed });
}

/** Raw HTTP call for exact status/body/header assertions. */
export async function http(
  server: ChaosServer,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(server.url + path, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

export function portOf(listen: string): number {
  return Number(listen.slice(listen.lastIndexOf(':') + 1));
}
