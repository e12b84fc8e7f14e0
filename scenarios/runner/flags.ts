import type { AccessLogEntry } from '../../mesh/access-log';

/**
 * Envoy's response flags as labs read them from an access-log entry. Every lab reads flags through
 * here, so a change in how the data plane spells them (a field renamed, a flag retired) is one edit.
 */
export function responseFlags(e: AccessLogEntry): string[] {
  return e.response_flags === '-' || e.response_flags === '' ? [] : e.response_flags.split(',');
}

export function hasFlag(e: AccessLogEntry, flag: string): boolean {
  return responseFlags(e).includes(flag);
}

/**
 * The istio_requests_total labels of a request an AuthorizationPolicy denied: Envoy sets no response
 * flag for an RBAC denial (`-`, with response_code_details rbac_access_denied_matched_policy[...]).
 */
export const DENIED_LABELS: Record<string, string> = { response_code: '403', response_flags: '-' };
