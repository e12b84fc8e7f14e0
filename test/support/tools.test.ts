import fs from 'node:fs';
import path from 'node:path';
import { APT_COMMAND, brokers, missingNotice, TOOLS, toolPresent } from './tools';

const ROOT = path.resolve(__dirname, '..', '..', '..');

describe('the notice `npm test` prints first about missing tools and brokers', () => {
  it('on a machine with none of the 7 tools and no brokers: names the 5 skipped tool-backed test groups, the narrower bench run and both brokers, then the one apt command', () => {
    const text = missingNotice(TOOLS, brokers({}), false);
    expect(text).toContain('these tests are SKIPPED');
    for (const t of TOOLS.filter((x) => x.tests && !x.optional)) expect(text).toContain(`${t.tests} — needs ${t.binary} (Debian package ${t.pkg})`);
    expect(TOOLS.filter((x) => x.tests && !x.optional)).toHaveLength(5);
    expect(text).toContain('npm test runs narrower: test/bench: the bench run leaves out its HAProxy reference topology — no haproxy (Debian package haproxy)');
    expect(text).toContain('Kafka is not reachable at 127.0.0.1:9092');
    expect(text).toContain('RabbitMQ is not reachable at 127.0.0.1:5672');
    expect(text).toContain(`!!!   ${APT_COMMAND}`);
    expect(APT_COMMAND).toBe('apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium docker-compose prometheus haproxy nginx kubectl');
  });

  it('under CI=true it says the tests FAIL; with everything present (or only nginx, which no test needs, missing) it says nothing', () => {
    expect(missingNotice([TOOLS[0]], [], true)).toContain('these tests FAIL (CI=true');
    expect(missingNotice([], [], false)).toBe('');
    expect(missingNotice(TOOLS.filter((t) => t.pkg === 'nginx'), [], false)).toBe('');
  });

  it('finds a tool by absolute path or on $PATH, and brokers where the bus tests look (KAFKA_BROKERS, RABBITMQ_URL)', () => {
    expect(toolPresent({ binary: process.execPath, pkg: 'x', tests: '' })).toBe(true);
    expect(toolPresent({ binary: path.basename(process.execPath), pkg: 'x', tests: '' }, path.dirname(process.execPath))).toBe(true);
    expect(toolPresent({ binary: 'docker-compose', pkg: 'x', tests: '' }, '/nonexistent')).toBe(false);
    expect(brokers({ KAFKA_BROKERS: 'k1:19092,k2:9092', RABBITMQ_URL: 'amqp://u:p@rabbit:25672/vh' }).map((b) => `${b.name}@${b.host}:${b.port}`)).toEqual(['Kafka@k1:19092', 'RabbitMQ@rabbit:25672']);
  });

  it('.ci/run installs exactly these packages, checking the same binaries', () => {
    const run = fs.readFileSync(path.join(ROOT, '.ci/run'), 'utf8');
    const pairs = /^for pair in (.+); do$/m.exec(run)?.[1].split(/\s+/).map((p) => p.split(':') as [string, string]);
    expect(pairs).toBeDefined();
    expect(new Set(pairs!.map(([pkg]) => pkg))).toEqual(new Set(TOOLS.map((t) => t.pkg)));
    for (const [pkg, file] of pairs!) {
      const tool = TOOLS.find((t) => t.pkg === pkg && (t.binary === file || path.basename(file) === t.binary));
      expect({ pkg, file, known: !!tool }).toEqual({ pkg, file, known: true });
    }
  });
});
