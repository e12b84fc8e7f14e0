import { PassThrough, pipeline, type Readable } from 'node:stream';

/**
 * Envoy's router keeps decoding a request body while no attempt is reading it yet (waiting for a pooled connection,
 * or slower than the client): decodeData buffers it, up to the buffer limit, then read-disables the downstream. So a
 * body the client has sent is received whole, and the request is complete, which is when the route timeout and
 * per-try timeout start. This reads `source` ahead into a buffer of `limitBytes` to the same effect.
 */
export function readAhead(source: Readable, limitBytes: number): Readable {
  const buffered = new PassThrough({ highWaterMark: limitBytes });
  // An error on either side ends both (a client gone mid-body, an attempt that gave up); the router reports it.
  pipeline(source, buffered, ignore);
  return buffered;
}

function ignore(): void {}
