import { ReportConnection } from './report-connection';
import type { Span } from '../tracing';
import type { SpanSource } from './zipkin';

export interface ExporterOptions<T = Span> {
  /** Where batches go: `http://host:9411/api/v2/spans` (Zipkin) or `http://host:4318/v1/traces` (OTLP/HTTP). */
  url: string;
  /**
   * Turns a batch into the request body (encodeZipkin / encodeOtlp), or its bytes (ZipkinHopEncoder): bytes the encoder
   * may reuse once this report is over — the exporter encodes the next batch only after the request closed.
   */
  encode: (spans: readonly T[], source: SpanSource) => string | Uint8Array;
  source: SpanSource;
  /** Spans held at most; a span offered to a full queue is dropped and counted, never waited for. */
  maxQueue?: number;
  /** A batch this size is sent at once instead of at the next tick. */
  maxBatch?: number;
  /** Queued spans are sent at least this often. Envoy's Zipkin tracer reports every 5 s; a lab wants its traces sooner. */
  flushMs?: number;
  /** Per-request timeout of a report. */
  timeoutMs?: number;
}

/** Envoy's tracing.zipkin.* counters, plus the drops of a full queue. */
export interface ExporterStats {
  spansSent: number;
  reportsSent: number;
  reportsFailed: number;
  /** Spans lost with a failed report. */
  spansFailed: number;
  /** Spans refused because the queue was full. */
  spansDropped: number;
  queued: number;
}

/**
 * Reports spans to a collector off the request path: `offer` is an array push (or a counted drop when the
 * queue is full), and the encoding and the HTTP POST happen on a timer, one report in flight at a time, over
 * one keep-alive connection (`ReportConnection`: head and body in one writev, no Node HTTP client per report). A collector that is down or slow costs dropped spans, never a waiting request.
 */
export class SpanExporter<T = Span> {
  private queue: T[] = [];
  private timer?: NodeJS.Timeout;
  private immediate?: NodeJS.Immediate;
  private readonly flushNow = (): void => {
    this.immediate = undefined;
    void this.report('full');
  };
  private inFlight?: Promise<void>;
  private readonly connection: ReportConnection;
  private readonly maxQueue: number;
  private readonly maxBatch: number;
  private readonly flushMs: number;
  private closed = false;
  readonly stats: ExporterStats = { spansSent: 0, reportsSent: 0, reportsFailed: 0, spansFailed: 0, spansDropped: 0, queued: 0 };
  /** The last report's error, for /tracing on the admin port. */
  lastError?: string;

  constructor(private readonly opts: ExporterOptions<T>) {
    this.connection = new ReportConnection(opts.url, 'application/json'); // throws on a bad URL, at start rather than at the first report
    this.maxQueue = opts.maxQueue ?? 8192;
    this.maxBatch = opts.maxBatch ?? 1024;
    this.flushMs = opts.flushMs ?? 1000;
  }

  offer(span: T): boolean {
    if (this.closed || this.queue.length >= this.maxQueue) {
      this.stats.spansDropped++;
      return false;
    }
    this.queue.push(span);
    if (this.queue.length >= this.maxBatch && !this.inFlight) {
      if (this.immediate) return true; // a report is already due on the next turn: one is enough
      clearTimeout(this.timer);
      this.timer = undefined;
      this.immediate = setImmediate(this.flushNow);
    } else this.armTimer();
    return true;
  }

  private armTimer(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.report('due');
    }, this.flushMs);
    this.timer.unref();
  }

  /** Sends what is queued (in batches of maxBatch), resolving once the reports were answered. */
  flush(): Promise<void> {
    return this.report('all');
  }

  /**
   * Sends batches one report at a time.
   * - `all` (close, a caller's flush): until nothing is queued.
   * - `full` (a batch filled up): full batches only, as Envoy's Zipkin tracer reports at min_flush_spans or on its
   *   timer.
   * - `due` (the timer): the spans queued when it fired.
   * In `full` and `due`, the spans that arrive while a report is in flight wait for the next full batch or the next
   * timer, instead of each report being chased by a smaller one. At 1,000 spans/s that was ~3.4 reports a second of
   * ~290 spans instead of ~2 of 512. Below a batch a second, the timer's report was followed by one of the few spans
   * that arrived during it: two reports a second instead of one.
   */
  private async report(mode: 'all' | 'full' | 'due'): Promise<void> {
    // Several of these may run at once (the batch-size one, the timer's, a caller's): a flush returns only when nothing
    // is queued and no report is in flight, whichever of them sent it.
    let due = mode === 'due' ? this.queue.length : Infinity;
    for (;;) {
      if (this.inFlight) {
        await this.inFlight;
        continue;
      }
      if ((mode === 'full' && this.queue.length < this.maxBatch) || due <= 0) {
        if (this.queue.length > 0) this.armTimer();
        return;
      }
      if (this.queue.length === 0) return;
      const n = Math.min(this.maxBatch, due);
      const batch = this.queue.length <= n ? this.queue : this.queue.slice(0, n);
      this.queue = this.queue.length <= n ? [] : this.queue.slice(n);
      due -= batch.length;
      this.inFlight = this.send(batch).finally(() => {
        this.inFlight = undefined;
      });
    }
  }

  get queued(): number {
    return this.queue.length;
  }

  /** A report is on its way (sent, not yet closed). */
  get reporting(): boolean {
    return this.inFlight !== undefined;
  }

  /** Sends what is left, then closes the connection; later offers are dropped. */
  async close(): Promise<void> {
    clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = undefined;
    await this.flush();
    this.closed = true;
    this.connection.close();
  }

  private send(batch: T[]): Promise<void> {
    // One UTF-8 pass: a Buffer is written as is (a string body would be measured, then encoded again).
    const encoded = this.opts.encode(batch, this.opts.source);
    const body = typeof encoded === 'string' ? Buffer.from(encoded) : encoded;
    // The report is over when its answer came and its body was written (or dropped with its socket): only then does the
    // next report encode, so an encoder may reuse its bytes.
    const timeoutMs = this.opts.timeoutMs ?? 5000;
    return this.connection.send(body, timeoutMs).then(
      (answer) => {
        if (answer.status >= 200 && answer.status < 300) {
          this.stats.reportsSent++;
          this.stats.spansSent += batch.length;
        } else this.fail(batch.length, `${this.opts.url} answered ${answer.status}: ${answer.body.slice(0, 200)}`);
      },
      (e: Error) => this.fail(batch.length, `${this.opts.url}: ${e.message}`),
    );
  }

  private fail(spans: number, why: string): void {
    this.stats.reportsFailed++;
    this.stats.spansFailed += spans;
    this.lastError = why;
  }
}
