import { PassThrough, type Readable } from 'node:stream';

/**
 * A request body streamed to the primary upstream and, as a copy, to a mirror (Envoy's streaming shadow, router.cc:
 * the shadow stream gets each piece of body as the router decodes it, so a body of any size is mirrored, not only
 * one that fits the retry buffer). The primary sets the pace: its backpressure pauses the source, the mirror's never
 * does. A mirror that falls behind by more than `limitBytes` is cut (its request aborted) instead.
 *
 * Where meshlab differs: Envoy lets a slow shadow stream's buffer limit (the same 1 MiB) push back on the downstream
 * through watermarks; here mirroring never slows the request it copies.
 */
/**
 * Envoy's retry/shadow buffer limit: the router's retry_shadow_buffer_limit_, the listener's
 * per_connection_buffer_limit_bytes, 1 MiB by default. Bodies up to it are buffered for a retry; a streamed mirror
 * may fall this far behind.
 */
export const RETRY_SHADOW_BUFFER_BYTES = 1024 * 1024;

export interface TeedBody {
  primary: Readable;
  mirror: Readable;
}

function ignore(): void {}

export function teeForMirror(source: Readable, limitBytes = RETRY_SHADOW_BUFFER_BYTES): TeedBody {
  const primary = new PassThrough();
  const mirror = new PassThrough();
  // Either copy may be destroyed by its upstream request (a failed mirror, an aborted attempt): nobody else listens.
  primary.on('error', ignore);
  mirror.on('error', ignore);
  const resume = (): void => {
    source.resume();
  };
  source.on('data', (chunk: Buffer) => {
    if (!mirror.destroyed) {
      if (mirror.writableLength + mirror.readableLength + chunk.length > limitBytes) mirror.destroy(new Error(`mirror fell more than ${limitBytes} bytes behind`));
      else mirror.write(chunk);
    }
    if (primary.destroyed) return;
    if (!primary.write(chunk)) {
      source.pause();
      primary.once('drain', resume);
    }
  });
  source.once('end', () => {
    primary.end();
    if (!mirror.destroyed) mirror.end();
  });
  source.once('error', (err) => {
    primary.destroy(err);
    mirror.destroy(err);
  });
  // An attempt that failed mid-body destroys its copy: the source must not stay paused waiting for its drain.
  primary.once('close', () => {
    primary.off('drain', resume);
    if (source.isPaused() && !mirror.destroyed) source.resume();
  });
  return { primary, mirror };
}
