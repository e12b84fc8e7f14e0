import path from 'node:path';
import type { ApplyOutcome } from '../mesh/control-plane/config-service';
import { applyConfig, deleteConfig, waitForSync } from './config-client';
import { DEFAULT_STATE_FILE, readState, type WorldState } from './state';

/**
 * A world started elsewhere (`npm start` in another terminal), attached through its state file.
 * It can be configured and observed; it cannot kill or restart instances it does not own.
 */
export class AttachedWorld {
  private constructor(
    private snapshot: WorldState,
    private readonly file: string,
  ) {}

  static attach(file = DEFAULT_STATE_FILE): AttachedWorld {
    return new AttachedWorld(readState(file), file);
  }

  get controlPlaneUrl(): string {
    return this.snapshot.controlPlaneUrl;
  }

  get gatewayUrl(): string {
    return this.snapshot.gatewayUrl;
  }

  get chaosUrl(): string | undefined {
    return this.snapshot.chaosUrl;
  }

  /** The gateway's HTTPS listener, when it has one (config/default's 443 server). */
  get gatewayHttpsUrl(): string | undefined {
    const port = this.gateway.ports.https;
    return port ? `https://${this.snapshot.host}:${port}` : undefined;
  }

  /** The edge CA the world created beside its data dir (`curl --cacert`). */
  get gatewayCaFile(): string {
    return path.join(path.dirname(this.snapshot.dataDir), 'credentials', 'ca.crt');
  }

  get gateway(): { ports: Record<string, number> } {
    return { ports: this.snapshot.processes.find((p) => p.role === 'gateway')?.ports ?? {} };
  }

  get busKind(): string {
    return this.snapshot.bus.kind;
  }

  state(): WorldState {
    this.snapshot = readState(this.file);
    return this.snapshot;
  }

  async applyConfig(files: { name: string; text: string }[]): Promise<ApplyOutcome> {
    const out = await applyConfig(this.controlPlaneUrl, files);
    await this.waitForSync();
    return out;
  }

  async deleteConfig(refs: { kind: string; name: string }[]): Promise<ApplyOutcome> {
    const out = await deleteConfig(this.controlPlaneUrl, refs);
    await this.waitForSync();
    return out;
  }

  async waitForSync(timeoutMs = 10000): Promise<void> {
    await waitForSync(this.controlPlaneUrl, this.state().instances.length, timeoutMs);
  }

  async killInstance(id: string): Promise<void> {
    throw new Error(`cannot kill ${id}: this world was started by another process; run the scenario on its own world (no --target) to kill instances`);
  }

  async restartInstance(id: string): Promise<void> {
    throw new Error(`cannot restart ${id}: this world was started by another process`);
  }

  /** Nothing to stop: the world belongs to whoever started it. */
  async stop(): Promise<void> {}
}
