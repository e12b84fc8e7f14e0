import net from 'node:net';
import { once } from 'node:events';
import { captureFromEnv, captureSocketFactory, redirect, redirectUrl } from '../../bus/capture';

/** The pod's capture table (bus/capture.ts), as kafkajs' socketFactory applies it to every broker address it dials. */
describe('capture table (MESH_TCP_REDIRECT)', () => {
  test('a captured address (the broker name, the advertised listener) goes to the sidecar; any other is dialled as is', () => {
    const table = captureFromEnv(JSON.stringify({ 'kafka:9092': '127.0.0.1:41000', '127.0.0.1:29092': '127.0.0.1:41000' }))!;
    expect(redirect(table, 'kafka', 9092)).toEqual({ host: '127.0.0.1', port: 41000 });
    expect(redirect(table, '127.0.0.1', 29092)).toEqual({ host: '127.0.0.1', port: 41000 });
    expect(redirect(table, '127.0.0.1', 29093)).toEqual({ host: '127.0.0.1', port: 29093 });
    expect(() => captureFromEnv('{"kafka:9092": "nowhere"}')).toThrow(/MESH_TCP_REDIRECT/);
  });

  test('the socket factory connects a dial of kafka:9092 (no such host) to the listener the table names', async () => {
    let accepted = 0;
    const server = net.createServer((s) => {
      accepted++;
      s.end();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as net.AddressInfo).port;
    try {
      const factory = captureSocketFactory({ 'kafka:9092': `127.0.0.1:${port}` });
      const socket = factory({ host: 'kafka', port: 9092, ssl: undefined as never, onConnect: () => undefined });
      await once(socket, 'close');
      expect(accepted).toBe(1);
    } finally {
      server.close();
    }
  });

  test('an AMQP URL naming a captured address is rewritten to the sidecar listener, credentials and vhost kept; others untouched', () => {
    const table = { 'rabbitmq:5672': '127.0.0.1:19672' };
    expect(redirectUrl(table, 'amqp://guest:guest@rabbitmq:5672')).toBe('amqp://guest:guest@127.0.0.1:19672');
    expect(redirectUrl(table, 'amqp://guest:guest@rabbitmq')).toBe('amqp://guest:guest@127.0.0.1:19672'); // AMQP's default port
    expect(redirectUrl(table, 'amqp://u:p@rabbitmq:5672/shop?heartbeat=5')).toBe('amqp://u:p@127.0.0.1:19672/shop?heartbeat=5');
    expect(redirectUrl(table, 'amqp://guest:guest@127.0.0.1:5672')).toBe('amqp://guest:guest@127.0.0.1:5672');
  });
});
