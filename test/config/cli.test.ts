import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { analyzeCommand } from '../../cli/commands/analyze';
import YAML from 'yaml';
import { istioCorpus, REPO } from './helpers';

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
    expect(r.out).toBe('');
    expect(r.err).toMatch(/^\u2714 No validation issues found when analyzing .*destination-rule-all.yaml, .*virtual-service-payments-90-10.yaml \(4 object\(s\)\)\.\n$/);
  });

  test("errors: istioctl-style lines and istioctl's exit status 79", async () => {
    const bad = path.join(dir, 'bad.yaml');
    const r = await run(['-f', bad]);
    expect(r.code).toBe(79);
    expect(r.out).toBe(`Error [IST0101] (VirtualService default/payments ${bad}:12) Referenced host+subset in destinationrule not found: "payments+v9"\n`);
    expect(r.err).toMatch(/^Error: Analyzers found issues when analyzing namespace: default\.\n/);
  });

  test('warnings only: printed, exit 0 (failure threshold Error)', async () => {
    const r = await run([`--filename=${path.join(dir, 'warn.yaml')}`]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Warning \[IST0133\] \(DestinationRule default\/orders .*warn.yaml:9\) spec.trafficPolicy.loadBalancer.simple: LEAST_CONN is deprecated, use LEAST_REQUEST\n$/);
  });

  test("-o json prints istioctl's fields (code, level, origin, reference, message, documentationUrl) and exits 0 as istioctl does", async () => {
    const r = await run(['-f', dir, '-o', 'json']);
    expect(r.code).toBe(0);
    const msgs = JSON.parse(r.out) as Array<Record<string, unknown>>;
    expect(msgs.map((m) => [m.code, m.level, m.origin, String(m.reference).replace(dir, 'D'), m.line, m.column, m.path])).toEqual([
      ['IST0101', 'Error', 'VirtualService default/payments', 'D/bad.yaml:12', 12, 9, 'spec.http[0].route[0].destination.subset'],
      ['IST0133', 'Warning', 'DestinationRule default/orders', 'D/warn.yaml:9', 9, 7, 'spec.trafficPolicy.loadBalancer.simple'],
    ]);
    expect(msgs[0].documentationUrl).toBe('https://istio.io/latest/docs/reference/config/analysis/ist0101/');
    const y = await run(['-f', dir, '-o', 'yaml']);
    expect((YAML.parse(y.out) as Array<{ code: string }>).map((m) => m.code)).toEqual(['IST0101', 'IST0133']);
  });

  test('--failure-threshold Warning fails on a warning; --output-threshold Error hides it but the exit status still counts it', async () => {
    const warn = path.join(dir, 'warn.yaml');
    expect((await run(['-f', warn, '--failure-threshold', 'Warning'])).code).toBe(79);
    const hidden = await run(['-f', warn, '--failure-threshold=Warning', '--output-threshold=Error']);
    expect([hidden.code, hidden.out]).toEqual([79, '']);
    expect((await run(['-f', warn, '--failure-threshold', 'Bogus'])).err).toMatch(/--failure-threshold must be one of Info, Warning, Error/);
  });

  test('--suppress CODE=RESOURCE (with * wildcards) drops exactly that message', async () => {
    const r = await run(['-f', dir, '--suppress', 'IST0101=VirtualService default/pay*']);
    expect([r.code, r.out.split('\n').filter(Boolean).map((l) => l.slice(0, 16))]).toEqual([0, ['Warning [IST0133']]);
    expect((await run(['-f', dir, '-S', 'IST0101=VirtualService other/*'])).code).toBe(79);
    expect((await run(['-f', dir, '-S', 'nonsense'])).err).toMatch(/is not a valid suppression value/);
  });

  test('-n NS reports that namespace only; -A every namespace', async () => {
    const shop = path.join(dir, 'ns');
    fs.mkdirSync(shop, { recursive: true });
    fs.writeFileSync(path.join(shop, 'shop.yaml'), fs.readFileSync(path.join(dir, 'bad.yaml'), 'utf8').replace('  name: payments\n', '  name: payments\n  namespace: shop\n'));
    const def = await run(['-f', shop]);
    expect([def.code, def.out]).toEqual([0, '']);
    const n = await run(['-f', shop, '-n', 'shop']);
    expect(n.code).toBe(79);
    expect(n.out.startsWith(`Error [IST0101] (VirtualService shop/payments ${path.join(shop, 'shop.yaml')}:`)).toBe(true);
    expect((await run(['-f', shop, '-A'])).code).toBe(79);
  });

  test("IST0106 is worded as istioctl's template: 'Schema validation error: …'", async () => {
    const typo = path.join(dir, 'typo', 'typo.yaml');
    fs.mkdirSync(path.dirname(typo), { recursive: true });
    fs.writeFileSync(typo, 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: orders\nspec:\n  host: orders\n  trafficPolice: {}\n');
    const r = await run(['-f', typo]);
    expect(r.code).toBe(79);
    expect(r.out).toBe(`Error [IST0106] (DestinationRule default/orders ${typo}:7) Schema validation error: unknown field "trafficPolice" at spec.trafficPolice (allowed here: host, trafficPolicy, subsets, exportTo)\n`);
  });

  test('usage errors exit 1 with a hint', async () => {
    expect((await run(['-o', 'xml', '-f', dir])).code).toBe(1);
    expect((await run(['--bogus'])).err).toMatch(/unknown option --bogus/);
    const help = await run(['-h']);
    expect([help.code, help.out.startsWith('Usage: meshlab analyze')]).toEqual([0, true]);
  });
});

const corpus = istioCorpus();
(corpus ? describe : describe.skip)("istioctl's own CLI and integration cases (../shared/istio-corpus)", () => {
  test('public-gateway.yaml with -A --failure-threshold ERROR passes: without pods the gateway workload checks do not run (TestSkipPodsInFiles)', async () => {
    const r = await run(['-A', '--failure-threshold', 'ERROR', '-f', path.join(corpus!, 'istioctl/public-gateway.yaml')]);
    expect([r.code, r.out]).toEqual([0, '']);
  });

  test('specific-analyzer.yaml fails on the schema (servers without a port), as failed-with-all-analyzers', async () => {
    const r = await run(['-f', path.join(corpus!, 'istioctl/specific-analyzer.yaml')]);
    expect(r.code).toBe(79);
    expect(r.out.split('\n').filter(Boolean).map((l) => /^Error \[IST0106\] \(Gateway (\S+) /.exec(l)?.[1])).toEqual(['default/beta', 'default/alpha']);
  });

  test('integration missing-gateway.yaml: a VirtualService with no http/tcp/tls is IST0106', async () => {
    const r = await run(['-f', path.join(corpus!, 'integration/missing-gateway.yaml')]);
    expect(r.code).toBe(79);
    expect(r.out).toMatch(/^Error \[IST0106\] \(VirtualService default\/missing-gateway .*missing-gateway.yaml:5\) Schema validation error: spec: http, tcp or tls must be provided in virtual service\n$/);
  });
});
