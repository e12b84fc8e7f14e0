/**
 * How a meshlab process tells the launcher it is ready: it binds its ports (0 = ephemeral) and sends
 * `{type: 'ready', ports}` over the IPC channel the launcher opened. Outside the launcher (compose,
 * a shell) there is no channel and it just logs its addresses.
 */
export interface ReadyMessage {
  type: 'ready';
  ports: Record<string, number>;
}

export function reportReady(name: string, ports: Record<string, number>): void {
  const msg: ReadyMessage = { type: 'ready', ports };
  if (process.send) process.send(msg);
  else console.log(`${name} ready ${Object.entries(ports).map(([k, v]) => `${k}=${v}`).join(' ')}`);
}

/** Runs `stop` once on SIGTERM/SIGINT (or when the launcher's IPC channel closes), then exits. */
export function onShutdown(stop: () => Promise<void>): void {
  let stopping = false;
  const run = (): void => {
    if (stopping) return;
    stopping = true;
    const force = setTimeout(() => process.exit(0), 5000);
    force.unref();
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', run);
  process.on('SIGINT', run);
  // The launcher died without stopping us (SIGKILL, crash): do not linger as an orphan.
  if (process.send) process.on('disconnect', run);
}

/** Reads a required environment variable, with an actionable error. */
export function env(name: string, fallback?: string): string {
  const v = process.env[name];
  if (v !== undefined && v !== '') return v;
  if (fallback !== undefined) return fallback;
  throw new Error(`environment variable ${name} is required (the launcher sets it; see world/topology.ts)`);
}

export function envInt(name: string, fallback?: number): number {
  const raw = env(name, fallback === undefined ? undefined : String(fallback));
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`environment variable ${name} must be a non-negative integer, got "${raw}"`);
  return n;
}
