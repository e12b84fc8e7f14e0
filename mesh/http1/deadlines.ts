/**
 * Connection deadlines on one coarse timer per process, instead of a timer per connection or per
 * request (Node's http.Server arms a socket timer per connection and re-arms it on every read and
 * write; Envoy's connection manager keeps its idle and headers timers per stream on a timer wheel).
 * Each watched item says, when asked, the monotonic instant its current deadline falls at (or 0 for
 * none); every `intervalMs` the sweep asks each one and expires those whose instant has passed.
 *
 * A deadline never fires early: the sweep compares against the monotonic clock read at the sweep,
 * not against when the timer was due, so a timer that Node fires up to ~1 ms early (its loop clock
 * is cached) only postpones the expiry to the next sweep. A deadline fires at most `intervalMs`
 * late; the listener's deadlines are seconds long, so a 1 s sweep (Node's own
 * connectionsCheckingInterval for its headers timeout) is coarse enough.
 */

export interface Deadline {
  /** The monotonic instant (ms, `performance.now()`) the item's current deadline falls at; 0 = none now. */
  deadline(): number;
  /** The deadline passed: act (answer 408, close). Called once per passing; the item sets its next one itself. */
  expire(now: number): void;
}

export class Deadlines {
  private readonly items = new Set<Deadline>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly intervalMs: () => number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get size(): number {
    return this.items.size;
  }

  add(item: Deadline): void {
    this.items.add(item);
    if (!this.timer) this.arm();
  }

  delete(item: Deadline): void {
    this.items.delete(item);
    if (this.items.size === 0 && this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  /** One pass: every item whose deadline is at or before the clock now is expired. Public so tests drive it. */
  sweep(): void {
    const now = this.now();
    for (const item of this.items) {
      const d = item.deadline();
      if (d > 0 && d <= now) item.expire(now);
    }
  }

  private arm(): void {
    this.timer = setTimeout(this.tick, this.intervalMs());
    // The sweep alone never keeps a process alive: the sockets it watches do.
    this.timer.unref();
  }

  private readonly tick = (): void => {
    this.timer = undefined;
    this.sweep();
    if (this.items.size > 0 && !this.timer) this.arm();
  };
}
