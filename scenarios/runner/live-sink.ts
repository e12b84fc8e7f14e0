import type { Expectation, ScenarioReport } from './report';

/**
 * Streams a run to the control plane's dashboard (POST /v1/scenarios/events) so people can watch the
 * timeline and verdict live. Best effort: the dashboard being away never affects a scenario.
 */
export class LiveSink {
  private run?: string;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly controlPlaneUrl: string) {}

  start(info: { scenario: string; title: string; teaches: string[]; seed: number; quick: boolean }): void {
    this.send({ type: 'start', ...info }, (body) => {
      this.run = (body as { run?: string }).run;
    });
  }

  event(t: number, label: string): void {
    this.send({ type: 'event', t, label });
  }

  progress(series: string, t: number, counts: { done: number; ok: number; failed: number; total: number }): void {
    this.send({ type: 'progress', series, t, ...counts });
  }

  expectation(e: Expectation): void {
    this.send({ type: 'expectation', ...e });
  }

  report(report: ScenarioReport): Promise<unknown> {
    this.send({ type: 'report', report });
    return this.queue;
  }

  private send(event: Record<string, unknown>, onBody?: (body: unknown) => void): void {
    // Sequential, so `start` has answered (and given the run id) before the events that follow it.
    this.queue = this.queue.then(async () => {
      try {
        const res = await fetch(`${this.controlPlaneUrl}/v1/scenarios/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(event.type === 'start' ? event : { ...event, run: this.run }),
        });
        const body = await res.json().catch(() => undefined);
        onBody?.(body);
      } catch {
        /* no dashboard: nothing to show, nothing to fail */
      }
    });
  }
}
