/**
 * One stage of a ToxicLink: an input queue, the toxic running on it, and an output (the next
 * stage or the socket writer). It mirrors Toxiproxy's ToxicStub: a toxic can be interrupted at
 * any await point (read or sleep) to be re-configured, moved or removed, and on interrupt the
 * toxic hands over whatever it holds so no byte is dropped.
 */
import { performance } from 'node:perf_hooks';

/** A piece of the byte stream with the time it entered the proxy (ms, performance clock). */
export interface Chunk {
  data: Buffer;
  ts: number;
}

/** A chunk, or null for end-of-stream (Toxiproxy closes the channel; we push null). */
export type Item = Chunk | null;

/** Anything a stage can write into: the next stage or the link's socket writer. */
export interface Outlet {
  push(item: Item): void;
}

export const INTERRUPTED = Symbol('interrupted');
export const TIMED_OUT = Symbol('timed out');
export type ReadResult = Item | typeof INTERRUPTED;

export function now(): number {
  return performance.now();
}

export class ToxicStub implements Outlet {
  /** Per-link state of stateful toxics (limit_data's byte count) - survives interrupts. */
  state: unknown = undefined;
  /** Whether this link rolled "affected" against the toxic's toxicity. */
  active = true;
  private queue: Item[] = [];
  private waiter: ((r: ReadResult) => void) | null = null;
  private sleeper: { timer: NodeJS.Timeout; resolve: (done: boolean) => void } | null = null;
  private interruptRequested = false;
  private running: Promise<void> | null = null;
  private closedFlag = false;

  constructor(
    public out: Outlet,
    /** Called with the byte count of data this stage discards, for the link's flow control. */
    private readonly release: (bytes: number) => void,
  ) {}

  get closed(): boolean {
    return this.closedFlag;
  }

  get isRunning(): boolean {
    return this.running !== null;
  }

  push(item: Item): void {
    if (this.closedFlag) {
      if (item) this.release(item.data.length);
      return;
    }
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w(item);
    } else {
      this.queue.push(item);
    }
  }

  /** Next input item, or INTERRUPTED when the stage is being interrupted. */
  read(): ReadResult | Promise<ReadResult> {
    if (this.interruptRequested) return INTERRUPTED;
    if (this.queue.length > 0) return this.queue.shift() as Item;
    return new Promise<ReadResult>((resolve) => {
      this.waiter = resolve;
    });
  }

  /** Like read(), but gives up with TIMED_OUT after `ms` without input. */
  readWithin(ms: number): ReadResult | typeof TIMED_OUT | Promise<ReadResult | typeof TIMED_OUT> {
    if (this.interruptRequested) return INTERRUPTED;
    if (this.queue.length > 0) return this.queue.shift() as Item;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        resolve(TIMED_OUT);
      }, ms);
      this.waiter = (r) => {
        clearTimeout(timer);
        resolve(r);
      };
    });
  }

  /** Waits `ms`; resolves false if interrupted first (Go: select on time.After and Interrupt). */
  sleep(ms: number): Promise<boolean> {
    if (this.interruptRequested) return Promise.resolve(false);
    if (ms <= 0) return Promise.resolve(true);
    // Node's timers run off a cached loop clock and can fire ~1 ms early: a toxic's delay is a minimum.
    const due = now() + ms;
    return new Promise<boolean>((resolve) => {
      const fire = (): void => {
        const left = due - now();
        if (left > 0) {
          this.sleeper = { timer: setTimeout(fire, Math.ceil(left)), resolve };
          return;
        }
        this.sleeper = null;
        resolve(true);
      };
      this.sleeper = { timer: setTimeout(fire, ms), resolve };
    });
  }

  write(chunk: Chunk): void {
    if (!this.closedFlag) this.out.push(chunk);
    else this.release(chunk.data.length);
  }

  /** Discards a chunk on purpose (timeout, reset_peer, limit_data overflow). */
  drop(chunk: Chunk): void {
    this.release(chunk.data.length);
  }

  /** Ends this stage's output: downstream stages and finally the socket see end-of-stream. */
  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    for (const item of this.queue) if (item) this.release(item.data.length);
    this.queue = [];
    this.out.push(null);
  }

  /** Starts `pipe` on this stage (the stage must not be running). */
  run(pipe: (stub: ToxicStub) => Promise<void>): void {
    if (this.closedFlag) return;
    this.interruptRequested = false;
    const p: Promise<void> = pipe(this)
      .catch(() => undefined)
      .then(() => {
        if (this.running === p) this.running = null;
      });
    this.running = p;
  }

  /**
   * Stops the running toxic and waits for it to exit. False when the stage is already closed,
   * like ToxicStub.InterruptToxic.
   */
  async interrupt(): Promise<boolean> {
    if (this.closedFlag || !this.running) return false;
    const running = this.running;
    this.interruptRequested = true;
    this.wake();
    await running;
    this.interruptRequested = false;
    return !this.closedFlag;
  }

  /** Moves queued input to this stage's output in order (used when the stage is removed). */
  forwardQueue(): 'eof' | 'ok' {
    while (this.queue.length > 0) {
      const item = this.queue.shift() as Item;
      if (item === null) return 'eof';
      this.out.push(item);
    }
    return 'ok';
  }

  /** Tears the stage down without emitting anything (the connection is gone). */
  kill(): void {
    this.closedFlag = true;
    this.interruptRequested = true;
    this.queue = [];
    this.wake();
  }

  private wake(): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w(INTERRUPTED);
    }
    if (this.sleeper) {
      clearTimeout(this.sleeper.timer);
      const s = this.sleeper;
      this.sleeper = null;
      s.resolve(false);
    }
  }
}
