/**
 * Small shared helpers over @peculiar/x509 + Node's WebCrypto: key generation and PEM conversion.
 * All mesh keys are ECDSA P-256 (what Istio uses by default for workload certs when ECC is enabled).
 */
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export type KeyPair = webcrypto.CryptoKeyPair;
export type Key = webcrypto.CryptoKey;

export { x509 };
export const subtle = webcrypto.subtle;
export const EC_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
export const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const;
export const SAN_OID = '2.5.29.17';

/** A fresh extractable P-256 key pair. */
export async function generateKeyPair(): Promise<KeyPair> {
  return (await subtle.generateKey(EC_ALGORITHM, true, ['sign', 'verify'])) as KeyPair;
}

/** PKCS#8 PEM of a private key ("-----BEGIN PRIVATE KEY-----"), the form Node's tls accepts. */
export async function privateKeyToPem(key: Key): Promise<string> {
  const der = await subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

/** Imports a PKCS#8 PEM P-256 private key plus its matching public key (derived via JWK). */
export async function keyPairFromPem(pem: string): Promise<KeyPair> {
  const der = x509.PemConverter.decodeFirst(pem);
  const privateKey = await subtle.importKey('pkcs8', der, EC_ALGORITHM, true, ['sign']);
  const jwk = await subtle.exportKey('jwk', privateKey);
  const publicKey = await subtle.importKey('jwk', { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, EC_ALGORITHM, true, [
    'verify',
  ]);
  return { privateKey, publicKey } as KeyPair;
}

/** A random positive 128-bit serial number in hex (RFC 5280 allows up to 20 octets). */
export function randomSerial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] &= 0x7f;
  if (bytes[0] === 0) bytes[0] = 1;
  return Buffer.from(bytes).toString('hex');
}

/** Splits a PEM bundle into its certificate blocks. */
export function splitPem(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}
