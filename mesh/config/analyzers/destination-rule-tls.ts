/**
 * istioctl's destinationrule.CaCertificateAnalyzer: TLS mode SIMPLE or MUTUAL without caCertificates
 * (and without credentialName plus workloadSelector) does not verify the server (IST0128 at the
 * destination level, IST0129 per portLevelSettings entry).
 */
import { Codes, type Message } from '../messages';
import { messageAt } from '../schema/validate';
import type { Analyzer } from './types';
import { asArray, fullName, objOf } from './util';

export const caCertificates: Analyzer = (resources) => {
  const out: Message[] = [];
  for (const dr of resources) {
    if (dr.kind !== 'DestinationRule') continue;
    const spec = objOf(dr.spec);
    const host = String(spec.host ?? '');
    const selected = spec.workloadSelector !== undefined && spec.workloadSelector !== null;
    const tp = objOf(spec.trafficPolicy);
    const unverified = (tls: Record<string, unknown>): string | undefined => {
      const mode = tls.mode;
      if (mode !== 'SIMPLE' && mode !== 'MUTUAL') return undefined;
      if (tls.caCertificates) return undefined;
      if (tls.credentialName && selected) return undefined;
      return mode;
    };
    const top = unverified(objOf(tp.tls));
    if (top) {
      out.push(messageAt(dr, Codes.NoServerCertificateVerificationDestinationLevel, 'spec.trafficPolicy.tls', `DestinationRule ${fullName(dr)} in namespace ${dr.metadata.namespace} has TLS mode set to ${top} but no caCertificates are set to validate server identity for host: ${host}`));
    }
    asArray(tp.portLevelSettings).forEach((p, i) => {
      const ps = objOf(p);
      const mode = unverified(objOf(ps.tls));
      if (!mode) return;
      const port = objOf(ps.port).number;
      out.push(messageAt(dr, Codes.NoServerCertificateVerificationPortLevel, `spec.trafficPolicy.portLevelSettings[${i}].tls`, `DestinationRule ${fullName(dr)} in namespace ${dr.metadata.namespace} has TLS mode set to ${mode} but no caCertificates are set to validate server identity for host: ${host} at port number:${String(port)}`));
    });
  }
  return out;
};
