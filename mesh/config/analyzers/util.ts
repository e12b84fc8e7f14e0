/** Defensive readers for specs that may not have passed schema validation (analyzers see every resource). */
export const asArray = <T = unknown>(v: unknown): T[] => (Array.isArray(v) ? (v as T[]) : []);
export const objOf = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
export const strMap = (v: unknown): Record<string, string> => Object.fromEntries(Object.entries(objOf(v)).map(([k, x]) => [k, String(x)]));
export const strings = (v: unknown): string[] => asArray(v).filter((x): x is string => typeof x === 'string');
export const fullName = (r: { metadata: { name: string; namespace?: string } }): string => `${r.metadata.namespace ?? 'default'}/${r.metadata.name}`;
/** klabels.SelectorFromSet(...).String(): "k=v,k2=v2", keys sorted. */
export function selectorString(sel: Record<string, string>): string {
  return Object.keys(sel).sort().map((k) => `${k}=${sel[k]}`).join(',');
}
