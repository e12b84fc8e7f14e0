import type { UpstreamHost } from '../../mesh/upstream-host';
import type { Clock } from '../../mesh/outlier-detector';

/** A host stand-in for load-balancer and detector tests (no pool, no sockets). */
export function fakeHost(key: string, activeRequests = 0): UpstreamHost {
  return { key, activeRequests, instance: key, endpoint: { instance: key, service: 's', labels: {}, host: key, port: 0 } } as unknown as UpstreamHost;
}

/** A clock tests advance by hand; interval callbacks fire exactly when their time comes. */
export class FakeClock implements Clock {
  t = 0;
  private timers: { fn: () => void; every: number; next: number; live: boolean }[] = [];
  now(): number {
    return this.t;
  }
  setInterval(fn: () => void, ms: number): unknown {
    const timer = { fn, every: ms, next: this.t + ms, live: true };
    this.timers.push(timer);
    return timer;
  }
  clearInterval(h: unknown): void {
    (h as { live: boolean }).live = false;
  }
  /** Moves time forward to `to`, firing due timers in order. */
  advanceTo(to: number): void {
    for (;;) {
      const due = this.timers.filter((t) => t.live && t.next <= to).sort((a, b) => a.next - b.next)[0];
      if (!due) break;
      this.t = due.next;
      due.next += due.every;
      due.fn();
    }
    this.t = to;
  }
}
