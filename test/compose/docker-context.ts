/**
 * What `docker build` would see, read statically: the .dockerignore rules as BuildKit applies them
 * (moby/patternmatcher: Go filepath.Match globs plus `**`, a leading `/` dropped, `!` re-includes,
 * the last matching rule wins, and a rule matching a parent folder excludes everything in it), and
 * a Dockerfile's stages with their WORKDIR and COPY instructions. Enough for the compose tests to
 * check what lands where in the image without a Docker engine.
 */
import fs from 'node:fs';
import path from 'node:path';

interface IgnoreRule {
  negate: boolean;
  re: RegExp;
  source: string;
}

function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*' && pattern[i + 1] === '*') {
      // `**/` matches any number of folders (none included); a trailing `**` matches everything below.
      if (pattern[i + 2] === '/') {
        re += '(?:.*/)?';
        i += 2;
      } else {
        re += '.*';
        i += 1;
      }
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < pattern.length) re += `\\${pattern[++i]}`;
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) throw new Error(`.dockerignore pattern "${pattern}": unterminated [`);
      re += `[${pattern.slice(i + 1, end).replace(/^!/, '^')}]`;
      i = end;
    } else re += c.replace(/[.+()|{}$^]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** The rules of a .dockerignore text, in order. */
export function parseDockerignore(text: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  for (const raw of text.split('\n')) {
    let line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const negate = line.startsWith('!');
    if (negate) line = line.slice(1).trim();
    line = path.posix.normalize(line).replace(/^\/+/, '').replace(/\/+$/, '');
    if (line === '' || line === '.') continue;
    rules.push({ negate, re: globToRegExp(line), source: raw.trim() });
  }
  return rules;
}

/** Whether a context-relative path (posix) is left out of the build context. */
export function isExcluded(rules: IgnoreRule[], rel: string): boolean {
  const parts = path.posix.normalize(rel).split('/');
  const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let excluded = false;
  for (const rule of rules) {
    if (candidates.some((c) => rule.re.test(c))) excluded = !rule.negate;
  }
  return excluded;
}

/** Every file below `dir` (relative to `root`, posix). */
export function filesUnder(root: string, dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const entry of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const child = path.posix.join(rel, entry.name);
      if (entry.isDirectory()) walk(child);
      else out.push(child);
    }
  };
  walk(dir);
  return out.sort();
}

export interface DockerCopy {
  /** `--from=<stage>`, when the files come from another stage. */
  from?: string;
  sources: string[];
  /** Absolute destination inside the image (WORKDIR applied). */
  dest: string;
}

export interface DockerStage {
  name: string;
  base: string;
  workdir: string;
  copies: DockerCopy[];
}

/** A Dockerfile's stages: continuation lines joined, comments dropped, WORKDIR inherited from a parent stage. */
export function parseDockerfile(text: string): DockerStage[] {
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const stages: DockerStage[] = [];
  for (const line of lines) {
    const [op, ...rest] = line.split(/\s+/);
    const cur = stages[stages.length - 1];
    switch (op.toUpperCase()) {
      case 'FROM': {
        const as = rest.findIndex((t) => t.toUpperCase() === 'AS');
        const base = rest.filter((t) => !t.startsWith('--'))[0];
        const parent = stages.find((s) => s.name === base);
        stages.push({ name: as >= 0 ? rest[as + 1] : String(stages.length), base, workdir: parent?.workdir ?? '/', copies: [] });
        break;
      }
      case 'WORKDIR':
        if (!cur) throw new Error(`WORKDIR before FROM: ${line}`);
        cur.workdir = path.posix.resolve(cur.workdir, rest.join(' '));
        break;
      case 'COPY':
      case 'ADD': {
        if (!cur) throw new Error(`${op} before FROM: ${line}`);
        const from = rest.find((t) => t.startsWith('--from='))?.slice('--from='.length);
        const args = rest.filter((t) => !t.startsWith('--'));
        cur.copies.push({ from, sources: args.slice(0, -1), dest: path.posix.resolve(cur.workdir, args[args.length - 1]) });
        break;
      }
      default:
        break;
    }
  }
  return stages;
}

/** Resolves `${VAR}` and `${VAR:-default}` the way compose interpolates a file before validating it. */
export function interpolate(text: string, env: Record<string, string | undefined> = {}): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_m, name: string, fallback?: string) => {
    const v = env[name];
    return v !== undefined && v !== '' ? v : (fallback ?? '');
  });
}
