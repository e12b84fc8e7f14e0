import type http from 'node:http';

/** What a held gateway answers: a 503 that says why and when to retry, never an upstream verdict. */
export const STARTING_BODY = JSON.stringify({ error: 'starting: the mesh is not ready yet (its endpoints are still coming up); retry after 1 s' });

/**
 * The gateway's outbound listener while the world is still starting. Envoy warms a listener (its
 * clusters' first endpoints) before it accepts connections, and Istio's gateway reports ready only
 * after; here the port is bound at once (a port collision still fails the start), and until the
 * launcher opens the gate every request gets 503 with `retry-after: 1` and a "starting" body, so
 * no client meets `no healthy upstream` from endpoints that are merely not registered yet. The
 * launcher (world/world.ts) starts the gateway with MESH_GATEWAY_HOLD=1 and opens it over IPC
 * (`{type:'open'}`, acknowledged with `{type:'opened'}`) once every sidecar and the gateway hold a
 * config with every instance ready. Without the variable (compose, tests) the gate is open at once.
 */
export class StartingGate {
  private isOpen: boolean;

  constructor(held: boolean) {
    this.isOpen = !held;
  }

  get open(): boolean {
    return this.isOpen;
  }

  openGate(): void {
    this.isOpen = true;
  }

  /** The handler itself once open; until then the starting answer. One boolean read per request. */
  wrap(handler: http.RequestListener): http.RequestListener {
    return (req, res) => {
      if (this.isOpen) {
        handler(req, res);
        return;
      }
      req.resume();
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1', 'content-length': Buffer.byteLength(STARTING_BODY) });
      res.end(STARTING_BODY);
    };
  }
}
