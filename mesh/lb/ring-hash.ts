import type { LbContext, LoadBalancer } from './types';
import type { UpstreamHost } from '../upstream-host';
import type { Rng } from '../rng';

/** 32-bit FNV-1a with a murmur3 finalizer: fast, well spread, same answer in every process. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

interface Ring {
  hosts: readonly UpstreamHost[];
  points: Uint32Array;
  owners: UpstreamHost[];
}

/**
 * Envoy's RING_HASH (Istio consistentHash): every host owns points on a hash ring; a request's key
 * hashes to a point and goes to the next host clockwise. Each host gets a fixed `minimumRingSize`
 * points derived only from its own address, so removing a host moves exactly the keys it owned —
 * no key moves between hosts that stay. (Envoy scales per-host points with the host count, which
 * can move a few more keys; the fixed count keeps the guarantee exact.) Retries stay on the ring:
 * Istio sets no previous-hosts predicate under consistent hashing, so `tried` is ignored.
 */
export class RingHashLb implements LoadBalancer {
  readonly name = 'RING_HASH';
  private ring?: Ring;
  private readonly rings = new WeakMap<readonly UpstreamHost[], Ring>();

  constructor(
    readonly minimumRingSize: number,
    private readonly rng: Rng,
  ) {}

  pick(hosts: readonly UpstreamHost[], ctx: LbContext): UpstreamHost | undefined {
    if (hosts.length === 0) return undefined;
    const ring = this.ringFor(hosts);
    // No key (header/cookie absent): Envoy hashes a random value.
    const h = ctx.hashKey !== undefined ? hash32(ctx.hashKey) : Math.floor(this.rng() * 0x100000000);
    const pts = ring.points;
    let lo = 0;
    let hi = pts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (pts[mid] < h) lo = mid + 1;
      else hi = mid;
    }
    return ring.owners[lo === pts.length ? 0 : lo];
  }

  /** The ring over `hosts`, rebuilt only when the host list changes (clusters keep list identity while unchanged). */
  private ringFor(hosts: readonly UpstreamHost[]): Ring {
    if (this.ring && this.ring.hosts === hosts) return this.ring;
    // With localityLbSetting the cluster hands over one list per priority: keep a ring for each, as Envoy does.
    const kept = this.rings.get(hosts);
    if (kept) return (this.ring = kept);
    const per = Math.max(1, this.minimumRingSize);
    const entries: { p: number; h: UpstreamHost }[] = [];
    for (const host of hosts) for (let i = 0; i < per; i++) entries.push({ p: hash32(`${host.key}_${i}`), h: host });
    // Ties (rare) break by host key so the ring is the same in every process.
    entries.sort((a, b) => a.p - b.p || (a.h.key < b.h.key ? -1 : a.h.key > b.h.key ? 1 : 0));
    const points = new Uint32Array(entries.length);
    const owners = new Array<UpstreamHost>(entries.length);
    for (let i = 0; i < entries.length; i++) {
      points[i] = entries[i].p;
      owners[i] = entries[i].h;
    }
    this.ring = { hosts, points, owners };
    this.rings.set(hosts, this.ring);
    return this.ring;
  }
}
