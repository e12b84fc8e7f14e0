import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { analyzeCommand } from '../../cli/commands/analyze';
import { REPO } from './helpers';

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await analyzeCommand(args, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

const samples = (f: string) => path.join(REPO, 'config/samples', f);

describe('meshlab analyze', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlab-analyze-'));
    fs.writeFileSync(
      path.join(dir, 'bad.yaml'),
      `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: payments
spec:
  hosts:
  - payments
  http:
  - route:
    - destination:
        host: payments
        subset: v9
`,
    );
    fs.writeFileSync(
      path.join(dir, 'warn.yaml'),
      `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: orders
spec:
  host: orders
  trafficPolicy:
    loadBalancer:
      simple: LEAST_CONN
`,
    );
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('clean input: check mark and exit 0', async () => {
    const r = await run(['-f', samples('destination-rule-all.yaml'), '-f', samples('virtual-service-payments-90-10.yaml')]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^\u2714 No validation issues found when analyzing namespace: default \(4 resource\(s\) in /);
    expect(r.err).toBe('');
  });

  test('errors: istioctl-style lines and exit 1', async () => {
    const bad = path.join(dir, 'bad.yaml');
    const r = await run(['-f', bad]);
    expect(r.code).toBe(1);
    expect(r.out).toBe(`Error [IST0101] (VirtualService default/payments ${bad}:12) Referenced host+subset in destinationrule not found: "payments+v9"\n`);
    expect(r.err).toBe('Error: Analyzers found issues when analyzing namespace: default.\n');
  });

  test('warnings only: printed, exit 0 (failure threshold Error)', async () => {
    const r = await run([`--filename=${path.join(dir, 'warn.yaml')}`]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Warning \[IST0133\] \(DestinationRule default\/orders .*warn.yaml:9\) spec.trafficPolicy.loadBalancer.simple: LEAST_CONN is deprecated, use LEAST_REQUEST\n$/);
  });

  test('-o json prints the messages array', async () => {
    const r = await run(['-f', dir, '-o', 'json']);
    expect(r.code).toBe(1);
    const msgs = JSON.parse(r.out) as Array<{ code: string; line: number; column: number; path: string }>;
    expect(msgs.map((m) => [m.code, m.line, m.column, m.path])).toEqual([
      ['IST0101', 12, 9, 'spec.http[0].route[0].destination.subset'],
      ['IST0133', 9, 7, 'spec.trafficPolicy.loadBalancer.simple'],
    ]);
  });

  test('usage errors exit 1 with a hint', async () => {
    expect((await run([])).err).toMatch(/no input: pass -f FILE\|DIR/);
    expect((await run(['-o', 'yaml', '-f', dir])).code).toBe(1);
    expect((await run(['--bogus'])).err).toMatch(/unknown option --bogus/);
    const help = await run(['-h']);
    expect([help.code, help.out.startsWith('Usage: meshlab analyze')]).toEqual([0, true]);
  });
});
