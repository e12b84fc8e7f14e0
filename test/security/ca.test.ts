import * as fs from 'node:fs';
import * as path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { MeshCA, CsrRejectedError, ROOT_KEY_FILE, ROOT_CERT_FILE } from '../../mesh/security/ca';
import { x509, generateKeyPair, SIGNING_ALGORITHM } from '../../mesh/security/pki';
import { spiffeId, serviceFromSpiffe, parseSpiffeId, principalOf } from '../../mesh/security/identity';
import { tmpDir } from './helpers';

async function csrFor(sans: { type: 'url' | 'dns'; value: string }[]): Promise<string> {
  const keys = await generateKeyPair();
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: 'O=test',
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: sans.length ? [new x509.SubjectAlternativeNameExtension(sans)] : [],
  });
  return csr.toString('pem');
}

describe('identity', () => {
  test('spiffeId / serviceFromSpiffe round trip', () => {
    expect(spiffeId('orders')).toBe('spiffe://cluster.local/ns/default/sa/orders');
    expect(spiffeId('payments', 'shop')).toBe('spiffe://cluster.local/ns/shop/sa/payments');
    expect(serviceFromSpiffe('spiffe://cluster.local/ns/default/sa/orders')).toBe('orders');
    expect(parseSpiffeId('cluster.local/ns/x/sa/y')).toEqual({ trustDomain: 'cluster.local', namespace: 'x', serviceAccount: 'y' });
    expect(principalOf('spiffe://cluster.local/ns/default/sa/orders')).toBe('cluster.local/ns/default/sa/orders');
    expect(() => serviceFromSpiffe('https://example.com/x')).toThrow(/expected spiffe:\/\/<trust-domain>\/ns\/<namespace>\/sa\/<service>/);
    expect(() => spiffeId('Orders!')).toThrow(/service "Orders!" is not a DNS-1123 label/);
  });
});

describe('MeshCA', () => {
  const dir = tmpDir('ca');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('creates a P-256 root on first start, persists it, and reloads the same root', async () => {
    const ca1 = await MeshCA.loadOrCreate(dir);
    expect(fs.statSync(path.join(dir, ROOT_KEY_FILE)).mode & 0o777).toBe(0o600);
    const root = new X509Certificate(ca1.rootPem);
    expect(root.ca).toBe(true);
    expect(root.publicKey.asymmetricKeyDetails).toEqual({ namedCurve: 'prime256v1' });
    const ca2 = await MeshCA.loadOrCreate(dir);
    expect(ca2.rootPem).toBe(ca1.rootPem);
    expect(ca2.rootSerial).toBe(ca1.rootSerial);
    // A cert issued by the reloaded CA verifies against the root persisted by the first.
    const identity = spiffeId('orders');
    const { certPem } = await ca2.signCsr(await csrFor([{ type: 'url', value: identity }]), { identity, ttlMs: 60_000 });
    expect(new X509Certificate(certPem).verify(root.publicKey)).toBe(true);
  });

  test('refuses a directory holding only one of the two root files', async () => {
    const half = tmpDir('half');
    try {
      fs.writeFileSync(path.join(half, ROOT_CERT_FILE), 'x');
      await expect(MeshCA.loadOrCreate(half)).rejects.toThrow(/found only one of .*root-cert\.pem and .*root-key\.pem/);
    } finally {
      fs.rmSync(half, { recursive: true, force: true });
    }
  });

  test('issued cert: SPIFFE URI SAN, P-256, TTL honoured, chain = leaf + root', async () => {
    const ca = await MeshCA.loadOrCreate(dir);
    const identity = spiffeId('payments');
    const before = Date.now();
    const res = await ca.signCsr(await csrFor([{ type: 'url', value: identity }]), { identity, ttlMs: 5_000 });
    const leaf = new X509Certificate(res.certPem);
    expect(leaf.subjectAltName).toBe(`URI:${identity}`);
    expect(leaf.ca).toBe(false);
    expect(leaf.publicKey.asymmetricKeyDetails).toEqual({ namedCurve: 'prime256v1' });
    expect(leaf.checkIssued(new X509Certificate(ca.rootPem))).toBe(true);
    // X.509 times have 1 s resolution; the CA rounds up, so the lifetime is within [ttl, ttl + 1 s].
    const lifetime = res.notAfter.getTime() - before;
    expect(lifetime).toBeGreaterThanOrEqual(5_000);
    expect(lifetime).toBeLessThanOrEqual(5_000 + 1_000 + (Date.now() - before));
    expect(new Date(leaf.validTo).getTime()).toBe(res.notAfter.getTime());
    expect(res.chainPem).toBe(res.certPem + ca.rootPem);
    expect(res.serial).toBe(leaf.serialNumber.toLowerCase());
  });

  test('rejects a CSR for a different identity, without SAN, with extra SANs, garbage, and too-short TTL', async () => {
    const ca = await MeshCA.loadOrCreate(dir);
    const identity = spiffeId('orders');
    await expect(
      ca.signCsr(await csrFor([{ type: 'url', value: spiffeId('payments') }]), { identity, ttlMs: 60_000 }),
    ).rejects.toThrow(
      'CSR requests SAN [url:spiffe://cluster.local/ns/default/sa/payments] but the caller is entitled only to url:spiffe://cluster.local/ns/default/sa/orders',
    );
    await expect(ca.signCsr(await csrFor([]), { identity, ttlMs: 60_000 })).rejects.toThrow(/CSR requests SAN \[none\]/);
    await expect(
      ca.signCsr(await csrFor([{ type: 'url', value: identity }, { type: 'dns', value: 'evil.example' }]), { identity, ttlMs: 60_000 }),
    ).rejects.toThrow(/dns:evil\.example/);
    await expect(ca.signCsr('-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----', { identity, ttlMs: 60_000 })).rejects.toBeInstanceOf(
      CsrRejectedError,
    );
    await expect(ca.signCsr('hello', { identity, ttlMs: 60_000 })).rejects.toThrow(/is not a PEM\/DER PKCS#10 request/);
    const good = await csrFor([{ type: 'url', value: identity }]);
    await expect(ca.signCsr(good, { identity, ttlMs: 10 })).rejects.toThrow('ttlMs 10 is too short; use at least 1000 ms');
    await expect(ca.signCsr(good, { identity: 'orders', ttlMs: 60_000 })).rejects.toThrow(/is not a SPIFFE id/);
  });

  test('rejects a CSR whose self-signature does not verify', async () => {
    const ca = await MeshCA.loadOrCreate(dir);
    const identity = spiffeId('orders');
    const der = Buffer.from(x509.PemConverter.decodeFirst(await csrFor([{ type: 'url', value: identity }])));
    der[der.length - 5] ^= 0xff; // flip a byte inside the signature
    const tampered = x509.PemConverter.encode(der, 'CERTIFICATE REQUEST');
    await expect(ca.signCsr(tampered, { identity, ttlMs: 60_000 })).rejects.toThrow(`CSR for ${identity} has an invalid self-signature`);
  });
});
