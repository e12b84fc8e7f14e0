/**
 * TLS origination to a host outside the mesh (Istio's DestinationRule `tls.mode: SIMPLE | MUTUAL`, which pilot's
 * cluster_tls.go turns into Envoy's UpstreamTlsContext): the app speaks plain HTTP to its sidecar, the sidecar
 * speaks TLS to the external endpoint. The files named by `caCertificates`, `clientCertificate` and
 * `privateKey` are read by the sidecar (as Envoy reads the paths Istio writes); without `caCertificates` the
 * server is verified against the system roots (Istio's VERIFY_CERTIFICATE_AT_CLIENT), `insecureSkipVerify`
 * skips it. SNI is `sni`, else the host the request is for (Istio's auto SNI); the server's certificate must
 * carry one of `subjectAltNames`, else the SNI name (Istio's auto SAN validation). A failed handshake is a
 * connection failure: 503 UF with Envoy's `upstream_transport_failure_reason` (`TLS_error:|…:TLS_error_end`).
 */
import fs from 'node:fs';
import tls from 'node:tls';
import { createHash } from 'node:crypto';
import type { buildConnector } from 'undici';
import type { ClientTLSSettings } from '../config/types';

export interface TlsOrigination {
  mode: 'SIMPLE' | 'MUTUAL';
  ca?: string;
  cert?: string;
  key?: string;
  sni: string;
  subjectAltNames: string[];
  insecureSkipVerify: boolean;
  /** Identity of the settings and of the files' contents: a changed file makes a new cluster. */
  fingerprint: string;
}

function readPem(file: string, field: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`${field}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** The origination settings for `host`, files read now (throws naming the field when one cannot be read). */
export function readTlsOrigination(settings: ClientTLSSettings, host: string): TlsOrigination | undefined {
  const mode = settings.mode;
  if (mode !== 'SIMPLE' && mode !== 'MUTUAL') return undefined;
  const ca = settings.caCertificates ? readPem(settings.caCertificates, 'caCertificates') : undefined;
  const cert = mode === 'MUTUAL' && settings.clientCertificate ? readPem(settings.clientCertificate, 'clientCertificate') : undefined;
  const key = mode === 'MUTUAL' && settings.privateKey ? readPem(settings.privateKey, 'privateKey') : undefined;
  const out = { mode, ca, cert, key, sni: settings.sni || host, subjectAltNames: settings.subjectAltNames ?? [], insecureSkipVerify: settings.insecureSkipVerify === true };
  const fingerprint = createHash('sha256').update(JSON.stringify(out)).digest('hex').slice(0, 16);
  return { ...out, fingerprint };
}

/** BoringSSL's packed error code and reason, as Envoy prints a failed handshake. */
const VERIFY_FAILED = 'TLS_error:|268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:TLS_error_end';
const VERIFY_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'MESHLAB_SAN_MISMATCH',
]);

/** Envoy's %UPSTREAM_TRANSPORT_FAILURE_REASON% for a TLS handshake error. */
export function transportFailureOf(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (VERIFY_CODES.has(code)) return VERIFY_FAILED;
  // A TLS alert from the server (no client certificate, handshake failure …): its name, as BoringSSL gives it.
  const alert = /^ERR_SSL_(?:TLSV1[3]?_ALERT|SSLV3_ALERT)_(.+)$/.exec(code);
  if (alert) return `TLS_error:|SSL routines:OPENSSL_internal:${code.slice('ERR_SSL_'.length).replace('TLSV13', 'TLSV1')}:TLS_error_end`;
  if (code.startsWith('ERR_SSL_')) return `TLS_error:|SSL routines:OPENSSL_internal:${code.slice('ERR_SSL_'.length)}:TLS_error_end`;
  return '';
}

/** SAN entries of a peer certificate (DNS, URI and IP), as Node prints them in `subjectaltname`. */
function sansOf(cert: tls.PeerCertificate): string[] {
  return (cert.subjectaltname ?? '')
    .split(', ')
    .map((s) => s.slice(s.indexOf(':') + 1))
    .filter((s) => s !== '');
}

/** An undici-style connector making the TLS connection of one external cluster. */
export function tlsOriginationConnector(t: TlsOrigination, timeoutMs: number): buildConnector.connector {
  return function connect(o, callback) {
    const port = Number(o.port);
    const host = o.hostname;
    let done = false;
    const finish = (err: Error | null, s: tls.TLSSocket | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) {
        const reason = transportFailureOf(err);
        if (reason) (err as Error & { transportFailure?: string }).transportFailure = reason;
        callback(err, null);
      } else callback(null, s as tls.TLSSocket);
    };
    const socket = tls.connect({
      host,
      port,
      servername: /^[\d.]+$|:/.test(t.sni) ? undefined : t.sni,
      ca: t.ca,
      cert: t.cert,
      key: t.key,
      ALPNProtocols: ['http/1.1'],
      rejectUnauthorized: !t.insecureSkipVerify,
      checkServerIdentity: (_host, cert) => {
        if (t.insecureSkipVerify) return undefined;
        if (t.subjectAltNames.length === 0) return tls.checkServerIdentity(t.sni, cert);
        const sans = sansOf(cert);
        if (t.subjectAltNames.some((want) => sans.includes(want))) return undefined;
        const err = new Error(`server certificate SANs [${sans.join(', ')}] match none of subjectAltNames [${t.subjectAltNames.join(', ')}]`) as NodeJS.ErrnoException;
        err.code = 'MESHLAB_SAN_MISMATCH';
        return err;
      },
    });
    socket.setNoDelay(true);
    const timer = setTimeout(() => {
      const err = new Error(`TLS connect to ${host}:${port} timed out after ${timeoutMs} ms`) as NodeJS.ErrnoException;
      err.code = 'UND_ERR_CONNECT_TIMEOUT';
      socket.destroy(err);
      finish(err, null);
    }, timeoutMs);
    timer.unref();
    socket.once('secureConnect', () => finish(null, socket));
    socket.on('error', (err) => finish(err, null));
    return socket;
  };
}
