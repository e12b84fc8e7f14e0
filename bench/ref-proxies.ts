import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort } from './net-util';

/**
 * HAProxy and nginx as references on the same hop: configs generated into a temp dir, run as our
 * own foreground processes on ephemeral 127.0.0.1 ports, with keep-alive to the upstream (as the
 * sidecar's pools do), stopped afterwards. Absent binaries are skipped with the install command.
 */

/**
 * HAProxy and nginx have no IPC channel to notice that the runner died (the Node processes exit on
 * 'disconnect'), so the runner kills any still running when it exits, even through an uncaught error.
 */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export const INSTALL_HINT = 'apt-get update && apt-get install -y haproxy nginx';

export interface RefProxy {
  port: number;
  /** Every process of the proxy (nginx: master and workers), for CPU/RSS. */
  pids(): number[];
  stop(): Promise<void>;
}

/** The binary's path, or undefined when it is not installed. */
export function findBinary(name: 'haproxy' | 'nginx'): string | undefined {
  for (const dir of ['/usr/sbin', '/usr/local/sbin', '/usr/bin', '/usr/local/bin']) {
    const p = path.join(dir, name);
    if (fs.existsSync(p)) return p;
  }
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : undefined;
}

export function haproxyConfig(port: number, upstreamPort: number): string {
  return `global
  nbthread 1
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  option http-keep-alive
  http-reuse always
frontend bench
  bind 127.0.0.1:${port}
  default_backend upstream
backend upstream
  server up 127.0.0.1:${upstreamPort}
`;
}

export function nginxConfig(dir: string, port: number, upstreamPort: number, runAsRoot: boolean): string {
  return `daemon off;
master_process on;
worker_processes 1;
${runAsRoot ? 'user root;\n' : ''}pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream upstream {
    server 127.0.0.1:${upstreamPort};
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://upstream;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
}

/** Starts HAProxy or nginx in the foreground, optionally through `taskset -c <cpu>`. */
export async function startRefProxy(kind: 'haproxy' | 'nginx', bin: string, tmpDir: string, upstreamPort: number, cpu?: number): Promise<RefProxy> {
  const dir = fs.mkdtempSync(path.join(tmpDir, `${kind}-`));
  const port = await freePort();
  const cfg = path.join(dir, `${kind}.conf`);
  let args: string[];
  if (kind === 'haproxy') {
    fs.writeFileSync(cfg, haproxyConfig(port, upstreamPort));
    args = ['-f', cfg, '-db'];
  } else {
    fs.writeFileSync(cfg, nginxConfig(dir, port, upstreamPort, process.getuid?.() === 0));
    args = ['-c', cfg, '-p', dir, '-e', path.join(dir, 'error.log')];
  }
  const log = fs.openSync(path.join(dir, 'out.log'), 'a');
  const [cmd, argv] = cpu === undefined ? [bin, args] : ['taskset', ['-c', String(cpu), bin, ...args]];
  const child: ChildProcess = spawn(cmd, argv, { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  live.add(child);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      live.delete(child);
      resolve();
    }),
  );
  const early = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 300))]);
  if (early) {
    const out = fs.readFileSync(path.join(dir, 'out.log'), 'utf8') + (fs.existsSync(path.join(dir, 'error.log')) ? fs.readFileSync(path.join(dir, 'error.log'), 'utf8') : '');
    throw new Error(`${kind} exited at start (config ${cfg}):\n${out.trim().split('\n').slice(-10).join('\n')}`);
  }
  const pid = child.pid!;
  return {
    port,
    pids: () => {
      const kids = fs.existsSync(`/proc/${pid}/task/${pid}/children`) ? fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number) : [];
      return [pid, ...kids];
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    },
  };
}
