/**
 * All proxies by name, guarding unique names; populate's rules: an existing proxy with the same
 * (resolved) listen address and upstream is kept with its toxics, a different one is replaced.
 */
import { ApiError, ErrBadRequestBody, ErrMissingField, ErrProxyAlreadyExists, ErrProxyNotFound, joinError, toApiError } from './errors';
import { decodeStruct, parseGoJson, type GoField } from './gojson';
import { Mutex } from './mutex';
import type { Proxy } from './proxy';

export const PROXY_FIELDS: readonly GoField[] = [
  { key: 'name', kind: 'string' },
  { key: 'listen', kind: 'string' },
  { key: 'upstream', kind: 'string' },
  { key: 'enabled', kind: 'bool' },
];

export interface PopulateResult {
  proxies: Proxy[];
  error?: ApiError;
}

export class ProxyCollection {
  private readonly proxies = new Map<string, Proxy>();
  private readonly lock = new Mutex();

  constructor(private readonly makeProxy: (name: string, listen: string, upstream: string) => Proxy) {}

  all(): Map<string, Proxy> {
    return new Map(this.proxies);
  }

  get(name: string): Proxy {
    const p = this.proxies.get(name);
    if (!p) throw ErrProxyNotFound;
    return p;
  }

  add(proxy: Proxy, start: boolean): Promise<void> {
    return this.lock.run(async () => {
      if (this.proxies.has(proxy.name)) throw ErrProxyAlreadyExists;
      if (start) await proxy.start();
      this.proxies.set(proxy.name, proxy);
    });
  }

  remove(name: string): Promise<void> {
    return this.lock.run(async () => {
      const proxy = this.get(name);
      await proxy.stop();
      this.proxies.delete(name);
    });
  }

  clear(): Promise<void> {
    return this.lock.run(async () => {
      for (const proxy of this.proxies.values()) await proxy.stop();
      this.proxies.clear();
    });
  }

  /** POST /populate: validates all entries first, then adds or replaces them in order. */
  async populate(body: string): Promise<PopulateResult> {
    const parsed = parseGoJson(body);
    if ('error' in parsed) return { proxies: [], error: joinError(parsed.error, ErrBadRequestBody) };
    if (!Array.isArray(parsed.value)) {
      const t = parsed.value === null ? null : typeof parsed.value === 'object' ? 'object' : typeof parsed.value === 'boolean' ? 'bool' : typeof parsed.value;
      if (t !== null) {
        return {
          proxies: [],
          error: joinError(`json: cannot unmarshal ${t} into Go value of type []struct { toxiproxy.Proxy; Enabled *bool "json:\\"enabled\\"" }`, ErrBadRequestBody),
        };
      }
    }
    const entries = (Array.isArray(parsed.value) ? parsed.value : []) as unknown[];
    const inputs: Array<{ name: string; listen: string; upstream: string; enabled: boolean }> = [];
    for (const entry of entries) {
      const fields: Record<string, unknown> = { name: '', listen: '', upstream: '', enabled: true };
      const err = decodeStruct(fields, entry, PROXY_FIELDS, 'Proxy', 'struct { toxiproxy.Proxy; Enabled *bool "json:\\"enabled\\"" }');
      if (err) return { proxies: [], error: joinError(err, ErrBadRequestBody) };
      inputs.push(fields as (typeof inputs)[number]);
    }
    for (const [i, input] of inputs.entries()) {
      if (input.name.length < 1) return { proxies: [], error: joinError(`name at proxy ${i + 1}`, ErrMissingField) };
      if (input.upstream.length < 1) return { proxies: [], error: joinError(`upstream at proxy ${i + 1}`, ErrMissingField) };
    }
    const proxies: Proxy[] = [];
    for (const input of inputs) {
      try {
        proxies.push(await this.addOrReplace(this.makeProxy(input.name, input.listen, input.upstream), input.enabled));
      } catch (e) {
        return { proxies, error: toApiError(e) };
      }
    }
    return { proxies };
  }

  private addOrReplace(proxy: Proxy, start: boolean): Promise<Proxy> {
    return this.lock.run(async () => {
      const existing = this.proxies.get(proxy.name);
      if (existing) {
        if (!(await existing.differs(proxy))) return existing;
        await existing.stop();
      }
      if (start) await proxy.start();
      this.proxies.set(proxy.name, proxy);
      return proxy;
    });
  }
}
