/**
 * A `--target running` lab starts from the default config (ScenarioContext.resetConfig). The world `npm start`
 * runs has config of its own beside config/default: the mail provider's ServiceEntry and TLS DestinationRule
 * (registerExternals, told in .meshlab/world.json). The reset keeps them; before, it deleted every resource
 * and re-applied config/default alone, so notifications' mail had no way out after the first lab.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startControlPlane, type ControlPlane } from '../../mesh/control-plane/server';
import { ScenarioContext } from '../../scenarios/runner/context';
import { AttachedWorld } from '../../world/attached';
import { mailProviderServiceEntry, mailProviderTls } from '../../world/external/registration';
import { writeState, type WorldState } from '../../world/state';
import { DEFAULT_TOPOLOGY } from '../../world/topology';

type Live = { kind: string; metadata: { name: string }; spec: Record<string, unknown> };

describe('resetConfig on a running world keeps the world\'s own registrations', () => {
  let dir: string;
  let cp: ControlPlane;
  let url: string;
  const provider = { host: 'api.mail.example', tlsPort: 41443, caFile: '/tmp/meshlab-test-ca.pem' };
  const registrations = [{ name: 'mail-provider.yaml', text: `${mailProviderServiceEntry(provider)}---\n${mailProviderTls(provider)}` }];

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlab-reset-'));
    cp = await startControlPlane({ host: '127.0.0.1', port: 0, dataDir: path.join(dir, 'cp'), services: DEFAULT_TOPOLOGY.services.map((s) => s.name) });
    url = `http://127.0.0.1:${cp.port}`;
  });
  afterEach(async () => {
    await cp?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** `npm start`'s state file as the lab runner attaches to it (no instances: only config is at stake here). */
  function attach(withRegistrations: boolean): ScenarioContext {
    const state: WorldState = {
      startedAt: new Date().toISOString(), readyMs: 0, host: '127.0.0.1', dataDir: dir, logDir: dir, bus: { kind: 'memory', url: '' },
      controlPlaneUrl: url, gatewayUrl: 'http://127.0.0.1:1',
      processes: [{ name: 'control-plane', role: 'control-plane', pid: process.pid, ports: { http: cp.port } }],
      instances: [],
      ...(withRegistrations ? { registrations } : {}),
    };
    const file = path.join(dir, 'world.json');
    writeState(file, state);
    return new ScenarioContext(AttachedWorld.attach(file) as never, { quick: true, seed: 1, log: () => undefined, live: false });
  }

  async function live(): Promise<Live[]> {
    return ((await (await fetch(`${url}/v1/config`)).json()) as { resources: Live[] }).resources;
  }

  const refs = (rs: Live[]): string[] => rs.map((r) => `${r.kind}/${r.metadata.name}`).sort();

  it('after a lab applied a VirtualService and changed the provider\'s rule: the VirtualService is gone, config/default is back, and the provider\'s 2 resources are there as registered', async () => {
    const ctx = attach(true);
    await ctx.world.applyConfig(registrations); // npm start's registerExternals()
    // The egress lab's kind of config: a timeout on calls to the provider.
    await ctx.apply(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: mail-timeout}
spec:
  hosts: [api.mail.example]
  http:
  - route: [{destination: {host: api.mail.example}}]
    timeout: 500ms
`);
    // A lab that changed the world's registration (a shorter SAN list) gets it restored, not deleted.
    await ctx.world.applyConfig([{ name: 'x.yaml', text: mailProviderTls(provider).replace('subjectAltNames: [api.mail.example]', 'subjectAltNames: [other.example]') }]);
    expect(refs(await live())).toEqual(['AuthorizationPolicy/payments', 'DestinationRule/mail-provider', 'DestinationRule/payments', 'Gateway/meshlab-gateway', 'RequestAuthentication/meshlab-issuer', 'ServiceEntry/mail-provider', 'VirtualService/mail-timeout', 'VirtualService/meshlab-ingress']);

    await ctx.resetConfig();

    const after = await live();
    expect(refs(after)).toEqual(['AuthorizationPolicy/payments', 'DestinationRule/mail-provider', 'DestinationRule/payments', 'Gateway/meshlab-gateway', 'RequestAuthentication/meshlab-issuer', 'ServiceEntry/mail-provider', 'VirtualService/meshlab-ingress']);
    const dr = after.find((r) => r.kind === 'DestinationRule' && r.metadata.name === 'mail-provider')!;
    expect(dr.spec).toMatchObject({ host: 'api.mail.example', trafficPolicy: { tls: { mode: 'SIMPLE', caCertificates: provider.caFile, subjectAltNames: ['api.mail.example'] } } });
    const se = after.find((r) => r.kind === 'ServiceEntry')!;
    expect(se.spec).toMatchObject({ hosts: ['api.mail.example'], ports: [{ number: 80, targetPort: provider.tlsPort }] });
  });

  it('a world that registered nothing (no registrations in its state) is reset to config/default alone: a ServiceEntry applied by a lab is deleted like any lab config (the config API deletes ServiceEntry and Sidecar too)', async () => {
    const ctx = attach(false);
    await ctx.world.applyConfig(registrations);
    await ctx.resetConfig();
    expect(refs(await live())).toEqual(['AuthorizationPolicy/payments', 'DestinationRule/payments', 'Gateway/meshlab-gateway', 'RequestAuthentication/meshlab-issuer', 'VirtualService/meshlab-ingress']);
  });
});
