/**
 * File credentials for the gateway (`meshlab certs create HOST`): a local edge CA (`ca.crt`/`ca.key` in the
 * credentials folder, created once; what `curl --cacert` trusts) and, per credential, `NAME/tls.crt` +
 * `NAME/tls.key` for the hosts given (DNS names, IP addresses as IP SANs) with `NAME/ca.crt` (the same CA,
 * so MUTUAL verifies client certificates it issued). ECDSA P-256 via @peculiar/x509, like the mesh CA.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isIP } from 'node:net';
import { x509, generateKeyPair, keyPairFromPem, privateKeyToPem, randomSerial, SIGNING_ALGORITHM, type KeyPair } from '../security/pki';

const DAY = 86_400_000;

interface Ca {
  cert: x509.X509Certificate;
  keys: KeyPair;
  pem: string;
}

async function loadOrCreateCa(dir: string): Promise<Ca> {
  const certFile = path.join(dir, 'ca.crt');
  const keyFile = path.join(dir, 'ca.key');
  if (fs.existsSync(certFile) && fs.existsSync(keyFile)) {
    const pem = fs.readFileSync(certFile, 'utf8');
    return { cert: new x509.X509Certificate(pem), keys: await keyPairFromPem(fs.readFileSync(keyFile, 'utf8')), pem };
  }
  const keys = await generateKeyPair();
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: 'O=meshlab, CN=meshlab edge CA',
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 3650 * DAY),
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true), await x509.SubjectKeyIdentifierExtension.create(keys.publicKey)],
  });
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(keyFile, await privateKeyToPem(keys.privateKey), { mode: 0o600 });
  const pem = cert.toString('pem') + '\n';
  fs.writeFileSync(certFile, pem);
  return { cert, keys, pem };
}

async function issue(ca: Ca, cn: string, sans: string[], usage: 'server' | 'client'): Promise<{ cert: string; key: string }> {
  const keys = await generateKeyPair();
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: `O=meshlab, CN=${cn}`,
    issuer: ca.cert.subject,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 365 * DAY),
    signingKey: ca.keys.privateKey,
    publicKey: keys.publicKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth]),
      ...(sans.length ? [new x509.SubjectAlternativeNameExtension(sans.map((h) => (isIP(h) ? { type: 'ip' as const, value: h } : { type: 'dns' as const, value: h })))] : []),
    ],
  });
  return { cert: cert.toString('pem') + '\n' + ca.pem, key: await privateKeyToPem(keys.privateKey) };
}

/** Creates (or replaces) credential `name` for `hosts` under `dir`; returns the files written. */
export async function createServerCredential(dir: string, name: string, hosts: string[]): Promise<{ dir: string; ca: string }> {
  const ca = await loadOrCreateCa(dir);
  const { cert, key } = await issue(ca, hosts[0] ?? name, hosts, 'server');
  const out = path.join(dir, name);
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, 'tls.key'), key, { mode: 0o600 });
  fs.writeFileSync(path.join(out, 'tls.crt'), cert);
  fs.writeFileSync(path.join(out, 'ca.crt'), ca.pem);
  return { dir: out, ca: path.join(dir, 'ca.crt') };
}

/** A client certificate from the same CA (for MUTUAL servers). */
export async function createClientCertificate(dir: string, cn: string): Promise<{ cert: string; key: string; ca: string }> {
  const ca = await loadOrCreateCa(dir);
  return { ...(await issue(ca, cn, [], 'client')), ca: ca.pem };
}

/** The default world's credential: created once, reused across restarts. */
export async function ensureServerCredential(dir: string, name: string, hosts: string[]): Promise<string> {
  if (!fs.existsSync(path.join(dir, name, 'tls.crt'))) await createServerCredential(dir, name, hosts);
  return path.join(dir, 'ca.crt');
}
