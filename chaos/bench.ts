/**
 * Overhead benchmark: round trips of a small message to a local echo server, directly and
 * through one chaos proxy with no toxics, plus a bulk transfer. Prints p50/p90/p99 and the
 * added latency per hop. Run: node dist/chaos/bench.js [roundTrips]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { startChaosServer } from './server';
import { ChaosClient } from './client';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function roundTrips(port: number, n: number, size: number): Promise<number[]> {
  const sock = net.connect({ port, host: '127.0.0.1', noDelay: true });
  await new Promise((r) => sock.once('connect', r));
  const payload = Buffer.alloc(size, 7);
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    let got = 0;
    await new Promise<void>((resolve) => {
      const onData = (b: Buffer): void => {
        got += b.length;
        if (got >= size) {
          sock.off('data', onData);
          resolve();
        }
      };
      sock.on('data', onData);
      sock.write(payload);
    });
    samples.push(performance.now() - t0);
  }
  sock.destroy();
  return samples.sort((a, b) => a - b);
}

async function bulk(port: number, bytes: number): Promise<number> {
  const sock = net.connect({ port, host: '127.0.0.1' });
  await new Promise((r) => sock.once('connect', r));
  const t0 = performance.now();
  let got = 0;
  const done = new Promise<void>((resolve) =>
    sock.on('data', (b: Buffer) => {
      got += b.length;
      if (got >= bytes) resolve();
    }),
  );
  const chunk = Buffer.alloc(64 * 1024, 1);
  for (let sent = 0; sent < bytes; sent += chunk.length) {
    if (!sock.write(chunk)) await new Promise((r) => sock.once('drain', r));
  }
  await done;
  sock.destroy();
  return (bytes / 1e6) / ((performance.now() - t0) / 1000);
}

/** Starts dist/chaos/main.js as its own process (as the world runs it) and returns its API URL. */
async function startSeparateServer(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [path.join(__dirname, 'main.js'), '-host', '127.0.0.1', '-port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /address=(\S+)/.exec(out);
      if (m) resolve(`http://${m[1]}`);
    });
    child.once('exit', () => reject(new Error(`chaos server exited early:\n${out}`)));
  });
  return { url, child };
}

async function measure(label: string, apiUrl: string, echoPort: number, n: number): Promise<void> {
  const client = new ChaosClient(apiUrl);
  const proxy = await client.ensureProxy({ name: `bench->echo-${label}`, upstream: `127.0.0.1:${echoPort}` });
  const proxyPort = Number(proxy.listen.split(':').pop());
  await roundTrips(echoPort, 500, 64);
  await roundTrips(proxyPort, 500, 64);
  const direct = await roundTrips(echoPort, n, 64);
  const proxied = await roundTrips(proxyPort, n, 64);
  const row = (name: string, s: number[]): string =>
    `  ${name.padEnd(8)} p50=${percentile(s, 50).toFixed(3)}ms p90=${percentile(s, 90).toFixed(3)}ms p99=${percentile(s, 99).toFixed(3)}ms`;
  console.log(`${label}: round trips of 64 B, n=${n}`);
  console.log(row('direct', direct));
  console.log(row('proxied', proxied));
  // One round trip crosses the proxy once each way: that is one hop of a mesh edge.
  const added = percentile(proxied, 50) - percentile(direct, 50);
  console.log(`  added by one proxy hop (request + response) at p50: ${added.toFixed(3)}ms; per direction: ${(added / 2).toFixed(3)}ms`);
  const mbDirect = await bulk(echoPort, 64 * 1024 * 1024);
  const mbProxied = await bulk(proxyPort, 64 * 1024 * 1024);
  console.log(`  bulk echo 64 MiB: direct ${mbDirect.toFixed(0)} MB/s, proxied ${mbProxied.toFixed(0)} MB/s`);
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 5000);
  const echo = net.createServer((s) => {
    s.setNoDelay(true);
    s.pipe(s);
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
  const echoPort = (echo.address() as net.AddressInfo).port;
  const server = await startChaosServer({ port: 0, seed: 1 });
  const separate = await startSeparateServer();
  try {
    await measure('in-process', server.url, echoPort, n);
    await measure('separate process', separate.url, echoPort, n);
  } finally {
    await server.close();
    separate.child.kill('SIGTERM');
    echo.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
