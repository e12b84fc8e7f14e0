import { parseTraceparent, formatTraceparent, newRequestId, newSpanId, newTraceId, SpanRing } from '../../mesh/tracing';

describe('W3C traceparent', () => {
  test('parses valid headers and rejects malformed ones', () => {
    const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    expect(parseTraceparent(tp)).toEqual({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', parentId: '00f067aa0ba902b7', flags: '01' });
    for (const bad of [
      undefined,
      '',
      'garbage',
      '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01',
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
      'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra',
    ])
      expect(parseTraceparent(bad)).toBeUndefined();
    expect(parseTraceparent('01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future')).toBeDefined();
  });

  test('generates ids of the right shape and keeps the newest spans', () => {
    const ids = new Set(Array.from({ length: 1000 }, newSpanId));
    expect(ids.size).toBe(1000);
    expect(newTraceId()).toMatch(/^[0-9a-f]{32}$/);
    expect(formatTraceparent('a'.repeat(32), 'b'.repeat(16))).toBe(`00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`);
    const ring = new SpanRing(3);
    for (let i = 0; i < 5; i++) ring.add({ trace_id: String(i % 2), span_id: String(i), parent_span_id: null, name: 'n', service: 's', start: i, duration_us: 1, status: 200, attributes: {} });
    expect(ring.list().map((s) => s.span_id)).toEqual(['2', '3', '4']);
    expect(ring.list(10, '0').map((s) => s.span_id)).toEqual(['2', '4']);
  });

  test('request ids are version 4 UUIDs: 10,000 distinct, every random digit takes all 16 values, across pool refills', () => {
    const ids = Array.from({ length: 10_000 }, newRequestId);
    expect(new Set(ids).size).toBe(10_000);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    // 122 random bits: each free hex digit sees all 16 values (the chance that any of the 29 misses any value in 10,000 draws: 29 × 16 × (15/16)^10000 ≈ 5e-278).
    for (let pos = 0; pos < 36; pos++) {
      if ([8, 13, 14, 18, 19, 23].includes(pos)) continue; // dashes, the version digit, the variant digit
      expect(new Set(ids.map((id) => id[pos])).size).toBe(16);
    }
    expect(new Set(ids.map((id) => id[19]))).toEqual(new Set(['8', '9', 'a', 'b']));
  });
});
