/** Minimal flag parsing for the CLI: `--name value`, `--name=value`, `-f value`, booleans, and positionals. */
export interface Parsed {
  positionals: string[];
  flags: Map<string, string[]>;
}

export function parseArgs(argv: string[], booleans: string[] = []): Parsed {
  const positionals: string[] = [];
  const flags = new Map<string, string[]>();
  const add = (k: string, v: string): void => void (flags.get(k) ?? flags.set(k, []).get(k)!).push(v);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('-') && a.length > 1 && !/^-\d/.test(a)) {
      const name = a.replace(/^--?/, '');
      const eq = name.indexOf('=');
      if (eq >= 0) add(name.slice(0, eq), name.slice(eq + 1));
      else if (booleans.includes(name)) add(name, 'true');
      else {
        const v = argv[i + 1];
        if (v === undefined) throw new Error(`${a} needs a value`);
        add(name, v);
        i++;
      }
    } else positionals.push(a);
  }
  return { positionals, flags };
}

export function flag(p: Parsed, name: string, fallback?: string): string | undefined {
  const v = p.flags.get(name);
  return v ? v[v.length - 1] : fallback;
}

export function intFlag(p: Parsed, name: string, fallback: number): number {
  const raw = flag(p, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--${name} must be a port number 0–65535, got "${raw}"`);
  return n;
}
