import * as http from 'node:http';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { Pool } from 'undici';
import { MeshCA } from '../../mesh/security/ca';
import { WorkloadCertManager } from '../../mesh/security/workload-cert';
import { createMtlsServer, connectionInfo, mtlsConnector, MtlsMode, MtlsServer } from '../../mesh/security/mtls';

/** An http.Server fed by an MtlsServer; responds with the connection's security facts as JSON. */
export async function startEchoServer(mode: MtlsMode, certs: WorkloadCertManager) {
  let nextConn = 0;
  const connIds = new WeakMap<net.Socket, number>();
  const httpServer = http.createServer((req, res) => {
    const info = connectionInfo(req.socket);
    if (!connIds.has(req.socket)) connIds.set(req.socket, ++nextConn);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ ...info, conn: connIds.get(req.socket), path: req.url }));
  });
  const mtls = createMtlsServer({ mode, certs, handler: httpServer });
  const addr = await mtls.listen(0, '127.0.0.1');
  return { mtls, httpServer, port: addr.port, close: () => mtls.close() };
}

export function meshPool(port: number, certs: WorkloadCertManager, expectedPeer?: string, connections = 2): Pool {
  return new Pool(`http://127.0.0.1:${port}`, {
    connections,
    connect: mtlsConnector({ certs, expectedPeer: expectedPeer ? () => expectedPeer : undefined, timeoutMs: 5_000 }),
  });
}

/** Plain HTTP GET; resolves to status+body or rejects with the socket error. */
export function plainGet(port: number, path = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: 5_000 }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/**
 * A raw TLS 1.3 client (optionally presenting a cert) that sends one HTTP request; resolves with whatever the
 * server answered ('' when the server closed first) and how the connection ended.
 */
export function rawTlsRequest(
  port: number,
  opts: { key?: string; cert?: string; ca?: string } = {},
): Promise<{ response: string; error?: string }> {
  return new Promise((resolve) => {
    let response = '';
    let error: string | undefined;
    const s = tls.connect({ host: '127.0.0.1', port, ...opts, rejectUnauthorized: false, minVersion: 'TLSv1.3' }, () => {
      s.write('GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
    });
    s.setTimeout(5_000, () => s.destroy(new Error('client timeout')));
    s.on('data', (c) => (response += c));
    s.on('error', (e: Error & { code?: string }) => (error = e.code ?? e.message));
    s.on('close', () => resolve({ response, error }));
  });
}

export type { MeshCA, MtlsServer };
