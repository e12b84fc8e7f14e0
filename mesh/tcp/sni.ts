/**
 * The server name a TLS client asks for, read from its ClientHello without terminating TLS — what
 * Envoy's `envoy.filters.listener.tls_inspector` does so a `tls` route can match `sniHosts` and
 * pass the bytes through untouched (RFC 8446 §4.1.2, RFC 6066 §3). Only the first record is read:
 * a ClientHello split over several TLS records is reported as having no SNI, where tls_inspector
 * would keep reading (clients send the ClientHello in one record).
 */

/** `more`: keep reading; `none`: not TLS, or TLS without server_name; otherwise the name, lower-cased. */
export type SniResult = { kind: 'more' } | { kind: 'none' } | { kind: 'sni'; name: string };

/** tls_inspector gives up after this many bytes (its max_client_hello_size default is 64 KiB; one record is at most 16 KiB + 5). */
export const MAX_CLIENT_HELLO = 16 * 1024 + 5;

export function readSni(buf: Buffer): SniResult {
  if (buf.length < 1) return { kind: 'more' };
  if (buf[0] !== 0x16) return { kind: 'none' }; // not a handshake record
  if (buf.length < 5) return { kind: 'more' };
  if (buf[1] !== 0x03) return { kind: 'none' };
  const recordLen = buf.readUInt16BE(3);
  if (buf.length < 5 + recordLen) return buf.length >= MAX_CLIENT_HELLO ? { kind: 'none' } : { kind: 'more' };
  const rec = buf.subarray(5, 5 + recordLen);
  if (rec.length < 4 || rec[0] !== 0x01) return { kind: 'none' }; // not a ClientHello
  const helloLen = (rec[1] << 16) | (rec[2] << 8) | rec[3];
  const hello = rec.subarray(4, 4 + helloLen);
  if (hello.length < helloLen) return { kind: 'none' };
  let p = 2 + 32; // legacy_version, random
  if (p >= hello.length) return { kind: 'none' };
  p += 1 + hello[p]; // session id
  if (p + 2 > hello.length) return { kind: 'none' };
  p += 2 + hello.readUInt16BE(p); // cipher suites
  if (p + 1 > hello.length) return { kind: 'none' };
  p += 1 + hello[p]; // compression methods
  if (p + 2 > hello.length) return { kind: 'none' };
  const extEnd = Math.min(hello.length, p + 2 + hello.readUInt16BE(p));
  p += 2;
  while (p + 4 <= extEnd) {
    const type = hello.readUInt16BE(p);
    const len = hello.readUInt16BE(p + 2);
    const body = hello.subarray(p + 4, p + 4 + len);
    p += 4 + len;
    if (type !== 0) continue; // server_name
    if (body.length < 2) return { kind: 'none' };
    let q = 2;
    while (q + 3 <= body.length) {
      const nameType = body[q];
      const nameLen = body.readUInt16BE(q + 1);
      const name = body.subarray(q + 3, q + 3 + nameLen);
      q += 3 + nameLen;
      if (nameType === 0 && name.length === nameLen) return { kind: 'sni', name: name.toString('ascii').toLowerCase() };
    }
    return { kind: 'none' };
  }
  return { kind: 'none' };
}
