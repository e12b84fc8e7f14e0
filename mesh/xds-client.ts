import http from 'node:http';
import { request } from '../lib/http-client';
import { DISCOVERY_PATH, type NodeInfo, type Snapshot } from './xds';

export interface XdsClientOptions {
  controlPlaneUrl: string;
  node: NodeInfo;
  /** The node's workload token (lib/cp-auth.ts), read at each use; none against an open control plane. */
  token?: () => string | undefined;
  /** Applies a snapshot; throw to NACK it (the sidecar keeps its previous config). */
  onSnapshot(snapshot: Snapshot): void;
  onConnectionChange?(connected: boolean): void;
}

/**
 * Keeps one discovery stream open to the control plane, applies each snapshot and ACKs/NACKs it.
 * When the control plane goes away the sidecar keeps its last good config and resubscribes with
 * backoff (100 ms doubling to 2 s).
 */
export class XdsClient {
  private req?: http.ClientRequest;
  private stopped = false;
  private backoffMs = 100;
  private retryTimer?: NodeJS.Timeout;
  lastVersion = 0;
  connected = false;

  constructor(private readonly opts: XdsClientOptions) {}

  start(): void {
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.req?.destroy();
  }

  /** Reports readiness of this node's endpoint (its app is healthy or not). */
  async setReady(ready: boolean): Promise<void> {
    await this.post('/v1/ready', { node: this.opts.node.id, ready });
  }

  private connect(): void {
    if (this.stopped) return;
    const url = new URL(DISCOVERY_PATH, this.opts.controlPlaneUrl);
    const req = http.get(url, { headers: { 'x-mesh-node': JSON.stringify(this.opts.node), accept: 'text/event-stream', ...this.authorization() } });
    this.req = req;
    req.on('response', (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        return this.reconnect();
      }
      this.backoffMs = 100;
      this.setConnected(true);
      res.setEncoding('utf8');
      let buf = '';
      res.on('data', (chunk: string) => {
        buf += chunk;
        let end: number;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const event = buf.slice(0, end);
          buf = buf.slice(end + 2);
          this.onEvent(event);
        }
      });
      res.on('close', () => this.reconnect());
    });
    req.on('error', () => this.reconnect());
  }

  private onEvent(event: string): void {
    let data = '';
    for (const line of event.split('\n')) if (line.startsWith('data: ')) data += line.slice(6);
    if (!data) return;
    let snapshot: Snapshot;
    try {
      snapshot = JSON.parse(data) as Snapshot;
    } catch (err) {
      return void this.post('/v1/ack', { node: this.opts.node.id, version: -1, error: `unparseable snapshot: ${(err as Error).message}` });
    }
    try {
      this.opts.onSnapshot(snapshot);
      this.lastVersion = snapshot.version;
      void this.post('/v1/ack', { node: this.opts.node.id, version: snapshot.version });
    } catch (err) {
      void this.post('/v1/ack', { node: this.opts.node.id, version: snapshot.version, error: (err as Error).message });
    }
  }

  private reconnect(): void {
    this.setConnected(false);
    if (this.stopped || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.connect();
    }, this.backoffMs);
    this.backoffMs = Math.min(this.backoffMs * 2, 2000);
  }

  private setConnected(connected: boolean): void {
    if (this.connected === connected) return;
    this.connected = connected;
    this.opts.onConnectionChange?.(connected);
  }

  private authorization(): Record<string, string> {
    const t = this.opts.token?.();
    return t ? { authorization: `Bearer ${t}` } : {};
  }

  private async post(path: string, body: unknown): Promise<void> {
    try {
      await request(new URL(path, this.opts.controlPlaneUrl), { method: 'POST', headers: { 'content-type': 'application/json', ...this.authorization() }, body: JSON.stringify(body), timeoutMs: 10_000 });
    } catch {
      // The control plane is away; the stream's reconnect re-registers this node.
    }
  }
}
