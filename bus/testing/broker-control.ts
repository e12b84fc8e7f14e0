import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/**
 * Test helpers that stop and start the real brokers, to simulate outages: Kafka through
 * scripts/kafka (its own JVM), RabbitMQ through `rabbitmqctl stop_app/start_app` (the Erlang node
 * stays up, the AMQP listener goes away and every client connection is closed).
 */

/** The repository root (the folder with package.json above this file, in src or dist). */
export function repoRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json')) || !fs.existsSync(path.join(dir, 'scripts'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no repository root (package.json + scripts/) above ${__dirname}`);
    dir = up;
  }
  return dir;
}

function run(file: string, args: string[], timeoutMs: number, env?: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${path.basename(file)} ${args.join(' ')} failed: ${err.message}\n${stdout}${stderr}`));
      else resolve(stdout);
    });
  });
}

export type KafkaCommand = 'start' | 'stop' | 'status' | 'kill' | 'pause' | 'resume';

/** Runs `scripts/kafka <command>`; rejects on a non-zero exit (so `status` rejects when stopped). */
export function kafkaScript(command: KafkaCommand, env?: NodeJS.ProcessEnv): Promise<string> {
  return run(path.join(repoRoot(), 'scripts', 'kafka'), [command], 180_000, env);
}

export const startKafka = (env?: NodeJS.ProcessEnv): Promise<string> => kafkaScript('start', env);
export const stopKafka = (env?: NodeJS.ProcessEnv): Promise<string> => kafkaScript('stop', env);
export const killKafka = (env?: NodeJS.ProcessEnv): Promise<string> => kafkaScript('kill', env);

/** True if a TCP connection to host:port succeeds within timeoutMs. */
export function tcpReachable(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
