import * as fs from 'node:fs';
import * as tls from 'node:tls';
import { Pool } from 'undici';
import { createMtlsServer } from '../../mesh/security/mtls';
import { MeshCA } from '../../mesh/security/ca';
import { WorkloadCertManager } from '../../mesh/security/workload-cert';
import { spiffeId } from '../../mesh/security/identity';
import { tmpDir, workloadCerts } from './helpers';
import { startEchoServer, meshPool, plainGet, rawTlsRequest } from './mtls-fixture';

const ORDERS = spiffeId('orders');
const PAYMENTS = spiffeId('payments');

let dir: string;
let foreignDir: string;
let ca: MeshCA;
let serverCerts: WorkloadCertManager; // payments' sidecar (server)
let clientCerts: WorkloadCertManager; // orders' sidecar (client)
let foreignCerts: WorkloadCertManager; // same identity, another CA

beforeAll(async () => {
  dir = tmpDir('mtls');
  foreignDir = tmpDir('foreign');
  ca = await MeshCA.loadOrCreate(dir);
  serverCerts = await workloadCerts(ca, 'payments');
  clientCerts = await workloadCerts(ca, 'orders');
  foreignCerts = await workloadCerts(await MeshCA.loadOrCreate(foreignDir), 'orders');
});
afterAll(() => {
  for (const m of [serverCerts, clientCerts, foreignCerts]) m?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(foreignDir, { recursive: true, force: true });
});

describe('STRICT', () => {
  test('mesh client accepted with peer principal; plaintext, cert-less and foreign-CA clients refused and counted', async () => {
    const srv = await startEchoServer('STRICT', serverCerts);
    const pool = meshPool(srv.port, clientCerts, PAYMENTS);
    try {
      const res = await pool.request({ path: '/hello', method: 'GET' });
      expect(res.statusCode).toBe(200);
      const body = (await res.body.json()) as Record<string, unknown>;
      expect(body).toMatchObject({
        mtls: true,
        connectionSecurityPolicy: 'mutual_tls',
        peerPrincipal: ORDERS,
        peerSerial: clientCerts.current().serial,
        localSerial: serverCerts.current().serial,
        path: '/hello',
      });

      await expect(plainGet(srv.port)).rejects.toThrow(/socket hang up|ECONNRESET/);

      const noCert = await rawTlsRequest(srv.port, { ca: ca.rootPem });
      expect(noCert.response).toBe('');

      const f = foreignCerts.current();
      const foreign = await rawTlsRequest(srv.port, { key: f.key, cert: f.cert, ca: ca.rootPem });
      expect(foreign.response).toBe('');

      // A well-formed mesh client over a raw socket gets an answer: the refusals above are about credentials.
      const c = clientCerts.current();
      const ok = await rawTlsRequest(srv.port, { key: c.key, cert: c.cert, ca: ca.rootPem });
      expect(ok.response).toMatch(/^HTTP\/1\.1 200 OK/);

      expect(srv.mtls.stats.refused).toEqual({ plaintext_in_strict: 1, no_client_cert: 1, untrusted_cert: 1 });
      expect(srv.mtls.stats.accepted).toEqual({ mutual_tls: 2, none: 0 });
    } finally {
      await pool.close();
      await srv.close();
    }
  });

  test('client refuses a server whose SPIFFE id is not the expected one', async () => {
    const srv = await startEchoServer('STRICT', serverCerts);
    const pool = meshPool(srv.port, clientCerts, spiffeId('notifications'));
    try {
      await expect(pool.request({ path: '/', method: 'GET' })).rejects.toThrow(
        `peer 127.0.0.1:${srv.port} is ${PAYMENTS}, expected spiffe://cluster.local/ns/default/sa/notifications`,
      );
    } finally {
      await pool.close();
      await srv.close();
    }
  });

  test('client refuses a server with a certificate from another CA', async () => {
    const srv = await startEchoServer('STRICT', foreignCerts);
    const pool = meshPool(srv.port, clientCerts);
    try {
      await expect(pool.request({ path: '/', method: 'GET' })).rejects.toThrow(/self.signed|unable to verify|certificate/i);
    } finally {
      await pool.close();
      await srv.close();
    }
  });
});

describe('PERMISSIVE', () => {
  test('plaintext and mTLS on the same port', async () => {
    const srv = await startEchoServer('PERMISSIVE', serverCerts);
    const pool = meshPool(srv.port, clientCerts, PAYMENTS);
    try {
      const plain = await plainGet(srv.port, '/p');
      expect(plain.status).toBe(200);
      expect(JSON.parse(plain.body)).toEqual({ mtls: false, connectionSecurityPolicy: 'none', conn: 1, path: '/p' });

      const res = await pool.request({ path: '/m', method: 'GET' });
      expect(res.statusCode).toBe(200);
      expect(await res.body.json()).toMatchObject({ mtls: true, peerPrincipal: ORDERS, path: '/m' });

      // Still mTLS-with-verification: a foreign CA client is refused even in PERMISSIVE.
      const f = foreignCerts.current();
      expect((await rawTlsRequest(srv.port, { key: f.key, cert: f.cert })).response).toBe('');
      expect(srv.mtls.stats.accepted).toEqual({ mutual_tls: 1, none: 1 });
      expect(srv.mtls.stats.refused).toEqual({ untrusted_cert: 1 });
    } finally {
      await pool.close();
      await srv.close();
    }
  });

  test('setMode switches new connections to STRICT', async () => {
    const srv = await startEchoServer('PERMISSIVE', serverCerts);
    try {
      expect((await plainGet(srv.port)).status).toBe(200);
      srv.mtls.setMode('STRICT');
      await expect(plainGet(srv.port)).rejects.toThrow(/socket hang up|ECONNRESET/);
      expect(srv.mtls.stats.refused).toEqual({ plaintext_in_strict: 1 });
      expect(() => srv.mtls.setMode('STRICTER' as never)).toThrow('mTLS mode "STRICTER" is not one of STRICT, PERMISSIVE, DISABLE');
    } finally {
      await srv.close();
    }
  });
});

describe('edge cases', () => {
  test('TLS 1.2 clients are refused (tls_version); acceptPeer gates identities (bad_peer_identity)', async () => {
    const srv = await startEchoServer('STRICT', serverCerts);
    try {
      const c = clientCerts.current();
      const old = await new Promise<string>((resolve) => {
        const s = tls.connect({ host: '127.0.0.1', port: srv.port, key: c.key, cert: c.cert, ca: ca.rootPem, maxVersion: 'TLSv1.2' });
        s.on('secureConnect', () => resolve('connected'));
        s.on('error', (e: Error & { code?: string }) => resolve(e.code ?? e.message));
      });
      expect(old).toMatch(/ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION|ECONNRESET/);
      expect(srv.mtls.stats.refused).toEqual({ tls_version: 1 });
    } finally {
      await srv.close();
    }
    const gated = createMtlsServer({
      mode: 'STRICT',
      certs: serverCerts,
      handler: (s) => s.end('HTTP/1.1 204 No Content\r\n\r\n'),
      acceptPeer: (id) => id === spiffeId('notifications'),
    });
    const { port } = await gated.listen();
    try {
      const c = clientCerts.current();
      expect((await rawTlsRequest(port, { key: c.key, cert: c.cert })).response).toBe('');
      expect(gated.stats.refused).toEqual({ bad_peer_identity: 1 });
    } finally {
      await gated.close();
    }
  });

  test('PERMISSIVE plaintext keep-alive serves several requests on one connection', async () => {
    const srv = await startEchoServer('PERMISSIVE', serverCerts);
    const pool = new Pool(`http://127.0.0.1:${srv.port}`, { connections: 1 });
    try {
      const conns: number[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await pool.request({ path: `/k${i}`, method: 'POST', body: 'x'.repeat(1000) });
        conns.push(((await res.body.json()) as { conn: number }).conn);
      }
      expect(conns).toEqual([1, 1, 1]);
      expect(srv.mtls.stats.accepted).toEqual({ mutual_tls: 0, none: 1 });
    } finally {
      await pool.close();
      await srv.close();
    }
  });
});

describe('DISABLE', () => {
  test('plaintext accepted, TLS refused', async () => {
    const srv = await startEchoServer('DISABLE', serverCerts);
    const pool = meshPool(srv.port, clientCerts);
    try {
      expect((await plainGet(srv.port)).status).toBe(200);
      await expect(pool.request({ path: '/', method: 'GET' })).rejects.toThrow();
      expect(srv.mtls.stats.accepted).toEqual({ mutual_tls: 0, none: 1 });
      expect(srv.mtls.stats.refused).toEqual({ tls_in_disable: 1 });
    } finally {
      await pool.close();
      await srv.close();
    }
  });
});
