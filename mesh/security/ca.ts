/**
 * The mesh certificate authority run by the control plane (Istio's "self-signed CA" mode): an ECDSA P-256 root,
 * created on first start and persisted (root-cert.pem, root-key.pem with mode 0600) so restarts keep the same trust
 * anchor, and a CSR signer issuing short-lived workload certificates whose only SAN is the SPIFFE URI.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { x509, generateKeyPair, privateKeyToPem, keyPairFromPem, randomSerial, SIGNING_ALGORITHM, SAN_OID, KeyPair } from './pki';
import { parseSpiffeId } from './identity';

export const ROOT_CERT_FILE = 'root-cert.pem';
export const ROOT_KEY_FILE = 'root-key.pem';
/** Istio's default root lifetime is 10 years. */
const ROOT_TTL_MS = 10 * 365 * 24 * 3600 * 1000;
/** Workload certs are backdated slightly so small clock differences between processes do not make them "not yet valid". */
const BACKDATE_MS = 60_000;
export const MIN_WORKLOAD_TTL_MS = 1_000;

export interface SignOptions {
  /** The SPIFFE id the caller is entitled to, e.g. spiffe://cluster.local/ns/default/sa/orders. */
  identity: string;
  /** Certificate lifetime in ms (Istio default 24 h); at least 1 s. */
  ttlMs: number;
}

export interface SignedCert {
  /** The leaf certificate. */
  certPem: string;
  /** Leaf followed by the root: what a workload presents in its handshake. */
  chainPem: string;
  notAfter: Date;
  /** Hex serial of the leaf (lowercase). */
  serial: string;
}

/** A CSR was refused; the message says what was wrong and what was expected. */
export class CsrRejectedError extends Error {
  override name = 'CsrRejectedError';
}

export class MeshCA {
  private constructor(
    readonly rootPem: string,
    private readonly root: x509.X509Certificate,
    private readonly keys: KeyPair,
    /** Directory holding the root files. */
    readonly dir: string,
  ) {}

  /** Loads the root from `dir`, or creates (and persists) a new one when neither file exists. */
  static async loadOrCreate(dir: string): Promise<MeshCA> {
    const certPath = path.join(dir, ROOT_CERT_FILE);
    const keyPath = path.join(dir, ROOT_KEY_FILE);
    const [certPem, keyPem] = await Promise.all([readIfExists(certPath), readIfExists(keyPath)]);
    if (certPem !== undefined && keyPem !== undefined) {
      let root: x509.X509Certificate;
      let keys: KeyPair;
      try {
        root = new x509.X509Certificate(certPem);
        keys = await keyPairFromPem(keyPem);
      } catch (e) {
        throw new Error(`mesh CA: cannot parse ${certPath} / ${keyPath} (${(e as Error).message}); delete both to create a new root`);
      }
      return new MeshCA(certPem, root, keys, dir);
    }
    if (certPem !== undefined || keyPem !== undefined) {
      throw new Error(
        `mesh CA: found only one of ${certPath} and ${keyPath}; restore the missing file or delete both to create a new root`,
      );
    }
    const keys = await generateKeyPair();
    const now = Date.now();
    const root = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerial(),
      name: 'O=meshlab, CN=meshlab mesh root CA',
      notBefore: new Date(now - BACKDATE_MS),
      notAfter: new Date(now + ROOT_TTL_MS),
      keys,
      signingAlgorithm: SIGNING_ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    const rootPem = root.toString('pem') + '\n';
    await fs.mkdir(dir, { recursive: true });
    // Key first with restrictive mode: a crash between the writes leaves a state the loader reports clearly.
    await fs.writeFile(keyPath, await privateKeyToPem(keys.privateKey), { mode: 0o600 });
    await fs.writeFile(certPath, rootPem);
    return new MeshCA(rootPem, root, keys, dir);
  }

  /** Root certificate serial (hex), handy for status output. */
  get rootSerial(): string {
    return this.root.serialNumber.toLowerCase();
  }

  /**
   * Signs a PKCS#10 CSR for `opts.identity`. The CSR must carry a valid self-signature, a P-256 key, and exactly one
   * SAN: the URI `opts.identity`. The issued cert is a non-CA leaf usable for TLS client and server auth.
   */
  async signCsr(csrPem: string, opts: SignOptions): Promise<SignedCert> {
    if (!parseSpiffeId(opts.identity) || !opts.identity.startsWith('spiffe://')) {
      throw new CsrRejectedError(
        `identity "${opts.identity}" is not a SPIFFE id; expected spiffe://cluster.local/ns/<namespace>/sa/<service>`,
      );
    }
    if (!Number.isFinite(opts.ttlMs) || opts.ttlMs < MIN_WORKLOAD_TTL_MS) {
      throw new CsrRejectedError(`ttlMs ${opts.ttlMs} is too short; use at least ${MIN_WORKLOAD_TTL_MS} ms`);
    }
    let csr: x509.Pkcs10CertificateRequest;
    try {
      csr = new x509.Pkcs10CertificateRequest(csrPem);
    } catch (e) {
      throw new CsrRejectedError(`CSR for ${opts.identity} is not a PEM/DER PKCS#10 request (${(e as Error).message})`);
    }
    let signatureOk = false;
    try {
      signatureOk = await csr.verify();
    } catch {
      signatureOk = false;
    }
    if (!signatureOk) throw new CsrRejectedError(`CSR for ${opts.identity} has an invalid self-signature`);
    const alg = csr.publicKey.algorithm as { name: string; namedCurve?: string };
    if (alg.name !== 'ECDSA' || alg.namedCurve !== 'P-256') {
      throw new CsrRejectedError(
        `CSR for ${opts.identity} uses a ${alg.name}${alg.namedCurve ? ' ' + alg.namedCurve : ''} key; the mesh requires ECDSA P-256`,
      );
    }
    const requested = requestedSans(csr);
    if (requested.length !== 1 || requested[0] !== `url:${opts.identity}`) {
      throw new CsrRejectedError(
        `CSR requests SAN [${requested.join(', ') || 'none'}] but the caller is entitled only to url:${opts.identity}`,
      );
    }

    const now = Date.now();
    // X.509 times have 1 s resolution; round up so a short TTL (2 s in labs) is never cut to ~1 s by truncation.
    const notAfter = new Date(Math.min(Math.ceil((now + opts.ttlMs) / 1000) * 1000, this.root.notAfter.getTime()));
    const serial = randomSerial();
    const leaf = await x509.X509CertificateGenerator.create({
      serialNumber: serial,
      subject: 'O=meshlab',
      issuer: this.root.subjectName,
      notBefore: new Date(now - BACKDATE_MS),
      notAfter,
      publicKey: csr.publicKey,
      signingKey: this.keys.privateKey,
      signingAlgorithm: SIGNING_ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
        // Istio marks the SAN critical because the subject is empty of identity information.
        new x509.SubjectAlternativeNameExtension([{ type: 'url', value: opts.identity }], true),
        await x509.AuthorityKeyIdentifierExtension.create(this.keys.publicKey),
      ],
    });
    const certPem = leaf.toString('pem') + '\n';
    return { certPem, chainPem: certPem + this.rootPem, notAfter: leaf.notAfter, serial: leaf.serialNumber.toLowerCase() };
  }
}

function requestedSans(csr: x509.Pkcs10CertificateRequest): string[] {
  const ext = csr.getExtension(SAN_OID);
  if (!ext) return [];
  const san = new x509.SubjectAlternativeNameExtension(ext.rawData);
  return san.names.items.map((n) => `${n.type}:${n.value}`);
}

async function readIfExists(p: string): Promise<string | undefined> {
  try {
    return await fs.readFile(p, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}
