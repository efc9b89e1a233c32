// An HTTP/1.x response head from the next hop (RFC 9112 §4, §6.3), as a forwarding proxy reads
// it: the status, the fields, and how the body ends given the request it answers.

import { fieldTokens, fieldValues, parseFields, printable, type Field } from './head';
import { parseContentLength, type Framing } from './request';

export interface ResponseHead {
  status: number;
  reason: string;
  minor: 0 | 1;
  fields: Field[];
  framing: Framing;
  /** The server keeps its connection after this response. */
  keepAlive: boolean;
}

const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: ([^\r\n]*))?$/;

/** Lines (from HeadReader) → a response, or the reason it is unusable (→ 502). */
export function parseResponseHead(lines: readonly string[], requestMethod: string): ResponseHead | string {
  const m = STATUS_LINE.exec(lines[0] ?? '');
  if (!m) return `malformed status line "${printable(lines[0] ?? '')}"`;
  const minor = m[1] === '0' ? 0 : 1;
  const status = Number(m[2]);
  if (status < 100) return `bad status ${status}`;
  const fields = parseFields(lines);
  if (typeof fields === 'string') return fields;
  const framing = responseFraming(status, fields, requestMethod);
  if (typeof framing === 'string') return framing;
  const connection = fieldTokens(fields, 'connection');
  const keepAlive = framing.kind !== 'close' && (minor === 1 ? !connection.includes('close') : connection.includes('keep-alive'));
  return { status, reason: m[3] ?? '', minor, fields, framing, keepAlive };
}

/** RFC 9112 §6.3 for a response to `requestMethod`. */
export function responseFraming(status: number, fields: readonly Field[], requestMethod: string): Framing | string {
  // 1xx, 204, 304 and any answer to HEAD have no body, whatever their fields say.
  if (status < 200 || status === 204 || status === 304 || requestMethod === 'HEAD') return { kind: 'none' };
  const te = fieldTokens(fields, 'transfer-encoding');
  if (te.length > 0) {
    // Chunked last: chunked (Content-Length, if any, is ignored: §6.3 item 3). Otherwise the body
    // runs to the close.
    return te[te.length - 1] === 'chunked' && te.indexOf('chunked') === te.length - 1 ? { kind: 'chunked' } : { kind: 'close' };
  }
  const cl = fieldValues(fields, 'content-length');
  if (cl.length > 0) {
    // Identical repeats are what some servers send: one value for all of them is fine (§6.3 item 5).
    const values = new Set(cl.flatMap((v) => v.split(',').map((x) => x.trim())));
    const length = parseContentLength([...values]);
    if (typeof length === 'string') return `upstream sent ${length}`;
    return length === 0 ? { kind: 'none' } : { kind: 'length', length };
  }
  return { kind: 'close' };
}
