/**
 * The launcher's side of the gateway's starting gate (mesh/sidecar/starting-gate.ts): the gateway
 * process is started with MESH_GATEWAY_HOLD=1 and answers 503 "starting" until it gets
 * `{type:'open'}`; this sends that and resolves at its `{type:'opened'}`, so whoever prints "ready"
 * after it knows the gateway already routes.
 */
import type { ManagedProcess } from './process';

export const GATEWAY_HOLD_ENV = { MESH_GATEWAY_HOLD: '1' } as const;

export async function openGateway(gateway: ManagedProcess, timeoutMs = 5000): Promise<void> {
  const child = gateway.child;
  if (!child || !gateway.running) throw new Error(`${gateway.spec.name} is not running: cannot open it (see ${gateway.spec.logFile})`);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`${gateway.spec.name} did not acknowledge opening within ${timeoutMs} ms (see ${gateway.spec.logFile})`)), timeoutMs);
    const onMessage = (msg: unknown): void => {
      if ((msg as { type?: string } | null)?.type === 'opened') done();
    };
    const onExit = (): void => done(new Error(`${gateway.spec.name} exited before it opened (see ${gateway.spec.logFile})`));
    const done = (err?: Error): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve();
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
    gateway.send({ type: 'open' });
  });
}
