import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ManagedProcess } from '../../world/process';

describe('a managed process that never reports ready', () => {
  test('an idle one (not starved of CPU) fails at its deadline with its CPU and run-queue times, and is killed', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlab-proc-'));
    const entry = path.join(dir, 'idle.js');
    fs.writeFileSync(entry, 'setInterval(() => {}, 1000);\n');
    const p = new ManagedProcess({ name: 'idle', role: 'app', entry, env: {}, logFile: path.join(dir, 'idle.log'), readyTimeoutMs: 1000 });
    try {
      await expect(p.start()).rejects.toThrow(/^idle did not report ready within \d+ ms( \(\d+ ms on a CPU, \d+ ms waiting for one\))? \(see /);
      await p.kill();
      expect(p.running).toBe(false);
    } finally {
      await p.kill();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
