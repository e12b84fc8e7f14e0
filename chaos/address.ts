/**
 * host:port handling with Go's net package conventions: "localhost" resolves to 127.0.0.1, an
 * empty host listens on all interfaces ("[::]:port"), and failures read like Go's errors
 * ("listen tcp 127.0.0.1:3310: bind: address already in use") because clients may show them.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

export interface HostPort {
  host: string;
  port: number;
}

/** Splits "host:port" / "[v6]:port" like net.SplitHostPort; throws Go's message on bad input. */
export function splitHostPort(addr: string): { host: string; port: string } {
  // Go's net.Listen treats an empty address as ":0" (all interfaces, any port).
  if (addr === '') return { host: '', port: '0' };
  const missing = new Error(`address ${addr}: missing port in address`);
  if (addr.startsWith('[')) {
    const end = addr.indexOf(']');
    if (end < 0) throw new Error(`address ${addr}: missing ']' in address`);
    if (addr[end + 1] !== ':') throw missing;
    return { host: addr.slice(1, end), port: addr.slice(end + 2) };
  }
  const i = addr.lastIndexOf(':');
  if (i < 0) throw missing;
  const host = addr.slice(0, i);
  if (host.includes(':')) throw new Error(`address ${addr}: too many colons in address`);
  return { host, port: addr.slice(i + 1) };
}

function parsePort(addr: string, port: string): number {
  if (port === '') return 0;
  if (!/^\d+$/.test(port)) throw new Error(`lookup tcp/${port}: unknown port`);
  const n = Number(port);
  if (n > 65535) throw new Error(`address ${addr}: invalid port`);
  return n;
}

/**
 * Resolves an address to one IP (IPv4 preferred, as Go's resolver does for "tcp"). Errors carry
 * Go's ResolveTCPAddr text; net.Listen prefixes it with "listen tcp: ".
 */
export async function resolveTcpAddr(addr: string): Promise<HostPort> {
  const { host, port } = splitHostPort(addr);
  const p = parsePort(addr, port);
  if (host === '') return { host: '', port: p };
  if (host === 'localhost') return { host: '127.0.0.1', port: p };
  if (isIP(host)) return { host, port: p };
  for (const family of [4, 6] as const) {
    try {
      const res = await lookup(host, { family });
      return { host: res.address, port: p };
    } catch {
      // try the next family
    }
  }
  throw new Error(`lookup ${host}: no such host`);
}

/** Formats like Go's TCPAddr.String(): "1.2.3.4:80", "[::1]:80", ":80" for an empty host. */
export function formatHostPort(hp: HostPort): string {
  if (hp.host === '') return `:${hp.port}`;
  return isIP(hp.host) === 6 ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

/** Translates a Node listen error into Go's "listen tcp <addr>: bind: ..." text. */
export function goListenError(err: NodeJS.ErrnoException, hp: HostPort): Error {
  const where = formatHostPort(hp);
  const reason: Record<string, string> = {
    EADDRINUSE: 'bind: address already in use',
    EADDRNOTAVAIL: 'bind: cannot assign requested address',
    EACCES: 'bind: permission denied',
  };
  return new Error(`listen tcp ${where}: ${reason[err.code ?? ''] ?? err.message}`);
}
