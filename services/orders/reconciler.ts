import { chargeOrder, type OrdersDeps } from './app';

export interface ReconcilerOptions {
  /** How often to look for stuck orders; 0 disables. */
  intervalMs: number;
  /** How old a PENDING order must be before it is retried (leaves in-flight requests alone). */
  graceMs: number;
  batch?: number;
  log?: (msg: string) => void;
}

/**
 * Business recovery, not network policy: an order left PENDING because payments could not answer
 * (down, timed out, overloaded) is charged again later with the same idempotency key, so it ends
 * CONFIRMED or REJECTED and is never charged twice.
 */
export class PendingReconciler {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  resolved = 0;

  constructor(
    private readonly deps: OrdersDeps,
    private readonly opts: ReconcilerOptions,
  ) {}

  start(): void {
    if (this.opts.intervalMs > 0) this.schedule();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.running = this.pass().finally(() => {
        this.running = undefined;
        if (this.timer) this.schedule();
      });
    }, this.opts.intervalMs);
  }

  private async pass(): Promise<void> {
    const before = new Date(Date.now() - this.opts.graceMs).toISOString();
    for (const order of this.deps.store.pendingBefore(before, this.opts.batch ?? 20)) {
      const outcome = await chargeOrder(this.deps, order);
      if (outcome.kind === 'pending') break; // payments still unavailable: try again next pass
      this.resolved++;
      this.opts.log?.(`reconciler: ${order.id} ${outcome.kind} after being PENDING`);
    }
  }
}
