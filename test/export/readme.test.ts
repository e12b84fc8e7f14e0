/** The README's "From meshlab to a cluster" section stays true: its export command, files and claims. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { loadPath } from '../../mesh/config/load';
import { DEFAULT_CONFIG_DIR, kubernetesExport } from '../../world/kubernetes-export';
import { NODE_IMAGE } from '../../world/compose-layout';
import { ROOT } from './helpers';

const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const section = readme.slice(readme.indexOf('## From meshlab to a cluster'), readme.indexOf('\n## ', readme.indexOf('## From meshlab to a cluster') + 1));

/** The environment without $MESHLAB_CP_URL: the command then finds no control plane (a fresh directory has no world). */
function withoutCp(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.MESHLAB_CP_URL;
  return env;
}

describe('README: From meshlab to a cluster', () => {
  it('names every file the export writes (its table), and no file it does not write', () => {
    const named = [...section.matchAll(/^\| ((?:`[^`]+`(?:, )?)+) \|/gm)].flatMap((m) => [...m[1].matchAll(/`([^`]+)`/g)].map((x) => x[1]));
    // A running world: config/default as loaded, plus one VirtualService applied live.
    const live = [...loadPath(DEFAULT_CONFIG_DIR).resources, { kind: 'VirtualService' as const, apiVersion: 'networking.istio.io/v1', metadata: { name: 'payments', namespace: 'default' }, spec: { hosts: ['payments'] } }];
    const written = kubernetesExport(undefined, { live }).files.map((f) => f.path);
    expect(written.filter((f) => f.startsWith('istio-'))).toEqual(['istio-default-gateway.yaml', 'istio-default-payments-authz.yaml', 'istio-default-payments.yaml', 'istio-default-request-authentication.yaml', 'istio-live-virtualservice-payments.yaml']);
    const glob = (p: string): RegExp => new RegExp(`^${p.replace(/[.]/g, '\\.').replace(/\*/g, '.*')}$`);
    expect(written.filter((f) => !named.some((n) => glob(n).test(f)))).toEqual([]);
    expect(named.filter((n) => !written.some((f) => glob(n).test(f)))).toEqual([]);
  });

  it('its export and analyze commands work as written, from the repository root, into a fresh directory', () => {
    const cmd = section.match(/^bin\/meshlab export kubernetes -o (\S+)/m);
    expect(cmd).not.toBeNull();
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlab-readme-'));
    try {
      // The same command line, run where the repository's bin/ is reachable (cwd decides where -o writes).
      const out = execFileSync(path.join(ROOT, 'bin', 'meshlab'), ['export', 'kubernetes', '-o', cmd![1]], { cwd, encoding: 'utf8', env: withoutCp() });
      expect(out).toMatch(new RegExp(`wrote 15 files to ${cmd![1]}`));
      expect(fs.readdirSync(path.join(cwd, cmd![1])).length).toBe(14); // 13 files and the egress folder
      // And the analyze line below it, on what the export wrote.
      const analyze = section.match(/^bin\/meshlab (analyze -f \S+)/m);
      expect(analyze![1]).toBe(`analyze -f ${cmd![1]}`);
      const r = spawnSync(path.join(ROOT, 'bin', 'meshlab'), analyze![1].split(' '), { cwd, encoding: 'utf8', env: withoutCp() });
      expect(`${r.status} ${r.stdout}${r.stderr}`).toMatch(/^0 .*No validation issues found/s);
    } finally {
      fs.rmSync(cwd, { recursive: true, force: true });
    }
  });

  it('the image it tells you to build is the one the manifests run, and kubectl commands are marked as needing a cluster', () => {
    expect(section).toContain(`docker build -t ${NODE_IMAGE} .`);
    expect(section).toMatch(/needs Docker, a cluster with Istio installed and `kubectl` pointing at it — none\s+is reachable from where meshlab is built, so these commands have not been run here/);
    expect(section).toMatch(/designed but \*\*not implemented\*\*/);
  });
});
