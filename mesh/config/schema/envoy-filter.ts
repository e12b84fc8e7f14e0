/**
 * Schema of EnvoyFilter: meshlab runs one shape, the local rate limit of Istio's "Enabling Rate Limits using
 * Envoy" task (mesh/filters/envoy-filter.ts says which); any other patch is ML0003 naming what is not run.
 */
import { Codes } from '../messages';
import type { Rule } from './dsl';
import { readEnvoyFilter } from '../../filters/envoy-filter';

export const envoyFilterSpec: Rule = {
  t: 'object',
  fields: { workloadSelector: { t: 'any' }, configPatches: { t: 'any' } },
  unsupported: { targetRefs: 'use workloadSelector', priority: 'one EnvoyFilter patch per workload' },
  check: (v: unknown, _path, r) => {
    for (const p of readEnvoyFilter(v).problems) {
      if (p.path === 'spec.targetRefs' || p.path === 'spec.priority') continue; // reported as unsupported fields above
      r.report(p.unsupported ? Codes.UnsupportedField : Codes.SchemaValidationError, p.path, `${p.path}: ${p.message}`);
    }
  },
};
