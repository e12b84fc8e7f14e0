import { RoundRobin } from '../../mesh/lb/round-robin';
import { RandomLb } from '../../mesh/lb/random';
import { LeastRequestLb } from '../../mesh/lb/least-request';
import { RingHashLb, hash32 } from '../../mesh/lb/ring-hash';
import { hashKeyFunction, cookieValue, queryValue } from '../../mesh/lb/hash-key';
import { seededRandom } from '../../lib/random';
import { fakeHost } from './helpers';
import type { IncomingMessage } from 'node:http';

const hosts = ['a:1', 'b:1', 'c:1', 'd:1'].map((k) => fakeHost(k));

describe('load balancers', () => {
  test('ROUND_ROBIN visits each host in turn and skips hosts already tried', () => {
    const lb = new RoundRobin();
    expect([0, 1, 2, 3, 4].map(() => lb.pick(hosts, {})!.key)).toEqual(['a:1', 'b:1', 'c:1', 'd:1', 'a:1']);
    const tried = new Set([hosts[1], hosts[2]]);
    expect(lb.pick(hosts, { tried })!.key).toBe('d:1');
  });

  test('RANDOM is uniform within 2 points over 40,000 picks (seed 1) and avoids tried hosts', () => {
    const lb = new RandomLb(seededRandom(1));
    const count = new Map<string, number>();
    for (let i = 0; i < 40_000; i++) {
      const k = lb.pick(hosts, {})!.key;
      count.set(k, (count.get(k) ?? 0) + 1);
    }
    for (const h of hosts) expect(Math.abs(count.get(h.key)! / 40_000 - 0.25)).toBeLessThan(0.02);
    const tried = new Set([hosts[0], hosts[1], hosts[2]]);
    for (let i = 0; i < 50; i++) expect(lb.pick(hosts, { tried })!.key).toBe('d:1');
  });

  test('LEAST_REQUEST (P2C) never picks the busiest of two and favours idle hosts', () => {
    const busy = [fakeHost('idle:1', 0), fakeHost('busy:1', 10), fakeHost('mid:1', 5)];
    const lb = new LeastRequestLb(seededRandom(7));
    const count = new Map<string, number>();
    for (let i = 0; i < 9000; i++) {
      const k = lb.pick(busy, {})!.key;
      count.set(k, (count.get(k) ?? 0) + 1);
    }
    // P2C with replacement: P(idle) = 1 − (2/3)² = 5/9, P(mid) = 1/3, P(busy) = 1/9 (only when both draws are busy).
    expect(count.get('idle:1')! / 9000).toBeCloseTo(5 / 9, 1);
    expect(count.get('busy:1')! / 9000).toBeCloseTo(1 / 9, 1);
    expect(lb.pick([fakeHost('only:1')], {})!.key).toBe('only:1');
    expect(lb.pick([], {})).toBeUndefined();
  });

  test('RING_HASH: same key → same host; removing a host moves only the keys it owned', () => {
    const lb = new RingHashLb(1024, seededRandom(3));
    const keys = Array.from({ length: 5000 }, (_, i) => `user-${i}`);
    const before = keys.map((k) => lb.pick(hosts, { hashKey: k })!.key);
    expect(keys.map((k) => lb.pick(hosts, { hashKey: k })!.key)).toEqual(before);
    const share = new Map<string, number>();
    for (const k of before) share.set(k, (share.get(k) ?? 0) + 1);
    for (const h of hosts) expect(share.get(h.key)! / keys.length).toBeGreaterThan(0.18);
    const remaining = hosts.filter((h) => h.key !== 'c:1');
    const after = keys.map((k) => lb.pick(remaining, { hashKey: k })!.key);
    let moved = 0;
    for (let i = 0; i < keys.length; i++) {
      if (before[i] === 'c:1') expect(after[i]).not.toBe('c:1');
      else {
        expect(after[i]).toBe(before[i]);
        continue;
      }
      moved++;
    }
    expect(moved).toBe(share.get('c:1'));
    // Retries stay on the ring: tried is ignored under consistent hashing.
    const h = lb.pick(hosts, { hashKey: 'user-1', tried: new Set([hosts[0], hosts[1], hosts[2], hosts[3]]) });
    expect(h!.key).toBe(before[1]);
  });

  test('hash32 is stable (same value in every process)', () => {
    expect(hash32('user-1')).toBe(hash32('user-1'));
    expect(hash32('a')).not.toBe(hash32('b'));
    expect(hash32('')).toBe(hash32(''));
  });

  test('hash keys come from the header, cookie, query parameter or source IP', () => {
    const req = (h: Record<string, string>, url = '/', ip = '10.0.0.9') => ({ headers: h, url, socket: { remoteAddress: ip } }) as unknown as IncomingMessage;
    const byHeader = hashKeyFunction({ type: 'RING_HASH', minimumRingSize: 1024, hashOn: { header: 'x-user' } })!;
    expect(byHeader(req({ 'x-user': 'u1' }))).toBe('u1');
    expect(byHeader(req({}))).toBeUndefined();
    const byCookie = hashKeyFunction({ type: 'RING_HASH', minimumRingSize: 1024, hashOn: { cookie: { name: 'sid' } } })!;
    expect(byCookie(req({ cookie: 'a=1; sid=xyz; b=2' }))).toBe('xyz');
    const byQuery = hashKeyFunction({ type: 'RING_HASH', minimumRingSize: 1024, hashOn: { queryParameter: 'u' } })!;
    expect(byQuery(req({}, '/p?x=1&u=bob%20b'))).toBe('bob b');
    const byIp = hashKeyFunction({ type: 'RING_HASH', minimumRingSize: 1024, hashOn: { sourceIp: true } })!;
    expect(byIp(req({}))).toBe('10.0.0.9');
    expect(hashKeyFunction({ type: 'ROUND_ROBIN' })).toBeUndefined();
    expect(cookieValue(undefined, 'x')).toBeUndefined();
    expect(queryValue('/p', 'x')).toBeUndefined();
  });
});
