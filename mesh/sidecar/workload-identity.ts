import { request } from '../../lib/http-client';
import type { SignResponse } from '../security/workload-cert';
import type { WorkloadCertManager, CurrentCert } from '../security/workload-cert';

/**
 * The sidecar's half of Istio's CSR flow (pilot-agent → istiod): only the CSR leaves the process; the control plane
 * answers with the signed chain and the mesh root. The node must hold an open discovery stream, which is how the
 * control plane knows the node; the node's workload token (sent as a bearer token) names the service, and so the
 * SPIFFE id, the CA may sign for.
 */
export function controlPlaneSigner(controlPlaneUrl: string, node: string, token: () => string | undefined = () => undefined): (csrPem: string) => Promise<SignResponse> {
  const url = new URL('/v1/certificates', controlPlaneUrl);
  return async (csr) => {
    const t = token();
    const res = await request(url, { method: 'POST', headers: { 'content-type': 'application/json', ...(t ? { authorization: `Bearer ${t}` } : {}) }, body: JSON.stringify({ node, csr }), timeoutMs: 10_000 });
    let body: Partial<SignResponse> & { error?: string } = {};
    try {
      body = JSON.parse(res.body.toString('utf8')) as typeof body;
    } catch {
      // not JSON: reported below with the status
    }
    if (res.status < 200 || res.status > 299 || !body.certPem || !body.chainPem || !body.rootPem) {
      throw new Error(`control plane ${controlPlaneUrl} did not sign the CSR of node ${node}: HTTP ${res.status} ${body.error ?? ''}`.trim());
    }
    return { certPem: body.certPem, chainPem: body.chainPem, rootPem: body.rootPem };
  };
}

/**
 * Gets the first certificate, retrying (the discovery stream may still be registering, the control plane may be
 * restarting) every `retryMs` until `deadlineMs`; then fails with the last error so the sidecar does not report
 * ready without an identity.
 */
export async function firstCertificate(certs: WorkloadCertManager, deadlineMs = 30_000, retryMs = 200): Promise<CurrentCert> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    try {
      return await certs.start();
    } catch (err) {
      if (Date.now() + retryMs > deadline) {
        throw new Error(`no workload certificate for ${certs.identity} after ${deadlineMs} ms: ${(err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, retryMs));
    }
  }
}
