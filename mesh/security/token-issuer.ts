/**
 * The lab's tiny token issuer (`meshlab token`): ES256 JWTs signed with config/jwt/issuer-key.pem, whose
 * public key config/default's RequestAuthentication trusts. Signing is jose's.
 */
import fs from 'node:fs';
import path from 'node:path';
import { SignJWT, importPKCS8 } from 'jose';

export const LAB_ISSUER = 'meshlab-token-issuer@meshlab.local';
export const LAB_KEY_ID = 'meshlab-lab-1';

export function labKeyFile(root = path.join(__dirname, '..', '..', '..')): string {
  return path.join(root, 'config', 'jwt', 'issuer-key.pem');
}

export interface TokenRequest {
  sub: string;
  aud?: string | string[];
  /** Extra claims (e.g. {group: 'beta'}). */
  claims?: Record<string, unknown>;
  /** Lifetime in seconds (default 1 h); negative for an already expired token (tests). */
  ttlSeconds?: number;
  issuer?: string;
  keyPem?: string;
  /** Seconds since the epoch: "now" for iat/exp (tests). */
  now?: number;
}

export async function issueToken(req: TokenRequest): Promise<string> {
  const key = await importPKCS8(req.keyPem ?? fs.readFileSync(labKeyFile(), 'utf8'), 'ES256');
  const now = req.now ?? Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ ...req.claims })
    .setProtectedHeader({ alg: 'ES256', kid: LAB_KEY_ID, typ: 'JWT' })
    .setIssuer(req.issuer ?? LAB_ISSUER)
    .setSubject(req.sub)
    .setIssuedAt(now)
    .setExpirationTime(now + (req.ttlSeconds ?? 3600));
  if (req.aud !== undefined) jwt.setAudience(req.aud);
  return jwt.sign(key);
}
