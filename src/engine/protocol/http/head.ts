// HTTP/1.x message heads (RFC 9112), read incrementally and bounded. Pure: bytes in, values out;
// no sockets, no state beyond the reader's own.
//
// A HeadReader takes the bytes of a connection as they arrive and says, after each chunk, one of:
//   { status: 'more' }                            a valid prefix: wait for more bytes
//   { status: 'done', lines, rest }                the head's lines (start line first) and the bytes after it
//   { status: 'error', code, reason }             not a head we accept: answer `code` and close
// Each byte is looked at once, whatever the split (a client sending one byte at a time costs what
// one sending it all at once costs), and nothing beyond the limits is ever held.
//
// Line endings: CRLF, or a bare LF (RFC 9112 §2.2 allows it). A CR anywhere else, a NUL or any
// other control character is an error: the proxy writes the heads it forwards itself, so what it
// accepts here is all the next hop ever sees.

/** Bounds on a head. Over one of them: 414 (request line) or 431 (header section), then close. */
export interface HeadLimits {
  /** The whole head: start line, header lines and line ends. */
  maxHeadBytes: number;
  /** One line (without its line end). */
  maxLineBytes: number;
  /** Header fields. */
  maxHeaders: number;
}

export const DEFAULT_HEAD_LIMITS: Readonly<HeadLimits> = Object.freeze({
  maxHeadBytes: 64 * 1024,
  maxLineBytes: 16 * 1024,
  maxHeaders: 100,
});

export type HeadResult =
  | { status: 'more' }
  | { status: 'done'; lines: string[]; rest: Buffer }
  | { status: 'error'; code: number; reason: string };

const LF = 0x0a;
const CR = 0x0d;
const MORE = Object.freeze({ status: 'more' as const });
const EMPTY = Buffer.alloc(0);

/**
 * Splits a head into lines as its bytes arrive. One reader per head: after 'done' or 'error' it
 * keeps answering the same (make a new one for the next message of the connection).
 */
export class HeadReader {
  private readonly lines: string[] = [];
  /** The bytes of the line under way. */
  private partial: Buffer[] = [];
  private partialBytes = 0;
  private total = 0;
  private result: HeadResult | undefined;

  constructor(
    private readonly limits: Readonly<HeadLimits> = DEFAULT_HEAD_LIMITS,
    /** Requests: 414 for a start line over the limit; responses: 502 is the caller's business. */
    private readonly startLineCode = 414,
  ) {}

  /** Bytes of the head read so far. */
  get bytes(): number {
    return this.total;
  }

  /** Feeds the next chunk of the connection's bytes. */
  push(chunk: Buffer): HeadResult {
    if (this.result) return this.result;
    let pos = 0;
    while (pos < chunk.length) {
      const lf = chunk.indexOf(LF, pos);
      const end = lf < 0 ? chunk.length : lf;
      const room = this.limits.maxHeadBytes - this.total;
      if (end - pos > room || (end - pos === room && lf >= 0)) return this.fail(431, `header section over ${this.limits.maxHeadBytes} bytes`);
      if (this.partialBytes + (end - pos) > this.limits.maxLineBytes + 1) {
        // +1: the line's CR is still counted here.
        return this.tooLong();
      }
      if (lf < 0) {
        this.partial.push(chunk.subarray(pos));
        this.partialBytes += chunk.length - pos;
        this.total += chunk.length - pos;
        return MORE;
      }
      this.total += lf - pos + 1;
      const raw = this.partial.length === 0 ? chunk.subarray(pos, lf) : Buffer.concat([...this.partial, chunk.subarray(pos, lf)]);
      this.partial = [];
      this.partialBytes = 0;
      pos = lf + 1;
      const len = raw.length > 0 && raw[raw.length - 1] === CR ? raw.length - 1 : raw.length;
      if (len > this.limits.maxLineBytes) return this.tooLong();
      for (let i = 0; i < len; i++) {
        const c = raw[i];
        if ((c < 0x20 && c !== 0x09) || c === 0x7f) return this.fail(400, c === CR ? 'bare CR in the head' : `control character 0x${c.toString(16).padStart(2, '0')} in the head`);
      }
      if (len === 0) {
        // RFC 9112 §2.2: empty lines before the start line are ignored (within the size limit).
        if (this.lines.length === 0) continue;
        this.result = { status: 'done', lines: this.lines, rest: pos < chunk.length ? chunk.subarray(pos) : EMPTY };
        return this.result;
      }
      if (this.lines.length > this.limits.maxHeaders) return this.fail(431, `more than ${this.limits.maxHeaders} header fields`);
      this.lines.push(raw.toString('latin1', 0, len));
    }
    return MORE;
  }

  private tooLong(): HeadResult {
    return this.lines.length === 0
      ? this.fail(this.startLineCode, `start line over ${this.limits.maxLineBytes} bytes`)
      : this.fail(431, `header line over ${this.limits.maxLineBytes} bytes`);
  }

  private fail(code: number, reason: string): HeadResult {
    this.partial = [];
    this.result = { status: 'error', code, reason };
    return this.result;
  }
}

// ----------------------------------------------------------------------------------- fields

/** A header field as received: name in its own case, value without surrounding whitespace. */
export type Field = readonly [name: string, value: string];

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function isToken(s: string): boolean {
  return TOKEN.test(s);
}

/** Header lines → fields, or the reason they are malformed (→ 400). */
export function parseFields(lines: readonly string[], from = 1): Field[] | string {
  const fields: Field[] = [];
  for (let i = from; i < lines.length; i++) {
    const line = lines[i];
    // RFC 9112 §5.2: obsolete line folding may be rejected; §5.1: no whitespace before the colon.
    if (line[0] === ' ' || line[0] === '\t') return 'obsolete line folding';
    const colon = line.indexOf(':');
    if (colon <= 0) return 'header line without a name and colon';
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) return `bad header name "${printable(name)}"`;
    fields.push([name, line.slice(colon + 1).trim()]);
  }
  return fields;
}

/** Every value of `name` (lowercase), in order. */
export function fieldValues(fields: readonly Field[], name: string): string[] {
  const out: string[] = [];
  for (const [n, v] of fields) if (n.length === name.length && n.toLowerCase() === name) out.push(v);
  return out;
}

/** The comma-separated elements of every `name` field, lowercased, empty ones dropped. */
export function fieldTokens(fields: readonly Field[], name: string): string[] {
  const out: string[] = [];
  for (const v of fieldValues(fields, name)) {
    for (const part of v.split(',')) {
      const t = part.trim().toLowerCase();
      if (t) out.push(t);
    }
  }
  return out;
}

/** For log lines and reasons: at most 60 characters, control characters shown as `?`. */
export function printable(s: string, max = 60): string {
   
  const clean = s.replace(/[\x00-\x1f\x7f-\xff]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}
