import fs from 'node:fs';
import inspector from 'node:inspector';
import path from 'node:path';

/**
 * Loaded with NODE_OPTIONS=--require (where --cpu-prof is not allowed): samples the process's CPU
 * from start to exit and writes a .cpuprofile into BENCH_CPU_PROF_DIR. The in-process inspector
 * session answers synchronously, so writing on 'exit' works even after process.exit().
 */
const dir = process.env.BENCH_CPU_PROF_DIR;
if (dir) {
  const session = new inspector.Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 100 });
  session.post('Profiler.start');
  process.on('exit', () => {
    session.post('Profiler.stop', (err, res) => {
      if (err) return;
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, `${path.basename(process.argv[1] ?? 'node', '.js')}-${process.pid}.cpuprofile`), JSON.stringify(res.profile));
    });
  });
}
