import { Upstream, startSidecar, push, call, closeAgent } from './harness';
import type { Sidecar } from '../../mesh/sidecar/sidecar';

describe('responses larger than the downstream socket buffer, through a sidecar', () => {
  let sidecar: Sidecar;
  const up = new Upstream('payments-v1-0', 'v1');
  beforeAll(async () => {
    await up.start();
    up.behaviour = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(256 * 1024) });
      res.end(Buffer.alloc(256 * 1024, 0x61));
    };
    sidecar = await startSidecar();
    push(sidecar, '', { payments: [up.endpoint()] });
  });
  afterAll(async () => {
    await sidecar.stop(100);
    await up.stop();
    closeAgent();
  });

  test('5 sequential 256 KiB answers on reused connections arrive whole (a paused upstream socket once hung the 2nd)', async () => {
    const sizes: number[] = [];
    for (let i = 0; i < 5; i++) sizes.push((await call(sidecar.ports.outbound, `/big${i}`)).body.length);
    expect(sizes).toEqual([262144, 262144, 262144, 262144, 262144]);
  });
});
