/** The standalone toxiproxy-server replacement: flags, one log line per change, clean signals. */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { parseCliArgs } from '../../chaos/main';

const MAIN = path.join(__dirname, '..', '..', 'chaos', 'main.js');

describe('parseCliArgs', () => {
  test('accepts toxiproxy-server single-dash flags and --flag=value', () => {
    expect(parseCliArgs(['-host', '0.0.0.0', '-port', '9000'])).toEqual({ host: '0.0.0.0', port: 9000 });
    expect(parseCliArgs(['--host=127.0.0.1', '--port', '0', '--seed', '3'])).toEqual({ host: '127.0.0.1', port: 0, seed: 3 });
    expect(parseCliArgs([])).toEqual({ host: 'localhost', port: 8474 });
  });

  test('rejects bad values with a message naming the flag', () => {
    expect(() => parseCliArgs(['-port', 'abc'])).toThrow('-port must be an integer 0-65535, got "abc"');
    expect(() => parseCliArgs(['-bogus', '1'])).toThrow(/unknown flag -bogus/);
    expect(() => parseCliArgs(['-port'])).toThrow('flag -port needs a value');
  });
});

test('main.js serves the API, logs changes and exits 0 on SIGTERM', async () => {
  const child = spawn(process.execPath, [MAIN, '-host', '127.0.0.1', '-port', '0', '-seed', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const waiters = new Set<() => void>();
  child.stdout.on('data', (b: Buffer) => {
    out += b.toString();
    for (const w of [...waiters]) w();
  });
  const waitFor = (re: RegExp): Promise<RegExpMatchArray> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const m = re.exec(out);
        if (m) {
          clearTimeout(timer);
          waiters.delete(check);
          resolve(m);
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no log line matching ${re} in:\n${out}`));
      }, 10_000);
      waiters.add(check);
      check();
    });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    const [, address] = await waitFor(/Starting Toxiproxy HTTP server address=(\S+)/);
    const url = `http://${address}`;
    const res = await fetch(`${url}/proxies`, { method: 'POST', body: JSON.stringify({ name: 'a->b', listen: '127.0.0.1:0', upstream: '127.0.0.1:1' }) });
    expect(res.status).toBe(201);
    await waitFor(/INF Created proxy name=a->b listen=127\.0\.0\.1:\d+ upstream=127\.0\.0\.1:1 enabled=true/);
    await fetch(`${url}/proxies/a-%3Eb/toxics`, { method: 'POST', body: JSON.stringify({ type: 'latency', attributes: { latency: 5 } }) });
    await waitFor(/INF Added toxic proxy=a->b toxic=latency_downstream type=latency/);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(out).toMatch(/Shutting down signal=SIGTERM/);
    expect(out).toMatch(/Terminated proxy name=a->b/);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});
