/**
 * Standalone entry, a drop-in for `toxiproxy-server`:
 *   node dist/chaos/main.js --host 127.0.0.1 --port 8474 [--seed N] [--config proxies.json]
 * Single-dash flags (-host, -port, -config) work too. Logs one line per proxy/toxic change and
 * stops cleanly on SIGINT/SIGTERM.
 */
import { readFile } from 'node:fs/promises';
import { startChaosServer, formatLogLine } from './server';

export interface CliOptions {
  host: string;
  port: number;
  seed?: number;
  config?: string;
}

const USAGE = 'usage: toxiproxy [--host 127.0.0.1] [--port 8474] [--seed N] [--config file.json]';

/** Parses toxiproxy-server style flags; throws a message naming the bad flag and the fix. */
export function parseCliArgs(argv: string[]): CliOptions {
  const opts: CliOptions = { host: 'localhost', port: 8474 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const m = /^--?([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!m) throw new Error(`unexpected argument "${arg}"; ${USAGE}`);
    const flag = m[1];
    if (flag === 'help' || flag === 'h') throw new Error(USAGE);
    const value = m[2] ?? argv[++i];
    if (value === undefined) throw new Error(`flag -${flag} needs a value; ${USAGE}`);
    switch (flag) {
      case 'host':
        opts.host = value;
        break;
      case 'port': {
        const port = Number(value);
        if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`-port must be an integer 0-65535, got "${value}"`);
        opts.port = port;
        break;
      }
      case 'seed': {
        const seed = Number(value);
        if (!Number.isInteger(seed)) throw new Error(`-seed must be an integer, got "${value}"`);
        opts.seed = seed;
        break;
      }
      case 'config':
        opts.config = value;
        break;
      default:
        throw new Error(`unknown flag -${flag}; ${USAGE}`);
    }
  }
  return opts;
}

/** Runs the server until SIGINT/SIGTERM; resolves once everything is closed. */
export async function runToxiproxyServerCli(argv: string[]): Promise<void> {
  const opts = parseCliArgs(argv);
  const write = (line: string): void => {
    process.stdout.write(line + '\n');
  };
  const host = opts.host === 'localhost' ? '127.0.0.1' : opts.host;
  const server = await startChaosServer({ host, port: opts.port, seed: opts.seed, log: write });
  write(formatLogLine('Starting Toxiproxy HTTP server', { address: `${host}:${server.port}`, version: '2.12.0' }));
  if (opts.config) {
    const body = await readFile(opts.config, 'utf8');
    const res = await fetch(`${server.url}/populate`, { method: 'POST', body });
    const text = await res.text();
    if (!res.ok) write(formatLogLine('Failed to populate proxies from file', { config: opts.config, error: text.trim() }));
  }
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      write(formatLogLine('Shutting down', { signal }));
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      void server.close().then(resolve);
    };
    const onInt = (): void => stop('SIGINT');
    const onTerm = (): void => stop('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  });
}

if (require.main === module) {
  runToxiproxyServerCli(process.argv.slice(2)).then(
    () => process.exit(0),
    (e: Error) => {
      process.stderr.write(`toxiproxy: ${e.message}\n`);
      process.exit(2);
    },
  );
}
