/**
 * `npm run compose:generate`: writes compose.yaml and deploy/prometheus/prometheus.yml from the
 * topology. `--check` writes nothing and exits 1 naming every file that differs (CI, pre-commit).
 */
import fs from 'node:fs';
import path from 'node:path';
import { generatedFiles } from './compose-generate';

/** The repository root: this module runs from dist/world/. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** Files whose committed content differs from the generator's output (missing files count). */
export function staleFiles(root = REPO_ROOT): string[] {
  return Object.entries(generatedFiles()).filter(([file, text]) => {
    const full = path.join(root, file);
    return !fs.existsSync(full) || fs.readFileSync(full, 'utf8') !== text;
  }).map(([file]) => file);
}

function main(argv: string[]): number {
  if (argv.includes('--check')) {
    const stale = staleFiles();
    if (stale.length === 0) {
      console.log('compose files are up to date with world/topology.ts');
      return 0;
    }
    console.error(`out of date with world/topology.ts: ${stale.join(', ')}\nrun \`npm run compose:generate\` and commit the result`);
    return 1;
  }
  for (const [file, text] of Object.entries(generatedFiles())) {
    const full = path.join(REPO_ROOT, file);
    fs.mkdirSync(path.dirname(full), { recursive: true });
    fs.writeFileSync(full, text);
    console.log(`wrote ${file}`);
  }
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
