import fs from 'node:fs';
import { World, tempWorldDir } from '../../world/world';
import { describeWorld } from '../../cli/commands/start';
import { eventually, json, ORDER } from '../support/http';
import type { ReceivedMessage } from '../../world/external/mail-provider';

/**
 * The world's external system as `npm start` runs it: the mail provider is a process of the world outside the
 * mesh, registered by a ServiceEntry and a TLS-originating DestinationRule; notifications mails each
 * confirmation to it by name through its sidecar, and the provider's own log says how it arrived.
 */
describe('the world with its external mail provider', () => {
  const dir = tempWorldDir();
  let world: World;

  beforeAll(async () => {
    world = await World.start({ dataDir: `${dir}/data`, logDir: `${dir}/logs`, env: { MESH_SEED: '17' }, externals: true });
    await world.registerExternals();
  });
  afterAll(async () => {
    await world?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the registration is told in the world\'s state (what a `--target running` config reset keeps): the provider\'s ServiceEntry and DestinationRule, both live', async () => {
    const own = world.state().registrations ?? [];
    expect(own.map((f) => f.name)).toEqual(['mail-provider.yaml']);
    expect(own[0].text).toMatch(/kind: ServiceEntry[\s\S]*kind: DestinationRule/);
    const live = (await json(`${world.controlPlaneUrl}/v1/config`)).body as { resources: { kind: string; metadata: { name: string } }[] };
    expect(live.resources.filter((r) => r.metadata.name === 'mail-provider').map((r) => r.kind).sort()).toEqual(['DestinationRule', 'ServiceEntry']);
  });

  test('3 orders → 3 confirmation mails the provider received over TLS with SNI api.mail.example, each key once; notifications counts 3 sent, 0 pending', async () => {
    const info = world.mailProviderInfo!;
    const since = Date.now();
    for (let i = 0; i < 3; i++) expect((await json(`${world.gatewayUrl}/orders`, { body: ORDER })).status).toBe(201);
    const n = world.state().instances.find((x) => x.service === 'notifications')!;
    const mail = await eventually('3 mails sent', async () => {
      const m = await json(`http://127.0.0.1:${n.app.ports.http}/notifications/mail`);
      return m.body.sent >= 3 && m.body.pending === 0 ? m.body : undefined;
    });
    expect(mail).toMatchObject({ provider: 'api.mail.example', queued: 3, sent: 3, pending: 0 });
    const log = (await json(`http://127.0.0.1:${info.control}/lab/log?since=${since}`)).body as ReceivedMessage[];
    expect(log).toHaveLength(3);
    expect(log.every((e) => e.tls && e.port === 'tls' && e.sni === 'api.mail.example' && e.host === 'api.mail.example' && e.status === 202 && !e.duplicate)).toBe(true);
    expect(new Set(log.map((e) => e.idempotency_key)).size).toBe(3);
    // Its own log file, one JSON line per request.
    const lines = fs.readFileSync(`${dir}/logs/mail-provider.log`, 'utf8').trim().split('\n').filter((l) => l.startsWith('{'));
    expect(lines.length).toBeGreaterThanOrEqual(3);
  });

  test('the start table lists the provider as external, with its TLS port and lab control', () => {
    const table = describeWorld(world.state());
    expect(table).toMatch(new RegExp(`mail-provider\\s+external.*tls :${world.mailProviderInfo!.tls}`));
  });
});
