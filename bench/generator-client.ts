import path from 'node:path';
import { ManagedProcess } from '../world/process';
import type { GeneratorCommand, GeneratorReply, ThroughputOptions, ThroughputResult } from './generator-main';
import type { OpenLoopOptions, OpenLoopResult } from './generator';
import { pinProcess, type PinPlan } from './pin';

type Cmd = GeneratorCommand extends infer C ? (C extends { id: number } ? Omit<C, 'id'> : never) : never;

/** The runner's handle on the generator process: one IPC command per slice, answered in order. */
export class GeneratorClient {
  private readonly proc: ManagedProcess;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: GeneratorReply) => void; reject: (e: Error) => void }>();

  constructor(distDir: string, logFile: string) {
    this.proc = new ManagedProcess({ name: 'bench-generator', role: 'app', entry: path.join(distDir, 'bench/generator-main.js'), env: {}, logFile });
  }

  async start(pin: PinPlan): Promise<void> {
    await this.proc.start();
    if (pin.enabled) pinProcess(this.proc.pid!, pin.generatorCpu);
    const child = this.proc.child!;
    child.on('message', (msg: GeneratorReply) => {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      p.resolve(msg);
    });
    child.once('exit', (code, signal) => {
      for (const p of this.pending.values()) p.reject(new Error(`the generator process exited (code ${code}, signal ${signal}) during a run; see ${this.proc.spec.logFile}`));
      this.pending.clear();
    });
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  private call(cmd: Cmd): Promise<GeneratorReply> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.proc.send({ ...cmd, id });
    });
  }

  async openLoop(opts: Omit<OpenLoopOptions, 'pool'>): Promise<OpenLoopResult> {
    const r = await this.call({ type: 'open-loop', opts });
    if (r.error || !r.result) throw new Error(`generator: ${r.error ?? 'no result'}`);
    return r.result as OpenLoopResult;
  }

  async throughput(opts: ThroughputOptions): Promise<ThroughputResult> {
    const r = await this.call({ type: 'throughput', opts });
    if (r.error || !r.result) throw new Error(`generator (autocannon): ${r.error ?? 'no result'}`);
    return r.result as ThroughputResult;
  }

  async closePools(): Promise<void> {
    await this.call({ type: 'close-pools' });
  }

  stop(): Promise<void> {
    return this.proc.stop();
  }
}
