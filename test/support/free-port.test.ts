import net from 'node:net';
import { ephemeralRange, freePort } from '../../lib/free-port';

/**
 * A backend (Zipkin, Prometheus, HAProxy) binds the port it is given seconds later. A port from listen(0) is in the
 * kernel's ephemeral range, where any outgoing connection can take it first: CI's Zipkin failed with "Address already
 * in use" so. freePort chooses below that range, and the port is bindable when it is returned.
 */
test('freePort gives 20 ports below the ephemeral range, each bindable when returned (listen(0) gives ports inside it)', async () => {
  const [lo] = ephemeralRange();
  for (let i = 0; i < 20; i++) {
    const port = await freePort();
    expect(port).toBeGreaterThanOrEqual(20_000);
    expect(port).toBeLessThan(lo);
    await new Promise<void>((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => s.close(() => resolve()));
    });
  }
});
