import { spawnSync } from 'node:child_process';
import type { ReceivedMessage } from '../../bus/types';

/** Unique names per test run so runs (and reruns after a crash) never share topics or groups. */
export const RUN_ID = `${Date.now().toString(36)}${process.pid.toString(36)}`;
let counter = 0;
export function uniqueName(prefix: string): string {
  counter++;
  return `meshlab-test.${prefix}.${RUN_ID}.${counter}`;
}

/**
 * Records every handler call and lets a test await a condition on them; the condition is checked on
 * each delivery, so nothing polls or sleeps.
 */
export class Collector {
  readonly calls: ReceivedMessage[] = [];
  private waiters: { check: () => boolean; resolve: () => void }[] = [];

  record(message: ReceivedMessage): void {
    this.calls.push(message);
    this.waiters = this.waiters.filter((w) => {
      if (!w.check()) return true;
      w.resolve();
      return false;
    });
  }

  distinctIds(): Set<string> {
    return new Set(this.calls.map((m) => m.id));
  }

  /** Resolves once `check()` holds; rejects after timeoutMs with `what` and what was seen. */
  until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; saw ${this.calls.length} deliveries (${this.distinctIds().size} distinct)`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.waiters.push({ check, resolve: done });
    });
  }

  untilDistinct(n: number, timeoutMs: number): Promise<void> {
    return this.until(() => this.distinctIds().size >= n, timeoutMs, `${n} distinct messages`);
  }
}

/**
 * Synchronously checks a TCP endpoint at test-collection time (jest collects tests synchronously),
 * so an unreachable broker can skip its describe block. Prints a loud notice when it is missing.
 */
export function brokerReachable(label: string, host: string, port: number): boolean {
  const probe = `const s=require('net').connect(${port},${JSON.stringify(host)});s.setTimeout(1500,()=>process.exit(1));s.on('connect',()=>process.exit(0));s.on('error',()=>process.exit(1));`;
  const ok = spawnSync(process.execPath, ['-e', probe], { timeout: 5000 }).status === 0;
  if (!ok) {
    const line = '!'.repeat(100);
    console.warn(
      `${line}\n!!! ${label} is NOT reachable at ${host}:${port} — its bus tests are ${process.env.CI === 'true' ? 'FAILING (CI=true)' : 'SKIPPED'}.\n` +
        `!!! Start it (Kafka: scripts/kafka start; RabbitMQ: rabbitmqctl start_app) or point KAFKA_BROKERS / RABBITMQ_URL at it.\n${line}`,
    );
  }
  return ok;
}

/** Parses "host:port" (first of a comma list) into its parts. */
export function firstHostPort(list: string, defaultPort: number): { host: string; port: number } {
  const first = list.split(',')[0].trim();
  const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(first);
  return { host: m?.[1] ?? '127.0.0.1', port: m?.[2] ? Number(m[2]) : defaultPort };
}

/** Whether a suite for an unreachable broker should fail (CI) or be skipped (local). */
export function mustHaveBrokers(): boolean {
  return process.env.CI === 'true';
}
