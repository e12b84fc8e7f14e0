/** Walks a value against a schema Rule, reporting type errors, unknown and unsupported fields. */
import { Codes } from '../messages';
import { DurationError, parseDuration } from '../duration';
import { joinPath } from '../positions';
import type { Reporter, Rule } from './dsl';

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'list';
  if (typeof v === 'object') return 'map';
  return typeof v;
}

const S = Codes.SchemaValidationError;

/**
 * A scalar YAML read as a one-entry map `{"x:": null}`: in a flow collection (`[1.2.3.4, 001:db8::]`) a
 * plain scalar ends at a ':' before ',' ']' or '}' (the YAML 1.1 and 1.2 specs alike), which the npm
 * `yaml` parser follows under every option (version 1.1, any schema), and Go's go-yaml, which Istio
 * reads YAML with, does not: its scanner ends a plain scalar at ':' only before a blank. The value
 * Istio would read, when this is what happened.
 */
function flowScalarReadAsMap(v: unknown): string | undefined {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const entries = Object.entries(v as Record<string, unknown>);
  if (entries.length !== 1 || entries[0][1] !== null || !entries[0][0].endsWith(':')) return undefined;
  return `${entries[0][0]}:`;
}

export function walk(value: unknown, rule: Rule, path: string, r: Reporter): void {
  const wrongType = (want: string): void => {
    const scalar = want !== 'a map' ? flowScalarReadAsMap(value) : undefined;
    if (scalar !== undefined) {
      r.report(S, path, `${path}: expected ${want}, got a map: YAML reads the flow item ${scalar} as {${JSON.stringify(scalar.slice(0, -1))}: null} (in a flow collection a ':' before ',' ']' or '}' ends a plain scalar, by YAML 1.1 and 1.2 alike; Istio's Go YAML reads a string there); quote it: "${scalar}"`);
      return;
    }
    r.report(S, path, `${path}: expected ${want}, got ${typeName(value)}${value !== null && typeof value !== 'object' ? ` ${JSON.stringify(value)}` : ''}`);
  };

  switch (rule.t) {
    case 'any':
      return;
    case 'object': {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return wrongType('a map');
      const v = value as Record<string, unknown>;
      for (const req of rule.required ?? []) {
        if (v[req] === undefined || v[req] === null) r.report(S, path, `${joinPath(path, req)} is required`);
      }
      for (const [k, child] of Object.entries(v)) {
        const p = joinPath(path, k);
        const sub = rule.fields[k];
        if (sub) {
          if (child !== null && child !== undefined) walk(child, sub, p, r);
          continue;
        }
        const hint = rule.unsupported?.[k];
        if (hint !== undefined) {
          r.report(Codes.UnsupportedField, p, `${p}: valid Istio, not supported by meshlab${hint ? ` (${hint})` : ''}`);
          const inner = rule.unsupportedRules?.[k];
          if (inner && child !== null && child !== undefined) walk(child, inner, p, r);
        } else {
          const known = Object.keys(rule.fields).join(', ');
          r.report(S, p, `unknown field "${k}" at ${p} (allowed here: ${known})`);
        }
      }
      if (rule.check) rule.check(v, path, r);
      return;
    }
    case 'array': {
      if (!Array.isArray(value)) return wrongType('a list');
      if (rule.minItems !== undefined && value.length < rule.minItems) {
        r.report(S, path, `${path} must have at least ${rule.minItems} item(s)`);
      }
      value.forEach((item, i) => walk(item, rule.of, joinPath(path, i), r));
      if (rule.check) rule.check(value, path, r);
      return;
    }
    case 'map': {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return wrongType('a map');
      for (const [k, child] of Object.entries(value as Record<string, unknown>)) walk(child, rule.of, joinPath(path, k), r);
      if (rule.check) rule.check(value, path, r);
      return;
    }
    case 'string':
      if (typeof value !== 'string') return wrongType('a string');
      if (rule.nonEmpty && value === '') return r.report(S, path, `${path} must not be empty`);
      if (rule.check) rule.check(value, path, r);
      return;
    case 'bool':
      if (typeof value !== 'boolean') return wrongType('true or false');
      return;
    case 'int':
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return wrongType(rule.t === 'int' ? 'an integer' : 'a number');
      if (rule.t === 'int' && !Number.isInteger(value)) return wrongType('an integer');
      if (rule.min !== undefined && value < rule.min) {
        return r.report(S, path, `${path} must be >= ${rule.min}, got ${value}`);
      }
      if (rule.max !== undefined && value > rule.max) {
        return r.report(S, path, `${path} must be <= ${rule.max}, got ${value}`);
      }
      if (rule.check) rule.check(value, path, r);
      return;
    }
    case 'duration': {
      if (typeof value !== 'string') return wrongType('a duration string like "1s"');
      let ms: number;
      try {
        ms = parseDuration(value);
      } catch (e) {
        return r.report(S, path, `${path}: ${(e as DurationError).message}`);
      }
      if (ms === 0 && rule.allowZero) return;
      const min = rule.minMs ?? 1;
      if (ms < min) return r.report(S, path, `${path}: duration ${value} must be at least ${min}ms`);
      if (!Number.isInteger(ms)) {
        return r.report(S, path, `${path}: duration ${value} has sub-millisecond precision; only millisecond precision is supported`);
      }
      return;
    }
    case 'enum': {
      if (typeof value !== 'string') return wrongType(`one of ${rule.values.join('|')}`);
      if (rule.values.includes(value)) return;
      if (rule.deprecated && value in rule.deprecated) {
        return r.report(Codes.SchemaWarning, path, `${path}: ${value} is deprecated, use ${rule.deprecated[value]}`);
      }
      if (rule.unsupported && value in rule.unsupported) {
        return r.report(Codes.UnsupportedField, path, `${path}: ${value} is valid Istio, not supported by meshlab${rule.unsupported[value] ? ` (${rule.unsupported[value]})` : ''}`);
      }
      return r.report(S, path, `${path}: invalid value ${JSON.stringify(value)}, expected one of ${rule.values.join(', ')}`);
    }
  }
}
