import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { AccessLog } from '../../mesh/access-log';
import { StreamInfo } from '../../mesh/stream-info';
import { seededRandom } from '../../lib/random';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const heapAfterGc = (): number => {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
};

function info(i: number, pathLength: number): StreamInfo {
  const s = new StreamInfo('outbound');
  s.method = 'GET';
  s.path = `/r${i}/${'p'.repeat(pathLength)}`;
  s.requestId = `req-${i}-${'0'.repeat(24)}`;
  s.status = 200;
  s.finish();
  return s;
}

describe('the access log keeps its lines as bytes in one ring, not objects on the heap', () => {
  test('5,000 logged requests, all kept and readable, grow the JS heap by under 256 KiB (an entry object each took 1.1 MB)', () => {
    const log = new AccessLog(-1, 5000);
    const infos = Array.from({ length: 5000 }, (_, i) => info(i, 20));
    log.log(infos[0]); // the ring is allocated at the first line
    const before = heapAfterGc();
    for (const s of infos) log.log(s);
    const grown = heapAfterGc() - before;
    const kept = log.entries();
    expect(kept).toHaveLength(5000);
    expect(kept[0].path).toBe(infos[0].path);
    expect(kept[4999].request_id).toBe('req-4999-000000000000000000000000');
    expect(grown).toBeLessThan(256 * 1024);
  });

  test('across many wraps of a small ring: the newest lines read back whole and in order, and the file gets every line once, in order', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlab-alr-'));
    const file = path.join(dir, 'access.log');
    const fd = fs.openSync(file, 'w');
    try {
      // keep 10 → a 128 KiB ring (the floor: twice the flush size); lines of 200 B to 6 KiB wrap it many times.
      const log = new AccessLog(fd, 10);
      const rand = seededRandom(15);
      const n = 2000;
      for (let i = 0; i < n; i++) log.log(info(i, Math.floor(rand() * 6000)));
      log.flush();
      const kept = log.entries();
      expect(kept.length).toBeGreaterThanOrEqual(1);
      expect(kept.length).toBeLessThanOrEqual(10);
      expect(kept.map((e) => e.request_id.split('-')[1]).map(Number)).toEqual(Array.from({ length: kept.length }, (_, k) => n - kept.length + k));
      const lines = fs.readFileSync(file, 'utf8').split('\n');
      expect(lines).toHaveLength(n + 1);
      expect(lines.map((l) => (l ? Number((JSON.parse(l) as { request_id: string }).request_id.split('-')[1]) : -1)).slice(0, n)).toEqual(Array.from({ length: n }, (_, k) => k));
    } finally {
      fs.closeSync(fd);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
