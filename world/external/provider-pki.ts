/**
 * The external provider's own PKI, apart from the mesh's: a root CA of its own, a server certificate for its
 * DNS name (the SAN a client checks) and a client certificate its TLS port asks for when mutual TLS is on.
 * ECDSA P-256 through @peculiar/x509 and WebCrypto (mesh/security/pki.ts), nothing hand-rolled. Files are
 * written as PEM into a directory the DestinationRule's caCertificates / clientCertificate / privateKey name.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { x509, generateKeyPair, privateKeyToPem, randomSerial, SIGNING_ALGORITHM, type KeyPair } from '../../mesh/security/pki';

export interface ProviderPki {
  dir: string;
  /** `ca.pem`: the provider's root (what a client puts in caCertificates). */
  caFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  /** A client certificate the provider issued (for MUTUAL), CN = `clientName`. */
  clientCertFile: string;
  clientKeyFile: string;
  caPem: string;
  serverCertPem: string;
  serverKeyPem: string;
}

const DAY = 86_400_000;

async function leaf(ca: { cert: x509.X509Certificate; keys: KeyPair }, subject: string, sans: x509.JsonGeneralName[], usage: x509.ExtendedKeyUsage): Promise<{ certPem: string; keyPem: string }> {
  const keys = await generateKeyPair();
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject,
    issuer: ca.cert.subjectName,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 30 * DAY),
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([usage]),
      ...(sans.length ? [new x509.SubjectAlternativeNameExtension(sans)] : []),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await privateKeyToPem(keys.privateKey) };
}

/** A fresh provider PKI in `dir`: its root, a server certificate for `serverName` (+127.0.0.1), a client certificate for `clientName`. */
export async function createProviderPki(dir: string, serverName: string, clientName = 'meshlab-notifications', caName = 'mail provider root CA'): Promise<ProviderPki> {
  const keys = await generateKeyPair();
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `O=external provider, CN=${caName}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 365 * DAY),
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)],
  });
  const ca = { cert, keys };
  const server = await leaf(ca, `CN=${serverName}`, [{ type: 'dns', value: serverName }, { type: 'ip', value: '127.0.0.1' }], x509.ExtendedKeyUsage.serverAuth);
  const client = await leaf(ca, `CN=${clientName}`, [], x509.ExtendedKeyUsage.clientAuth);
  await fs.mkdir(dir, { recursive: true });
  const f = (n: string) => path.join(dir, n);
  const caPem = cert.toString('pem') + '\n';
  await Promise.all([
    fs.writeFile(f('ca.pem'), caPem),
    fs.writeFile(f('server-cert.pem'), server.certPem),
    fs.writeFile(f('server-key.pem'), server.keyPem, { mode: 0o600 }),
    fs.writeFile(f('client-cert.pem'), client.certPem),
    fs.writeFile(f('client-key.pem'), client.keyPem, { mode: 0o600 }),
  ]);
  return {
    dir,
    caFile: f('ca.pem'),
    serverCertFile: f('server-cert.pem'),
    serverKeyFile: f('server-key.pem'),
    clientCertFile: f('client-cert.pem'),
    clientKeyFile: f('client-key.pem'),
    caPem,
    serverCertPem: server.certPem,
    serverKeyPem: server.keyPem,
  };
}
