import net from 'node:net';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startSidecar, push, call, closeAgent } from './harness';
import { resetFlag, resetDetails, resetBody, type ResetReason } from '../../mesh/response-flags';
import { StreamInfo } from '../../mesh/stream-info';
import type { Sidecar } from '../../mesh/sidecar/sidecar';
import type { Endpoint } from '../../mesh/xds';

/**
 * How an upstream that fails mid-request is reported, as Envoy's router does it (router.cc onUpstreamReset,
 * streamResetReasonToResponseFlag; codec_client.cc for which reset reason an HTTP/1.1 connection yields).
 */

/** What the raw upstream does once it has read a request head. */
type Misbehaviour = 'close-before-head' | 'rst-before-head' | 'close-after-head' | 'rst-after-head' | 'stall-after-head' | 'garbage';

/** A TCP server speaking just enough HTTP/1.1 to fail in one exact way. */
class RawUpstream {
  private server?: net.Server;
  port = 0;
  misbehaviour: Misbehaviour = 'close-before-head';
  /** Called with each request head read (after the misbehaviour is under way). */
  onRequest: () => void = () => undefined;
  private readonly sockets = new Set<net.Socket>();

  async start(): Promise<this> {
    this.server = net.createServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => undefined);
      let head = '';
      socket.on('data', (d) => {
        head += d.toString('latin1');
        if (!head.includes('\r\n\r\n')) return;
        head = '';
        setImmediate(() => this.onRequest());
        switch (this.misbehaviour) {
          case 'close-before-head':
            return void socket.end();
          case 'rst-before-head':
            return void socket.resetAndDestroy();
          case 'close-after-head':
            socket.write('HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\npartial');
            return void socket.end();
          case 'rst-after-head':
            socket.write('HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\npartial', () => socket.resetAndDestroy());
            return;
          case 'stall-after-head':
            return void socket.write('HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\npartial');
          case 'garbage':
            return void socket.end('THIS IS NOT HTTP\r\n\r\n');
        }
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  endpoint(): Endpoint {
    return { instance: 'payments-v1-0', service: 'payments', labels: { app: 'payments', version: 'v1' }, host: '127.0.0.1', port: this.port };
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server?.close(() => r()) ?? r());
  }
}

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A request whose response may be cut: the status and how the body ended ('end' or 'aborted'). */
function callRaw(port: number, path: string): Promise<{ status: number; body: string; ended: 'end' | 'aborted' }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, agent: false, headers: { host: 'payments' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ended: 'end' }));
      res.on('error', () => resolve({ status: res.statusCode ?? 0, body, ended: 'aborted' }));
      res.on('aborted', () => resolve({ status: res.statusCode ?? 0, body, ended: 'aborted' }));
    });
    req.on('error', reject);
    req.end();
  });
}

const NO_RETRIES = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: payments }
spec:
  hosts: [payments]
  http:
  - retries: { attempts: 0 }
    route: [{ destination: { host: payments } }]
`;

describe('Envoy\'s reset-reason table (streamResetReasonToResponseFlag, resetReasonToString)', () => {
  test('each reset reason gets Envoy\'s flag: UF ×3, UC, LR ×2, UO, UR ×3, UPE', () => {
    const table: [ResetReason, string][] = [
      ['local connection failure', 'UF'],
      ['remote connection failure', 'UF'],
      ['connection timeout', 'UF'],
      ['connection termination', 'UC'],
      ['local reset', 'LR'],
      ['local refused stream reset', 'LR'],
      ['overflow', 'UO'],
      ['remote reset', 'UR'],
      ['remote refused stream reset', 'UR'],
      ['remote error with CONNECT request', 'UR'],
      ['protocol error', 'UPE'],
    ];
    for (const [reason, flag] of table) expect([reason, resetFlag(reason)]).toEqual([reason, flag]);
  });

  test('details: before/after response started, spaces as underscores, the transport failure reason after "|"', () => {
    expect(resetDetails('connection termination', '', false)).toBe('upstream_reset_before_response_started{connection_termination}');
    expect(resetDetails('connection termination', '', true)).toBe('upstream_reset_after_response_started{connection_termination}');
    expect(resetDetails('remote connection failure', 'delayed connect error: Connection refused', false)).toBe(
      'upstream_reset_before_response_started{remote_connection_failure|delayed_connect_error:_Connection_refused}',
    );
    expect(resetBody('remote connection failure', 'delayed connect error: Connection refused', false)).toBe(
      'upstream connect error or disconnect/reset before headers. reset reason: remote connection failure, transport failure reason: delayed connect error: Connection refused',
    );
    expect(resetBody('connection termination', '', true)).toBe('upstream connect error or disconnect/reset before headers. retried and the latest reset reason: connection termination');
  });

  test('UPE sorts after URX (Envoy\'s CoreResponseFlag order: … UO … DC URX … UPE)', () => {
    const s = new StreamInfo('outbound');
    for (const f of ['UPE', 'URX', 'UO']) s.flag(f);
    expect(s.responseFlags).toBe('UO,URX,UPE');
  });
});

describe('an HTTP/1.1 upstream that fails mid-request, on real sockets', () => {
  let sidecar: Sidecar;
  const raw = new RawUpstream();
  const port = () => sidecar.ports.outbound;
  const last = () => sidecar.accessLog.entries(1)[0];
  /** The access log entry of `path`, once the sidecar has closed that response (the client can see a cut stream first). */
  const logged = async (path: string) => {
    for (let turn = 0; turn < 10_000; turn++) {
      const e = sidecar.accessLog.entries(1)[0];
      if (e?.path === path) return e;
      await new Promise((r) => setImmediate(r));
    }
    throw new Error(`no access log entry for ${path}`);
  };

  beforeAll(async () => {
    await raw.start();
    sidecar = await startSidecar();
    push(sidecar, NO_RETRIES, { payments: [raw.endpoint()] });
  });
  afterAll(async () => {
    await sidecar.stop(200);
    await raw.stop();
    closeAgent();
  });

  test('the upstream closes (FIN) after reading the request, before a response: 503 UC connection_termination', async () => {
    raw.misbehaviour = 'close-before-head';
    const r = await call(port(), '/fin');
    expect(r.status).toBe(503);
    expect(r.body).toBe('upstream connect error or disconnect/reset before headers. reset reason: connection termination');
    expect(last()).toMatchObject({ path: '/fin', response_code: 503, response_flags: 'UC', response_code_details: 'upstream_reset_before_response_started{connection_termination}', upstream_transport_failure_reason: '-' });
  });

  test('the upstream resets (RST) before a response: on HTTP/1.1 that is a connection termination too (UC), not UR', async () => {
    raw.misbehaviour = 'rst-before-head';
    const r = await call(port(), '/rst');
    expect(r.status).toBe(503);
    expect(last()).toMatchObject({ path: '/rst', response_code: 503, response_flags: 'UC', response_code_details: 'upstream_reset_before_response_started{connection_termination}' });
  });

  test('the upstream closes after the head (7 of 1000 body bytes): the client gets 200 then a cut stream; UC, after_response_started', async () => {
    raw.misbehaviour = 'close-after-head';
    const r = await callRaw(port(), '/cut');
    expect(r).toMatchObject({ status: 200, ended: 'aborted' });
    expect(await logged('/cut')).toMatchObject({ path: '/cut', response_code: 200, response_flags: 'UC', response_code_details: 'upstream_reset_after_response_started{connection_termination}' });
  });

  test('the upstream resets after the head: UC, after_response_started, no DC (the sidecar cut the client, not the reverse)', async () => {
    raw.misbehaviour = 'rst-after-head';
    const r = await callRaw(port(), '/cut-rst');
    expect(r).toMatchObject({ status: 200, ended: 'aborted' });
    expect(await logged('/cut-rst')).toMatchObject({ path: '/cut-rst', response_code: 200, response_flags: 'UC', response_code_details: 'upstream_reset_after_response_started{connection_termination}' });
  });

  test('a route timeout after the head is UT alone: the router cut the upstream itself, which is no upstream reset (no UC)', async () => {
    raw.misbehaviour = 'stall-after-head';
    push(sidecar, NO_RETRIES.replace('- retries: { attempts: 0 }', '- timeout: 0.2s\n    retries: { attempts: 0 }'), { payments: [raw.endpoint()] });
    try {
      const r = await callRaw(port(), '/stall');
      expect(r).toMatchObject({ status: 200, ended: 'aborted' });
      expect(await logged('/stall')).toMatchObject({ path: '/stall', response_code: 200, response_flags: 'UT' });
    } finally {
      push(sidecar, NO_RETRIES, { payments: [raw.endpoint()] });
    }
  });

  test('a reset that was retried until the retries ran out: UC,URX and "retried and the latest reset reason" in the body', async () => {
    raw.misbehaviour = 'close-before-head';
    push(sidecar, NO_RETRIES.replace('{ attempts: 0 }', '{ attempts: 1, retryOn: reset }'), { payments: [raw.endpoint()] });
    try {
      const r = await call(port(), '/fin-retried');
      expect(r.status).toBe(503);
      expect(r.body).toBe('upstream connect error or disconnect/reset before headers. retried and the latest reset reason: connection termination');
      expect(last()).toMatchObject({ path: '/fin-retried', response_flags: 'UC,URX', attempts: 2 });
    } finally {
      push(sidecar, NO_RETRIES, { payments: [raw.endpoint()] });
    }
  });

  test('the client goes away before the response is complete: DC, details downstream_remote_disconnect (Envoy\'s HCM on a remote close)', async () => {
    raw.misbehaviour = 'stall-after-head';
    push(sidecar, NO_RETRIES, { payments: [raw.endpoint()] });
    const upstreamSawIt = new Promise<void>((resolve) => raw.onRequest = resolve);
    const req = http.request({ host: '127.0.0.1', port: port(), path: '/gone', agent: false, headers: { host: 'payments' } });
    req.on('error', () => undefined);
    req.end();
    await upstreamSawIt;
    // The head (status 200) may already be on its way; the client leaves before the body is complete.
    req.destroy();
    expect(await logged('/gone')).toMatchObject({ path: '/gone', response_flags: 'DC', response_code_details: 'downstream_remote_disconnect' });
  });

  test('the upstream answers with bytes that are not HTTP: 502 UPE protocol_error', async () => {
    raw.misbehaviour = 'garbage';
    const r = await call(port(), '/garbage');
    expect(r.status).toBe(502);
    expect(r.body).toBe('upstream connect error or disconnect/reset before headers. reset reason: protocol error');
    expect(last()).toMatchObject({ path: '/garbage', response_code: 502, response_flags: 'UPE', response_code_details: 'upstream_reset_before_response_started{protocol_error}' });
  });

  test('nothing listens on the upstream port: 503 UF remote_connection_failure with the transport failure reason', async () => {
    const dead: Endpoint = { ...raw.endpoint(), port: await closedPort() };
    push(sidecar, NO_RETRIES, { payments: [dead] });
    try {
      const r = await call(port(), '/refused');
      expect(r.status).toBe(503);
      expect(r.body).toBe('upstream connect error or disconnect/reset before headers. reset reason: remote connection failure, transport failure reason: delayed connect error: Connection refused');
      expect(last()).toMatchObject({
        path: '/refused',
        response_code: 503,
        response_flags: 'UF',
        response_code_details: 'upstream_reset_before_response_started{remote_connection_failure|delayed_connect_error:_Connection_refused}',
        upstream_transport_failure_reason: 'delayed connect error: Connection refused',
      });
    } finally {
      push(sidecar, NO_RETRIES, { payments: [raw.endpoint()] });
    }
  });
});
