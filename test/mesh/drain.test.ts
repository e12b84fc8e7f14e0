import net from 'node:net';
import { Upstream, startSidecar, push } from './harness';
import type { Sidecar } from '../../mesh/sidecar/sidecar';

/** A raw keep-alive client connection: what it received, and when the sidecar closed it. */
function connect(port: number): { sock: net.Socket; text: () => string; closed: Promise<void>; until: (s: string) => Promise<void> } {
  const sock = net.connect(port, '127.0.0.1');
  let got = '';
  const waiters: { s: string; resolve: () => void }[] = [];
  sock.on('error', () => undefined);
  sock.on('data', (d: Buffer) => {
    got += d.toString('latin1');
    for (const w of waiters.splice(0)) (got.includes(w.s) ? w.resolve : () => waiters.push(w))();
  });
  const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
  return { sock, text: () => got, closed, until: (s) => (got.includes(s) ? Promise.resolve() : new Promise((resolve) => waiters.push({ s, resolve }))) };
}

describe('drain (the sidecar stopping, as on SIGTERM) on the raw-socket listener', () => {
  let sidecar: Sidecar | undefined;
  const up = new Upstream('payments-v1-0', 'v1');
  afterEach(async () => {
    await sidecar?.stop(100);
    await up.stop();
  });

  test('an idle keep-alive connection is closed at once; the request in flight is answered with connection: close, then its connection closes; the port refuses new connections', async () => {
    await up.start();
    sidecar = await startSidecar();
    push(sidecar, '', { payments: [up.endpoint()] });
    const port = sidecar.ports.outbound;

    const idle = connect(port);
    idle.sock.write('GET /warm HTTP/1.1\r\nHost: payments\r\n\r\n');
    await idle.until('payments-v1-0');

    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    up.behaviour = (_req, res) => void held.then(() => up.ok(res));
    const busy = connect(port);
    busy.sock.write('GET /slow HTTP/1.1\r\nHost: payments\r\n\r\n');
    await up.waitFor(2);

    const stopped = sidecar.stop(5000);
    await idle.closed;
    const refused = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(false);
      });
      s.once('error', () => resolve(true));
    });
    release();
    await busy.closed;
    await stopped;
    sidecar = undefined;
    expect(refused).toBe(true);
    expect(busy.text()).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(busy.text()).toMatch(/\r\nconnection: close\r\n/);
    expect(busy.text()).toMatch(/payments-v1-0"\}$/);
    expect(idle.text().split('HTTP/1.1 ').length - 1).toBe(1);
  });
});
