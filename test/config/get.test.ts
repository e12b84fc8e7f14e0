import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { getCommand } from '../../cli/commands/config';

/** `meshlab get` against a stand-in control plane (a real HTTP server serving /v1/config). */
const RESOURCES = [
  { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'payments', namespace: 'default' }, spec: { hosts: ['payments'] } },
  { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'payments', namespace: 'shop' }, spec: { hosts: ['payments'] } },
];

describe('meshlab get -n NS / -A', () => {
  let server: http.Server;
  let url: string;
  beforeAll(async () => {
    server = http.createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ version: 1, resources: RESOURCES }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  async function get(args: string[]): Promise<{ code: number; out: string }> {
    const lines: string[] = [];
    const log = jest.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
    const err = jest.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
    try {
      const code = await getCommand([...args, '--cp', url]);
      return { code, out: lines.join('\n') };
    } finally {
      log.mockRestore();
      err.mockRestore();
    }
  }

  test('the default namespace by default, -n shop that one, -A every namespace with a NAMESPACE column', async () => {
    const def = await get(['vs', '-o', 'json']);
    expect((JSON.parse(def.out) as { items: Array<{ metadata: { namespace: string } }> }).items.map((i) => i.metadata.namespace)).toEqual(['default']);
    const shop = await get(['vs', '-n', 'shop', '-o', 'json']);
    expect((JSON.parse(shop.out) as { items: Array<{ metadata: { namespace: string } }> }).items.map((i) => i.metadata.namespace)).toEqual(['shop']);
    const all = await get(['vs', '-A']);
    expect(all.out.split('\n')[0]).toMatch(/^NAMESPACE\s+KIND\s+NAME/);
    expect(all.out.split('\n').filter((l) => /VirtualService/.test(l))).toHaveLength(2);
    const none = await get(['vs', '-n', 'other']);
    expect(none.out).toBe('No resources found in other namespace.');
  });
});
