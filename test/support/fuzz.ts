/** Seeded generators of hostile input for the API and loader fuzz tests: odd JSON shapes, wrong types, broken text. */
import { seededRandom } from '../../lib/random';

export class Fuzz {
  readonly rnd: () => number;

  constructor(seed: number) {
    this.rnd = seededRandom(seed);
  }

  int(n: number): number {
    return Math.floor(this.rnd() * n);
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }

  string(max = 12): string {
    const alphabet = ['a', 'Z', '0', '-', '.', '/', ' ', '"', '\\', '\n', 'é', '💥', '\u0000', '{', ':', '*', '>'];
    return Array.from({ length: this.int(max + 1) }, () => this.pick(alphabet)).join('');
  }

  /** A scalar of a type a field rarely expects. */
  scalar(): unknown {
    return this.pick<() => unknown>([
      () => null,
      () => true,
      () => false,
      () => 0,
      () => -1,
      () => 1.5,
      () => 1e308,
      () => -0,
      () => Number.MAX_SAFE_INTEGER + 2,
      () => this.string(),
      () => '',
      () => 'payments',
      () => 'payments-v1-0',
      () => '127.0.0.1',
      () => 65536,
      () => 41000,
    ])();
  }

  /** A random JSON value up to `depth` levels, often using `keys` (the fields an endpoint knows) so shapes come close to valid. */
  value(keys: readonly string[], depth = 3): unknown {
    const r = this.rnd();
    if (depth <= 0 || r < 0.35) return this.scalar();
    if (r < 0.55) return Array.from({ length: this.int(4) }, () => this.value(keys, depth - 1));
    const out: Record<string, unknown> = {};
    for (let i = this.int(5); i > 0; i--) out[this.rnd() < 0.8 && keys.length ? this.pick(keys) : this.string(6)] = this.value(keys, depth - 1);
    return out;
  }

  /** A request body as text: JSON of a random value, truncated JSON, not JSON at all, or empty. */
  body(keys: readonly string[]): string {
    const json = JSON.stringify(this.value(keys)) ?? 'null';
    return this.pick<() => string>([
      () => json,
      () => json,
      () => json,
      () => json.slice(0, Math.max(1, this.int(json.length))), // truncated
      () => `${json}}`,
      () => this.string(40),
      () => '',
      () => '{"a":'.repeat(50),
      () => '[' .repeat(2000),
    ])();
  }

  /** Random YAML-ish text: indentation, anchors, tags, flow collections, Istio-looking keys. */
  yaml(): string {
    const keys = ['apiVersion', 'kind', 'metadata', 'name', 'spec', 'hosts', 'http', 'route', 'destination', 'host', 'subset', 'weight', 'timeout', 'retries', 'trafficPolicy', 'selector', 'rules', 'mtls', 'mode', '<<', '? '];
    const values = ['networking.istio.io/v1', 'VirtualService', 'DestinationRule', 'AuthorizationPolicy', 'PeerAuthentication', 'payments', '10s', '-1', '1e999', '~', 'null', '&a x', '*a', '!!binary AAA', '!!int x', '[1, {a: b}', '{x: [}', '"unterminated', "'", '|', '>-', '0x1F', '.inf', 'yes', '2001-01-01'];
    const lines: string[] = [];
    for (let i = this.int(25); i >= 0; i--) {
      const indent = ' '.repeat(this.pick([0, 0, 2, 4, 6, 1, 3]));
      const line = this.pick<() => string>([
        () => `${indent}${this.pick(keys)}: ${this.pick(values)}`,
        () => `${indent}- ${this.pick(keys)}: ${this.pick(values)}`,
        () => `${indent}- ${this.pick(values)}`,
        () => `${indent}${this.pick(keys)}:`,
        () => '---',
        () => `${indent}${this.string(20)}`,
        () => '\t' + this.pick(keys) + ': x',
      ])();
      lines.push(line);
    }
    return lines.join('\n');
  }
}
