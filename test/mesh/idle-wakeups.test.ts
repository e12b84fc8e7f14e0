import { execFileSync } from 'node:child_process';
import path from 'node:path';

/**
 * An idle sidecar's process wakes only for its own deadlines, not 100 times a second: prom-client's default
 * metrics arm `monitorEventLoopDelay` at a 10 ms resolution unless told otherwise, which costs an idle sidecar
 * two epoll_pwait calls every 10 ms (seen with strace) and adds a loop turn to every tenth millisecond under load.
 * Counted with libuv's own loop counter in a fresh process that holds only the sidecar's stats.
 */
test('the sidecar stats registry adds at most 2 event-loop iterations per second to an idle process (was 100: a 10 ms event-loop-lag timer)', () => {
  const stats = path.join(__dirname, '../../mesh/stats.js');
  const script = `
    const { performance } = require('node:perf_hooks');
    const { MeshStats } = require(${JSON.stringify(stats)});
    new MeshStats({ service: 'orders', version: 'v1' });
    // A ref'd 2 s timer keeps the process up; its own expiry is one iteration.
    const before = performance.nodeTiming.uvMetricsInfo.loopCount;
    setTimeout(() => { process.stdout.write(String(performance.nodeTiming.uvMetricsInfo.loopCount - before)); process.exit(0); }, 2000);
  `;
  const iterations = Number(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 }));
  expect(iterations).toBeLessThanOrEqual(5); // 2 s: the 1 s monitor (2) + the closing timer (1) + slack
});
