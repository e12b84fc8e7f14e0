/**
 * The toxics of one proxy: an ordered chain per direction plus every live link, so that adding,
 * updating or removing a toxic reaches connections that are already open (Toxiproxy's
 * ToxicCollection). Request bodies are decoded with Toxiproxy's defaults and validation order.
 */
import { Connection } from './connection';
import { ErrBadRequestBody, ErrInvalidStream, ErrInvalidToxicType, ErrToxicAlreadyExists, ErrToxicNotFound, joinError } from './errors';
import { decodeStruct, parseGoJson, type GoField } from './gojson';
import type { ToxicLink } from './link';
import { Mutex } from './mutex';
import { toxicRegistry } from './toxics';
import { defaultAttributes } from './toxics/toxic';
import type { Direction, ToxicWrapper } from './wrapper';

const WRAPPER_FIELDS: readonly GoField[] = [
  { key: 'name', kind: 'string' },
  { key: 'type', kind: 'string' },
  { key: 'stream', kind: 'string' },
  { key: 'toxicity', kind: 'float32' },
];

const DIRECTIONS: readonly Direction[] = ['upstream', 'downstream'];

function parseDirection(stream: string): Direction | null {
  const s = stream.toLowerCase();
  return s === 'upstream' || s === 'downstream' ? s : null;
}

export class ToxicCollection {
  private readonly chain: Record<Direction, ToxicWrapper[]> = { upstream: [], downstream: [] };
  private readonly links = new Set<ToxicLink>();
  private readonly lock = new Mutex();

  /** Upstream toxics first, then downstream, each in chain order (GetToxicArray). */
  list(): ToxicWrapper[] {
    return [...this.chain.upstream, ...this.chain.downstream];
  }

  get(name: string): ToxicWrapper | undefined {
    return this.list().find((t) => t.name === name);
  }

  /** Starts both links of a new connection with the current chains. */
  startConnection(conn: Connection): void {
    this.links.add(conn.upstreamLink);
    this.links.add(conn.downstreamLink);
    conn.start([...this.chain.upstream], [...this.chain.downstream]);
  }

  forgetConnection(conn: Connection): void {
    this.links.delete(conn.upstreamLink);
    this.links.delete(conn.downstreamLink);
  }

  addJson(body: string): Promise<ToxicWrapper> {
    return this.lock.run(async () => {
      const parsed = parseGoJson(body);
      if ('error' in parsed) throw joinError(parsed.error, ErrBadRequestBody);
      const fields: Record<string, unknown> = { name: '', type: '', stream: 'downstream', toxicity: 1.0 };
      let err = decodeStruct(fields, parsed.value, WRAPPER_FIELDS, 'ToxicWrapper', 'toxics.ToxicWrapper');
      const rawAttrs = fieldOf(parsed.value, 'attributes');
      if (!err && rawAttrs !== undefined && rawAttrs !== null && (typeof rawAttrs !== 'object' || Array.isArray(rawAttrs))) {
        err = `json: cannot unmarshal ${Array.isArray(rawAttrs) ? 'array' : typeof rawAttrs === 'boolean' ? 'bool' : typeof rawAttrs} into Go struct field ToxicWrapper.attributes of type toxics.NoopToxic`;
      }
      if (err) throw joinError(err, ErrBadRequestBody);
      const stream = fields.stream as string;
      const direction = parseDirection(stream);
      if (!direction) throw ErrInvalidStream;
      const type = fields.type as string;
      const name = (fields.name as string) || `${type}_${stream}`;
      const kind = toxicRegistry.get(type);
      if (!kind) throw ErrInvalidToxicType;
      if (this.get(name)) throw ErrToxicAlreadyExists;
      const attributes = defaultAttributes(kind);
      const attrErr = decodeStruct(attributes, rawAttrs ?? null, kind.fields, '.attributes', `*toxics.${kind.goName}`);
      if (attrErr) throw joinError(attrErr, ErrBadRequestBody);
      const wrapper: ToxicWrapper = { name, type, stream, direction, toxicity: fields.toxicity as number, attributes, kind };
      this.chain[direction].push(wrapper);
      await Promise.all(this.linksOf(direction).map((l) => l.addToxic(wrapper)));
      return wrapper;
    });
  }

  updateJson(name: string, body: string): Promise<ToxicWrapper> {
    return this.lock.run(async () => {
      const toxic = this.get(name);
      if (!toxic) throw ErrToxicNotFound;
      const parsed = parseGoJson(body);
      if ('error' in parsed) throw joinError(parsed.error, ErrBadRequestBody);
      const attributes = { ...toxic.attributes };
      const fields: Record<string, unknown> = { toxicity: toxic.toxicity };
      let err = decodeStruct(fields, parsed.value, [{ key: 'toxicity', kind: 'float32' }], '', 'struct { Attributes interface {} "json:\\"attributes\\""; Toxicity float32 "json:\\"toxicity\\"" }');
      err ??= decodeStruct(attributes, fieldOf(parsed.value, 'attributes') ?? null, toxic.kind.fields, '.attributes', `*toxics.${toxic.kind.goName}`);
      if (err) throw joinError(err, ErrBadRequestBody);
      toxic.toxicity = fields.toxicity as number;
      toxic.attributes = attributes;
      await Promise.all(this.linksOf(toxic.direction).map((l) => l.updateToxic(toxic)));
      return toxic;
    });
  }

  remove(name: string): Promise<void> {
    return this.lock.run(async () => {
      const toxic = this.get(name);
      if (!toxic) throw ErrToxicNotFound;
      await this.chainRemove(toxic);
    });
  }

  /** Removes every toxic (POST /reset). */
  reset(): Promise<void> {
    return this.lock.run(async () => {
      for (const dir of DIRECTIONS) {
        while (this.chain[dir].length > 0) await this.chainRemove(this.chain[dir][0]);
      }
    });
  }

  private async chainRemove(toxic: ToxicWrapper): Promise<void> {
    const list = this.chain[toxic.direction];
    list.splice(list.indexOf(toxic), 1);
    await Promise.all(this.linksOf(toxic.direction).map((l) => l.removeToxic(toxic)));
  }

  private linksOf(direction: Direction): ToxicLink[] {
    return [...this.links].filter((l) => l.direction === direction);
  }
}

/** Case-insensitive key lookup, like Go's struct field matching. */
function fieldOf(value: unknown, key: string): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const obj = value as Record<string, unknown>;
  if (key in obj) return obj[key];
  const k = Object.keys(obj).find((x) => x.toLowerCase() === key);
  return k === undefined ? undefined : obj[k];
}
