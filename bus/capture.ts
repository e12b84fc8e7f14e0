/**
 * The pod's outbound capture, for a client library that dials addresses it learns at run time: a
 * table `host:port → sidecar listener` (MESH_TCP_REDIRECT, written by the launcher, never by the
 * service) that plays the role of Istio's iptables rules — every connection to a captured address
 * goes to the sidecar's outbound TCP listener for it instead. Kafka needs it: the bootstrap broker's
 * metadata names every broker by its advertised listener (`127.0.0.1:<port>`), and kafkajs dials
 * those addresses itself; its `socketFactory` is where the capture applies, so a broker address the
 * metadata hands out still crosses the sidecar. An address the table does not name is dialled as is.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { ISocketFactory } from 'kafkajs';

export type CaptureTable = Readonly<Record<string, string>>;

/** MESH_TCP_REDIRECT: JSON `{"kafka:9092": "127.0.0.1:41234", …}`; undefined when unset. */
export function captureFromEnv(text = process.env.MESH_TCP_REDIRECT): CaptureTable | undefined {
  if (!text) return undefined;
  const v = JSON.parse(text) as unknown;
  if (!v || typeof v !== 'object' || Object.values(v).some((x) => typeof x !== 'string' || !/^[^:]+:\d+$/.test(x))) throw new Error(`MESH_TCP_REDIRECT must be {"host:port": "host:port", …}, got ${text}`);
  return v as CaptureTable;
}

/** Where a connection to host:port really goes. */
export function redirect(table: CaptureTable, host: string, port: number): { host: string; port: number } {
  const to = table[`${host}:${port}`];
  if (!to) return { host, port };
  const i = to.lastIndexOf(':');
  return { host: to.slice(0, i), port: Number(to.slice(i + 1)) };
}

/**
 * An AMQP URL with the capture applied: amqplib dials the one address it is given, so the capture rewrites
 * that address before it dials (the compose world's `amqp://guest:guest@rabbitmq:5672` goes to the sidecar).
 */
export function redirectUrl(table: CaptureTable, url: string): string {
  const u = new URL(url);
  const to = redirect(table, u.hostname, Number(u.port || 5672));
  if (to.host === u.hostname && to.port === Number(u.port || 5672)) return url;
  u.hostname = to.host;
  u.port = String(to.port);
  return u.toString();
}

/** kafkajs' default socket factory (keepalive 60 s, TLS when asked) with the capture applied. */
export function captureSocketFactory(table: CaptureTable): ISocketFactory {
  return ({ host, port, ssl, onConnect }) => {
    const to = redirect(table, host, port);
    const socket = ssl
      ? tls.connect({ host: to.host, port: to.port, ...(!net.isIP(host) ? { servername: host } : {}), ...ssl }, onConnect)
      : net.connect({ host: to.host, port: to.port }, onConnect);
    socket.setKeepAlive(true, 60_000);
    return socket;
  };
}
