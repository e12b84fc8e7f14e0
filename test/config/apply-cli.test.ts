import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { applyCommand } from '../../cli/commands/config';
import { startControlPlane, type ControlPlane } from '../../mesh/control-plane/server';

const FILE = `apiVersion: v1
kind: Service
metadata:
  name: payments
spec:
  selector: {app: payments}
  ports:
  - {name: http, port: 80}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: payments-v1
spec:
  selector:
    matchLabels: {app: payments, version: v1}
  template:
    metadata:
      labels: {app: payments, version: v1}
    spec:
      containers:
      - {name: payments, image: meshlab}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: payments
spec:
  host: payments
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v2
    labels: {version: v2}
`;

/** `meshlab apply -f` on a manifest with its Kubernetes objects, against a real in-process control plane. */
describe('meshlab apply -f with the Deployments beside the Istio config', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'apply-cli-'));
  let cp: ControlPlane;
  beforeAll(async () => {
    cp = await startControlPlane({ host: '127.0.0.1', port: 0, dataDir: path.join(dir, 'cp'), configDir: path.join(dir, 'none') });
    fs.writeFileSync(path.join(dir, 'payments.yaml'), FILE);
  });
  afterAll(async () => {
    await cp?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('prints per object what it did, the IST0173 analyze -f would print for subset v2 (no v2 pod), says it does not block, exits 0', async () => {
    const lines: string[] = [];
    const log = jest.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
    const err = jest.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
    let code: number;
    try {
      code = await applyCommand(['-f', path.join(dir, 'payments.yaml'), '--cp', cp.url]);
    } finally {
      log.mockRestore();
      err.mockRestore();
    }
    const out = lines.join('\n');
    expect(code).toBe(0);
    expect(out).toMatch(/^destinationrule\.networking\.istio\.io\/payments created$/m);
    expect(out).toMatch(/^service\/payments used as topology \(/m);
    expect(out).toMatch(/^deployment\.apps\/payments-v1 used as topology \(/m);
    expect(out.match(/Error \[IST0173\] \(DestinationRule default\/payments [^)]*payments\.yaml:\d+\)/g)).toHaveLength(1);
    expect(out).toMatch(/applied; the 1 error\(s\) above are what meshlab analyze finds against the topology .*: reported, not blocking/);
    expect(cp.config.list().map((r) => `${r.kind}/${r.metadata.name}`)).toEqual(['DestinationRule/payments']);
  });
});
