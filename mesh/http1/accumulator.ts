/**
 * The bytes of a message head that arrived over several packets, kept in one growing buffer
 * (capacity doubles), so a head sent a byte at a time costs O(n) copying, not O(n²). Offsets
 * into it stay valid as it grows: the bytes keep their positions.
 */
const EMPTY = Buffer.alloc(0);

export class Accumulator {
  private buf: Buffer = EMPTY;
  length = 0;

  /** The bytes held (a view: valid until the next append or clear). */
  get view(): Buffer {
    return this.buf.subarray(0, this.length);
  }

  get empty(): boolean {
    return this.length === 0;
  }

  /** Appends `chunk` and returns the bytes held so far (a view: valid until the next append or clear). */
  append(chunk: Buffer): Buffer {
    const need = this.length + chunk.length;
    if (need > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2, 1024));
      this.buf.copy(grown, 0, 0, this.length);
      this.buf = grown;
    }
    chunk.copy(this.buf, this.length);
    this.length = need;
    return this.buf.subarray(0, this.length);
  }

  /** Starts over with a copy of `bytes` in new memory (`bytes` may be a view of the old, already handed out in part). */
  reset(bytes: Buffer): Buffer {
    this.buf = EMPTY;
    this.length = 0;
    return this.append(bytes);
  }

  /**
   * Forgets the bytes and their memory: views handed out (a head's strings, body slices queued on
   * a socket) keep the old memory alive and intact, since the next append writes into new memory.
   */
  clear(): void {
    if (this.buf.length === 0) return;
    this.length = 0;
    this.buf = EMPTY;
  }
}
