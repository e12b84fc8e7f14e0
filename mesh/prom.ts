/**
 * prom-client's metric classes, loaded from their own files. Its index also loads the Pushgateway, the cluster
 * aggregator and the default metrics (which pull in @opentelemetry/api): 88 modules and about 12 MB of a sidecar's
 * RSS, against 8 modules and under 1 MB for the registry, counter and gauge (histogram included in that measure). The mesh's process series are its own (`registerProcessMetrics`).
 * test/mesh/sidecar-footprint.test.ts checks what a sidecar loads.
 */
import type * as Prom from 'prom-client';

/* eslint-disable @typescript-eslint/no-require-imports */
export const Registry = require('prom-client/lib/registry') as typeof Prom.Registry;
export const Counter = require('prom-client/lib/counter') as typeof Prom.Counter;
export const Gauge = require('prom-client/lib/gauge') as typeof Prom.Gauge;
/* eslint-enable @typescript-eslint/no-require-imports */
export type Registry = Prom.Registry;
export type Counter<T extends string = string> = Prom.Counter<T>;
export type Gauge<T extends string = string> = Prom.Gauge<T>;

const START_TIME_S = Math.round(Date.now() / 1000 - process.uptime());

/**
 * The process series every Node exporter has (names as prom-client's default metrics): CPU, RSS, heap, start time.
 * Read when scraped; no timer, no GC observer, no event-loop monitor in the sidecar.
 */
export function registerProcessMetrics(registry: Registry): void {
  const registers = [registry];
  new Counter({
    name: 'process_cpu_seconds_total',
    help: 'Total user and system CPU time spent in seconds.',
    registers,
    collect() {
      const u = process.cpuUsage();
      this.reset();
      this.inc((u.user + u.system) / 1e6);
    },
  });
  new Gauge({
    name: 'process_resident_memory_bytes',
    help: 'Resident memory size in bytes.',
    registers,
    collect() {
      this.set(process.memoryUsage.rss());
    },
  });
  new Gauge({
    name: 'nodejs_heap_size_used_bytes',
    help: 'Process heap size used from Node.js in bytes.',
    registers,
    collect() {
      this.set(process.memoryUsage().heapUsed);
    },
  });
  new Gauge({
    name: 'process_start_time_seconds',
    help: 'Start time of the process since unix epoch in seconds.',
    registers,
    collect() {
      this.set(START_TIME_S);
    },
  });
}
