import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { certsCommand, tokenCommand } from '../../cli/commands/edge';
import { loadPath } from '../../mesh/config/load';

const REPO = path.join(__dirname, '../../..');

async function printed(run: () => Promise<number>): Promise<string> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => void lines.push(a.join(' '));
  try {
    expect(await run()).toBe(0);
  } finally {
    console.log = log;
  }
  return lines.join('\n');
}

describe('meshlab token and meshlab certs', () => {
  test("`meshlab token --sub alice --aud shop --claim group=beta` prints an ES256 JWT that config/default's RequestAuthentication verifies (its inline jwks, issuer, audience)", async () => {
    const token = (await printed(() => tokenCommand(['--sub', 'alice', '--aud', 'shop', '--claim', 'group=beta']))).trim();
    const ra = loadPath(path.join(REPO, 'config/default/request-authentication.yaml')).resources[0].spec as { jwtRules: { issuer: string; audiences: string[]; jwks: string }[] };
    const rule = ra.jwtRules[0];
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(JSON.parse(rule.jwks)), { issuer: rule.issuer, audience: rule.audiences });
    expect(protectedHeader.alg).toBe('ES256');
    expect(payload).toMatchObject({ sub: 'alice', aud: 'shop', group: 'beta' });
    expect(payload.exp! - payload.iat!).toBe(3600);
  });

  test('`meshlab certs create shop.example.test 127.0.0.1 --name shop-cert` writes a credential whose certificate names both hosts and chains to the printed CA', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlab-certs-'));
    try {
      const out = await printed(() => certsCommand(['create', 'shop.example.test', '127.0.0.1', '--name', 'shop-cert', '--dir', dir]));
      expect(out).toContain(`CA (curl --cacert): ${path.join(dir, 'ca.crt')}`);
      const pem = fs.readFileSync(path.join(dir, 'shop-cert', 'tls.crt'), 'utf8');
      const cert = new (await import('node:crypto')).X509Certificate(pem);
      expect(cert.subjectAltName).toBe('DNS:shop.example.test, IP Address:127.0.0.1');
      const ca = new (await import('node:crypto')).X509Certificate(fs.readFileSync(path.join(dir, 'ca.crt')));
      expect(cert.verify(ca.publicKey)).toBe(true);
      expect(tls.createSecureContext({ cert: pem, key: fs.readFileSync(path.join(dir, 'shop-cert', 'tls.key')) })).toBeDefined();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
