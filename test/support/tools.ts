/**
 * What some tests need beyond `npm ci`, in one list: Debian tools (found by absolute path or on
 * $PATH) and the two real brokers. `npm test` prints, before any test runs, which tests a missing
 * one skips and the one command that installs the tools (test/support/global-setup.ts); .ci/run
 * installs exactly TOOLS' packages (test/support/tools.test.ts keeps the two lists equal). Under
 * CI=true the tests themselves still fail loudly on a missing tool, as before.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export interface Tool {
  /** Absolute path, or a command name looked up on $PATH. */
  binary: string;
  /** The Debian package that provides it. */
  pkg: string;
  /** The tests that need it (empty: only `npm run bench` does). */
  tests: string;
  /** The tests run without it, only narrower (never skipped, never failing under CI=true). */
  optional?: boolean;
}

export const TOOLS: readonly Tool[] = [
  { binary: '/usr/bin/chromium', pkg: 'chromium', tests: 'test/dashboard: the dashboard driven in a real browser' },
  { binary: 'docker-compose', pkg: 'docker-compose', tests: 'test/compose: `docker-compose config` validates compose.yaml' },
  { binary: 'promtool', pkg: 'prometheus', tests: 'test/compose: `promtool check config` of prometheus.yml' },
  { binary: 'prometheus', pkg: 'prometheus', tests: 'test/compose: Prometheus scrapes the embedded world and runs every Grafana query' },
  { binary: 'haproxy', pkg: 'haproxy', tests: 'test/bench: the bench run leaves out its HAProxy reference topology', optional: true },
  { binary: 'nginx', pkg: 'nginx', tests: '' },
  { binary: 'kubectl', pkg: 'kubectl', tests: 'test/export: `kubectl kustomize` builds the exported manifests' },
];

/** The one command that installs every tool (as root, as .ci/run does). */
export const APT_COMMAND = `apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${[...new Set(TOOLS.map((t) => t.pkg))].join(' ')}`;

export function toolPresent(tool: Tool, envPath = process.env.PATH ?? ''): boolean {
  const candidates = path.isAbsolute(tool.binary) ? [tool.binary] : envPath.split(path.delimiter).filter(Boolean).map((d) => path.join(d, tool.binary));
  return candidates.some((f) => {
    try {
      fs.accessSync(f, fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export interface Broker {
  name: string;
  host: string;
  port: number;
  tests: string;
  start: string;
}

/** The brokers the bus tests use, where they look for them (KAFKA_BROKERS, RABBITMQ_URL). */
export function brokers(env: NodeJS.ProcessEnv = process.env): Broker[] {
  const kafka = /^\[?([^\]\s,]+?)\]?(?::(\d+))?(?:,|$)/.exec(env.KAFKA_BROKERS ?? '127.0.0.1:9092');
  const rabbit = new URL(env.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672');
  return [
    { name: 'Kafka', host: kafka?.[1] ?? '127.0.0.1', port: Number(kafka?.[2] ?? 9092), tests: 'test/bus: the Kafka bus contract and broker-outage tests', start: 'scripts/kafka start' },
    { name: 'RabbitMQ', host: rabbit.hostname, port: Number(rabbit.port || 5672), tests: 'test/bus: the RabbitMQ bus contract and broker-outage tests', start: 'apt-get install -y rabbitmq-server && rabbitmq-server -detached' },
  ];
}

export function reachable(host: string, port: number, timeoutMs = 1500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, host);
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** The notice for what is missing ('' when nothing is): which tests skip (or, under CI=true, fail) and how to fix it. */
export function missingNotice(missingTools: readonly Tool[], missingBrokers: readonly Broker[], ci: boolean): string {
  const skipping = missingTools.filter((t) => t.tests && !t.optional);
  const narrower = missingTools.filter((t) => t.tests && t.optional);
  if (skipping.length === 0 && narrower.length === 0 && missingBrokers.length === 0) return '';
  const verdict = ci ? 'FAIL (CI=true: a missing tool is a broken setup)' : 'are SKIPPED';
  const lines = ['', '!'.repeat(100)];
  if (skipping.length || missingBrokers.length) lines.push(`!!! npm test: these tests ${verdict}:`);
  for (const t of skipping) lines.push(`!!!   ${t.tests} — needs ${t.binary} (Debian package ${t.pkg})`);
  for (const b of missingBrokers) lines.push(`!!!   ${b.tests} — ${b.name} is not reachable at ${b.host}:${b.port}`);
  for (const t of narrower) lines.push(`!!! npm test runs narrower: ${t.tests} — no ${t.binary} (Debian package ${t.pkg})`);
  if (skipping.length || narrower.length) lines.push('!!! Install the tools with one command (as root):', `!!!   ${APT_COMMAND}`);
  for (const b of missingBrokers) lines.push(`!!! Start ${b.name}: ${b.start}`);
  lines.push('!!! (.ci/run does all of this, then runs the suite as CI does.)', '!'.repeat(100), '');
  return lines.join('\n');
}
