import * as fs from 'node:fs';
import { once } from 'node:events';
import { MeshCA } from '../../mesh/security/ca';
import { WorkloadCertManager, RotatedEvent } from '../../mesh/security/workload-cert';
import { spiffeId } from '../../mesh/security/identity';
import { ConnInfo } from '../../mesh/security/mtls';
import { tmpDir, workloadCerts } from './helpers';
import { startEchoServer, meshPool } from './mtls-fixture';

const TTL_MS = 2_000;
const LOAD_MS = 9_000;

describe('rotation under load', () => {
  const dir = tmpDir('rot');
  let ca: MeshCA;
  let serverCerts: WorkloadCertManager;
  let clientCerts: WorkloadCertManager;
  beforeAll(async () => {
    ca = await MeshCA.loadOrCreate(dir);
    serverCerts = await workloadCerts(ca, 'payments', TTL_MS, 7);
    clientCerts = await workloadCerts(ca, 'orders', TTL_MS, 8);
  });
  afterAll(() => {
    serverCerts.stop();
    clientCerts.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test(`TTL ${TTL_MS} ms, ${LOAD_MS} ms of steady requests: several rotations, 0 failures, new handshakes use the new cert`, async () => {
    const srv = await startEchoServer('STRICT', serverCerts);
    const serverRotations: RotatedEvent[] = [];
    const clientRotations: RotatedEvent[] = [];
    // How long after its planned time each new certificate was in place (key + CSR + signing under load).
    let maxIssueLatencyMs = 0;
    let lastPlanned = 0;
    serverCerts.on('rotated', (e: RotatedEvent) => {
      serverRotations.push(e);
      if (lastPlanned) maxIssueLatencyMs = Math.max(maxIssueLatencyMs, Date.now() - lastPlanned);
      lastPlanned = e.nextRotationAt;
    });
    clientCerts.on('rotated', (e: RotatedEvent) => clientRotations.push(e));
    // Each accepted handshake presents the server's current certificate, or the previous one when the handshake
    // began (ClientHello dispatched) just before the swap; never anything older.
    const generationOf = new Map([[serverCerts.current().serial, serverCerts.current().generation]]);
    serverCerts.on('rotated', (e: RotatedEvent) => generationOf.set(e.serial, e.generation));
    let staleHandshakes = 0;
    let tooOldHandshakes = 0;
    srv.mtls.on('accepted', (info: ConnInfo) => {
      const lag = serverCerts.current().generation - (generationOf.get(info.localSerial!) ?? -100);
      if (lag === 1) staleHandshakes++;
      else if (lag !== 0) tooOldHandshakes++;
    });
    // Long-lived keep-alive connections (never reset) and churned ones (`reset: true` closes after the response).
    const keepAlive = meshPool(srv.port, clientCerts, spiffeId('payments'), 2);
    const churn = meshPool(srv.port, clientCerts, spiffeId('payments'), 2);
    const issuedServerSerials = new Set([serverCerts.current().serial]);
    const issuedClientSerials = new Set([clientCerts.current().serial]);
    serverCerts.on('rotated', (e: RotatedEvent) => issuedServerSerials.add(e.serial));
    clientCerts.on('rotated', (e: RotatedEvent) => issuedClientSerials.add(e.serial));

    let ok = 0;
    let failed = 0;
    const errors = new Set<string>();
    const seenServerSerials = new Set<string>();
    const seenClientSerials = new Set<string>();
    const keepAliveConnGen = new Map<number, { firstSerial: string; lastSeenAtGeneration: number }>();
    const deadline = Date.now() + LOAD_MS;
    async function worker(kind: 'keep' | 'churn') {
      while (Date.now() < deadline) {
        try {
          const pool = kind === 'keep' ? keepAlive : churn;
          const res = await pool.request({ path: `/${kind}`, method: 'GET', reset: kind === 'churn' });
          const body = (await res.body.json()) as ConnInfo & { conn: number };
          if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
          ok++;
          seenServerSerials.add(body.localSerial!);
          seenClientSerials.add(body.peerSerial!);
          if (kind === 'keep') {
            const e = keepAliveConnGen.get(body.conn) ?? { firstSerial: body.localSerial!, lastSeenAtGeneration: 0 };
            e.lastSeenAtGeneration = serverCerts.current().generation;
            keepAliveConnGen.set(body.conn, e);
          }
        } catch (e) {
          failed++;
          errors.add(`${kind}: ${(e as Error).message}`);
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    try {
      await Promise.all([worker('keep'), worker('keep'), worker('churn'), worker('churn')]);

      // A fresh handshake after the run sees the newest certificates on both sides
      // (timers stopped and one explicit rotation each, so "newest" cannot move during the check).
      serverCerts.stop();
      clientCerts.stop();
      await Promise.all([serverCerts.rotate(), clientCerts.rotate()]);
      const fresh = meshPool(srv.port, clientCerts, spiffeId('payments'), 1);
      const res = await fresh.request({ path: '/fresh', method: 'GET' });
      const body = (await res.body.json()) as ConnInfo;
      await fresh.close();
      expect(body.localSerial).toBe(serverCerts.current().serial);
      expect(body.peerSerial).toBe(clientCerts.current().serial);

      console.log(
        `rotation: ok=${ok} failed=${failed} serverRotations=${serverRotations.length} clientRotations=${clientRotations.length} ` +
          `serverSerialsSeen=${seenServerSerials.size} clientSerialsSeen=${seenClientSerials.size} staleHandshakes=${staleHandshakes} tooOld=${tooOldHandshakes} ` +
          `handshakes=${srv.mtls.stats.accepted.mutual_tls} maxIssueLatencyMs=${maxIssueLatencyMs} errors=${[...errors].join(' | ')}`,
      );
      expect(failed).toBe(0);
      expect(ok).toBeGreaterThan(200);
      // Half-life of a 2-3 s certificate (1-1.5 s) over 9 s: at least 5 rotations per side.
      expect(serverRotations.length).toBeGreaterThanOrEqual(5);
      expect(clientRotations.length).toBeGreaterThanOrEqual(5);
      // Churned connections observed most generations, and only ever certificates the CA issued.
      expect(seenServerSerials.size).toBeGreaterThanOrEqual(4);
      expect(seenClientSerials.size).toBeGreaterThanOrEqual(4);
      for (const s of seenServerSerials) expect(issuedServerSerials.has(s)).toBe(true);
      for (const s of seenClientSerials) expect(issuedClientSerials.has(s)).toBe(true);
      expect(tooOldHandshakes).toBe(0);
      // Bounded by the handshakes that can be in flight at a swap: 4 workers → at most 4 per rotation.
      expect(staleHandshakes).toBeLessThanOrEqual(4 * serverRotations.length);
      // Live connections are untouched: a keep-alive connection made with an old cert kept serving after rotations.
      const longLived = [...keepAliveConnGen.values()].filter((e) => e.firstSerial !== serverCerts.current().serial && e.lastSeenAtGeneration >= 4);
      expect(longLived.length).toBeGreaterThanOrEqual(1);
      expect(srv.mtls.stats.refused).toEqual({});
    } finally {
      await keepAlive.close();
      await churn.close();
      await srv.close();
    }
  });

  test('rotation delay is half life ±1%, reproducible with a seed', () => {
    const make = (seed: number) => new WorkloadCertManager({ identity: spiffeId('x'), seed, sign: async () => { throw new Error('unused'); } });
    const a = make(42);
    const b = make(42);
    const delays = Array.from({ length: 1000 }, () => a.rotationDelay(86_400_000));
    expect(delays.map((d) => b.rotationDelay(86_400_000) === d).every(Boolean)).toBe(true);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(86_400_000 * 0.49);
    expect(Math.max(...delays)).toBeLessThanOrEqual(86_400_000 * 0.51);
    // Jitter actually spreads: both halves of the ±1% band are used.
    expect(delays.some((d) => d < 43_200_000 - 200_000)).toBe(true);
    expect(delays.some((d) => d > 43_200_000 + 200_000)).toBe(true);
  });

  test('signing failures during rotation are retried with backoff and reported, not thrown', async () => {
    let calls = 0;
    const identity = spiffeId('flaky');
    const m = new WorkloadCertManager({
      identity,
      seed: 1,
      retryMs: 50,
      sign: async (csr) => {
        calls++;
        if (calls === 2 || calls === 3) throw new Error(`CA unavailable (call ${calls})`);
        return { ...(await ca.signCsr(csr, { identity, ttlMs: 1_000 })), rootPem: ca.rootPem };
      },
    });
    const failures: [string, number][] = [];
    m.on('rotationFailed', (e: Error, wait: number) => failures.push([e.message, wait]));
    try {
      const first = await m.start();
      const [rotated] = (await once(m, 'rotated')) as [RotatedEvent];
      expect(failures).toEqual([
        ['CA unavailable (call 2)', 50],
        ['CA unavailable (call 3)', 100],
      ]);
      expect(rotated.previousSerial).toBe(first.serial);
      expect(rotated.generation).toBe(2);
    } finally {
      m.stop();
    }
  });
});
