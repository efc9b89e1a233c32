// The chunked transfer coding (RFC 9112 §7.1), read incrementally: where a chunked body ends (so
// the next message on a kept-alive connection starts in the right place) and, for a reader that
// cannot take chunks (an HTTP/1.0 client), the data inside it. Bodies pass through as they came;
// this only watches them go by. Strict where leniency lets two readers disagree about where a
// body ends: CRLF after every line, hex sizes without whitespace or sign, bounded lines.

/** Bounds on the framing (not on the data). */
export const MAX_CHUNK_LINE = 4096;
export const MAX_TRAILER_BYTES = 16 * 1024;

type State = 'size' | 'ext' | 'size-lf' | 'data' | 'data-cr' | 'data-lf' | 'trailer' | 'trailer-lf' | 'done';

export class ChunkedReader {
  private state: State = 'size';
  private digits = 0;
  private size = 0;
  /** Bytes of chunk data left in the current chunk. */
  private left = 0;
  private lineBytes = 0;
  private trailerBytes = 0;
  /** The trailer line under way is empty so far (an empty line ends the body). */
  private lineEmpty = true;
  private error: string | undefined;

  /** The body ended (its last CRLF was read) and was well formed. */
  get done(): boolean {
    return this.state === 'done' && this.error === undefined;
  }

  /** Why the body is malformed, once it is. */
  get failure(): string | undefined {
    return this.error;
  }

  /**
   * Reads `buf` from `start`. Returns how many bytes belong to the body (all of them until the
   * last CRLF; after it, the rest is the next message), or -1 when the framing is malformed
   * (`failure` says why). `onData(start, end)` is called for every run of chunk data.
   */
  push(buf: Buffer, start = 0, onData?: (start: number, end: number) => void): number {
    let i = start;
    const n = buf.length;
    while (i < n) {
      switch (this.state) {
        case 'data': {
          const take = Math.min(this.left, n - i);
          onData?.(i, i + take);
          this.left -= take;
          i += take;
          if (this.left === 0) this.state = 'data-cr';
          continue;
        }
        case 'size': {
          const c = buf[i];
          const v = hexValue(c);
          if (v >= 0) {
            if (++this.digits > 13) return this.fail('chunk size too large');
            this.size = this.size * 16 + v;
          } else if (this.digits === 0) return this.fail('chunk size expected');
          else if (c === 0x3b /* ; */) this.state = 'ext';
          else if (c === 0x0d) this.state = 'size-lf';
          else return this.fail(`bad character 0x${c.toString(16)} in a chunk size`);
          i++;
          if (++this.lineBytes > MAX_CHUNK_LINE) return this.fail('chunk size line too long');
          continue;
        }
        case 'ext': {
          const c = buf[i++];
          if (++this.lineBytes > MAX_CHUNK_LINE) return this.fail('chunk extension too long');
          if (c === 0x0d) this.state = 'size-lf';
          else if ((c < 0x20 && c !== 0x09) || c === 0x7f) return this.fail('control character in a chunk extension');
          continue;
        }
        case 'size-lf': {
          if (buf[i++] !== 0x0a) return this.fail('chunk size line not ended by CRLF');
          this.lineBytes = 0;
          this.digits = 0;
          if (this.size === 0) {
            this.state = 'trailer';
            this.lineEmpty = true;
          } else {
            this.left = this.size;
            this.size = 0;
            this.state = 'data';
          }
          continue;
        }
        case 'data-cr':
          if (buf[i++] !== 0x0d) return this.fail('chunk data not followed by CRLF');
          this.state = 'data-lf';
          continue;
        case 'data-lf':
          if (buf[i++] !== 0x0a) return this.fail('chunk data not followed by CRLF');
          this.state = 'size';
          continue;
        case 'trailer': {
          const c = buf[i++];
          if (++this.trailerBytes > MAX_TRAILER_BYTES) return this.fail('trailer section too large');
          if (c === 0x0d) this.state = 'trailer-lf';
          else if ((c < 0x20 && c !== 0x09) || c === 0x7f) return this.fail('control character in a trailer');
          else this.lineEmpty = false;
          continue;
        }
        case 'trailer-lf': {
          if (buf[i++] !== 0x0a) return this.fail('trailer line not ended by CRLF');
          if (this.lineEmpty) {
            this.state = 'done';
            return i - start;
          }
          this.lineEmpty = true;
          this.state = 'trailer';
          continue;
        }
        case 'done':
          return i - start;
      }
    }
    return i - start;
  }

  private fail(reason: string): number {
    this.error = reason;
    this.state = 'done';
    return -1;
  }
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/** One chunk of the chunked coding around `data` (for re-chunking a close-delimited body). */
export function encodeChunk(data: Buffer): Buffer[] {
  return [Buffer.from(`${data.length.toString(16)}\r\n`, 'latin1'), data, CRLF];
}

const CRLF = Buffer.from('\r\n', 'latin1');
export const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1');
