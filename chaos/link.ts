/**
 * A ToxicLink carries one direction of one connection: socket -> stage -> stage -> socket.
 * Stages (ToxicStubs) can be appended, re-configured and removed while bytes flow; removal
 * interrupts the stage and its predecessor, forwards everything the removed stage still holds,
 * and re-links the predecessor to the removed stage's output, so nothing is lost or reordered.
 */
import type { Socket } from 'node:net';
import { now, ToxicStub, type Item, type Outlet } from './stub';
import { passThrough } from './toxics/noop';
import type { ToxicContext } from './toxics/toxic';
import type { Direction, ToxicWrapper } from './wrapper';

/** Bytes allowed inside a link (stages + socket buffer) before we stop reading the source. */
const HIGH_WATER = 1 << 20;

export interface LinkOwner {
  onLinkOutputEnded(link: ToxicLink): void;
}

export class ToxicLink {
  private stubs: ToxicStub[] = [];
  private wrappers: ToxicWrapper[] = [];
  /** Where bytes read from the source go: the first stage, or the sink when there is none. */
  private head: Outlet;
  private readonly sink: Outlet;
  private inflight = 0;
  private waitingForDrain = false;
  /** Source delivered end-of-stream (or failed, or was cut off by the other direction). */
  sourceEnded = false;
  /** The source ended with a clean FIN (half-close), not an error or a toxic closing the link. */
  sourceClean = false;
  /** End-of-stream reached the destination socket. */
  outputEnded = false;
  /** Bytes written to the destination. */
  bytesOut = 0;

  constructor(
    private readonly owner: LinkOwner,
    readonly direction: Direction,
    readonly source: Socket,
    readonly dest: Socket,
    private readonly ctx: ToxicContext,
    private readonly roll: () => number,
  ) {
    this.sink = { push: (item) => this.writeToDest(item) };
    this.head = this.sink;
  }

  /** Builds the stages for `chain` and starts pumping the source. */
  start(chain: readonly ToxicWrapper[]): void {
    let out: Outlet = this.sink;
    const stubs: ToxicStub[] = [];
    for (let i = chain.length - 1; i >= 0; i--) {
      const stub = this.newStub(out, chain[i]);
      stubs.unshift(stub);
      out = stub;
    }
    this.stubs = stubs;
    this.wrappers = [...chain];
    this.head = out;
    stubs.forEach((stub, i) => this.runStub(stub, chain[i], true));
    this.source.on('data', (buf: Buffer) => this.onData(buf));
    this.source.on('end', () => this.endInput(true));
    this.dest.on('drain', () => {
      this.waitingForDrain = false;
      this.maybeResume();
    });
    this.source.resume();
  }

  /** Appends a toxic to the end of the chain of this live link. */
  async addToxic(w: ToxicWrapper): Promise<void> {
    const stub = this.newStub(this.sink, w);
    const last = this.stubs[this.stubs.length - 1];
    this.stubs.push(stub);
    this.wrappers.push(w);
    if (!last) {
      this.head = stub;
      this.runStub(stub, w, true);
      return;
    }
    const lastWrapper = this.wrappers[this.wrappers.length - 2];
    if (await last.interrupt()) {
      last.out = stub;
      this.runStub(stub, w, true);
      this.runStub(last, lastWrapper, false);
    } else {
      stub.kill(); // the link is already closed; keep indexes aligned with a dead stage
    }
  }

  /** Restarts a toxic with its new attributes/toxicity (toxicity is rolled again, as in Toxiproxy). */
  async updateToxic(w: ToxicWrapper): Promise<void> {
    const i = this.wrappers.indexOf(w);
    if (i < 0) return;
    const stub = this.stubs[i];
    if (await stub.interrupt()) this.runStub(stub, w, true);
  }

  async removeToxic(w: ToxicWrapper): Promise<void> {
    const i = this.wrappers.indexOf(w);
    if (i < 0) return;
    const stub = this.stubs[i];
    const prev = i > 0 ? this.stubs[i - 1] : null;
    const prevWrapper = i > 0 ? this.wrappers[i - 1] : null;
    const splice = (): void => {
      const j = this.stubs.indexOf(stub);
      this.stubs.splice(j, 1);
      this.wrappers.splice(j, 1);
    };
    if (!(await stub.interrupt())) {
      // Already closed: predecessors keep writing into it and it discards, like Toxiproxy.
      splice();
      return;
    }
    if (w.kind.cleanup) {
      w.kind.cleanup(stub);
      if (stub.closed) {
        splice();
        return;
      }
    }
    const prevRunning = prev ? await prev.interrupt() : false;
    if (stub.forwardQueue() === 'eof') {
      stub.close();
      splice();
      return;
    }
    if (prev) prev.out = stub.out;
    else this.head = stub.out;
    splice();
    if (prev && prevWrapper && prevRunning) this.runStub(prev, prevWrapper, false);
  }

  /** Stops reading the source and signals end-of-stream down the chain. */
  endInput(clean: boolean): void {
    if (this.sourceEnded) return;
    this.sourceEnded = true;
    this.sourceClean = clean;
    if (!clean && !this.source.destroyed) this.source.pause();
    this.head.push(null);
  }

  /** Stops every stage without emitting anything (connection torn down). */
  kill(): void {
    for (const stub of this.stubs) stub.kill();
    this.sourceEnded = true;
    this.outputEnded = true;
  }

  private newStub(out: Outlet, w: ToxicWrapper): ToxicStub {
    const stub = new ToxicStub(out, (n) => this.release(n));
    if (w.kind.newState) stub.state = w.kind.newState();
    return stub;
  }

  private runStub(stub: ToxicStub, w: ToxicWrapper, reroll: boolean): void {
    if (reroll) stub.active = this.roll() < w.toxicity;
    if (!stub.active) return stub.run(passThrough);
    const attrs = w.attributes;
    const kind = w.kind;
    const ctx = this.ctx;
    stub.run((s) => kind.pipe(attrs, s, ctx));
  }

  private onData(buf: Buffer): void {
    if (this.sourceEnded) return;
    this.inflight += buf.length;
    this.head.push({ data: buf, ts: now() });
    if (this.inflight > HIGH_WATER && !this.source.isPaused()) this.source.pause();
  }

  private writeToDest(item: Item): void {
    if (this.outputEnded) {
      if (item) this.release(item.data.length);
      return;
    }
    if (item === null) {
      this.outputEnded = true;
      this.owner.onLinkOutputEnded(this);
      return;
    }
    this.release(item.data.length);
    if (this.dest.destroyed || this.dest.writableEnded) return;
    this.bytesOut += item.data.length;
    if (!this.dest.write(item.data)) {
      this.waitingForDrain = true;
      if (!this.source.isPaused()) this.source.pause();
    }
  }

  private release(bytes: number): void {
    this.inflight -= bytes;
    if (this.inflight <= HIGH_WATER) this.maybeResume();
  }

  private maybeResume(): void {
    if (this.sourceEnded || this.waitingForDrain || this.inflight > HIGH_WATER) return;
    if (this.source.isPaused() && !this.source.destroyed) this.source.resume();
  }
}
