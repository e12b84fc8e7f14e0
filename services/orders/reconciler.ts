import { chargeOrder, type OrdersDeps } from './app';

/** How many orders of a pass are charged at once by default. */
export const RECONCILE_CONCURRENCY = 4;

export interface ReconcilerOptions {
  /** How often to look for stuck orders; 0 disables. */
  intervalMs: number;
  /** How old a PENDING order must be before it is retried (leaves in-flight requests alone). */
  graceMs: number;
  batch?: number;
  /** How many orders of a batch are charged at once (one slow charge does not hold the others). */
  concurrency?: number;
  log?: (msg: string) => void;
}

/**
 * Business recovery, not network policy: an order left PENDING because payments could not answer
 * (down, timed out, overloaded) is charged again later with the same idempotency key, so it ends
 * CONFIRMED or REJECTED and is never charged twice.
 *
 * Each order is settled on its own: one that fails again (still unreachable, still 503) is moved to
 * the back of the queue and the pass goes on with the next; one payments refuses for good (its own
 * 400/422, or a 402 decline) ends REJECTED with payments' reason. No order can block another.
 */
export class PendingReconciler {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  resolved = 0;
  stillPending = 0;

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

  /** One pass over the PENDING orders older than the grace period; resolves when every one was tried. */
  async pass(): Promise<void> {
    const before = new Date(Date.now() - this.opts.graceMs).toISOString();
    const queue = this.deps.store.pendingBefore(before, this.opts.batch ?? 20);
    const worker = async (): Promise<void> => {
      for (let order = queue.shift(); order; order = queue.shift()) {
        try {
          const outcome = await chargeOrder(this.deps, order);
          if (outcome.kind === 'pending') {
            this.stillPending++;
            this.deps.store.touchPending(order.id);
            continue;
          }
          this.resolved++;
          this.opts.log?.(`reconciler: ${order.id} ${outcome.kind} after being PENDING${outcome.kind === 'rejected' ? ` (${outcome.order.reason})` : ''}`);
        } catch (err) {
          this.opts.log?.(`reconciler: ${order.id} could not be settled this pass: ${(err as Error).message}`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, this.opts.concurrency ?? RECONCILE_CONCURRENCY) }, worker));
  }
}
