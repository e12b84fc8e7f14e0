/**
 * istioctl's deprecation.FieldAnalyzer (IST0002): fault.delay.percent (use percentage) in
 * VirtualServices, and the ignored Sidecar outboundTrafficPolicy.egressProxy.
 */
import { Codes, type Message } from '../messages';
import { messageAt } from '../schema/validate';
import type { Analyzer } from './types';
import { asArray, objOf } from './util';

export const deprecations: Analyzer = (resources) => {
  const out: Message[] = [];
  for (const r of resources) {
    const spec = objOf(r.spec);
    if (r.kind === 'VirtualService') {
      asArray(spec.http).forEach((h, i) => {
        const percent = objOf(objOf(objOf(h).fault).delay).percent;
        if (typeof percent === 'number' && percent > 0) {
          out.push(messageAt(r, Codes.Deprecated, `spec.http[${i}].fault.delay.percent`, 'Deprecated: HTTPRoute.fault.delay.percent is deprecated; use HTTPRoute.fault.delay.percentage'));
        }
      });
    } else if (r.kind === 'Sidecar' && objOf(spec.outboundTrafficPolicy).egressProxy) {
      out.push(messageAt(r, Codes.Deprecated, 'spec.outboundTrafficPolicy.egressProxy', 'Deprecated: OutboundTrafficPolicy.EgressProxy ignored'));
    }
  }
  return out;
};
