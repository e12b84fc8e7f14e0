/**
 * The sidecar's certificate agent (Istio's pilot-agent SDS role): generates a P-256 key pair locally (the key never
 * leaves the process), sends only a CSR to the CA via a caller-supplied `sign`, keeps the current TLS material as a
 * ready `tls.SecureContext`, and rotates at half the certificate's lifetime ±1% jitter with a fresh key each time.
 *
 * Consumers read `current()` for every new handshake, so a rotation affects new connections only; live
 * connections keep the context they were established with.
 */
import { EventEmitter } from 'node:events';
import * as tls from 'node:tls';
import type * as Pki from './pki';

/** pki (and @peculiar/x509 under it, ~17 MB of RSS) is loaded at the first issuance: a sidecar without mTLS never pays it. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const pki = (): typeof Pki => require('./pki') as typeof Pki;
import { seededRandom } from '../../lib/random';

export interface SignResponse {
  certPem: string;
  /** Leaf (+ intermediates, + root) to present in handshakes. */
  chainPem: string;
  /** Mesh trust anchor(s) used to verify peers. */
  rootPem: string;
}

export interface WorkloadCertOptions {
  /** SPIFFE id requested in the CSR, e.g. spiffe://cluster.local/ns/default/sa/orders. */
  identity: string;
  /** Sends the CSR to the CA (HTTP to the control plane, or MeshCA.signCsr in-process). */
  sign: (csrPem: string) => Promise<SignResponse>;
  /** Jitter seed; unseeded uses Math.random. */
  seed?: number;
  /** Jitter as a fraction of the lifetime (default 0.01 = ±1%, as Istio's SECRET_GRACE_PERIOD_RATIO_JITTER). */
  jitter?: number;
  /** Fraction of the lifetime after which to rotate (default 0.5 = half life). */
  rotateAt?: number;
  /** First retry delay after a failed signing (doubles, capped at 30 s; default 500 ms). */
  retryMs?: number;
}

export interface CurrentCert {
  identity: string;
  /** Certificate chain PEM presented to peers (leaf first). */
  cert: string;
  /** PKCS#8 private key PEM. */
  key: string;
  root: string;
  secureContext: tls.SecureContext;
  notAfter: Date;
  /** Leaf serial (lowercase hex, as Node's getPeerCertificate().serialNumber lowercased). */
  serial: string;
  /** 1 for the first certificate, +1 per rotation. */
  generation: number;
}

export interface RotatedEvent {
  serial: string;
  previousSerial?: string;
  notAfter: Date;
  generation: number;
  /** When the next rotation is scheduled (epoch ms). */
  nextRotationAt: number;
}

/**
 * Events: 'rotated' (RotatedEvent) after every successful issuance including the first;
 * 'rotationFailed' (Error, retryInMs) when signing fails (it retries with backoff; not 'error', so no crash).
 */
export class WorkloadCertManager extends EventEmitter {
  private cur?: CurrentCert;
  private timer?: NodeJS.Timeout;
  private stopped = true;
  private readonly random: () => number;
  private retryDelay: number;
  private inflight?: Promise<CurrentCert>;

  constructor(private readonly opts: WorkloadCertOptions) {
    super();
    this.random = opts.seed === undefined ? Math.random : seededRandom(opts.seed);
    this.retryDelay = opts.retryMs ?? 500;
  }

  get identity(): string {
    return this.opts.identity;
  }

  /** Obtains the first certificate (rejects if signing fails) and schedules rotation. */
  async start(): Promise<CurrentCert> {
    this.stopped = false;
    return this.rotate();
  }

  /** Cancels pending rotation; the current certificate stays readable. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The material for the next handshake. Throws if start() has not completed. */
  current(): CurrentCert {
    if (!this.cur) throw new Error(`WorkloadCertManager(${this.opts.identity}): no certificate yet; await start() first`);
    return this.cur;
  }

  /** Forces a rotation now (new key, new CSR) and reschedules; concurrent calls share one issuance. */
  rotate(): Promise<CurrentCert> {
    if (!this.inflight) {
      this.inflight = this.issue().finally(() => {
        this.inflight = undefined;
      });
    }
    return this.inflight;
  }

  private async issue(): Promise<CurrentCert> {
    const { x509, generateKeyPair, privateKeyToPem, SIGNING_ALGORITHM } = pki();
    const keys = await generateKeyPair();
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
      name: 'O=meshlab',
      keys,
      signingAlgorithm: SIGNING_ALGORITHM,
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: this.opts.identity }])],
    });
    const issuedAt = Date.now();
    const signed = await this.opts.sign(csr.toString('pem'));
    const leaf = new x509.X509Certificate(signed.certPem);
    const key = await privateKeyToPem(keys.privateKey);
    // Building the context also proves the cert matches our key (Node throws on a mismatch).
    const secureContext = tls.createSecureContext({
      key,
      cert: signed.chainPem,
      ca: signed.rootPem,
      minVersion: 'TLSv1.3',
    });
    const previous = this.cur;
    this.cur = {
      identity: this.opts.identity,
      cert: signed.chainPem,
      key,
      root: signed.rootPem,
      secureContext,
      notAfter: leaf.notAfter,
      serial: leaf.serialNumber.toLowerCase(),
      generation: (previous?.generation ?? 0) + 1,
    };
    this.retryDelay = this.opts.retryMs ?? 500;
    const nextRotationAt = this.schedule(issuedAt, leaf.notAfter.getTime());
    this.emit('rotated', {
      serial: this.cur.serial,
      previousSerial: previous?.serial,
      notAfter: leaf.notAfter,
      generation: this.cur.generation,
      nextRotationAt,
    } satisfies RotatedEvent);
    return this.cur;
  }

  /** Rotation delay = lifetime × (rotateAt ± jitter), lifetime measured from when we asked (clock-skew safe). */
  rotationDelay(lifetimeMs: number): number {
    const base = this.opts.rotateAt ?? 0.5;
    const j = this.opts.jitter ?? 0.01;
    return Math.max(0, lifetimeMs * (base + (this.random() * 2 - 1) * j));
  }

  private schedule(issuedAt: number, notAfter: number): number {
    if (this.stopped) return NaN;
    // Anchored at issuance, not at "now": time spent signing under load must not push rotation towards expiry.
    const at = issuedAt + this.rotationDelay(notAfter - issuedAt);
    this.arm(Math.max(0, at - Date.now()));
    return at;
  }

  private arm(delay: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.stopped) return;
      this.rotate().catch((err: Error) => {
        if (this.stopped) return;
        const wait = this.retryDelay;
        this.retryDelay = Math.min(this.retryDelay * 2, 30_000);
        this.emit('rotationFailed', err, wait);
        this.arm(wait);
      });
    }, delay);
    this.timer.unref();
  }
}
