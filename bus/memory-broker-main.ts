/**
 * Entry point of the memory broker process: `node dist/bus/memory-broker-main.js [--port N] [--host H]`.
 * Started by the world launcher with an IPC channel, it reports `{type:'ready', ports:{http:N}}` once
 * listening; SIGTERM/SIGINT close it.
 */
import { startMemoryBroker } from './memory-broker';

function parseArgs(argv: string[]): { host: string; port: number } {
  let host = '127.0.0.1';
  let port = 0;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = argv[i + 1];
    if (arg === '--port') {
      port = Number(value);
      if (!Number.isInteger(port) || port < 0 || port > 65535) {
        throw new Error(`--port ${value ?? ''}: expected an integer 0..65535 (0 = any free port)`);
      }
      i++;
    } else if (arg === '--host') {
      if (!value) throw new Error('--host needs a value, e.g. --host 127.0.0.1');
      host = value;
      i++;
    } else {
      throw new Error(`unknown argument "${arg}"; usage: memory-broker-main [--port N] [--host H]`);
    }
  }
  return { host, port };
}

async function main(): Promise<void> {
  const broker = await startMemoryBroker(parseArgs(process.argv.slice(2)));
  if (process.send) process.send({ type: 'ready', ports: { http: broker.port } });
  else process.stdout.write(`memory broker listening on ${broker.url}\n`);
  const stop = (): void => {
    broker.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.once('disconnect', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`memory broker: ${(err as Error).message}\n`);
  process.exit(1);
});
