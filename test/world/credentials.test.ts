import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WorldCredentials } from '../../world/credentials';
import { operatorToken, verifyWorkloadToken } from '../../lib/cp-auth';
import { eventually } from '../support/http';

describe('the launcher\'s credentials', () => {
  let dir: string;
  const savedHome = process.env.MESHLAB_HOME;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlab-creds-'));
    process.env.MESHLAB_HOME = path.join(dir, 'home');
  });
  afterEach(() => {
    if (savedHome === undefined) delete process.env.MESHLAB_HOME;
    else process.env.MESHLAB_HOME = savedHome;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('secrets are 0600 files in a 0700 folder; a workload token names its node and service and verifies with the key the control plane reads', () => {
    const creds = new WorldCredentials(path.join(dir, 'data'), '1h');
    try {
      const file = creds.issue('payments-v1-0', 'payments', 'sidecar');
      expect(fs.statSync(creds.dir).mode & 0o777).toBe(0o700);
      for (const f of [creds.keyFile, creds.operatorFile, file]) expect([f, fs.statSync(f).mode & 0o777]).toEqual([f, 0o600]);
      const v = verifyWorkloadToken(fs.readFileSync(creds.keyFile, 'utf8'), fs.readFileSync(file, 'utf8'));
      expect(v).toEqual({ ok: true, claims: { node: 'payments-v1-0', service: 'payments', role: 'sidecar', exp: expect.any(Number) } });
      if (v.ok) expect(v.claims.exp - Date.now()).toBeGreaterThan(3500_000);
    } finally {
      creds.close();
    }
  });

  test('a 2 s token is rewritten before it expires (at half its life, 1 s), with a later expiry', async () => {
    const creds = new WorldCredentials(path.join(dir, 'data'), '2s');
    try {
      const file = creds.issue('orders-v1-0', 'orders', 'sidecar');
      const key = fs.readFileSync(creds.keyFile, 'utf8');
      const first = verifyWorkloadToken(key, fs.readFileSync(file, 'utf8'));
      if (!first.ok) throw new Error(first.error);
      const refreshed = await eventually('a refreshed token', async () => {
        const v = verifyWorkloadToken(key, fs.readFileSync(file, 'utf8'));
        return v.ok && v.claims.exp > first.claims.exp ? v.claims : undefined;
      }, 5000, 20);
      // Written while the first was still valid (at ~1 s): its expiry is less than one life (2 s) after the first's.
      expect(refreshed.exp - first.claims.exp).toBeLessThan(2000);
    } finally {
      creds.close();
    }
  });

  test('the operator token is stored by control-plane address for clients, and stop removes it and every secret', () => {
    const creds = new WorldCredentials(path.join(dir, 'data'), '1h');
    creds.storeOperator('http://127.0.0.1:15010');
    expect(operatorToken('http://127.0.0.1:15010')).toBe(creds.operatorToken);
    expect(operatorToken('http://127.0.0.1:15011')).toBeUndefined();
    creds.close();
    expect(operatorToken('http://127.0.0.1:15010')).toBeUndefined();
    expect(fs.existsSync(creds.dir)).toBe(false);
  });
});
