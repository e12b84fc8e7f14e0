import net from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Upstream, startSidecar, push, call, many, closeAgent } from './harness';
import { LISTENER_LIMITS } from '../../mesh/listener';
import { seededRandom } from '../../lib/random';
import type { Sidecar } from '../../mesh/sidecar/sidecar';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

/** Writes `payload` on a fresh connection and resolves with what came back once the sidecar closes it (or after 5 s). */
function raw(port: number, payload: Buffer | string, endWrite = true): Promise<string> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let got = '';
    const done = (): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(got);
    };
    const timer = setTimeout(done, 5000);
    sock.on('data', (d) => {
      got += d.toString('latin1');
    });
    sock.on('error', done);
    sock.on('close', done);
    sock.write(payload);
    if (endWrite) sock.end();
  });
}

const rand = seededRandom(2024);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));
const token = (n: number) => Array.from({ length: n }, () => pick('abcdefghijklmnopqrstuvwxyz-0123456789'.split(''))).join('');

/** One hostile or odd request, chosen from the kinds a sidecar sees in the wild. */
function hostile(i: number): Buffer | string {
  switch (i % 10) {
    case 0:
      return bytes(1 + Math.floor(rand() * 512));
    case 1:
      return `${pick(['GET', 'PUT', 'BREW', 'G E T', ''])} ${pick(['/', '/%zz', '//..//', '*', 'http://x/'])} HTTP/${pick(['1.1', '9.9', 'x'])}\r\nHost: payments\r\n\r\n`;
    case 2:
      return `GET / HTTP/1.1\r\nHost: payments\r\nX-Big: ${'a'.repeat(70 * 1024)}\r\n\r\n`;
    case 3:
      return `GET / HTTP/1.1\r\nHost: payments\r\n${Array.from({ length: 150 }, (_, k) => `x-h${k}: v`).join('\r\n')}\r\n\r\n`;
    case 4:
      return `POST / HTTP/1.1\r\nHost: payments\r\nContent-Length: 10\r\nContent-Length: 20\r\n\r\n0123456789`;
    case 5:
      return `POST / HTTP/1.1\r\nHost: payments\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nnot-hex\r\n0\r\n\r\n`;
    case 6:
      return `POST /pay HTTP/1.1\r\nHost: payments\r\nContent-Length: ${64 * 1024 * 1024}\r\n\r\nabc`;
    case 7:
      return `GET /${token(8)}?${token(4)}=${token(6)} HTTP/1.1\r\nHost: ${pick(['payments', 'nowhere', '', 'payments:80'])}\r\n${token(5)}: ${token(12)}\r\nConnection: close\r\n\r\n`;
    case 8:
      return `POST /p HTTP/1.1\r\nHost: payments\r\nContent-Length: 5\r\nConnection: close\r\n\r\nab`; // body cut short
    default:
      return `GET / HTTP/1.1\r\nHost: payments\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n`;
  }
}

describe('a sidecar under hostile traffic', () => {
  let sidecar: Sidecar;
  const up = new Upstream('payments-v1-0', 'v1');
  const saved = { ...LISTENER_LIMITS };

  beforeAll(async () => {
    LISTENER_LIMITS.headersTimeoutMs = 1000;
    LISTENER_LIMITS.checkIntervalMs = 250;
    await up.start();
    sidecar = await startSidecar();
    push(sidecar, '', { payments: [up.endpoint()] });
  });
  afterAll(async () => {
    Object.assign(LISTENER_LIMITS, saved);
    await sidecar.stop(200);
    await up.stop();
    closeAgent();
  });

  test('exact answers: 431 for too large or too many headers, 413 for a body over the limit, 400 for garbage', async () => {
    const port = sidecar.ports.outbound;
    expect(await raw(port, hostile(2))).toMatch(/^HTTP\/1\.1 431 /);
    expect(await raw(port, hostile(3))).toMatch(/^HTTP\/1\.1 431 /);
    expect(await raw(port, hostile(6))).toMatch(/^HTTP\/1\.1 413 /);
    expect(await raw(port, 'GARBAGE\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
    expect(await raw(port, hostile(4))).toMatch(/^HTTP\/1\.1 400 /);
  });

  test('slowloris: a connection that never finishes its headers is closed by the headers timeout', async () => {
    const t0 = Date.now();
    const answers = await Promise.all(Array.from({ length: 20 }, () => raw(sidecar.ports.outbound, 'GET / HTTP/1.1\r\nHost: payments\r\nX-Slow: 1', false)));
    const took = Date.now() - t0;
    expect(answers.every((a) => a === '' || a.startsWith('HTTP/1.1 408'))).toBe(true);
    expect(took).toBeGreaterThanOrEqual(1000);
    // Closed by the sidecar (headers timeout 1 s, checked every 250 ms), well before the 5 s client fallback.
    expect(took).toBeLessThan(3000);
  });

  test('10,000 malformed or random requests and slow connections: it stays up, keeps serving good traffic, and its heap returns to baseline', async () => {
    const port = sidecar.ports.outbound;
    await many(300, 10, () => call(port, '/warm'));
    const baseline = heapAfterGc();

    let sent = 0;
    const good: number[] = [];
    const slow = Array.from({ length: 30 }, () => raw(port, 'GET / HTTP/1.1\r\nHost: payments\r\n', false));
    await Promise.all([
      Promise.all(
        Array.from({ length: 48 }, async () => {
          while (sent < 10_000) await raw(port, hostile(sent++));
        }),
      ),
      (async () => {
        while (sent < 10_000) {
          good.push((await call(port, '/good')).status);
          await new Promise((r) => setTimeout(r, 20));
        }
      })(),
    ]);
    await Promise.all(slow);
    expect(sent).toBeGreaterThanOrEqual(10_000);
    expect(good.length).toBeGreaterThan(10);
    expect(new Set(good)).toEqual(new Set([200]));
    // Still serving after the storm.
    const after = await many(100, 10, () => call(port, '/after'));
    expect(after.every((a) => a.status === 200)).toBe(true);

    await new Promise((r) => setTimeout(r, 200));
    const end = heapAfterGc();
    console.log(`heap baseline ${(baseline / 1e6).toFixed(1)} MB, after 10,000 hostile requests ${(end / 1e6).toFixed(1)} MB`);
    expect(end - baseline).toBeLessThan(8 * 1024 * 1024);
  }, 120_000);
});
