import { spawn, execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startKafka, stopKafka, tcpReachable } from '../../bus/testing/broker-control';

/**
 * A broker of the lab's own, for labs that stop their broker (`broker-outage`): the machine's Kafka and
 * RabbitMQ are shared with everything else on it, so a lab never stops them. Kafka runs through
 * scripts/kafka on free ports with its own state directory; RabbitMQ is a second node of the installed
 * server (its own node name, ports, Erlang cookie and data directory). `stop`/`start` are the outage
 * (Kafka's JVM stops; RabbitMQ's `stop_app` closes the AMQP listener and every client connection, the
 * node and its durable queues stay); `close` removes it all.
 */
export interface OwnBroker {
  kind: 'kafka' | 'rabbitmq';
  /** What the world's bus connects to. */
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

/** Whether 127.0.0.1:port can be listened on now. */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * `n` consecutive free ports below the kernel's ephemeral range: the broker listens on them again after
 * its outage, and a port in the ephemeral range may meanwhile be the local end of anyone's outgoing connection.
 */
async function freePorts(n: number): Promise<number[]> {
  let low = 32768;
  try {
    low = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || low;
  } catch {
    // not Linux: the IANA dynamic range starts higher still
  }
  const from = 20000;
  for (let i = 0; i < 50; i++) {
    const base = from + Math.floor(Math.random() * Math.max(1, low - from - n));
    const ports = Array.from({ length: n }, (_, k) => base + k);
    if ((await Promise.all(ports.map(canListen))).every(Boolean)) return ports;
  }
  throw new Error(`no ${n} consecutive free ports on 127.0.0.1 between ${from} and ${low} for a broker of the lab's own`);
}

export async function startOwnBroker(kind: 'kafka' | 'rabbitmq', log: (line: string) => void): Promise<OwnBroker> {
  return kind === 'kafka' ? ownKafka(log) : ownRabbit(log);
}

async function ownKafka(log: (line: string) => void): Promise<OwnBroker> {
  const [port, controller] = await freePorts(2);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlab-lab-kafka-'));
  const env = { KAFKA_PORT: String(port), KAFKA_CONTROLLER_PORT: String(controller), KAFKA_STATE_DIR: dir };
  log(`  starting a Kafka broker of the lab's own on 127.0.0.1:${port} (the shared one is never stopped) …`);
  const close = async (): Promise<void> => {
    await stopKafka(env).catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await startKafka(env);
  } catch (err) {
    await close();
    throw err;
  }
  return { kind: 'kafka', url: `127.0.0.1:${port}`, stop: async () => void (await stopKafka(env)), start: async () => void (await startKafka(env)), close };
}

/** The installed RabbitMQ's own scripts (not /usr/sbin's wrappers, which switch to the rabbitmq user and its cookie). */
function rabbitBin(name: string): string {
  const dir = process.env.RABBITMQ_BIN_DIR ?? '/usr/lib/rabbitmq/bin';
  const file = path.join(dir, name);
  if (!fs.existsSync(file)) throw new Error(`broker-outage-rabbitmq runs a RabbitMQ node of its own: no ${name} in ${dir} (install rabbitmq-server, or set RABBITMQ_BIN_DIR to the folder that has rabbitmq-server and rabbitmqctl)`);
  return file;
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env, timeout: timeoutMs }, (err, stdout, stderr) => (err ? reject(new Error(`${path.basename(file)} ${args.join(' ')} failed: ${err.message}\n${stdout}${stderr}`)) : resolve()));
  });
}

async function ownRabbit(log: (line: string) => void): Promise<OwnBroker> {
  const server = rabbitBin('rabbitmq-server');
  const ctl = rabbitBin('rabbitmqctl');
  const [amqp, dist] = await freePorts(2);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlab-lab-rabbitmq-'));
  const node = `meshlab-lab-${process.pid}-${amqp}@localhost`;
  fs.writeFileSync(path.join(dir, 'rabbitmq.conf'), `listeners.tcp.default = 127.0.0.1:${amqp}\nloopback_users = none\n`);
  fs.writeFileSync(path.join(dir, 'enabled_plugins'), '[].\n');
  // HOME holds the node's Erlang cookie: ours alone, for the server and our rabbitmqctl. The machine's
  // rabbitmq-env.conf (its node name) is not read.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: dir,
    RABBITMQ_CONF_ENV_FILE: '/dev/null',
    RABBITMQ_NODENAME: node,
    RABBITMQ_DIST_PORT: String(dist),
    RABBITMQ_CONFIG_FILE: path.join(dir, 'rabbitmq.conf'),
    RABBITMQ_ENABLED_PLUGINS_FILE: path.join(dir, 'enabled_plugins'),
    RABBITMQ_MNESIA_BASE: path.join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: path.join(dir, 'log'),
    RABBITMQ_PID_FILE: path.join(dir, 'pid'),
    ERL_EPMD_ADDRESS: '127.0.0.1',
  };
  log(`  starting a RabbitMQ node of the lab's own (${node}, 127.0.0.1:${amqp}; the shared one is never stopped) …`);
  const out = fs.openSync(path.join(dir, 'server.log'), 'a');
  const child: ChildProcess = spawn(server, [], { env, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));
  const rabbitmqctl = (...args: string[]): Promise<void> => run(ctl, ['-n', node, ...args], env, 60_000);
  const close = async (): Promise<void> => {
    if (!gone) {
      // rabbitmqctl stop halts the node; else SIGTERM the server script (it traps it and stops the node), and
      // at last SIGKILL the Erlang VM by its pid file (the script runs it as a child of its own).
      await rabbitmqctl('stop').catch(() => child.kill('SIGTERM'));
      const killed = setTimeout(() => {
        const pidFile = path.join(dir, 'pid');
        const pid = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, 'utf8').trim()) : 0;
        try {
          if (pid > 0) process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
        child.kill('SIGKILL');
      }, 15_000);
      await exited;
      clearTimeout(killed);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 90_000;
  while (!(await tcpReachable('127.0.0.1', amqp, 500))) {
    if (gone || Date.now() > deadline) {
      const tail = fs.existsSync(path.join(dir, 'server.log')) ? fs.readFileSync(path.join(dir, 'server.log'), 'utf8').slice(-2000) : '';
      await close();
      throw new Error(`the lab's own RabbitMQ node ${node} ${gone ? 'exited' : 'was not listening after 90 s'}:\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { kind: 'rabbitmq', url: `amqp://guest:guest@127.0.0.1:${amqp}`, stop: () => rabbitmqctl('stop_app'), start: () => rabbitmqctl('start_app'), close };
}
