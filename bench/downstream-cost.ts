/**
 * The downstream HTTP/1.1 layer alone, ours (`mesh/http1/server.ts`) beside Node's `http.Server`:
 * instructions per request under callgrind, which a busy shared machine does not change.
 *
 * `node dist/bench/downstream-cost.js [--short 2000] [--long 12000]`: for each arm, two runs of
 * different lengths under `valgrind --tool=callgrind` (the difference cancels start-up and
 * warm-up); each run is this file with `--child ARM N`: a raw client on one keep-alive connection
 * sends a 5-header GET, waits for the answer, sends the next; the handler reads `req.headers.host`
 * and answers a 28-byte JSON body with Content-Length. The client's work is the same in both arms,
 * so the difference between the arms is the servers'.
 */
import http from 'node:http';
import net from 'node:net';
import { execFile } from 'node:child_process';
import { Http1Server } from '../mesh/http1/server';
import type { ServerLimits } from '../mesh/http1/server-connection';

const LIMITS: ServerLimits = { maxHeaderSize: 60 * 1024, maxHeadersCount: 100, headersTimeoutMs: 10_000, keepAliveTimeoutMs: 60_000, idleTimeoutMs: 300_000, checkIntervalMs: 1000 };
const BODY = '{"instance":"payments-v1-0"}';
const REQUEST = 'GET /x HTTP/1.1\r\nHost: payments\r\nUser-Agent: bench\r\nAccept: */*\r\nX-Request-Id: 0af7651916cd43dd8448eb211c80319c\r\n\r\n';
const WARMUP = 300;

type Arm = 'meshlab' | 'node';

interface Req {
  headers: http.IncomingHttpHeaders;
}
interface Res {
  writeHead(status: number, headers: Record<string, string>): unknown;
  end(body: string): unknown;
}

function handler(req: Req, res: Res): void {
  void req.headers.host;
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': '28', 'x-envoy-upstream-service-time': '0' });
  res.end(BODY);
}

function child(arm: Arm, n: number): void {
  const server = arm === 'node' ? http.createServer({ noDelay: true }, handler) : new Http1Server(LIMITS, handler as unknown as ConstructorParameters<typeof Http1Server>[1]).server;
  server.listen(0, '127.0.0.1', () => {
    const sock = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    let left = n + WARMUP;
    let got = '';
    sock.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (!got.endsWith(BODY)) return;
      got = '';
      if (--left > 0) return void sock.write(REQUEST);
      sock.destroy();
      server.close();
      if (server instanceof http.Server) server.closeAllConnections();
    });
    sock.write(REQUEST);
  });
}

function instructions(arm: Arm, n: number): Promise<number> {
  return new Promise((resolve, reject) => {
    execFile('valgrind', ['--tool=callgrind', '--callgrind-out-file=/dev/null', process.execPath, __filename, '--child', arm, String(n)], { maxBuffer: 1 << 24 }, (err, _stdout, stderr) => {
      const m = /Collected : (\d+)/.exec(stderr);
      if (err || !m) reject(new Error(`callgrind run ${arm} ${n} failed: ${err?.message ?? ''} ${stderr.slice(-500)}`));
      else resolve(Number(m[1]));
    });
  });
}

async function main(): Promise<void> {
  const arg = (name: string, dflt: number): number => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : dflt;
  };
  const short = arg('short', 2000);
  const long = arg('long', 12_000);
  for (const arm of ['meshlab', 'node'] as const) {
    const a = await instructions(arm, short);
    const b = await instructions(arm, long);
    const per = (b - a) / (long - short);
    console.log(`${arm === 'node' ? "Node's http.Server" : 'mesh/http1 server '}  ${Math.round(per).toLocaleString('en')} instructions per request (client included)`);
  }
}

const ci = process.argv.indexOf('--child');
if (ci > 0) child(process.argv[ci + 1] as Arm, Number(process.argv[ci + 2]));
else
  main().catch((err: Error) => {
    console.error(err.message);
    process.exit(1);
  });
