import fs from 'node:fs';
import net from 'node:net';

/** Where free ports are looked for: above the well-known and registered ports most daemons use, below the ephemeral range. */
const LOWEST = 20_000;

/** The kernel's ephemeral range (the source ports of outgoing connections); Linux's default when it cannot be read. */
export function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (lo > 0 && hi >= lo) return [lo, hi];
  } catch {
    // not Linux, or no /proc: the default below
  }
  return [32_768, 60_999];
}

function bindable(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

/**
 * A port on `host` for a process that binds it itself, later (Zipkin, Prometheus, HAProxy, nginx): one that was free
 * a moment ago, chosen below the kernel's ephemeral range. A port from `listen(0)` is an ephemeral one, and any
 * outgoing connection may take it as its source port before the process binds it: Zipkin's bind failed so in CI
 * ("Address already in use") while the other tests' clients were busy.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const below = Math.min(ephemeralRange()[0], 65_536);
  if (below - LOWEST >= 1000) {
    for (let i = 0; i < 100; i++) {
      const port = LOWEST + Math.floor(Math.random() * (below - LOWEST));
      if (await bindable(port, host)) return port;
    }
  }
  // A machine whose ephemeral range starts low: an ephemeral port, as before.
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
