import { fork } from 'node:child_process';
import path from 'node:path';
import { createBus } from '../../bus';
import { startMemoryBroker, type MemoryBrokerHandle } from '../../bus/memory-broker';
import type { EventBus } from '../../bus/types';
import { contractSuite } from './contract-suite';
import { Collector } from './helpers';

describe('memory bus (in-process memory broker)', () => {
  let broker: MemoryBrokerHandle;
  let bus: EventBus;
  beforeAll(async () => {
    broker = await startMemoryBroker({ port: 0 });
    bus = createBus({ kind: 'memory', url: broker.url, clientId: 'contract' });
  });
  afterAll(async () => {
    await bus?.close();
    await broker?.close();
  });

  contractSuite(() => bus, { timeoutMs: 10_000 });

  test('two members of one group: only the owner consumes; the other takes over when it closes', async () => {
    const other = createBus({ kind: 'memory', url: broker.url, clientId: 'other' });
    try {
      const topic = 'shared-' + Date.now();
      const a = new Collector();
      const b = new Collector();
      const subA = await bus.subscribe(topic, 'g', async (m) => a.record(m));
      await bus.publish(topic, [{ id: 'x1', key: 'k', value: '1' }]);
      await a.untilDistinct(1, 5000);
      const subB = await other.subscribe(topic, 'g', async (m) => b.record(m));
      await bus.publish(topic, [{ id: 'x2', key: 'k', value: '2' }]);
      await a.untilDistinct(2, 5000);
      await subA.close();
      await bus.publish(topic, [{ id: 'x3', key: 'k', value: '3' }]);
      await b.untilDistinct(1, 5000);
      await subB.close();
      expect(a.calls.map((m) => m.id)).toEqual(['x1', 'x2']);
      expect(b.calls.map((m) => m.id)).toEqual(['x3']);
    } finally {
      await other.close();
    }
  });

  test('the broker answers 400 naming the bad field', async () => {
    const res = await fetch(broker.url + '/publish', { method: 'POST', body: JSON.stringify({ topic: 't', messages: [{ id: 1 }] }) });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'messages[0].id must be a string' });
  });
});

describe('memory-broker-main process', () => {
  test('reports {type:"ready", ports:{http}} over IPC and serves publish/consume; exits 0 on SIGTERM', async () => {
    const child = fork(path.join(__dirname, '../../bus/memory-broker-main.js'), ['--port', '0'], { stdio: 'pipe' });
    try {
      const ready = await new Promise<{ type: string; ports: { http: number } }>((resolve, reject) => {
        child.once('message', (m) => resolve(m as { type: string; ports: { http: number } }));
        child.once('exit', (code) => reject(new Error(`broker exited early with ${code}`)));
      });
      expect(ready.type).toBe('ready');
      expect(ready.ports.http).toBeGreaterThan(0);
      const bus = createBus({ kind: 'memory', url: `http://127.0.0.1:${ready.ports.http}` });
      const seen = new Collector();
      const sub = await bus.subscribe('main-t', 'g', async (m) => seen.record(m));
      await bus.publish('main-t', [{ id: 'm1', key: 'k', value: '{}' }]);
      await seen.untilDistinct(1, 5000);
      await sub.close();
      await bus.close();
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
