import http from 'node:http';
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
 * one keep-alive connection. A collector that is down or slow costs dropped spans, never a waiting request.
 */
export class SpanExporter<T = Span> {
  private queue: T[] = [];
  private timer?: NodeJS.Timeout;
  private immediate?: NodeJS.Immediate;
  private readonly flushNow = (): void => {
    this.immediate = undefined;
    void this.report(false);
  };
  private inFlight?: Promise<void>;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  private readonly maxQueue: number;
  private readonly maxBatch: number;
  private readonly flushMs: number;
  private closed = false;
  readonly stats: ExporterStats = { spansSent: 0, reportsSent: 0, reportsFailed: 0, spansFailed: 0, spansDropped: 0, queued: 0 };
  /** The last report's error, for /tracing on the admin port. */
  lastError?: string;

  constructor(private readonly opts: ExporterOptions<T>) {
    new URL(opts.url); // throws on a bad URL, at start rather than at the first report
    this.maxQueue = opts.maxQueue ?? 8192;
    this.maxBatch = opts.maxBatch ?? 512;
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
      void this.flush();
    }, this.flushMs);
    this.timer.unref();
  }

  /** Sends what is queued (in batches of maxBatch), resolving once the reports were answered. */
  flush(): Promise<void> {
    return this.report(true);
  }

  /**
   * Sends batches one report at a time. `all` (the timer, close, a caller): until nothing is queued. Otherwise (a batch
   * filled up): full batches only, as Envoy's Zipkin tracer reports at min_flush_spans or on its timer — the spans that
   * arrived while a report was in flight wait for the next full batch or the timer, instead of each report being chased
   * by a smaller one (at 1,000 spans/s that was ~3.4 reports a second of ~290 spans instead of ~2 of 512).
   */
  private async report(all: boolean): Promise<void> {
    // Several of these may run at once (the batch-size one, the timer's, a caller's): a flush returns only when nothing
    // is queued and no report is in flight, whichever of them sent it.
    for (;;) {
      if (this.inFlight) {
        await this.inFlight;
        continue;
      }
      if (!all && this.queue.length < this.maxBatch) {
        if (this.queue.length > 0) this.armTimer();
        return;
      }
      if (this.queue.length === 0) return;
      const batch = this.queue.length <= this.maxBatch ? this.queue : this.queue.slice(0, this.maxBatch);
      this.queue = this.queue.length <= this.maxBatch ? [] : this.queue.slice(this.maxBatch);
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
    this.agent.destroy();
  }

  private send(batch: T[]): Promise<void> {
    // One UTF-8 pass: a Buffer is written as is (a string body would be measured, then encoded again).
    const encoded = this.opts.encode(batch, this.opts.source);
    const body = typeof encoded === 'string' ? Buffer.from(encoded) : encoded;
    return new Promise<void>((resolve) => {
      let settled = false;
      const fail = (why: string): void => {
        if (settled) return;
        settled = true;
        this.stats.reportsFailed++;
        this.stats.spansFailed += batch.length;
        this.lastError = why;
      };
      const req = http.request(this.opts.url, { method: 'POST', agent: this.agent, timeout: this.opts.timeoutMs ?? 5000, headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.length < 4 && chunks.push(c));
        res.on('end', () => {
          if (res.statusCode && res.statusCode >= 200 && res.statusCode < 300 && !settled) {
            settled = true;
            this.stats.reportsSent++;
            this.stats.spansSent += batch.length;
          } else fail(`${this.opts.url} answered ${res.statusCode}: ${Buffer.concat(chunks).toString('utf8').slice(0, 200)}`);
        });
        res.on('error', (e) => fail(e.message));
      });
      req.on('timeout', () => req.destroy(new Error(`no answer from ${this.opts.url} within ${this.opts.timeoutMs ?? 5000} ms`)));
      req.on('error', (e) => fail(`${this.opts.url}: ${e.message}`));
      // The report is over when the request closed: its body written (or dropped with its socket), so the encoder may
      // reuse the bytes. A request that closes without an answer or an error (none known) counts as failed.
      req.on('close', () => {
        fail(`${this.opts.url}: closed without an answer`);
        resolve();
      });
      req.end(body);
    });
  }
}
