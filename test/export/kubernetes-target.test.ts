/**
 * The kubernetes scenario target is designed, not run: asking for it says so, names the plan, and
 * the plan it names exists. Its instance mapping (lab ids → pods) is pure and tested here.
 */
import fs from 'node:fs';
import path from 'node:path';
import { scenarioCommand } from '../../cli/commands/scenario';
import { SCENARIOS } from '../../scenarios';
import { attachKubernetes, instanceIdsOf, KUBERNETES_PLAN, type ClusterPod } from '../../world/kubernetes-target';
import { instancesOf, DEFAULT_TOPOLOGY } from '../../world/topology';
import { ROOT } from './helpers';

describe('scenario --target kubernetes (designed, not run)', () => {
  it('refuses with "not implemented here: no cluster reachable", names the plan, and runs nothing', async () => {
    await expect(attachKubernetes({ context: 'kind-meshlab' })).rejects.toThrow(/^--target kubernetes is not implemented here: no cluster reachable \(context "kind-meshlab"\); nothing was run\. .*scenarios\/README\.md, section "Target kubernetes \(designed, not run\)"/);
    await expect(attachKubernetes({})).rejects.toThrow(/needs --context CTX/);
  });

  it('`meshlab scenario canary --target kubernetes --context CTX` reaches that refusal (no world started, no verdict)', async () => {
    await expect(scenarioCommand(['canary', '--target', 'kubernetes', '--context', 'kind-meshlab'])).rejects.toThrow(/not implemented here: no cluster reachable/);
    await expect(scenarioCommand(['canary', '--target', 'k8s'])).rejects.toThrow(/--target must be one of embedded, running, compose, kubernetes, got "k8s"/);
  });

  it('the plan it names exists and covers every lab by name', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'scenarios', 'README.md'), 'utf8');
    const heading = KUBERNETES_PLAN.match(/section "(.*)"/)![1];
    const start = readme.indexOf(`## ${heading}`);
    expect(start).toBeGreaterThanOrEqual(0);
    const section = readme.slice(start);
    const missing = SCENARIOS.map((s) => s.name).filter((n) => !section.includes(`\`${n}\``));
    expect(missing).toEqual([]);
  });

  it("lab instance ids map to the i-th pod by name of each version's Deployment, like the topology's ids", () => {
    const pod = (name: string, app: string, version: string): ClusterPod => ({ name, ip: '10.0.0.1', labels: { app, version }, ready: true });
    const pods = [
      pod('payments-v1-7c9f-zzz', 'payments', 'v1'),
      pod('orders-v1-55d-abc', 'orders', 'v1'),
      pod('payments-v1-7c9f-aaa', 'payments', 'v1'),
      pod('payments-v2-6b4-qqq', 'payments', 'v2'),
      pod('notifications-v1-5f-x', 'notifications', 'v1'),
      { name: 'kafka-0', ip: '10.0.0.9', labels: { app: 'kafka' }, ready: true },
    ];
    const ids = instanceIdsOf(pods);
    expect([...ids.keys()].sort()).toEqual(instancesOf(DEFAULT_TOPOLOGY).map((i) => i.id).sort());
    expect(ids.get('payments-v1-0')!.name).toBe('payments-v1-7c9f-aaa');
    expect(ids.get('payments-v1-1')!.name).toBe('payments-v1-7c9f-zzz');
  });
});
