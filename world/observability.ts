import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { prometheusDocument, type ScrapeTarget } from './compose-generate';
import { terminate } from './process';
import { stringify } from 'yaml';

/**
 * The world's observability backends, real servers on this machine: Zipkin (its exec jar from Maven Central,
 * cached by scripts/zipkin under ~/.cache/meshlab, run by Java 17) and Prometheus (Debian's /usr/bin/prometheus),
 * scraping every sidecar, the gateway and every app with the scrape config compose uses (prometheusDocument).
 * Each is a child process of the world: its log in the world's log dir, stopped (SIGTERM, then SIGKILL) with it.
 */

export const ZIPKIN_VERSION = '3.5.1';

export function zipkinJar(cacheRoot = process.env.MESHLAB_CACHE || path.join(os.homedir(), '.cache', 'meshlab')): string {
  return path.join(cacheRoot, `zipkin-${ZIPKIN_VERSION}`, `zipkin-server-${ZIPKIN_VERSION}-exec.jar`);
}

export function prometheusBinary(): string {
  return process.env.PROMETHEUS_BIN || '/usr/bin/prometheus';
}

export { freePort } from '../lib/free-port';

/** A non-Node server process, ready once an HTTP GET answers 200 (and, optionally, its body passes `check`). */
export class BackendProcess {
  child?: ChildProcess;
  private exited?: Promise<void>;

  constructor(
    readonly name: string,
    readonly command: string,
    readonly args: string[],
    readonly port: number,
    readonly logFile: string,
    private readonly readyUrl: string,
    private readonly check: (body: string) => boolean = () => true,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(timeoutMs: number): Promise<void> {
    fs.mkdirSync(path.dirname(this.logFile), { recursive: true });
    const log = fs.openSync(this.logFile, 'a');
    const child = spawn(this.command, this.args, { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const deadline = Date.now() + timeoutMs;
    let exitedEarly = false;
    child.once('exit', () => (exitedEarly = true));
    child.once('error', () => (exitedEarly = true));
    for (;;) {
      if (exitedEarly) throw new Error(`${this.name} exited before it was ready; last log lines:\n${tail(this.logFile)}`);
      try {
        const res = await fetch(this.readyUrl, { signal: AbortSignal.timeout(1000) });
        const body = await res.text();
        if (res.ok && this.check(body)) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(`${this.name} not ready at ${this.readyUrl} within ${timeoutMs} ms; last log lines:\n${tail(this.logFile)}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  async stop(graceMs = 5000): Promise<void> {
    if (this.child && this.running) return terminate(this.child, this.exited!, graceMs);
    return this.exited;
  }
}

function tail(file: string, lines = 15): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Zipkin with in-memory storage on 127.0.0.1:port; ready when /health says UP. */
export function zipkinProcess(opts: { host: string; port: number; logDir: string; jar?: string }): BackendProcess {
  const jar = opts.jar ?? zipkinJar();
  if (!fs.existsSync(jar)) throw new Error(`the Zipkin server jar is not cached at ${jar}: run scripts/zipkin fetch (it needs mvn and Maven Central)`);
  return new BackendProcess(
    'zipkin',
    'java',
    ['-Xmx256m', '-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', '-jar', jar, `--server.port=${opts.port}`, `--server.address=${opts.host}`],
    opts.port,
    path.join(opts.logDir, 'zipkin.log'),
    `http://${opts.host}:${opts.port}/health`,
    (body) => body.includes('"UP"'),
  );
}

/** Writes prometheus.yml for these targets: the compose generator's document, self-scrape included. */
export function writePrometheusConfig(file: string, targets: ScrapeTarget[], self: string, scrapeInterval = '1s'): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, `# Written by meshlab (world/observability.ts) from the running world; rewritten when an instance restarts.\n${stringify(prometheusDocument(targets, { self, scrapeInterval }))}`);
  fs.renameSync(tmp, file);
}

/** Prometheus on 127.0.0.1:port with its TSDB under dataDir; `--web.enable-lifecycle` lets the world reload its targets. */
export function prometheusProcess(opts: { host: string; port: number; logDir: string; dataDir: string; configFile: string }): BackendProcess {
  const bin = prometheusBinary();
  if (!fs.existsSync(bin)) throw new Error(`Prometheus is not installed at ${bin}: apt-get install prometheus (or set PROMETHEUS_BIN)`);
  return new BackendProcess(
    'prometheus',
    bin,
    [`--config.file=${opts.configFile}`, `--web.listen-address=${opts.host}:${opts.port}`, `--storage.tsdb.path=${opts.dataDir}`, '--web.enable-lifecycle', '--storage.tsdb.retention.time=1d'],
    opts.port,
    path.join(opts.logDir, 'prometheus.log'),
    `http://${opts.host}:${opts.port}/-/ready`,
  );
}

/** Tells Prometheus to re-read its config (after the targets file changed). */
export async function reloadPrometheus(url: string): Promise<void> {
  const res = await fetch(`${url}/-/reload`, { method: 'POST' });
  if (!res.ok) throw new Error(`Prometheus reload at ${url} answered ${res.status}: ${await res.text()}`);
}
