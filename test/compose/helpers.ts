/** Shared pieces of the compose tests: repository paths and Debian binaries that may be absent. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { APT_COMMAND } from '../support/tools';

/** The repository root (tests run from dist/test/compose). */
export const ROOT = path.resolve(__dirname, '..', '..', '..');

/** The one command that installs every Debian tool the tests use (test/support/tools.ts). */
export const APT_LINE = APT_COMMAND;

/** Absolute path of an executable on $PATH, or undefined. */
export function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const full = path.join(dir, name);
    try {
      fs.accessSync(full, fs.constants.X_OK);
      return full;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/**
 * `it` when the Debian binary exists; otherwise a loud skip, or under CI=true a failing test that
 * says which package to install.
 */
export function itWithBinary(binary: string, pkg: string): jest.It {
  if (which(binary)) return it;
  const notice = `\n!!! ${binary} not found: tests that need it are SKIPPED. Install with: apt-get install -y ${pkg}\n`;
  if (process.env.CI === 'true') {
    return ((name: string) => it(name, () => {
      throw new Error(`${binary} is required under CI=true (Debian package ${pkg}); add to .ci/run: ${APT_LINE}`);
    })) as unknown as jest.It;
  }
  console.warn(notice);
  return it.skip;
}

/** Whether `docker compose` (the v2 plugin) is usable with the installed docker CLI. */
export function hasComposePlugin(): boolean {
  if (!which('docker')) return false;
  try {
    execFileSync('docker', ['compose', 'version'], { stdio: 'pipe', timeout: 10000 });
    return true;
  } catch {
    return false;
  }
}
