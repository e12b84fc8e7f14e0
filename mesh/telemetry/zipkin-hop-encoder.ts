import type { StreamInfo } from '../stream-info';
import { endpointOf, type SpanSource } from './zipkin';
import { fragment, JsonBytes } from './json-bytes';
import { isError, localEndpointOf, peerOf, startMs, zipkinHop, type HopConstants } from './hop-spans';

/**
 * A batch of hops as one POST /api/v2/spans body, written straight into one reused buffer on the exporter's timer:
 * byte for byte `Buffer.from(encodeZipkinHops(...))` (JSON.stringify of Envoy's span shape with Istio's tags), without
 * the per-span tag object, span object and ~870-byte string JSON.stringify would walk again. What is the same for many
 * spans is encoded once and copied (one memmove per piece): per destination the span name and kind; per peer its
 * localEndpoint, remoteEndpoint and `peer.address` joined with the tracer's constant tags (workload, mesh id, node id);
 * per cluster its `upstream_cluster`; per tracer `component` and the Telemetry literal tags. Per span only its ids,
 * times, method, URL, status, flags, instance, request id, sizes and header tags are escaped, each once, as they are
 * copied. No object, closure or Map is made per span; the caches are bounded.
 *
 * Where JSON.stringify would not write the tags in the order Envoy's are listed — a Telemetry custom tag whose key is
 * one of Istio's tags, `error`, another custom tag's, an array index ("7", which an object lists first) or `__proto__` — that
 * span is JSON.stringify'd as before (`zipkinHop`), so the bytes stay the same.
 */

/** Istio's tags as `zipkinHop` sets them: a custom tag with one of these keys overwrites it in place. */
const ISTIO_TAG_KEYS = ['direction', 'http.method', 'http.url', 'http.status_code', 'response_flags', 'upstream_cluster', 'upstream_instance', 'peer.address', 'istio.canonical_service', 'istio.canonical_revision', 'istio.mesh_id', 'istio.namespace', 'node_id', 'guid:x-request-id', 'request_size', 'response_size', 'component', 'error'];
/** Keys an object lists first, in numeric order (ECMA-262 OrdinaryOwnPropertyKeys: array indices), and `__proto__` (not a property at all). */
const INDEX_KEY = /^(?:0|[1-9]\d*|__proto__)$/;

const q = (s: string): string => JSON.stringify(s);

const OPEN_TRACE = fragment('{"traceId":"');
const ID = fragment('","id":"');
const PARENT = fragment('","parentId":"');
const DURATION = fragment(',"duration":');
const URL = fragment('","http.url":"http://');
const STATUS = fragment('","http.status_code":"');
const FLAGS = fragment('","response_flags":"');
const REQUEST_SIZE = fragment('","request_size":"');
const RESPONSE_SIZE = fragment('","response_size":"');
const ERROR = ',"error":"true"';
const CLOSE = '}}';
const ERROR_CLOSE = fragment(ERROR + CLOSE);
const CLOSE_BYTES = fragment(CLOSE);
const COMMA = 0x2c;
const COLON = 0x3a;

/** What one peer's spans share (a fragment copy costs ~15 ns whatever its length, so neighbours are joined). */
interface PeerBytes {
  /**
   * By `shared` (2) and direction (inbound 1): `,"localEndpoint":{…}`, `,"remoteEndpoint":{…}` unless the peer has no
   * endpoint Zipkin takes, `,"shared":true` for a shared span, and the tags up to the method's value.
   */
  heads: Uint8Array[];
  /** `","peer.address":"PEER` and the constant tags up to the request id's value. */
  address: Uint8Array;
}

export class ZipkinHopEncoder {
  private readonly out = new JsonBytes(256 * 1024);
  private readonly localEndpoint: string;
  private constants?: HopConstants;
  /** `","istio.canonical_service":"…",…,"node_id":"…","guid:x-request-id":"` (JSON text) */
  private istio = '';
  /** `","component":"proxy"` and the literal tags; then `}}`, or the error tag and `}}`. */
  private tail: Uint8Array = fragment('');
  private tailClose: Uint8Array = fragment('');
  private tailErrorClose: Uint8Array = fragment('');
  /** Keys a header tag must not have for the fast path (Istio's and the literal tags'). */
  private taken = new Set<string>();
  /** A literal tag's key collides: every span of these constants goes the JSON.stringify way. */
  private literalSlow = false;
  /** By direction, then destination service, then namespace: `","name":"…","kind":"…","timestamp":`. */
  private readonly names = { outbound: new Map<string, Map<string, Uint8Array>>(), inbound: new Map<string, Map<string, Uint8Array>>() };
  private readonly peers = new Map<string, PeerBytes>();
  /** By cluster: `","upstream_cluster":"CLUSTER","upstream_instance":"`. */
  private readonly clusters = new Map<string, Uint8Array>();

  constructor(private readonly source: SpanSource) {
    this.localEndpoint = `,"localEndpoint":${JSON.stringify(localEndpointOf(source))}`;
  }

  /** The body for these hops; a view of the encoder's buffer, valid until the next `encode`. */
  encode(infos: readonly StreamInfo[], c: HopConstants): Buffer {
    if (c !== this.constants) this.setConstants(c);
    const out = this.out;
    out.reset();
    out.byte(0x5b); // [
    for (let n = 0; n < infos.length; n++) {
      if (n > 0) out.byte(COMMA);
      const info = infos[n];
      if (this.literalSlow || (info.customTags !== undefined && this.customTagsCollide(info.customTags)) || (info.direction !== 'outbound' && info.direction !== 'inbound')) {
        out.text(JSON.stringify(zipkinHop(info, c, localEndpointOf(this.source))));
        continue;
      }
      this.span(info, c);
    }
    out.byte(0x5d); // ]
    return out.view();
  }

  private span(info: StreamInfo, c: HopConstants): void {
    const out = this.out;
    out.bytes(OPEN_TRACE);
    out.chars(info.traceId);
    out.bytes(ID);
    out.chars(info.spanId);
    if (info.parentSpanId !== null && info.parentSpanId !== undefined) {
      out.bytes(PARENT);
      out.chars(info.parentSpanId);
    }
    out.bytes(this.nameBytes(info, c));
    const timestamp = Math.round(startMs(info, c) * 1000);
    if (!out.uint(timestamp)) out.number(timestamp);
    out.bytes(DURATION);
    const duration = Math.max(1, Math.round(info.durationUs));
    if (!out.uint(duration)) out.number(duration);
    const peer = this.peerBytes(peerOf(info));
    out.bytes(peer.heads[(info.sharedSpan ? 2 : 0) + (info.direction === 'inbound' ? 1 : 0)]);
    out.chars(info.method);
    out.bytes(URL);
    out.chars(info.authority || info.destinationService);
    out.chars(info.path);
    out.bytes(STATUS);
    if (!out.uint(info.status)) out.ascii(String(info.status));
    out.bytes(FLAGS);
    out.chars(info.responseFlags);
    out.bytes(this.clusterBytes(info.cluster));
    out.chars(info.upstream?.instance ?? '-');
    out.bytes(peer.address);
    out.chars(info.requestId);
    out.bytes(REQUEST_SIZE);
    if (!out.uint(info.bytesReceived)) out.ascii(String(info.bytesReceived));
    out.bytes(RESPONSE_SIZE);
    if (!out.uint(info.bytesSent)) out.ascii(String(info.bytesSent));
    const custom = info.customTags;
    if (custom === undefined) {
      out.bytes(isError(info) ? this.tailErrorClose : this.tailClose);
      return;
    }
    out.bytes(this.tail);
    for (let i = 0; i < custom.length; i += 2) {
      out.byte(COMMA);
      out.string(custom[i]);
      out.byte(COLON);
      out.string(custom[i + 1]);
    }
    out.bytes(isError(info) ? ERROR_CLOSE : CLOSE_BYTES);
  }

  private setConstants(c: HopConstants): void {
    this.constants = c;
    this.istio =
      `",${q('istio.canonical_service')}:${q(c.canonicalService)},${q('istio.canonical_revision')}:${q(c.canonicalRevision)},${q('istio.mesh_id')}:${q(c.meshId)},` +
        `${q('istio.namespace')}:${q(c.namespace)},${q('node_id')}:${q(c.nodeId)},"guid:x-request-id":"`;
    const tail = `","component":"proxy"${c.literalTags.map(([k, v]) => `,${q(k)}:${q(v)}`).join('')}`;
    this.tail = fragment(tail);
    this.tailClose = fragment(tail + CLOSE);
    this.tailErrorClose = fragment(tail + ERROR + CLOSE);
    const literalKeys = c.literalTags.map(([k]) => k);
    this.taken = new Set([...ISTIO_TAG_KEYS, ...literalKeys]);
    this.literalSlow = literalKeys.some((k, i) => ISTIO_TAG_KEYS.includes(k) || INDEX_KEY.test(k) || literalKeys.indexOf(k) !== i);
    this.names.outbound.clear();
    this.names.inbound.clear();
    this.peers.clear();
  }

  /** A header tag JSON.stringify would not append in order: one of Istio's or a literal tag's keys, a repeat, an index. */
  private customTagsCollide(custom: readonly string[]): boolean {
    for (let i = 0; i < custom.length; i += 2) {
      const k = custom[i];
      if (this.taken.has(k) || INDEX_KEY.test(k)) return true;
      for (let j = 0; j < i; j += 2) if (custom[j] === k) return true;
    }
    return false;
  }

  /** `","name":"…","kind":"CLIENT|SERVER","timestamp":` — the name as `spanName` gives it. */
  private nameBytes(info: StreamInfo, c: HopConstants): Uint8Array {
    const outbound = info.direction === 'outbound';
    const namespace = (outbound ? info.upstream?.namespace : undefined) ?? c.namespace;
    const byService = outbound ? this.names.outbound : this.names.inbound;
    let byNamespace = byService.get(info.destinationService);
    if (byNamespace === undefined) {
      if (byService.size > 1024) byService.clear();
      byService.set(info.destinationService, (byNamespace = new Map()));
    }
    let bytes = byNamespace.get(namespace);
    if (bytes === undefined) {
      const name = `${info.destinationService || 'unknown'}.${namespace}.svc.cluster.local:80/*`;
      bytes = fragment(`",${q('name')}:${q(name)},"kind":${q(outbound ? 'CLIENT' : 'SERVER')},"timestamp":`);
      byNamespace.set(namespace, bytes);
    }
    return bytes;
  }

  private peerBytes(peer: string): PeerBytes {
    let bytes = this.peers.get(peer);
    if (bytes === undefined) {
      if (this.peers.size > 4096) this.peers.clear();
      const endpoint = peer ? endpointOf(peer) : undefined;
      const remote = `${this.localEndpoint}${endpoint ? `,"remoteEndpoint":${JSON.stringify(endpoint)}` : ''}`;
      const tags = (direction: string): string => `,"tags":{"direction":${q(direction)},"http.method":"`;
      bytes = {
        heads: [fragment(remote + tags('outbound')), fragment(remote + tags('inbound')), fragment(`${remote},"shared":true${tags('outbound')}`), fragment(`${remote},"shared":true${tags('inbound')}`)],
        address: fragment(`","peer.address":${q(peer).slice(0, -1)}${this.istio}`),
      };
      this.peers.set(peer, bytes);
    }
    return bytes;
  }

  private clusterBytes(cluster: string): Uint8Array {
    let bytes = this.clusters.get(cluster);
    if (bytes === undefined) {
      if (this.clusters.size > 1024) this.clusters.clear();
      bytes = fragment(`","upstream_cluster":${q(cluster)},"upstream_instance":"`);
      this.clusters.set(cluster, bytes);
    }
    return bytes;
  }
}
