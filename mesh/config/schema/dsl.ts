/**
 * A tiny declarative schema for the Istio fields meshlab supports. Each object rule lists its
 * supported fields and, separately, the fields Istio defines that meshlab does not implement, so
 * the validator can tell "typo / not an Istio field" (IST0106) from "valid Istio, not supported
 * here" (ML0003) — never silently ignoring either.
 */
import type { MessageType } from '../messages';

export interface Reporter {
  /** Report at `path` (absolute, e.g. spec.http[0].timeout). */
  report(type: MessageType, path: string, message: string): void;
}

/** Extra check run after the structural check of a value succeeded. */
export type Check = (value: any, path: string, r: Reporter) => void;

export type Rule =
  | {
      t: 'object';
      fields: Record<string, Rule>;
      /** Istio fields meshlab does not implement -> hint for the user. */
      unsupported?: Record<string, string>;
      /** For some unsupported fields: Istio's own rules, still checked (IST0106 where Istio rejects). */
      unsupportedRules?: Record<string, Rule>;
      required?: string[];
      check?: Check;
    }
  | { t: 'array'; of: Rule; minItems?: number; check?: Check }
  | { t: 'map'; of: Rule; check?: Check }
  | { t: 'string'; nonEmpty?: boolean; check?: Check }
  | { t: 'int'; min?: number; max?: number; check?: Check }
  | { t: 'number'; min?: number; max?: number; check?: Check }
  | { t: 'bool' }
  | { t: 'duration'; minMs?: number; allowZero?: boolean }
  | {
      t: 'enum';
      values: string[];
      /** Valid Istio values meshlab does not implement -> hint. */
      unsupported?: Record<string, string>;
      /** Deprecated aliases -> replacement (accepted with a warning). */
      deprecated?: Record<string, string>;
    }
  | { t: 'any' };

export const str = (check?: Check): Rule => ({ t: 'string', nonEmpty: true, check });
export const anyStr: Rule = { t: 'string' };
export const bool: Rule = { t: 'bool' };
export const int = (min?: number, max?: number, check?: Check): Rule => ({ t: 'int', min, max, check });
export const num = (min?: number, max?: number, check?: Check): Rule => ({ t: 'number', min, max, check });
export const dur = (opts: { minMs?: number; allowZero?: boolean } = {}): Rule => ({ t: 'duration', ...opts });
export const arr = (of: Rule, check?: Check, minItems?: number): Rule => ({ t: 'array', of, check, minItems });
export const map = (of: Rule, check?: Check): Rule => ({ t: 'map', of, check });
export const obj = (
  fields: Record<string, Rule>,
  opts: { unsupported?: Record<string, string>; unsupportedRules?: Record<string, Rule>; required?: string[]; check?: Check } = {},
): Rule => ({ t: 'object', fields, ...opts });
export const oneOfEnum = (
  values: string[],
  opts: { unsupported?: Record<string, string>; deprecated?: Record<string, string> } = {},
): Rule => ({ t: 'enum', values, ...opts });
