import { execFileSync } from 'node:child_process';
import path from 'node:path';

/**
 * What a sidecar process loads decides most of its RSS at rest (#15's goal: ≤ 60 MB). undici or the global fetch
 * (~20 MB, for a health probe a second), jose (~12 MB, for JWT rules) and @peculiar/x509 (~17 MB, for the CSR) are
 * loaded only by the sidecars that use them; prom-client's index (with @opentelemetry/api, ~12 MB) not at all. Checked in a fresh process, by the modules it holds after loading the
 * sidecar's code.
 */
test('loading the sidecar loads neither undici, jose, @peculiar/x509 (until mTLS or a jwtRule needs them) nor prom-client\'s index', () => {
  const sidecar = path.join(__dirname, '../../mesh/sidecar/sidecar.js');
  const script = `
    require(${JSON.stringify(sidecar)});
    const held = Object.keys(require.cache).map((k) => /node_modules\\/((@[^/]+\\/)?[^/]+)/.exec(k)?.[1]).filter(Boolean);
    process.stdout.write(JSON.stringify([...new Set(held)].sort()));
  `;
  const held = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 })) as string[];
  expect(held.filter((m) => ['undici', 'jose', '@peculiar/x509', '@opentelemetry/api'].includes(m))).toEqual([]);
  expect(held).toContain('prom-client'); // the check itself sees packages
});
