/**
 * One proxied TCP connection: the client socket, the upstream socket and the two links between
 * them. It decides how the connection ends: a clean FIN is passed on as a half-close; a toxic
 * closing a link (or a socket error) closes the whole connection, as Toxiproxy's Close() does;
 * a connection that started with reset_peer present closes with RST.
 */
import type { Socket } from 'node:net';
import { ToxicLink } from './link';
import type { ToxicContext } from './toxics/toxic';
import type { ToxicWrapper } from './wrapper';

export interface ConnectionHooks {
  onClosed(conn: Connection): void;
}

export class Connection {
  readonly upstreamLink: ToxicLink;
  readonly downstreamLink: ToxicLink;
  /** Toxiproxy's SetLinger(0): set when a reset_peer toxic was present at connection start. */
  private lingerZero = false;
  private finished = false;

  constructor(
    readonly client: Socket,
    readonly upstream: Socket,
    private readonly hooks: ConnectionHooks,
    ctx: ToxicContext,
    roll: () => number,
  ) {
    this.upstreamLink = new ToxicLink(this, 'upstream', client, upstream, ctx, roll);
    this.downstreamLink = new ToxicLink(this, 'downstream', upstream, client, ctx, roll);
    const onError = (source: ToxicLink, sink: ToxicLink) => (): void => {
      if (this.finished) return;
      source.endInput(false);
      // Nothing more can be written to the failed socket; let its link wind down.
      sink.endInput(false);
    };
    client.on('error', onError(this.upstreamLink, this.downstreamLink));
    upstream.on('error', onError(this.downstreamLink, this.upstreamLink));
    client.on('close', () => this.onSocketClosed());
    upstream.on('close', () => this.onSocketClosed());
  }

  start(upstreamChain: readonly ToxicWrapper[], downstreamChain: readonly ToxicWrapper[]): void {
    this.lingerZero = [...upstreamChain, ...downstreamChain].some((w) => w.kind.resetsConnection === true);
    this.upstreamLink.start(upstreamChain);
    this.downstreamLink.start(downstreamChain);
  }

  onLinkOutputEnded(link: ToxicLink): void {
    if (this.finished) return;
    if (this.lingerZero) {
      this.reset();
      return;
    }
    if (!link.dest.destroyed && !link.dest.writableEnded) link.dest.end();
    const other = link === this.upstreamLink ? this.downstreamLink : this.upstreamLink;
    if (!link.sourceClean) {
      // A toxic (or an error) closed this direction: Go closes the socket for both directions.
      link.endInput(false);
      other.endInput(false);
    }
    if (this.upstreamLink.outputEnded && this.downstreamLink.outputEnded) this.finish();
  }

  /** Closes both sockets now (proxy disabled or deleted). */
  destroy(): void {
    if (this.finished) return;
    this.finish();
    this.client.destroy();
    this.upstream.destroy();
  }

  private reset(): void {
    for (const s of [this.client, this.upstream]) {
      if (!s.destroyed) s.resetAndDestroy();
    }
    this.finish();
  }

  private onSocketClosed(): void {
    if (this.finished) return;
    if (this.client.destroyed && this.upstream.destroyed) this.finish();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.upstreamLink.kill();
    this.downstreamLink.kill();
    for (const s of [this.client, this.upstream]) {
      if (s.destroyed) continue;
      if (!s.writableEnded) s.end();
      if (s.writableFinished) s.destroy();
      else {
        s.once('finish', () => s.destroy());
        // A peer that never reads must not pin the socket forever.
        setTimeout(() => s.destroy(), 10_000).unref();
      }
    }
    this.hooks.onClosed(this);
  }
}
